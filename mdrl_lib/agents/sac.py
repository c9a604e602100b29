"""Soft Actor-Critic, in two published forms, readable top to bottom.

* ``variant="v2"`` (default) — Haarnoja et al. 2018b, "Soft Actor-Critic Algorithms and Applications":
  twin Q networks with Polyak targets, reparameterised tanh-Gaussian actor, automatic temperature.
* ``variant="v1"`` — Haarnoja et al. 2018a, as the MaxDiff paper ran it (``docs/methods/maxdiff.md`` §2.5, §4.3):
  a state-value network V with a Polyak target V, twin Q networks trained to the same target
  ``r·scale + γ(1−d) V̄(s')``, fixed temperature 1 with the trade-off set by ``reward_scale``, a
  likelihood-ratio policy loss and 1e-3 penalties on the mean and log-std. :meth:`SACConfig.maxdiff`
  gives that paper's settings per environment.

Speed (``benchmarks/diffusion_policy.py``): the twin critics are one :class:`~mdrl_lib.nets.EnsembleMLP`
(one batched matmul per layer), the actor is run once on ``[s; s']`` for both the critic target and the
actor loss, the actor's gradient is taken with ``torch.autograd.grad`` so no critic weight gradients are
computed for it, Adam and Polyak use multi-tensor kernels, and the replay buffer lives on the device.

The loss functions are module-level so DiffSAC (``diff_sac.py``) calls the *same* equations with the
diffusion log-ratio ``ℓ`` in place of ``log π``.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, replace
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from mdrl_lib.agents.replay import ActionScaler, AgentRNG, ReplayBuffer, obs_dim_of
from mdrl_lib.nets import MLP, EnsembleMLP, make_adam, polyak_update_, tanh_log_det_jacobian
from mdrl_lib.utils import get_device

VARIANTS = ("v2", "v1")


@dataclass(frozen=True)
class SACConfig:
    """SAC hyperparameters: Haarnoja et al. 2018b, Table 1, with CleanRL's ``sac_continuous_action`` learning rates.

    Where each default comes from: networks 256×256, batch 256, γ 0.99, τ 0.005, actor lr 3e-4, target entropy
    −|A| — 2018b Table 1 (also CleanRL and Stable-Baselines3); critic and temperature lr 1e-3 and initial α = 1 —
    CleanRL (``q_lr``; ``log_alpha = 0``; SB3 also starts at α = 1); 5 000 uniform-random warm-up steps — CleanRL's
    ``learning_starts``. With 2018b's single lr 3e-4 and α₀ = 0.2, SAC had not balanced InvertedPendulum-v5 at
    12 k steps (issue 14); with these it does on every seed tried (notebook 20, ``data/peer_check``).
    """

    variant: str = "v2"  # "v2" auto-temperature SAC; "v1" SAC with a V network (MaxDiff paper)
    hidden: tuple[int, ...] = (256, 256)  # both actor and critics (2018b Table 1)
    gamma: float = 0.99
    tau: float = 0.005  # Polyak rate of the target networks
    lr: float = 3e-4  # actor learning rate (2018b Table 1; CleanRL policy_lr)
    critic_lr: float = 1e-3  # critics (and V) learning rate (CleanRL q_lr; 2018b Table 1 has 3e-4)
    alpha_lr: float = 1e-3  # temperature learning rate (CleanRL: q_lr)
    batch_size: int = 256
    buffer_size: int = 1_000_000
    random_steps: int = 5000  # uniform-random actions before the policy acts (CleanRL learning_starts)
    alpha: float = 1.0  # initial temperature (fixed when autotune is False); CleanRL and SB3 start at 1
    autotune: bool = True  # learn α so that E[-log π] tracks target_entropy
    target_entropy: float | None = None  # default -|A|
    reward_scale: float = 1.0  # rewards are multiplied by this before learning (v1: 5 for HalfCheetah)
    log_std_min: float = -20.0  # log σ clamp (Haarnoja's reference code)
    log_std_max: float = 2.0
    last_layer_init: float | None = None  # v1: last layers U(±3e-3)
    policy_reg: float = 1e-3  # v1: weight of mean(μ²) and mean((log σ)²)

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown SAC variant {self.variant!r}; valid variants are {', '.join(VARIANTS)}")
        if self.variant == "v1" and self.autotune:
            raise ValueError("SAC variant 'v1' uses a fixed temperature; set autotune=False (and alpha, "
                             "reward_scale), e.g. SACConfig.maxdiff('HalfCheetah-v5')")
        if not 0 < self.tau <= 1:
            raise ValueError(f"tau must be in (0, 1], got {self.tau}")

    @classmethod
    def maxdiff(cls, env_id: str, **overrides) -> SACConfig:
        """The MaxDiff paper's SAC v1 settings for ``env_id`` (``docs/methods/maxdiff.md`` §4.3)."""
        table = {
            "PointMass": dict(hidden=(128, 128), batch_size=128, reward_scale=0.25, lr=5e-4, tau=0.01),
            "Swimmer": dict(hidden=(256, 256), batch_size=128, reward_scale=100.0, lr=3e-4, tau=0.005),
            "HalfCheetah": dict(hidden=(256, 256), batch_size=256, reward_scale=5.0, lr=3e-4, tau=0.005),
            "Ant": dict(hidden=(512, 512, 512), batch_size=256, reward_scale=5.0, lr=3e-4, tau=0.005),
        }
        key = next((k for k in table if k.lower() in env_id.lower().replace("_", "")), None)
        if key is None:
            raise ValueError(f"no MaxDiff SAC settings for environment {env_id!r}; valid: names containing "
                             f"{', '.join(table)}")
        base = cls(variant="v1", autotune=False, alpha=1.0, gamma=0.99, last_layer_init=3e-3,
                   random_steps=0, **table[key], critic_lr=table[key]["lr"])  # one lr for every network
        return replace(base, **overrides)


# ----- networks -------------------------------------------------------------------------------------------

class ActorSample(NamedTuple):
    """A batch of tanh-Gaussian actions: ``a = tanh(u)``, ``u ~ N(mean, exp(log_std)²)``; ``log_prob`` of ``a``."""

    a: torch.Tensor
    log_prob: torch.Tensor
    mean: torch.Tensor
    log_std: torch.Tensor
    u: torch.Tensor

    def rows(self, sl: slice) -> ActorSample:
        return ActorSample(*(t[sl] for t in self))


class TanhGaussianActor(nn.Module):
    """``s -> (μ, log σ)``; actions ``a = tanh(u)``, ``u ~ N(μ, σ²)``. Input ``(B, obs)``."""

    def __init__(self, obs_dim: int, act_dim: int, hidden, log_std_min: float, log_std_max: float,
                 last_init: float | None = None):
        super().__init__()
        self.net = MLP(obs_dim, hidden, 2 * act_dim)
        if last_init is not None:
            nn.init.uniform_(self.net[-1].weight, -last_init, last_init)
            nn.init.uniform_(self.net[-1].bias, -last_init, last_init)
        self.log_std_min, self.log_std_max = log_std_min, log_std_max

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = self.net(obs).chunk(2, dim=-1)
        return mean, log_std.clamp(self.log_std_min, self.log_std_max)

    def sample(self, obs: torch.Tensor, generator: torch.Generator | None = None, reparameterize: bool = True
               ) -> ActorSample:
        """Actions ``a`` ``(B, d)`` with ``log π(a|s)`` ``(B,)`` (tanh change of variables included)."""
        mean, log_std = self(obs)
        eps = torch.randn(mean.shape, generator=generator, device=mean.device)
        u = mean + log_std.exp() * eps
        if not reparameterize:
            u = u.detach()
        return ActorSample(torch.tanh(u), self.log_prob(u, mean, log_std), mean, log_std, u)

    @staticmethod
    def log_prob(u: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
        """``log π(tanh(u))`` = Gaussian log-density of ``u`` minus ``log|det ∂tanh/∂u|``: ``(B,)``."""
        gauss = (-0.5 * ((u - mean) / log_std.exp()) ** 2 - log_std - 0.5 * np.log(2 * np.pi)).sum(-1)
        return gauss - tanh_log_det_jacobian(u)


# ----- losses (2018b eqs. 5, 7, 18; 2018a eqs. 5, 7, 12) ----------------------------------------------------

def soft_q_target(reward: torch.Tensor, not_done: torch.Tensor, gamma: float | torch.Tensor,
                  q_next: torch.Tensor, log_pi_next: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Soft Bellman target ``y = r + γ (1 − d) (min_j Q̄_j(s', a') − α log π(a'|s'))`` (2018b eq. 3/5).

    ``q_next``: ``(n_critics, B)``; the others ``(B,)``. Returns ``(B,)``.
    """
    return reward + gamma * not_done * (q_next.min(0).values - alpha * log_pi_next)


def actor_loss(q: torch.Tensor, log_pi: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Policy objective ``E[α log π(a|s) − min_j Q_j(s, a)]`` with ``a`` reparameterised (2018b eq. 7)."""
    return (alpha * log_pi - q.min(0).values).mean()


def temperature_loss(log_alpha: torch.Tensor, log_pi: torch.Tensor, target_entropy: float) -> torch.Tensor:
    """``E[−α (log π + H̄)]`` (2018b eq. 18), differentiated w.r.t. log α only."""
    return -(log_alpha.exp() * (log_pi.detach() + target_entropy)).mean()


# ----- the agent --------------------------------------------------------------------------------------------

class SACAgent:
    """SAC on a ``Box`` environment: the :class:`mdrl_lib.train.Agent` protocol, one gradient step per env step."""

    #: the ``state_dict`` entries that only (deterministic) evaluation reads and writes: none, since it acts with the
    #: tanh of the mean and draws nothing (:func:`mdrl_lib.train.branch_checkpoint`)
    EVAL_ONLY_STATE = ()

    def __init__(self, observation_space: gym.Space, action_space: gym.spaces.Box,
                 config: SACConfig | None = None, *, seed: int = 0, device: str | torch.device | None = None):
        self.config = cfg = config or SACConfig()
        self.device = get_device(device) if not isinstance(device, torch.device) else device
        self.obs_dim, self.act_dim = obs_dim_of(observation_space), int(np.prod(action_space.shape))
        self.scaler = ActionScaler(action_space)
        self.rng = AgentRNG(seed, self.device)
        torch.manual_seed(seed)  # network initialisation
        d, o, dev = self.act_dim, self.obs_dim, self.device
        self.actor = TanhGaussianActor(o, d, cfg.hidden, cfg.log_std_min, cfg.log_std_max,
                                       cfg.last_layer_init).to(dev)
        self.critics = EnsembleMLP(2, o + d, cfg.hidden, 1, last_init=cfg.last_layer_init).to(dev)
        self.target_entropy = float(-d if cfg.target_entropy is None else cfg.target_entropy)
        self.log_alpha = torch.tensor(float(np.log(cfg.alpha)), device=dev, requires_grad=cfg.autotune)
        if cfg.variant == "v2":
            self.critic_target = copy.deepcopy(self.critics).requires_grad_(False)
            self.critic_opt = make_adam(self.critics.parameters(), cfg.critic_lr)
            self.actor_params = list(self.actor.parameters()) + ([self.log_alpha] if cfg.autotune else [])
            self.actor_opt = make_adam(self.actor.parameters(), cfg.lr)
            if cfg.autotune:
                self.actor_opt.add_param_group({"params": [self.log_alpha], "lr": cfg.alpha_lr})
        else:
            self.value = EnsembleMLP(1, o, cfg.hidden, 1, last_init=cfg.last_layer_init).to(dev)
            self.value_target = copy.deepcopy(self.value).requires_grad_(False)
            self.critic_opt = make_adam(list(self.critics.parameters()) + list(self.value.parameters()),
                                        cfg.critic_lr)
            self.actor_params = list(self.actor.parameters())
            self.actor_opt = make_adam(self.actor_params, cfg.lr)
        self.buffer = ReplayBuffer(cfg.buffer_size, {"obs": o, "action": d, "reward": 1, "next_obs": o,
                                                     "not_done": 1}, dev)
        self.n_observed = 0
        self.n_updates = 0

    # --- acting -------------------------------------------------------------------------------------------

    @torch.inference_mode()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        if not deterministic and self.n_observed < self.config.random_steps:
            return self.scaler.to_env(self.rng.numpy.uniform(-1.0, 1.0, self.act_dim))
        o = torch.as_tensor(obs, dtype=torch.float32, device=self.device).unsqueeze(0)
        if deterministic:
            a = torch.tanh(self.actor(o)[0])
        else:
            a = self.actor.sample(o, self.rng.torch).a
        return self.scaler.to_env(a[0].cpu().numpy())

    def observe(self, obs, action, reward, next_obs, terminated, truncated) -> None:
        # Truncation is not termination: bootstrap through time limits.
        self.buffer.add(obs=obs, action=self.scaler.from_env(action), reward=reward * self.config.reward_scale,
                        next_obs=next_obs, not_done=0.0 if terminated else 1.0)
        self.n_observed += 1

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.exp().detach()

    # --- learning -----------------------------------------------------------------------------------------

    def update(self) -> dict[str, float]:
        if len(self.buffer) < self.config.batch_size:
            return {}
        b = self.buffer.sample(self.config.batch_size, self.rng.torch)
        metrics = self._update_v2(b) if self.config.variant == "v2" else self._update_v1(b)
        self.n_updates += 1
        return dict(zip(metrics, torch.stack(list(metrics.values())).tolist(), strict=True))

    def _update_v2(self, b: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        cfg, B = self.config, self.config.batch_size
        alpha = self.alpha
        # One actor pass on [s; s']: the s' half (no gradient) feeds the target, the s half the actor loss.
        both = self.actor.sample(torch.cat([b["obs"], b["next_obs"]]), self.rng.torch)
        pi, nxt = both.rows(slice(None, B)), both.rows(slice(B, None))
        with torch.no_grad():
            q_next = self.critic_target(torch.cat([b["next_obs"], nxt.a], -1)).squeeze(-1)
            y = soft_q_target(b["reward"].squeeze(-1), b["not_done"].squeeze(-1), cfg.gamma, q_next,
                              nxt.log_prob, alpha)
        q = self.critics(torch.cat([b["obs"], b["action"]], -1)).squeeze(-1)
        critic_loss = ((q - y) ** 2).mean(1).sum()  # sum over the two critics of their MSE
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_opt.step()

        pi_loss = self.policy_loss(b["obs"], pi, alpha)
        logp_pi = pi.log_prob
        loss = pi_loss + (temperature_loss(self.log_alpha, logp_pi, self.target_entropy) if cfg.autotune else 0.0)
        grads = torch.autograd.grad(loss, self.actor_params)  # no critic weight gradients are formed
        for p, g in zip(self.actor_params, grads, strict=True):
            p.grad = g
        self.actor_opt.step()
        polyak_update_(self.critic_target.parameters(), self.critics.parameters(), cfg.tau)
        return {"critic_loss": critic_loss.detach(), "actor_loss": pi_loss.detach(), "alpha": alpha,
                "entropy": -logp_pi.detach().mean(), "q": q.detach().mean()}

    def policy_loss(self, obs: torch.Tensor, pi: ActorSample, alpha: torch.Tensor) -> torch.Tensor:
        """SAC's reparameterised policy loss (2018b eq. 7); WPO overrides this one method."""
        q_pi = self.critics(torch.cat([obs, pi.a], -1)).squeeze(-1)
        return actor_loss(q_pi, pi.log_prob, alpha)

    def _update_v1(self, b: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """SAC v1 (2018a): V, V̄, twin Q to one target, likelihood-ratio actor loss (docs/methods/maxdiff.md §2.5)."""
        cfg = self.config
        alpha = self.alpha
        a, logp, mean, log_std, _ = self.actor.sample(b["obs"], self.rng.torch, reparameterize=False)
        with torch.no_grad():
            y_q = b["reward"].squeeze(-1) + cfg.gamma * b["not_done"].squeeze(-1) * \
                self.value_target(b["next_obs"])[0, :, 0]
            q_new = self.critics(torch.cat([b["obs"], a], -1)).squeeze(-1).min(0).values
            y_v = q_new - alpha * logp
        q = self.critics(torch.cat([b["obs"], b["action"]], -1)).squeeze(-1)
        v = self.value(b["obs"])[0, :, 0]
        critic_loss = ((q - y_q) ** 2).mean(1).sum() + 0.5 * ((v - y_v) ** 2).mean()
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_opt.step()
        # likelihood-ratio gradient: E[∇log π · (α log π − (Q − V))] with a baseline V
        weight = (alpha * logp - (q_new - v)).detach()
        pi_loss = (logp * weight).mean() + cfg.policy_reg * ((mean ** 2).mean() + (log_std ** 2).mean())
        self.actor_opt.zero_grad(set_to_none=True)
        pi_loss.backward()
        self.actor_opt.step()
        polyak_update_(self.value_target.parameters(), self.value.parameters(), cfg.tau)
        return {"critic_loss": critic_loss.detach(), "actor_loss": pi_loss.detach(), "alpha": alpha,
                "entropy": -logp.detach().mean(), "q": q.detach().mean()}

    # --- checkpointing ------------------------------------------------------------------------------------

    def _modules(self) -> dict[str, Any]:
        mods = {"actor": self.actor, "critics": self.critics, "critic_opt": self.critic_opt,
                "actor_opt": self.actor_opt}
        if self.config.variant == "v2":
            mods["critic_target"] = self.critic_target
        else:
            mods.update(value=self.value, value_target=self.value_target)
        return mods

    def state_dict(self) -> dict[str, Any]:
        return {"config": asdict(self.config), **{k: m.state_dict() for k, m in self._modules().items()},
                "log_alpha": self.log_alpha.detach().clone(), "buffer": self.buffer.state_dict(),
                "rng": self.rng.state_dict(), "n_observed": self.n_observed, "n_updates": self.n_updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["config"] != asdict(self.config):
            raise ValueError(f"SAC state was saved with config {state['config']}, not {asdict(self.config)}")
        for k, m in self._modules().items():
            m.load_state_dict(state[k])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        self.buffer.load_state_dict(state["buffer"])
        self.rng.load_state_dict(state["rng"])
        self.n_observed, self.n_updates = state["n_observed"], state["n_updates"]

"""DiffSAC: SAC on the diffusion-augmented MDP (``docs/methods/diffmaxent.md`` §2.2b, §3.3 — a [derived] design).

§ numbers refer to docs/methods/diffmaxent.md. The paper's text for DiffSAC is not available and the authors'
code has none, so this follows the design that note derives from the framework (and the per-step actor of the
authors' REPPO/WPO code):

* **Augmented MDP.** Every env step is K diffusion transitions. The augmented state is
  ``z = (s, x_k, k)``, its action is ``x_{k+1}``; for ``k < K-1`` the next state is ``(s, x_{k+1}, k+1)``
  with reward 0 and no discount, for ``k = K-1`` it is ``(s', x_0' ~ prior, 0)`` with the env reward, the
  env discount γ and the env's termination. (The authors' code by default discounts every diffusion step, §3;
  we discount only env time, so K=1 is SAC's horizon exactly — see notebook 20.)
* **Soft penalty** ``−α ℓ_k`` with ``ℓ_k = log q_θ(x_{k+1}|x_k,s) − log p(x_k|x_{k+1})`` in place of SAC's
  ``−α log π``. The three SAC equations are called unchanged (:func:`~mdrl_lib.agents.sac.soft_q_target`,
  :func:`~mdrl_lib.agents.sac.actor_loss`, :func:`~mdrl_lib.agents.sac.temperature_loss`).
* **Critics** ``Q_{1,2}(z, x_{k+1})`` see ``(s, x_k, onehot(k), x_{k+1})``; Polyak targets.
* **Temperature** drives the entropy lower bound ``H(prior) − Σ_k ℓ_k`` (estimated as
  ``H(prior) − K·mean ℓ`` over a minibatch of mixed k) to SAC's target ``−|A|``.
* **Replay** keeps whole chains per env step; a minibatch draws env transitions and a diffusion step k
  uniformly. ``updates_per_step`` defaults to K gradient steps per env step (the authors scale the number
  of minibatches by K, §3 and §5).

With K = 1 the augmented state is ``(s, x_0)`` and everything above is SAC's update with the Gaussian policy
``q_θ(x_1|x_0,s)`` and ``log π`` replaced by ``ℓ_0`` (tested in ``tests/test_diff_agents.py``).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch.nn import functional as F

from mdrl_lib.agents.diffusion_policy import DiffusionPolicy, DiffusionPolicyConfig
from mdrl_lib.agents.replay import ActionScaler, AgentRNG, ReplayBuffer, obs_dim_of
from mdrl_lib.agents.sac import SACConfig, actor_loss, soft_q_target, temperature_loss
from mdrl_lib.nets import EnsembleMLP, make_adam, polyak_update_
from mdrl_lib.utils import get_device


@dataclass(frozen=True)
class DiffSACConfig:
    """DiffSAC = SAC's settings + a diffusion policy (§1, §3.3)."""

    sac: SACConfig = field(default_factory=lambda: SACConfig(random_steps=0))  # the policy itself explores
    diffusion: DiffusionPolicyConfig = field(default_factory=DiffusionPolicyConfig)
    updates_per_step: int | None = None  # gradient steps per env step; None = K (§5)

    def __post_init__(self):
        if self.sac.variant != "v2":
            raise ValueError(f"DiffSAC builds on SAC variant 'v2', got {self.sac.variant!r}")
        if self.updates_per_step is not None and self.updates_per_step < 1:
            raise ValueError(f"updates_per_step must be >= 1 or None, got {self.updates_per_step}")


class DiffSACAgent:
    """DiffSAC on a ``Box`` environment (:class:`mdrl_lib.train.Agent` protocol)."""

    def __init__(self, observation_space: gym.Space, action_space: gym.spaces.Box,
                 config: DiffSACConfig | None = None, *, seed: int = 0, device: str | torch.device | None = None):
        self.config = cfg = config or DiffSACConfig()
        sac = cfg.sac
        self.device = device if isinstance(device, torch.device) else get_device(device)
        self.obs_dim, self.act_dim = obs_dim_of(observation_space), int(np.prod(action_space.shape))
        self.K = K = cfg.diffusion.n_steps
        self.updates_per_step = cfg.updates_per_step or K
        self.scaler = ActionScaler(action_space)
        self.rng = AgentRNG(seed, self.device)
        torch.manual_seed(seed)
        o, d, dev = self.obs_dim, self.act_dim, self.device
        self.policy = DiffusionPolicy(o, d, cfg.diffusion).to(dev)
        self.critics = EnsembleMLP(2, o + d + K + d, sac.hidden, 1).to(dev)
        self.critic_target = copy.deepcopy(self.critics).requires_grad_(False)
        self.critic_opt = make_adam(self.critics.parameters(), sac.critic_lr)
        self.log_alpha = torch.tensor(float(np.log(sac.alpha)), device=dev, requires_grad=sac.autotune)
        self.actor_params = list(self.policy.parameters()) + ([self.log_alpha] if sac.autotune else [])
        self.actor_opt = make_adam(self.policy.parameters(), sac.lr)
        if sac.autotune:
            self.actor_opt.add_param_group({"params": [self.log_alpha], "lr": sac.alpha_lr})
        self.target_entropy = float(-d if sac.target_entropy is None else sac.target_entropy)
        self.buffer = ReplayBuffer(sac.buffer_size, {"obs": o, "path": (K + 1) * d, "reward": 1, "next_obs": o,
                                                     "not_done": 1}, dev)
        self._last_path: np.ndarray | None = None
        self.n_observed = 0
        self.n_updates = 0

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.exp().detach()

    # --- acting -------------------------------------------------------------------------------------------

    @torch.inference_mode()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        o = torch.as_tensor(obs, dtype=torch.float32, device=self.device).unsqueeze(0)
        s = self.policy.sample(o, generator=self.rng.torch, deterministic=deterministic)
        if not deterministic:
            self._last_path = s.path[:, 0].reshape(-1).cpu().numpy()
        return self.scaler.to_env(s.action[0].cpu().numpy())

    def observe(self, obs, action, reward, next_obs, terminated, truncated) -> None:
        if self._last_path is None:
            raise RuntimeError("DiffSACAgent.observe() needs the chain of a preceding act(obs) call")
        self.buffer.add(obs=obs, path=self._last_path, reward=reward * self.config.sac.reward_scale,
                        next_obs=next_obs, not_done=0.0 if terminated else 1.0)
        self._last_path = None
        self.n_observed += 1

    # --- the augmented MDP --------------------------------------------------------------------------------

    def augmented_batch(self, b: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Turn env transitions with whole chains into diffusion transitions at a uniformly drawn k.

        Returns ``obs, x, k`` (state z), ``x_next`` (its action), ``reward``, ``discount`` (γ·not_done at
        k = K-1, 1 before) and the next state ``next_obs, next_x, next_k``.
        """
        n, K, d, dev = b["obs"].shape[0], self.K, self.act_dim, self.device
        path = b["path"].view(n, K + 1, d)
        k = torch.randint(K, (n,), generator=self.rng.torch, device=dev)
        rows = torch.arange(n, device=dev)
        x, x_next = path[rows, k], path[rows, k + 1]
        last = (k == K - 1).unsqueeze(-1)
        x0_new = self.policy.sample_prior(n, generator=self.rng.torch, device=dev)
        gamma = self.config.sac.gamma
        return {
            "obs": b["obs"], "x": x, "k": k, "x_next": x_next,
            "reward": torch.where(last, b["reward"], 0.0).squeeze(-1),
            "discount": torch.where(last, gamma * b["not_done"], 1.0).squeeze(-1),
            "next_obs": torch.where(last, b["next_obs"], b["obs"]),
            "next_x": torch.where(last, x0_new, x_next),
            "next_k": torch.where(last.squeeze(-1), 0, k + 1),
        }

    def q_input(self, obs, x, k, x_next) -> torch.Tensor:
        """Critic input ``(s, x_k, onehot(k), x_{k+1})``: ``(B, obs + 2d + K)``."""
        return torch.cat([obs, x, F.one_hot(k, self.K).to(obs.dtype), x_next], dim=-1)

    # --- learning -----------------------------------------------------------------------------------------

    def update(self) -> dict[str, float]:
        sac = self.config.sac
        if len(self.buffer) < sac.batch_size:
            return {}
        sums: dict[str, torch.Tensor] = {}
        for _ in range(self.updates_per_step):
            z = self.augmented_batch(self.buffer.sample(sac.batch_size, self.rng.torch))
            for key, v in self.gradient_step(z).items():
                sums[key] = sums.get(key, 0.0) + v
        self.n_updates += self.updates_per_step
        vals = (torch.stack(list(sums.values())) / self.updates_per_step).tolist()
        return dict(zip(sums, vals, strict=True))

    def gradient_step(self, z: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One SAC step on augmented transitions ``z`` (see :meth:`augmented_batch`)."""
        sac, B = self.config.sac, z["obs"].shape[0]
        alpha = self.alpha
        # one policy step on [z; z']: z' (no gradient) for the target, z for the actor loss
        x_new, log_q, log_p = self.policy.step(torch.cat([z["obs"], z["next_obs"]]),
                                               torch.cat([z["x"], z["next_x"]]),
                                               torch.cat([z["k"], z["next_k"]]), generator=self.rng.torch)
        ell = log_q - log_p
        with torch.no_grad():
            q_next = self.critic_target(self.q_input(z["next_obs"], z["next_x"], z["next_k"], x_new[B:]))
            y = soft_q_target(z["reward"], z["discount"], 1.0, q_next.squeeze(-1), ell[B:], alpha)
        q = self.critics(self.q_input(z["obs"], z["x"], z["k"], z["x_next"])).squeeze(-1)
        critic_loss = ((q - y) ** 2).mean(1).sum()
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_opt.step()

        pi_loss = self.policy_loss(z, x_new[:B], ell[:B], alpha)
        loss = pi_loss
        if sac.autotune:
            # "log π" of the temperature loss = −(entropy lower bound) = K·ℓ − H(prior)
            log_pi_est = self.K * ell[:B] - self.policy.prior_entropy()
            loss = loss + temperature_loss(self.log_alpha, log_pi_est, self.target_entropy)
        grads = torch.autograd.grad(loss, self.actor_params)
        for p, g in zip(self.actor_params, grads, strict=True):
            p.grad = g
        self.actor_opt.step()
        polyak_update_(self.critic_target.parameters(), self.critics.parameters(), sac.tau)
        return {"critic_loss": critic_loss.detach(), "actor_loss": pi_loss.detach(), "alpha": alpha,
                "entropy_bound": self.policy.prior_entropy() - self.K * ell[:B].detach().mean(),
                "q": q.detach().mean()}

    def policy_loss(self, z: dict[str, torch.Tensor], x_next: torch.Tensor, ell: torch.Tensor,
                    alpha: torch.Tensor) -> torch.Tensor:
        """SAC's policy loss on the augmented MDP: ``E[α ℓ_θ − min_j Q_j(z, x_{k+1})]`` (§3.3).

        ``x_next`` is the reparameterised step from ``z``; DiffWPO overrides this one method.
        """
        q_pi = self.critics(self.q_input(z["obs"], z["x"], z["k"], x_next)).squeeze(-1)
        return actor_loss(q_pi, ell, alpha)

    # --- checkpointing ------------------------------------------------------------------------------------

    def _modules(self) -> dict[str, Any]:
        return {"policy": self.policy, "critics": self.critics, "critic_target": self.critic_target,
                "critic_opt": self.critic_opt, "actor_opt": self.actor_opt}

    def state_dict(self) -> dict[str, Any]:
        return {"config": asdict(self.config), **{k: m.state_dict() for k, m in self._modules().items()},
                "log_alpha": self.log_alpha.detach().clone(), "buffer": self.buffer.state_dict(),
                "rng": self.rng.state_dict(), "n_observed": self.n_observed, "n_updates": self.n_updates,
                "last_path": None if self._last_path is None else self._last_path.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["config"] != asdict(self.config):
            raise ValueError(f"DiffSAC state was saved with config {state['config']}, not {asdict(self.config)}")
        for k, m in self._modules().items():
            m.load_state_dict(state[k])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        self.buffer.load_state_dict(state["buffer"])
        self.rng.load_state_dict(state["rng"])
        self.n_observed, self.n_updates = state["n_observed"], state["n_updates"]
        self._last_path = state["last_path"]

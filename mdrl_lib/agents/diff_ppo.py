"""DiffPPO: PPO on the diffusion-augmented MDP (``docs/methods/diffmaxent.md`` §2.2, §3.1).

§ numbers refer to docs/methods/diffmaxent.md.

Every env step is K diffusion transitions ``z_{t,k} = (s_t, x_k, k) → x_{k+1}``:

* **Rollout.** Store the whole chain, the per-step ``log q_old`` and ``ℓ_{t,k} = log q − log p``, and the
  values ``V(s_t, x_k, k)``. Soft reward ``r̃_{t,k} = r_t·[k = K−1] − c·ℓ_{t,k}`` (fixed ``entropy_coef``
  c, the authors' final config, §3.1 items 1 and 6).
* **GAE** over the augmented time axis. γ and λ act at env steps only (the authors'
  ``use_env_time_discounting`` option, §3; their default discounts every diffusion step), so that K=1 is
  PPO's recursion exactly. The next state of ``(t, K−1)`` is ``(s_{t+1}, x_0 of t+1, 0)`` — the rollout's
  own next prior sample.
* **Past terms cancel** (§2.2c): each step's score is weighted by its *future* soft return only,
  which is what GAE on r̃ gives.
* **Actor advantage** ``Â = A − r̃_old + r − c·ℓ_θ`` (§3.1 item 4): the step's own penalty is
  re-evaluated with the current policy (no gradient). Clipped surrogate on the **per-step** ratio
  ``ρ = q_θ(x_{k+1}|x_k,s) / q_old(x_{k+1}|x_k,s)``.
* **Learned reference parameters** (Δt, friction) get the extra term ``−c·E[stopgrad(ρ) log p(x_k|x_{k+1})]``
  / adv-std (§3.1 item 5), since ``ℓ`` depends on them through ``log p`` directly.
* Minibatches are ``n_minibatches × K`` so their size matches PPO's (§3).

With K = 1 every piece is PPO's (:mod:`mdrl_lib.agents.ppo`) with the Gaussian kernel ``q_θ(x_1|x_0,s)``
as the policy of the augmented state ``(s, x_0)`` and ``log π`` replaced by ``ℓ_0``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from mdrl_lib.agents.diffusion_policy import DiffusionPolicy, DiffusionPolicyConfig
from mdrl_lib.agents.ppo import Normalizers, PPOConfig, clipped_surrogate, gae, value_loss
from mdrl_lib.agents.replay import ActionScaler, AgentRNG, obs_dim_of
from mdrl_lib.nets import MLP, make_adam
from mdrl_lib.utils import get_device


def actor_loss(log_q: torch.Tensor, log_p: torch.Tensor, log_q_old: torch.Tensor, adv: torch.Tensor,
               ell_old: torch.Tensor, c: float, clip: float, norm_adv: bool
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """DiffPPO's actor loss on a minibatch of augmented transitions (§3.1 items 4 and 5).

    ``log_q`` = ``log q_θ(x_{k+1}|x_k,s)`` and ``log_p`` = ``log p(x_k|x_{k+1})`` under the current policy
    (differentiable), ``log_q_old``, ``adv`` (GAE on the rollout's soft rewards) and ``ell_old`` = ``ℓ_old`` from
    the rollout; all ``(B,)``. ``c`` is the soft-reward coefficient, ``clip`` PPO's ε.

    * advantage ``Â = A − r̃_old + r − c ℓ_θ = A + c (ℓ_old − ℓ_θ)`` with ``ℓ_θ`` taken without gradient
      (item 4), then normalised to mean 0, std 1 when ``norm_adv``;
    * the clipped surrogate on the per-step ratio ``ρ = q_θ / q_old`` (:func:`mdrl_lib.agents.ppo.clipped_surrogate`);
    * the reference term ``−c E[stopgrad(ρ) log p(x_k|x_{k+1})] / std(Â)`` (item 5): the gradient of the
      penalty ``−c ℓ`` through ``log p``, i.e. through the learned Δt and friction. **Deviation, not yet
      resolved:** the authors mask this term to the samples where the PPO gradient is active (unclipped); here it
      is averaged over every sample (found by the loss-pinning work of issue 14; kept so the committed data stay
      valid until that issue re-runs notebook 20).

    Returns ``(surrogate loss, reference term, ρ, ℓ_θ)``; the loss to minimise is their sum plus the value loss.
    """
    ell_now = (log_q - log_p).detach()
    a = adv + c * (ell_old - ell_now)  # Â = A − r̃_old + r − c ℓ_θ
    std = a.std() + 1e-8 if norm_adv else torch.ones(())
    if norm_adv:
        a = (a - a.mean()) / std
    pl, ratio = clipped_surrogate(log_q, log_q_old, a, clip)
    ref_term = -(c * ratio.detach() * log_p).mean() / std  # gradient of −cℓ through log p (Δt, γ)
    return pl, ref_term, ratio, ell_now


@dataclass(frozen=True)
class DiffPPOConfig:
    """PPO's settings (with the soft-reward coefficient c) + a diffusion policy."""

    ppo: PPOConfig = field(default_factory=lambda: PPOConfig(entropy_coef=2e-4))  # c: §4.3 (fixed 2e-4)
    diffusion: DiffusionPolicyConfig = field(default_factory=DiffusionPolicyConfig)


class DiffPPOAgent:
    """DiffPPO on a ``Box`` environment; ``update()`` learns once every ``n_steps`` env steps."""

    def __init__(self, observation_space: gym.Space, action_space: gym.spaces.Box,
                 config: DiffPPOConfig | None = None, *, seed: int = 0, device: str | torch.device | None = None):
        self.config = cfg = config or DiffPPOConfig()
        self.device = device if isinstance(device, torch.device) else get_device(device)
        self.obs_dim, self.act_dim = obs_dim_of(observation_space), int(np.prod(action_space.shape))
        self.K = cfg.diffusion.n_steps
        self.scaler = ActionScaler(action_space)
        self.rng = AgentRNG(seed, self.device)
        torch.manual_seed(seed)
        self.policy = DiffusionPolicy(self.obs_dim, self.act_dim, cfg.diffusion).to(self.device)
        self.value = MLP(self.obs_dim + self.act_dim + self.K, cfg.ppo.hidden, 1, cfg.ppo.act).to(self.device)
        self.opt = make_adam(list(self.policy.parameters()) + list(self.value.parameters()), cfg.ppo.lr)
        self.norm = Normalizers(self.obs_dim, cfg.ppo.gamma, cfg.ppo.norm_obs, cfg.ppo.norm_reward)
        self.rollout: list[dict[str, Any]] = []
        self._pending: dict[str, Any] | None = None
        self.n_observed = 0
        self.first_minibatch_ratio: torch.Tensor | None = None

    def values(self, obs: torch.Tensor, x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """``V(s, x_k, k)``: ``(B, obs), (B, d), (B,) -> (B,)``."""
        return self.value(torch.cat([obs, x, F.one_hot(k, self.K).to(obs.dtype)], -1))[:, 0]

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        o = torch.as_tensor(self.norm.observation(obs), device=self.device).unsqueeze(0)
        s = self.policy.sample(o, generator=self.rng.torch, deterministic=deterministic)
        if not deterministic:
            ks = torch.arange(self.K, device=self.device)
            v = self.values(o.expand(self.K, -1), s.path[:-1, 0], ks)
            self._pending = {"obs": o[0], "path": s.path[:, 0], "log_q": s.log_q[:, 0], "ell": s.ell[:, 0],
                             "value": v}
        return self.scaler.to_env(s.action[0].cpu().numpy())

    def observe(self, obs, action, reward, next_obs, terminated, truncated) -> None:
        if self._pending is None:
            raise RuntimeError("DiffPPOAgent.observe() needs a preceding act(obs) call")
        step, self._pending = self._pending, None
        step["reward"] = self.norm.observe(obs, reward, terminated or truncated)
        step["discount"] = 0.0 if terminated else self.config.ppo.gamma
        step["end"] = bool(terminated or truncated)
        step["next_obs"] = next_obs
        self.rollout.append(step)
        self.n_observed += 1

    @torch.no_grad()
    def _bootstrap_value(self, next_obs: np.ndarray) -> float:
        o = torch.as_tensor(self.norm.observation(next_obs), device=self.device).unsqueeze(0)
        x0 = self.policy.sample_prior(1, generator=self.rng.torch, device=self.device)
        return float(self.values(o, x0, torch.zeros(1, dtype=torch.long, device=self.device))[0])

    def update(self) -> dict[str, float]:
        ppo = self.config.ppo
        if len(self.rollout) < ppo.n_steps:
            return {}
        R, self.rollout = self.rollout, []
        return self._optimise(self.prepare(R))

    def prepare(self, R: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """Rollout → augmented transitions ``obs, x, k, x_next, log_q_old, ell_old, value, adv, returns``."""
        ppo = self.config.ppo
        T, K, dev, c = len(R), self.K, self.device, ppo.entropy_coef
        obs = torch.stack([s["obs"] for s in R])  # (T, o)
        path = torch.stack([s["path"] for s in R])  # (T, K+1, d)
        log_q_old = torch.stack([s["log_q"] for s in R])  # (T, K)
        ell_old = torch.stack([s["ell"] for s in R])
        values = torch.stack([s["value"] for s in R])
        env_r = torch.tensor([s["reward"] for s in R], device=dev)
        is_last = torch.zeros(T, K, device=dev)
        is_last[:, -1] = 1.0
        rewards = env_r.unsqueeze(1) * is_last - c * ell_old  # r̃_{t,k}
        next_values = torch.cat([values[:, 1:], torch.cat([values[1:, :1], values.new_zeros(1, 1)])], 1)
        for t, s in enumerate(R):
            if s["end"] or t == T - 1:
                next_values[t, -1] = self._bootstrap_value(s["next_obs"]) if s["discount"] > 0 else 0.0
        env_disc = torch.tensor([s["discount"] for s in R], device=dev)
        env_lam = torch.tensor([0.0 if s["end"] else ppo.gae_lambda for s in R], device=dev)
        discounts = torch.where(is_last > 0, env_disc.unsqueeze(1), 1.0)
        lambdas = torch.where(is_last > 0, env_lam.unsqueeze(1), 1.0)
        adv, returns = gae(rewards.reshape(-1), values.reshape(-1), next_values.reshape(-1), discounts.reshape(-1),
                           lambdas.reshape(-1))
        # flatten (t, k) into augmented transitions
        k = torch.arange(K, device=dev).repeat(T)
        flat = {"obs": obs.repeat_interleave(K, 0), "x": path[:, :-1].reshape(T * K, -1),
                "x_next": path[:, 1:].reshape(T * K, -1), "k": k, "log_q_old": log_q_old.reshape(-1),
                "ell_old": ell_old.reshape(-1), "value": values.reshape(-1), "adv": adv, "returns": returns}
        return flat

    def _optimise(self, d: dict[str, torch.Tensor]) -> dict[str, float]:
        ppo, N = self.config.ppo, len(d["adv"])
        n_mb = ppo.n_minibatches * self.K
        mb = N // n_mb
        c = ppo.entropy_coef
        params = list(self.policy.parameters()) + list(self.value.parameters())
        logs = {"policy_loss": 0.0, "value_loss": 0.0, "clip_fraction": 0.0, "entropy_bound": 0.0}
        n = 0
        self.first_minibatch_ratio = None
        for _ in range(ppo.n_epochs):
            perm = torch.randperm(N, generator=self.rng.torch, device=self.device)
            for i in range(n_mb):
                idx = perm[i * mb:(i + 1) * mb]
                obs, x, k, x_next = d["obs"][idx], d["x"][idx], d["k"][idx], d["x_next"][idx]
                log_q, log_p = self.policy.step_log_probs(obs, x, k, x_next)
                pl, ref_term, ratio, ell_now = actor_loss(log_q, log_p, d["log_q_old"][idx], d["adv"][idx],
                                                          d["ell_old"][idx], c, ppo.clip, ppo.norm_adv)
                if self.first_minibatch_ratio is None:
                    self.first_minibatch_ratio = ratio.detach().clone()
                vl = value_loss(self.values(obs, x, k), d["value"][idx], d["returns"][idx],
                                ppo.clip if ppo.clip_vloss else None)
                self.opt.zero_grad(set_to_none=True)
                (pl + ref_term + ppo.vf_coef * vl).backward()
                nn.utils.clip_grad_norm_(params, ppo.max_grad_norm, foreach=True)
                self.opt.step()
                logs["policy_loss"] += float(pl.detach())
                logs["value_loss"] += float(vl.detach())
                logs["clip_fraction"] += float(((ratio - 1).abs() > ppo.clip).float().mean())
                logs["entropy_bound"] += self.policy.prior_entropy() - self.K * float(ell_now.mean())
                n += 1
        return {key: v / n for key, v in logs.items()}

    # --- checkpointing ------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {"config": asdict(self.config), "policy": self.policy.state_dict(), "value": self.value.state_dict(),
                "opt": self.opt.state_dict(), "norm": self.norm.state_dict(), "rng": self.rng.state_dict(),
                "rollout": [dict(s) for s in self.rollout], "n_observed": self.n_observed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["config"] != asdict(self.config):
            raise ValueError(f"DiffPPO state was saved with config {state['config']}, not {asdict(self.config)}")
        self.policy.load_state_dict(state["policy"])
        self.value.load_state_dict(state["value"])
        self.opt.load_state_dict(state["opt"])
        self.norm.load_state_dict(state["norm"])
        self.rng.load_state_dict(state["rng"])
        self.rollout = [dict(s) for s in state["rollout"]]
        self.n_observed = state["n_observed"]

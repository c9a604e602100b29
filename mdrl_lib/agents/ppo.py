"""Proximal Policy Optimization (Schulman et al. 2017): clipped surrogate, GAE, readable top to bottom.

A single-environment PPO in the CleanRL ``ppo_continuous_action`` style: a diagonal Gaussian policy with a
state-independent log-std, a separate value MLP, running observation normalisation and return-based reward
scaling, ``n_steps`` per rollout, ``n_epochs`` of ``n_minibatches`` minibatches. Time-limit truncation is
bootstrapped (``r += γ V(s')``), termination is not.

Optional MaxEnt form (off by default, on in DiffPPO): the soft reward ``r̃ = r − c log π(a|s)``
(``entropy_coef`` = c), ``docs/methods/diffmaxent.md`` §3.1. The building blocks (:func:`gae`,
:func:`clipped_surrogate`, :class:`RunningMeanStd`) are shared with DiffPPO.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from mdrl_lib.agents.replay import ActionScaler, AgentRNG, obs_dim_of
from mdrl_lib.nets import MLP, gaussian_log_prob, make_adam
from mdrl_lib.utils import get_device


@dataclass(frozen=True)
class PPOConfig:
    """PPO hyperparameters; defaults from CleanRL ppo_continuous_action / Schulman et al. 2017 Table 3."""

    n_steps: int = 2048  # env steps per rollout
    n_epochs: int = 10
    n_minibatches: int = 32
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip: float = 0.2
    lr: float = 3e-4
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    hidden: tuple[int, ...] = (64, 64)
    act: str = "tanh"
    entropy_coef: float = 0.0  # c of the soft reward r − c log π (0 = standard PPO)
    norm_obs: bool = True
    norm_reward: bool = True
    norm_adv: bool = True
    clip_vloss: bool = True

    def __post_init__(self):
        if self.n_steps < self.n_minibatches:
            raise ValueError(f"n_steps ({self.n_steps}) must be >= n_minibatches ({self.n_minibatches})")
        if not 0 < self.clip < 1:
            raise ValueError(f"clip must be in (0, 1), got {self.clip}")


class RunningMeanStd:
    """Running mean and variance (parallel Welford update) of arrays of a fixed shape."""

    def __init__(self, shape: tuple[int, ...] = ()):
        self.mean, self.var, self.count = np.zeros(shape), np.ones(shape), 1e-4

    def update(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float64).reshape(-1, *self.mean.shape)
        b_mean, b_var, n = x.mean(0), x.var(0), x.shape[0]
        delta, tot = b_mean - self.mean, self.count + n
        self.mean = self.mean + delta * n / tot
        self.var = (self.var * self.count + b_var * n + delta ** 2 * self.count * n / tot) / tot
        self.count = tot

    def state_dict(self) -> dict[str, Any]:
        return {"mean": self.mean.copy(), "var": self.var.copy(), "count": self.count}

    def load_state_dict(self, s: dict[str, Any]) -> None:
        self.mean, self.var, self.count = s["mean"].copy(), s["var"].copy(), s["count"]


class Normalizers:
    """Observation normalisation and reward scaling by the std of the discounted return (CleanRL wrappers)."""

    def __init__(self, obs_dim: int, gamma: float, norm_obs: bool, norm_reward: bool):
        self.obs, self.ret = RunningMeanStd((obs_dim,)), RunningMeanStd(())
        self.gamma, self.norm_obs, self.norm_reward, self.discounted = gamma, norm_obs, norm_reward, 0.0

    def observation(self, obs: np.ndarray) -> np.ndarray:
        if not self.norm_obs:
            return np.asarray(obs, dtype=np.float32)
        return np.clip((obs - self.obs.mean) / np.sqrt(self.obs.var + 1e-8), -10, 10).astype(np.float32)

    def observe(self, obs: np.ndarray, reward: float, done: bool) -> float:
        """Update the statistics with one transition; return the scaled reward."""
        if self.norm_obs:
            self.obs.update(obs)
        if not self.norm_reward:
            return float(reward)
        self.discounted = self.discounted * self.gamma + reward
        self.ret.update(np.array([self.discounted]))
        if done:
            self.discounted = 0.0
        return float(np.clip(reward / math.sqrt(self.ret.var + 1e-8), -10, 10))

    def state_dict(self) -> dict[str, Any]:
        return {"obs": self.obs.state_dict(), "ret": self.ret.state_dict(), "discounted": self.discounted}

    def load_state_dict(self, s: dict[str, Any]) -> None:
        self.obs.load_state_dict(s["obs"])
        self.ret.load_state_dict(s["ret"])
        self.discounted = s["discounted"]


# ----- the two equations ------------------------------------------------------------------------------------

def gae(rewards: torch.Tensor, values: torch.Tensor, next_values: torch.Tensor, discounts: torch.Tensor,
        lambdas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation (Schulman et al. 2016, eq. 16) along the first axis.

    ``A_t = δ_t + discounts_t · lambdas_t · A_{t+1}`` with ``δ_t = r_t + discounts_t V(s_{t+1}) − V(s_t)``;
    ``discounts_t`` is ``γ (1 − terminated_t)`` (0 also cuts the recursion), ``lambdas_t`` is λ. All inputs
    ``(T,)``; returns ``(advantages, returns = advantages + values)``.
    """
    deltas = (rewards + discounts * next_values - values).detach().cpu().double().numpy()
    decay = (discounts * lambdas).detach().cpu().double().numpy()
    adv = np.zeros_like(deltas)
    running = 0.0
    for t in range(len(deltas) - 1, -1, -1):  # Python floats: ~1 µs per step, no tensor dispatch
        running = deltas[t] + decay[t] * running
        adv[t] = running
    adv_t = torch.as_tensor(adv, dtype=values.dtype, device=values.device)
    return adv_t, adv_t + values


def clipped_surrogate(log_prob: torch.Tensor, old_log_prob: torch.Tensor, advantages: torch.Tensor,
                      clip: float) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO's clipped objective as a loss, ``−E[min(ρ Â, clip(ρ, 1±ε) Â)]`` (Schulman et al. 2017, eq. 7).

    Returns ``(loss, ratios ρ)``.
    """
    ratio = torch.exp(log_prob - old_log_prob)
    loss = -torch.min(ratio * advantages, ratio.clamp(1 - clip, 1 + clip) * advantages).mean()
    return loss, ratio


def value_loss(v: torch.Tensor, v_old: torch.Tensor, returns: torch.Tensor, clip: float | None) -> torch.Tensor:
    """``½ E[(V − R)²]``, with PPO's value clipping when ``clip`` is given."""
    if clip is None:
        return 0.5 * ((v - returns) ** 2).mean()
    v_clipped = v_old + (v - v_old).clamp(-clip, clip)
    return 0.5 * torch.max((v - returns) ** 2, (v_clipped - returns) ** 2).mean()


# ----- the agent --------------------------------------------------------------------------------------------

class GaussianPolicy(nn.Module):
    """``s -> N(μ(s), diag(exp(2 log σ)))`` with a state-independent log σ. Input ``(B, obs)``."""

    def __init__(self, obs_dim: int, act_dim: int, hidden, act: str):
        super().__init__()
        self.mean = MLP(obs_dim, hidden, act_dim, act, out_scale=0.01)
        self.log_std = nn.Parameter(torch.zeros(act_dim))

    def log_prob(self, obs: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return gaussian_log_prob(a, self.mean(obs), torch.exp(2 * self.log_std).expand_as(a))


class PPOAgent:
    """PPO on a ``Box`` environment; ``update()`` learns once every ``n_steps`` env steps."""

    def __init__(self, observation_space: gym.Space, action_space: gym.spaces.Box, config: PPOConfig | None = None,
                 *, seed: int = 0, device: str | torch.device | None = None):
        self.config = cfg = config or PPOConfig()
        self.device = device if isinstance(device, torch.device) else get_device(device)
        self.obs_dim, self.act_dim = obs_dim_of(observation_space), int(np.prod(action_space.shape))
        self.scaler = ActionScaler(action_space)
        self.rng = AgentRNG(seed, self.device)
        torch.manual_seed(seed)
        self.policy = GaussianPolicy(self.obs_dim, self.act_dim, cfg.hidden, cfg.act).to(self.device)
        self.value = MLP(self.obs_dim, cfg.hidden, 1, cfg.act).to(self.device)
        self.opt = make_adam(list(self.policy.parameters()) + list(self.value.parameters()), cfg.lr)
        self.norm = Normalizers(self.obs_dim, cfg.gamma, cfg.norm_obs, cfg.norm_reward)
        self.rollout: list[dict[str, Any]] = []
        self._pending: dict[str, Any] | None = None
        self.n_observed = 0

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        o = torch.as_tensor(self.norm.observation(obs), device=self.device).unsqueeze(0)
        mean = self.policy.mean(o)
        if deterministic:
            return self.scaler.to_env(mean[0].clamp(-1, 1).cpu().numpy())
        a = mean + self.policy.log_std.exp() * torch.randn(mean.shape, generator=self.rng.torch, device=self.device)
        self._pending = {"obs": o[0], "action": a[0], "log_prob": self.policy.log_prob(o, a)[0],
                         "value": self.value(o)[0, 0]}
        return self.scaler.to_env(a[0].clamp(-1, 1).cpu().numpy())

    def observe(self, obs, action, reward, next_obs, terminated, truncated) -> None:
        if self._pending is None:
            raise RuntimeError("PPOAgent.observe() needs a preceding act(obs) call")
        step = self._pending
        self._pending = None
        r = self.norm.observe(obs, reward, terminated or truncated)
        step["reward"] = r
        step["discount"] = 0.0 if terminated else self.config.gamma
        step["end"] = bool(terminated or truncated)
        step["next_obs"] = next_obs
        self.rollout.append(step)
        self.n_observed += 1

    @torch.no_grad()
    def _value_of(self, obs: np.ndarray) -> float:
        o = torch.as_tensor(self.norm.observation(obs), device=self.device).unsqueeze(0)
        return float(self.value(o)[0, 0])

    def update(self) -> dict[str, float]:
        if len(self.rollout) < self.config.n_steps:
            return {}
        R, self.rollout = self.rollout, []
        return self._optimise(self.prepare(R))

    def prepare(self, R: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """Rollout → training tensors: ``obs, action, log_prob, value, adv, returns`` (GAE on r − c log π)."""
        cfg = self.config
        obs = torch.stack([s["obs"] for s in R])
        actions = torch.stack([s["action"] for s in R])
        old_log_prob = torch.stack([s["log_prob"] for s in R])
        values = torch.stack([s["value"] for s in R])
        rewards = torch.tensor([s["reward"] for s in R], device=self.device)
        # V(s_{t+1}): the next rollout value, except at episode ends and the rollout's last step
        next_values = torch.cat([values[1:], values.new_zeros(1)])
        for t, s in enumerate(R):
            if s["end"] or t == len(R) - 1:
                next_values[t] = self._value_of(s["next_obs"]) if s["discount"] > 0 else 0.0
        discounts = torch.tensor([s["discount"] for s in R], device=self.device)
        # λ is cut at every episode end (truncations included): the next row is another episode
        lambdas = torch.tensor([0.0 if s["end"] else cfg.gae_lambda for s in R], device=self.device)
        if cfg.entropy_coef:
            rewards = rewards - cfg.entropy_coef * old_log_prob
        adv, returns = gae(rewards, values, next_values, discounts, lambdas)
        return {"obs": obs, "action": actions, "log_prob": old_log_prob, "value": values, "adv": adv,
                "returns": returns}

    def _optimise(self, d: dict[str, torch.Tensor]) -> dict[str, float]:
        obs, actions, old_log_prob, values, adv, returns = (d[k] for k in ("obs", "action", "log_prob", "value",
                                                                             "adv", "returns"))
        cfg, T = self.config, len(obs)
        mb = T // cfg.n_minibatches
        params = list(self.policy.parameters()) + list(self.value.parameters())
        logs = {"policy_loss": 0.0, "value_loss": 0.0, "clip_fraction": 0.0}
        n = 0
        self.first_minibatch_ratio = None
        for _ in range(cfg.n_epochs):
            perm = torch.randperm(T, generator=self.rng.torch, device=self.device)
            for i in range(cfg.n_minibatches):
                idx = perm[i * mb:(i + 1) * mb]
                a = adv[idx]
                if cfg.norm_adv:
                    a = (a - a.mean()) / (a.std() + 1e-8)
                pl, ratio = clipped_surrogate(self.policy.log_prob(obs[idx], actions[idx]), old_log_prob[idx], a,
                                              cfg.clip)
                if self.first_minibatch_ratio is None:
                    self.first_minibatch_ratio = ratio.detach().clone()
                vl = value_loss(self.value(obs[idx])[:, 0], values[idx], returns[idx],
                                cfg.clip if cfg.clip_vloss else None)
                self.opt.zero_grad(set_to_none=True)
                (pl + cfg.vf_coef * vl).backward()
                nn.utils.clip_grad_norm_(params, cfg.max_grad_norm, foreach=True)
                self.opt.step()
                logs["policy_loss"] += float(pl.detach())
                logs["value_loss"] += float(vl.detach())
                logs["clip_fraction"] += float(((ratio - 1).abs() > cfg.clip).float().mean())
                n += 1
        return {k: v / n for k, v in logs.items()}

    # --- checkpointing ------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {"config": asdict(self.config), "policy": self.policy.state_dict(), "value": self.value.state_dict(),
                "opt": self.opt.state_dict(), "norm": self.norm.state_dict(), "rng": self.rng.state_dict(),
                "rollout": [dict(s) for s in self.rollout], "n_observed": self.n_observed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["config"] != asdict(self.config):
            raise ValueError(f"PPO state was saved with config {state['config']}, not {asdict(self.config)}")
        self.policy.load_state_dict(state["policy"])
        self.value.load_state_dict(state["value"])
        self.opt.load_state_dict(state["opt"])
        self.norm.load_state_dict(state["norm"])
        self.rng.load_state_dict(state["rng"])
        self.rollout = [dict(s) for s in state["rollout"]]
        self.n_observed = state["n_observed"]

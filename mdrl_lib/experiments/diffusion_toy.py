"""Where expressivity matters: Gaussian vs diffusion policies on a one-step task with a known Boltzmann target.

Task: ``mdrl/MultimodalBandit-v0`` (four modes of weights 0.4/0.3/0.2/0.1). With the temperature fixed at
α = 1 the MaxEnt-optimal policy is ``π*(a) ∝ exp(r(a))`` — the Gaussian mixture itself — so each trained
policy's samples can be compared with exact samples of π*:

* ``energy_distance`` — ``2E|X−Y| − E|X−X'| − E|Y−Y'|`` between 2000 policy and 2000 target samples (0 iff
  the distributions agree);
* ``mode_weights`` — the fraction of samples nearest each mode, and ``mode_tv`` — their total-variation
  distance to the target's weights.

Agents (temperature fixed at 1, no autotuning): SAC and WPO (tanh-Gaussian) against DiffSAC and DiffWPO with
K diffusion steps. The diffusion policies use ``squash_correction=True`` (the target is a density on the
action square; see :mod:`mdrl_lib.agents.diffusion_policy`) and a prior std of 1 (the MuJoCo default 3
saturates tanh).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from mdrl_lib.agents import make_agent
from mdrl_lib.experiments import Run, RunContext, check_choices
from mdrl_lib.train import TrainConfig

NAME = "diffusion_toy"
ENV = "mdrl/MultimodalBandit-v0"
ALGOS = ("SAC", "DiffSAC", "WPO", "DiffWPO")
DIFFUSION = {"DiffSAC": "SAC", "DiffWPO": "WPO"}

#: quick: 4 agents (diffusion ones at 3 Ks) x 3 seeds x 3000 steps, about 17 minutes on 2 cores
SIZES: dict[str, dict[str, Any]] = {
    "smoke": {"algos": list(ALGOS), "Ks": [2], "seeds": [0], "total_steps": 120, "eval_every": 60,
              "eval_episodes": 20, "n_samples": 300, "hidden": [32, 32], "batch_size": 32, "random_steps": 40,
              "alpha": 1.0},
    "quick": {"algos": list(ALGOS), "Ks": [1, 4, 8], "seeds": [0, 1, 2], "total_steps": 3000, "eval_every": 500,
              "eval_episodes": 20, "n_samples": 2000, "hidden": [64, 64], "batch_size": 128, "random_steps": 200,
              "alpha": 1.0},
    "paper": {"algos": list(ALGOS), "Ks": [1, 2, 4, 8, 16], "seeds": list(range(10)), "total_steps": 10000,
              "eval_every": 1000, "eval_episodes": 20, "n_samples": 5000, "hidden": [128, 128], "batch_size": 256,
              "random_steps": 500, "alpha": 1.0},
}


def energy_distance(x: np.ndarray, y: np.ndarray) -> float:
    """``2E|X−Y| − E|X−X'| − E|Y−Y'|`` (V-statistic) between samples ``x (n, d)`` and ``y (m, d)``."""
    def mean_dist(a, b):
        return float(np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)).mean())

    return 2 * mean_dist(x, y) - mean_dist(x, x) - mean_dist(y, y)


def resolve(setting: dict[str, Any], cfg: dict[str, Any]) -> Run:
    """Temperature fixed at ``alpha`` (no autotuning), lr 1e-3 for the small networks; the diffusion policies
    with one more hidden layer, the tanh correction on, prior std 1, friction 1, Δt 0.1 (module docstring)."""
    algo, K = setting["algo"], setting["K"]
    schedule = TrainConfig(total_steps=cfg["total_steps"], eval_every=cfg["eval_every"],
                           eval_episodes=cfg["eval_episodes"], eval_deterministic=False)
    sac = {"hidden": cfg["hidden"], "batch_size": cfg["batch_size"], "random_steps": cfg["random_steps"],
           "autotune": False, "alpha": cfg["alpha"], "lr": 1e-3}
    diffusion = {"n_steps": K, "hidden": [*cfg["hidden"], cfg["hidden"][-1]], "squash_correction": True,
                 "prior_std": 1.0, "friction": 1.0, "dt": 0.1}
    overrides = sac if algo in ("SAC", "WPO") else {"sac": sac, "diffusion": diffusion}
    return Run.of(algo, ENV, schedule, extra={"n_samples": cfg["n_samples"], "target_alpha": cfg["alpha"]},
                  **overrides)


def run_one(run: Run, seed: int, ctx: RunContext) -> xr.Dataset:
    """Train one agent on the bandit, then measure its policy against the Boltzmann target."""
    env = run.make_env()
    agent, _ = make_agent(run.algo, env, seed=seed, config=run.agent, device="cpu")  # tiny networks
    ds = ctx.train(run, agent, seed).drop_dims("episode")
    n = run.extra["n_samples"]
    obs = np.zeros(1, dtype=np.float32)
    actions = np.stack([agent.act(obs) for _ in range(n)]).astype(np.float64)
    u = env.unwrapped
    target = u.sample_boltzmann(n, np.random.default_rng([seed, 77]), alpha=run.extra["target_alpha"])
    weights, target_weights = u.mode_weights(actions), u.mode_weights(target)
    return xr.Dataset({
        "eval_return": ds["eval_return"].mean("eval_episode"),
        "energy_distance": energy_distance(actions, target),
        "mode_weights": ("mode", weights),
        "target_mode_weights": ("mode", target_weights),
        "mode_tv": 0.5 * float(np.abs(weights - target_weights).sum()),
        "mean_reward": float(u.reward(actions).mean()),
        "samples": (("sample", "xy"), actions[:1000]),
    }, coords={"mode": np.arange(4), "xy": ["a0", "a1"], "sample": np.arange(min(n, 1000))})


def validate(cfg: dict[str, Any]) -> None:
    check_choices("algorithm", cfg["algos"], ALGOS)


def grid(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """Gaussian bases once (tagged K = 0), each diffusion agent once per K."""
    return [{"algo": a, "K": K} for a in cfg["algos"] for K in ([0] if a not in DIFFUSION else cfg["Ks"])]

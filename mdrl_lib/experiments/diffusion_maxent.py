"""SAC vs DiffSAC, PPO vs DiffPPO, WPO vs DiffWPO on gymnasium MuJoCo, and the number of diffusion steps K.

One run = one (env, algo, K, seed), evaluated every ``eval_every``
steps on ``eval_episodes`` *stochastic* episodes (the authors' protocol samples the SDE; we evaluate the
Gaussian bases the same way so both sides are measured alike). The base algorithms are tagged ``K = 0``
("no diffusion"); Diff* runs carry their K. Results: ``data/diffusion_maxent/<scale>.nc`` with dims
``(env, algo, K, seed, step, eval_episode)``; combinations that were not run are NaN.

Scales (all settings are in :data:`SIZES`):

* ``smoke``: seconds, tiny networks, every code path.
* ``quick``: HalfCheetah-v5 and InvertedPendulum-v5 (a MuJoCo task that is learned within the budget), 3 seeds,
  12 000 steps, K = 4 on both and the sweep K ∈ {1, 4, 8} on InvertedPendulum-v5 (``K_sweep``), 128-wide
  networks, one gradient step per env step for every off-policy agent (the authors scale it by K), shorter PPO
  rollouts — about 1.5 hours on a 2-core CPU. It is *not* the paper's
  budget: at 12 000 steps no agent has left the random-policy level on HalfCheetah.
* ``paper``: the four MuJoCo tasks of issue 6, 10 seeds, 1 M steps, K ∈ {1, 4, 8, 16}, full-size networks.

``Ks`` are run on every env; ``K_sweep = {"envs": [...], "Ks": [...]}`` adds Ks on some envs only (the quick K sweep
costs ~40 core-minutes on InvertedPendulum and would cost hours on HalfCheetah). Growing the grid trains only the new
runs (:func:`~mdrl_lib.experiments.run_experiment` reuses every run whose resolved config is unchanged).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from mdrl_lib.agents import make_agent
from mdrl_lib.envs import make_env
from mdrl_lib.experiments import Run, RunContext, check_choices
from mdrl_lib.train import TrainConfig

NAME = "diffusion_maxent"
ALGOS = ("SAC", "DiffSAC", "PPO", "DiffPPO", "WPO", "DiffWPO")
BASE_OF = {"DiffSAC": "SAC", "DiffPPO": "PPO", "DiffWPO": "WPO"}
ENVS = ("HalfCheetah-v5", "Hopper-v5", "Walker2d-v5", "Ant-v5")

#: per-interval training metrics kept in the results (NaN for algorithms that do not log one)
METRICS = ("critic_loss", "actor_loss", "policy_loss", "value_loss", "alpha", "entropy", "entropy_bound")

_COMMON = {"algos": list(ALGOS), "max_episode_steps": 1000, "K_sweep": {"envs": [], "Ks": []}}
SIZES: dict[str, dict[str, Any]] = {
    "smoke": {**_COMMON, "envs": ["HalfCheetah-v5"], "Ks": [2], "seeds": [0], "total_steps": 240, "eval_every": 120,
              "eval_episodes": 1, "max_episode_steps": 60, "hidden": [32, 32], "diffusion_hidden": [32, 32],
              "batch_size": 32, "random_steps": 60, "learning_starts": 60, "updates_per_step": 1,
              "ppo_n_steps": 120, "ppo_minibatches": 4, "ppo_epochs": 2, "ppo_hidden": [16, 16],
              "K_sweep": {"envs": ["HalfCheetah-v5"], "Ks": [1]}},
    "quick": {**_COMMON, "envs": ["HalfCheetah-v5", "InvertedPendulum-v5"], "Ks": [4], "seeds": [0, 1, 2],
              "K_sweep": {"envs": ["InvertedPendulum-v5"], "Ks": [1, 4, 8]}, "total_steps": 12000,
              "eval_every": 2000, "eval_episodes": 3, "hidden": [128, 128], "diffusion_hidden": [128, 128, 128],
              "batch_size": 128, "random_steps": 2000, "learning_starts": 2000, "updates_per_step": 1,
              "ppo_n_steps": 1000, "ppo_minibatches": 16, "ppo_epochs": 10, "ppo_hidden": [64, 64]},
    "paper": {**_COMMON, "envs": list(ENVS), "Ks": [1, 4, 8, 16], "seeds": list(range(10)), "total_steps": 1_000_000,
              "eval_every": 10000, "eval_episodes": 10, "hidden": [256, 256], "diffusion_hidden": [256, 256, 256],
              "batch_size": 256, "random_steps": 5000, "learning_starts": 5000, "updates_per_step": None,
              "ppo_n_steps": 2048, "ppo_minibatches": 32, "ppo_epochs": 10, "ppo_hidden": [64, 64]},
}


def resolve(setting: dict[str, Any], cfg: dict[str, Any]) -> Run:
    """Agent ``algo`` with K diffusion steps (the bases ignore K): sizes from ``cfg``; DiffPPO keeps its class
    default soft-reward coefficient c = 2e-4 (docs/methods/diffmaxent.md §4.3); off-policy agents learn after
    ``learning_starts``."""
    algo, K = setting["algo"], setting["K"]
    on_policy = algo in ("PPO", "DiffPPO")
    schedule = TrainConfig(total_steps=cfg["total_steps"], eval_every=cfg["eval_every"],
                           eval_episodes=cfg["eval_episodes"], eval_deterministic=False,
                           learning_starts=0 if on_policy else cfg["learning_starts"])
    sac = {"hidden": cfg["hidden"], "batch_size": cfg["batch_size"], "random_steps": cfg["random_steps"]}
    ppo = {"n_steps": cfg["ppo_n_steps"], "n_minibatches": cfg["ppo_minibatches"], "n_epochs": cfg["ppo_epochs"],
           "hidden": cfg["ppo_hidden"]}
    diffusion = {"n_steps": max(K, 1), "hidden": cfg["diffusion_hidden"]}
    overrides = {"SAC": sac, "WPO": sac, "PPO": ppo, "DiffPPO": {"ppo": ppo, "diffusion": diffusion}}.get(
        algo, {"sac": sac, "diffusion": diffusion, "updates_per_step": cfg["updates_per_step"]})
    return Run.of(algo, setting["env"], schedule, max_episode_steps=cfg["max_episode_steps"], **overrides)


def run_one(run: Run, seed: int, ctx: RunContext) -> xr.Dataset:
    """One (env, algo, K, seed) run; every run carries every :data:`METRICS` variable (NaN where it has none)."""
    agent, _ = make_agent(run.algo, run.make_env(), seed=seed, config=run.agent)
    ds = ctx.train(run, agent, seed).drop_dims("episode")
    for v in METRICS:
        if v not in ds:
            ds[v] = ("step", np.full(ds.sizes["step"], np.nan))
    return ds[["eval_return", "train_return", *METRICS]]


def validate(cfg: dict[str, Any]) -> None:
    check_choices("algorithm", cfg["algos"], ALGOS)
    for env in cfg["envs"]:
        make_env(env).close()  # a clear error for an unknown env before any run starts


def finish(ds: xr.Dataset, cfg: dict[str, Any]) -> xr.Dataset:
    return ds.reindex(K=sorted(ds.K.values.tolist()))


def grid(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """The (env, algo, K) grid: bases once with K = 0, each Diff* once per K (``Ks``, plus ``K_sweep`` on its envs)."""
    sweep = cfg["K_sweep"]
    out = []
    for env in cfg["envs"]:
        Ks = sorted(set(cfg["Ks"]) | (set(sweep["Ks"]) if env in sweep["envs"] else set()))
        for algo in cfg["algos"]:
            for K in ([0] if algo not in BASE_OF else Ks):
                out.append({"env": env, "algo": algo, "K": K})
    return out


def final_scores(ds: xr.Dataset, last: int = 2) -> xr.DataArray:
    """Mean evaluation return over the last ``last`` evaluation points and the episodes: ``(env, algo, K, seed)``."""
    return ds["eval_return"].isel(step=slice(-last, None)).mean(("step", "eval_episode"))


def comparison_table(ds: xr.Dataset, last: int = 2) -> list[dict[str, Any]]:
    """Each Diff* (per env, K) against its base: mean final score over seeds, and whether it is higher."""
    fs = final_scores(ds, last)
    rows = []
    for env in ds.env.values:
        for algo, base in BASE_OF.items():
            if algo not in ds.algo.values or base not in ds.algo.values:
                continue
            b = fs.sel(env=env, algo=base, K=0).values
            for K in ds.K.values:
                d = fs.sel(env=env, algo=algo, K=K).values
                if K == 0 or np.all(np.isnan(d)):
                    continue
                rows.append({"env": str(env), "algo": algo, "K": int(K), "diff_mean": float(np.nanmean(d)),
                             "base": base, "base_mean": float(np.nanmean(b)),
                             "beats_base": bool(np.nanmean(d) > np.nanmean(b))})
    return rows

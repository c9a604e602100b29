"""SAC vs DiffSAC, PPO vs DiffPPO, WPO vs DiffWPO on gymnasium MuJoCo, and the number of diffusion steps K.

One run = one (env, algo, K, seed), evaluated every ``eval_every``
steps on ``eval_episodes`` *stochastic* episodes (the authors' protocol samples the SDE; we evaluate the
Gaussian bases the same way so both sides are measured alike). The base algorithms are tagged ``K = 0``
("no diffusion"); Diff* runs carry their K. Results: ``data/diffusion_maxent/<scale>.nc`` with dims
``(env, algo, K, seed, step, eval_episode)``; combinations that were not run are NaN.

Scales (all settings are in :data:`SIZES`):

* ``smoke``: seconds, tiny networks, every code path.
* ``quick``: InvertedPendulum-v5 (12 000 steps: SAC balances it by then, ``data/peer_check``) with the K sweep
  K ∈ {1, 4}, and Hopper-v5 (10 000 steps: SAC and PPO leave the random level) with K = 4; 3 seeds. SAC, WPO and
  every Diff*'s critics use the library's SAC defaults (256×256, batch 256, actor lr 3e-4, critic/temperature lr
  1e-3, α₀ = 1) with a 2 000-step uniform warm-up — the settings the peer check validates against
  Stable-Baselines3; the diffusion policies are 128×3; one gradient step per env step for every off-policy agent
  (the paper scale, like the authors, takes K per env step: that multiplies the update cost by K, ~4× on the
  Diff* runs here, which the quick budget cannot carry — so at quick scale the Diff* get the base's update budget);
  PPO rollouts of 1 000 steps. Budget (from per-run times measured here, two runs
  sharing the 2 cores): ≈ 4 min per off-policy run on InvertedPendulum, ≈ 2.4 h of core time in all, so about 1.2 h
  on a 2-core CPU (the data file records each run's time).
* ``paper``: the four MuJoCo tasks of issue 6, 10 seeds, 1 M steps, K ∈ {1, 4, 8, 16}, full-size networks.

``Ks`` are run on every env; ``K_sweep = {"envs": [...], "Ks": [...]}`` adds Ks on some envs only (a sweep on
Hopper would cost hours here). ``total_steps`` is one number or one per env. Growing the grid trains only the new
runs (:func:`~mdrl_lib.experiments.run_experiment` reuses every run whose resolved config is unchanged).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from mdrl_lib.agents import make_agent
from mdrl_lib.envs import make_env
from mdrl_lib.experiments import Run, RunContext, check_choices
from mdrl_lib.stats import mean_of_last_evaluations
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
    "quick": {**_COMMON, "envs": ["InvertedPendulum-v5", "Hopper-v5"], "Ks": [4], "seeds": [0, 1, 2],
              "K_sweep": {"envs": ["InvertedPendulum-v5"], "Ks": [1, 4]},
              "total_steps": {"InvertedPendulum-v5": 12000, "Hopper-v5": 10000},
              "eval_every": 2000, "eval_episodes": 3, "hidden": [256, 256], "diffusion_hidden": [128, 128, 128],
              "batch_size": 256, "random_steps": 2000, "learning_starts": 2000, "updates_per_step": 1,
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
    steps = cfg["total_steps"]
    schedule = TrainConfig(total_steps=steps[setting["env"]] if isinstance(steps, dict) else steps,
                           eval_every=cfg["eval_every"],
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
    if isinstance(cfg["total_steps"], dict):
        missing = sorted(set(cfg["envs"]) - set(cfg["total_steps"]))
        if missing:
            raise ValueError(f"total_steps has no entry for env(s) {missing}; it has {sorted(cfg['total_steps'])}")
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


def env_steps(cfg: dict[str, Any], env: str) -> int:
    """The training budget of ``env`` (``total_steps`` is one number or one per env)."""
    steps = cfg["total_steps"]
    return int(steps[env] if isinstance(steps, dict) else steps)


def final_scores(ds: xr.Dataset, last: int = 2) -> xr.DataArray:
    """Mean evaluation return over each env's last ``last`` evaluation points and the episodes:
    ``(env, algo, K, seed)`` (envs may have different budgets; steps an env never reached are skipped)."""
    return mean_of_last_evaluations(ds["eval_return"].mean("eval_episode"), "env", last)


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

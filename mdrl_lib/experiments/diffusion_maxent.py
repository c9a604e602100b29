"""SAC vs DiffSAC, PPO vs DiffPPO, WPO vs DiffWPO on gymnasium MuJoCo, and the number of diffusion steps K.

One run = one (env, algo, K, seed) trained with :func:`mdrl_lib.train.train`, evaluated every ``eval_every``
steps on ``eval_episodes`` *stochastic* episodes (the authors' protocol samples the SDE; we evaluate the
Gaussian bases the same way so both sides are measured alike). The base algorithms are tagged ``K = 0``
("no diffusion"); Diff* runs carry their K. Runs checkpoint to ``build/checkpoints/diffusion_maxent/...``
and resume after a kill. Results: ``data/diffusion_maxent/<scale>.nc`` with dims
``(env, algo, K, seed, step, eval_episode)``; combinations that were not run are NaN.

Scales (all settings are in :data:`CONFIGS`):

* ``smoke``: seconds, tiny networks, every code path.
* ``quick``: HalfCheetah-v5 and InvertedPendulum-v5 (a MuJoCo task that is learned within the budget), 3 seeds,
  12 000 steps, K = 4 on both and the sweep K ∈ {1, 4, 8} on InvertedPendulum-v5 (``K_sweep``), 128-wide
  networks, one gradient step per env step for every off-policy agent (the authors scale it by K), shorter PPO
  rollouts — about 1.5 hours on a 2-core CPU. It is *not* the paper's
  budget: at 12 000 steps no agent has left the random-policy level on HalfCheetah.
* ``paper``: the four MuJoCo tasks of issue 6, 10 seeds, 1 M steps, K ∈ {1, 4, 8, 16}, full-size networks.

``Ks`` are run on every env; ``K_sweep = {"envs": [...], "Ks": [...]}`` adds Ks on some envs only (the quick K sweep
costs ~40 core-minutes on InvertedPendulum and would cost hours on HalfCheetah). When only these grid keys changed,
the runs already in the data file are kept and only the missing (env, algo, K) are trained
(:func:`reusable_results`); the file's ``reused_runs`` attribute lists them, with the commit that made them.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from mdrl_lib.agents.diff_ppo import DiffPPOAgent, DiffPPOConfig
from mdrl_lib.agents.diff_sac import DiffSACAgent, DiffSACConfig
from mdrl_lib.agents.diff_wpo import DiffWPOAgent
from mdrl_lib.agents.diffusion_policy import DiffusionPolicyConfig
from mdrl_lib.agents.ppo import PPOAgent, PPOConfig
from mdrl_lib.agents.sac import SACAgent, SACConfig
from mdrl_lib.agents.wpo import WPOAgent
from mdrl_lib.envs import make_env
from mdrl_lib.experiments import check_choices, merge_config
from mdrl_lib.paths import build_dir
from mdrl_lib.results import CorruptResultsError, canonical_json, load_or_run, load_results, results_path
from mdrl_lib.sweep import run_sweep
from mdrl_lib.train import TrainConfig, train

NAME = "diffusion_maxent"
ALGOS = ("SAC", "DiffSAC", "PPO", "DiffPPO", "WPO", "DiffWPO")
BASE_OF = {"DiffSAC": "SAC", "DiffPPO": "PPO", "DiffWPO": "WPO"}
ENVS = ("HalfCheetah-v5", "Hopper-v5", "Walker2d-v5", "Ant-v5")

#: per-interval training metrics kept in the results (NaN for algorithms that do not log one)
METRICS = ("critic_loss", "actor_loss", "policy_loss", "value_loss", "alpha", "entropy", "entropy_bound")

_COMMON = {"algos": list(ALGOS), "max_episode_steps": 1000, "K_sweep": {"envs": [], "Ks": []}}
#: config keys that only choose which (env, algo, K) are run: changing them keeps the runs already made
GRID_KEYS = ("Ks", "K_sweep")
CONFIGS: dict[str, dict[str, Any]] = {
    "smoke": {**_COMMON, "envs": ["HalfCheetah-v5"], "Ks": [2], "seeds": [0], "total_steps": 240, "eval_every": 120,
              "eval_episodes": 1, "max_episode_steps": 60, "hidden": [32, 32], "diffusion_hidden": [32, 32],
              "batch_size": 32, "random_steps": 60, "learning_starts": 60, "updates_per_step": 1,
              "ppo_n_steps": 120, "ppo_minibatches": 4, "ppo_epochs": 2, "ppo_hidden": [16, 16],
              "K_sweep": {"envs": ["HalfCheetah-v5"], "Ks": [1]},
              "torch_threads": 1},  # tiny networks: extra threads only spin
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


def make_agent(algo: str, K: int, env, seed: int, cfg: dict[str, Any], device: str | None = None):
    """Build agent ``algo`` (one of :data:`ALGOS`) with K diffusion steps (ignored by the bases)."""
    if algo not in ALGOS:
        raise ValueError(f"unknown algorithm {algo!r}; valid algorithms are {', '.join(ALGOS)}")
    obs, act = env.observation_space, env.action_space
    sac = SACConfig(hidden=tuple(cfg["hidden"]), batch_size=cfg["batch_size"], random_steps=cfg["random_steps"])
    ppo = PPOConfig(n_steps=cfg["ppo_n_steps"], n_minibatches=cfg["ppo_minibatches"], n_epochs=cfg["ppo_epochs"],
                    hidden=tuple(cfg["ppo_hidden"]))
    diffusion = DiffusionPolicyConfig(n_steps=max(K, 1), hidden=tuple(cfg["diffusion_hidden"]))
    if algo == "SAC":
        return SACAgent(obs, act, sac, seed=seed, device=device)
    if algo == "WPO":
        return WPOAgent(obs, act, sac, seed=seed, device=device)
    if algo == "PPO":
        return PPOAgent(obs, act, ppo, seed=seed, device=device)
    if algo == "DiffPPO":
        return DiffPPOAgent(obs, act, DiffPPOConfig(ppo=replace(ppo, entropy_coef=2e-4), diffusion=diffusion),
                            seed=seed, device=device)
    dcfg = DiffSACConfig(sac=sac, diffusion=diffusion, updates_per_step=cfg["updates_per_step"])
    cls = DiffSACAgent if algo == "DiffSAC" else DiffWPOAgent
    return cls(obs, act, dcfg, seed=seed, device=device)


def run_one(seed: int, env: str, algo: str, K: int, cfg: dict[str, Any], checkpoint_root: str | None) -> xr.Dataset:
    """One (env, algo, K, seed) run; resumes from its checkpoint when one exists."""
    if cfg.get("torch_threads"):
        torch.set_num_threads(cfg["torch_threads"])

    def make():
        return make_env(env, max_episode_steps=cfg["max_episode_steps"])

    agent = make_agent(algo, K, make(), seed, cfg)
    tcfg = TrainConfig(total_steps=cfg["total_steps"], eval_every=cfg["eval_every"],
                       eval_episodes=cfg["eval_episodes"], seed=seed, learning_starts=cfg["learning_starts"]
                       if algo not in ("PPO", "DiffPPO") else 0, eval_deterministic=False)
    ckpt = None if checkpoint_root is None else Path(checkpoint_root) / f"{env}_{algo}_K{K}_seed{seed}"
    t0 = time.perf_counter()
    ds = train(make, agent, tcfg, checkpoint_dir=ckpt, progress=False, desc=f"{algo} K={K} {env} s{seed}")
    ds = ds.drop_dims("episode")
    ds["run_wall_time_s"] = time.perf_counter() - t0  # of this process (a resumed run counts its last part)
    # every run carries the same variables (NaN where an algorithm has no such metric) so runs combine
    for v in METRICS:
        if v not in ds:
            ds[v] = ("step", np.full(ds.sizes["step"], np.nan))
    return ds[["eval_return", "train_return", "run_wall_time_s", *METRICS]]


def settings(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """The (env, algo, K) grid: bases once with K = 0, each Diff* once per K (``Ks``, plus ``K_sweep`` on its envs)."""
    sweep = cfg["K_sweep"]
    out = []
    for env in cfg["envs"]:
        Ks = sorted(set(cfg["Ks"]) | (set(sweep["Ks"]) if env in sweep["envs"] else set()))
        for algo in cfg["algos"]:
            for K in ([0] if algo not in BASE_OF else Ks):
                out.append({"env": env, "algo": algo, "K": K})
    return out


def reusable_results(cfg: dict[str, Any], path: Path) -> xr.Dataset | None:
    """The results at ``path`` when their config equals ``cfg`` up to :data:`GRID_KEYS` (else ``None``).

    Such a file was made by the same agents, schedule and seeds; only the set of (env, algo, K) differs, so its
    finished runs are as good as new ones and need not be trained again.
    """
    if not path.exists():
        return None
    try:
        old = load_results(path)
    except CorruptResultsError:
        return None
    if _without_grid_keys(json.loads(old.attrs["config"])) != _without_grid_keys(json.loads(canonical_json(cfg))):
        return None
    return old


def _without_grid_keys(cfg: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in cfg.items() if k not in GRID_KEYS}


def _label(s: dict[str, Any]) -> str:
    return f"{s['env']} {s['algo']} K={s['K']}"


def reuse_provenance(old: xr.Dataset, kept: list[str]) -> list[dict[str, Any]]:
    """Where each kept run was made: ``[{"from_commit", "from_created_at", "runs"}, ...]``.

    A run the old file had itself kept from an earlier one keeps that earlier record, so the commit that trained
    each run stays on record however many times the grid grows.
    """
    earlier = json.loads(old.attrs.get("reused_runs", "[]"))
    records: dict[tuple[str, str], list[str]] = {}
    for run in kept:
        source = next((r for r in earlier if run in r["runs"]), None)
        key = ((source["from_commit"], source["from_created_at"]) if source else
               (str(old.attrs.get("git_commit")), str(old.attrs.get("created_at"))))
        records.setdefault(key, []).append(run)
    return [{"from_commit": c, "from_created_at": t, "runs": runs} for (c, t), runs in records.items()]


def _has_run(old: xr.Dataset, s: dict[str, Any], seeds: list[int]) -> bool:
    try:
        ret = old.eval_return.sel(env=s["env"], algo=s["algo"], K=s["K"], seed=seeds)
    except KeyError:
        return False
    return bool(ret.notnull().all())


def run(scale: str = "quick", *, executor: Any = "process", rerun: bool | None = None, max_workers: int | None = None,
        **overrides) -> xr.Dataset:
    """Load ``data/diffusion_maxent/<scale>.nc`` or compute it; ``overrides`` replace config keys."""
    config = merge_config(NAME, CONFIGS, scale, overrides)
    check_choices("algorithm", config["algos"], ALGOS)
    for env in config["envs"]:
        make_env(env).close()  # a clear error for an unknown env before any run starts

    def compute(cfg):
        # smoke neither checkpoints nor keeps earlier runs: CI exercises every code path from scratch
        persistent = scale != "smoke"
        root = os.environ.get("MDRL_CHECKPOINTS") or str(build_dir() / "checkpoints" / NAME / scale)
        grid = settings(cfg)
        path = results_path(NAME, scale)
        old = reusable_results(cfg, path) if persistent else None
        kept = [s for s in grid if _has_run(old, s, cfg["seeds"])] if old is not None else []
        todo = [s for s in grid if s not in kept]
        if kept:
            print(f"{NAME} [{scale}]: keeping {len(kept)} finished (env, algo, K) of {path}, "
                  f"training {len(todo)}")
        parts = [old.sel(env=[s["env"]], algo=[s["algo"]], K=[s["K"]], seed=cfg["seeds"]) for s in kept]
        if todo:
            parts.append(run_sweep(_Bound(cfg, root if persistent else None), todo, cfg["seeds"],
                                   executor=executor, max_workers=max_workers))
        ds = xr.merge([p.drop_attrs() for p in parts], join="outer", compat="no_conflicts")
        order = {key: list(dict.fromkeys(s[key] for s in grid)) for key in ("env", "algo")}
        ds = ds.reindex({**order, "K": sorted({s["K"] for s in grid}), "seed": cfg["seeds"]})
        if kept:
            ds.attrs["reused_runs"] = canonical_json(reuse_provenance(old, [_label(s) for s in kept]))
        return ds

    return load_or_run(NAME, scale, config, compute, rerun=rerun)


class _Bound:
    """Picklable partial of :func:`run_one`."""

    def __init__(self, cfg: dict[str, Any], checkpoint_root: str | None):
        self.cfg, self.checkpoint_root = dict(cfg), checkpoint_root
        self.__name__ = "run_one"

    def __call__(self, *, seed: int, env: str, algo: str, K: int) -> xr.Dataset:
        return run_one(seed, env, algo, K, self.cfg, self.checkpoint_root)


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

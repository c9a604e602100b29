"""MaxDiff RL paper, point mass (Figs 1–2, spec maxdiff.md §5.3): β × {MaxDiff, NN-MPPI, SAC} × seeds.

Each run trains one agent on ``mdrl/PointMass-v0`` with coupling β through :func:`mdrl_lib.train.train`
(checkpointed under ``build/checkpoints/point_mass/<scale>/``, so an interrupted sweep resumes), then keeps:

* ``episode_return(episode)``, ``episode_length(episode)``, ``episode_end_step(episode)``: every training
  episode — the published learning curves are running maxima of these (episodes that left the box dropped);
* ``eval_return(step, eval_episode)``, ``eval_length``: evaluation episodes at step 0 and at the end. The
  final ones are the final-policy evaluation (MaxDiff with its entropy bonus on, as published; SAC with
  tanh(mean)); the paper's "error" is ``−return`` of full-length episodes;
* ``traj_x(t)``, ``traj_y(t)``: the path of the first final evaluation episode.

The runs are combined into one Dataset with dimensions ``algo × beta × seed × ...`` and cached in
``data/point_mass/<scale>.nc``. ``python -m mdrl_lib.experiments.point_mass --scale quick --run MaxDiff 0.001 13``
runs (or resumes) a single run, for background jobs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import xarray as xr

from mdrl_lib.envs import make_env
from mdrl_lib.experiments import check_choices, merge_config
from mdrl_lib.paths import build_dir
from mdrl_lib.results import CorruptResultsError, canonical_json, load_or_run, load_results, save_results
from mdrl_lib.sweep import run_sweep
from mdrl_lib.train import TrainConfig, train

NAME = "point_mass"
ALGOS = ("MaxDiff", "NN-MPPI", "SAC")
ENV_ID = "mdrl/PointMass-v0"

#: published numbers recomputed from the authors' data (spec §5.3): β -> algo -> (mean, std), 10 seeds, 100 k steps
PUBLISHED_RUNNING_MAX = {
    1.0: {"MaxDiff": (-43.2, 10.5), "NN-MPPI": (-23.2, 4.1), "SAC": (-89.6, 10.4)},
    0.1: {"MaxDiff": (-48.2, 2.3), "NN-MPPI": (-40.6, 7.8), "SAC": (-121.9, 18.0)},
    0.01: {"MaxDiff": (-187.0, 94.0), "NN-MPPI": (-256.0, 191.0), "SAC": (-479.0, 154.0)},
    0.001: {"MaxDiff": (-451.0, 41.0), "NN-MPPI": (-835.0, 205.0), "SAC": (-850.0, 141.0)},
}
#: final-policy error Σ_t (x²+y²) over 1000 steps (spec §5.3 bar chart; β = 0.001 MaxDiff evaluated at α = 20)
PUBLISHED_FINAL_ERROR = {
    1.0: {"MaxDiff": (54.3, 5.2), "NN-MPPI": (23.1, 1.4), "SAC": (126.7, 25.3)},
    0.1: {"MaxDiff": (54.9, 6.5), "NN-MPPI": (44.5, 9.1), "SAC": (162.6, 27.9)},
    0.01: {"MaxDiff": (253.8, 110.3), "NN-MPPI": (320.9, 188.2), "SAC": (597.2, 229.4)},
    0.001: {"MaxDiff": (557.9, 131.5), "NN-MPPI": (919.6, 137.5), "SAC": (977.5, 97.2)},
}

PAPER_SEEDS = [13, 113, 213, 313, 413, 513, 613, 713, 813, 913]  # β = 0.001 replaced 513 by 1013 (§2.6)

#: Per-scale configuration. ``planner``: overrides of the published planner settings (smoke only).
CONFIGS: dict[str, dict[str, Any]] = {
    "smoke": {"betas": [1.0, 0.001], "algos": list(ALGOS), "seeds": [0], "total_steps": 160,
              "eval_every": 160, "eval_episodes": 1, "max_episode_steps": 60, "checkpoint_every": 80, "curve_points": 8,
              "planner": {"samples": 32, "horizon": 8}, "batch_size": 32},
    # quick: 3 of the 4 published β (β = 0.1 behaves like β = 1 in the published data) at 20 k steps — the
    # planner is FLOP-bound at ~31 ms per step on one core, so 18 planner runs × 20 k steps ≈ 3 core-hours
    "quick": {"betas": [1.0, 0.01, 0.001], "algos": list(ALGOS), "seeds": [13, 113, 213],
              "total_steps": 20_000, "eval_every": 20_000, "eval_episodes": 2, "max_episode_steps": 1000,
              "checkpoint_every": 1000, "curve_points": 40, "planner": {}, "batch_size": 128},
    "paper": {"betas": [1.0, 0.1, 0.01, 0.001], "algos": list(ALGOS), "seeds": PAPER_SEEDS,
              "total_steps": 100_000, "eval_every": 100_000, "eval_episodes": 100, "max_episode_steps": 1000,
              "checkpoint_every": 5000, "curve_points": 60, "planner": {}, "batch_size": 128},
}


class _PathRecorder(gym.Wrapper):
    """Keeps the (x, y) path of every episode (only on the evaluation env; never checkpointed)."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self._paths: list[list[np.ndarray]] = []

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self._paths.append([np.asarray(obs[:2], dtype=float)])
        return obs, info

    def step(self, action):
        out = self.env.step(action)
        self._paths[-1].append(np.asarray(out[0][:2], dtype=float))
        return out


def make_agent(algo: str, env_name: str, env: gym.Env, seed: int, *, beta: float | None = None,
               alpha: float | None = None, planner: dict[str, Any] | None = None, batch_size: int | None = None):
    """The agent ``algo`` ∈ {MaxDiff, NN-MPPI, SAC} with the published settings for ``env_name``."""
    from dataclasses import replace

    planner = dict(planner or {})
    if algo in ("MaxDiff", "NN-MPPI"):
        from mdrl_lib.agents.maxdiff import MaxDiffAgent, maxdiff_config
        from mdrl_lib.agents.mppi import MPPIAgent, mppi_config

        if algo == "MaxDiff":
            cfg, cls = maxdiff_config(env_name, beta=beta, alpha=alpha, **planner), MaxDiffAgent
        else:
            cfg, cls = mppi_config(env_name, beta=beta, **planner), MPPIAgent
        if batch_size is not None:
            cfg = replace(cfg, model=replace(cfg.model, batch_size=batch_size))
        return cls(env.observation_space.shape[0], env.action_space.shape[0], cfg, seed=seed)
    if algo == "SAC":
        from mdrl_lib.agents.sac import SACAgent, SACConfig

        cfg = SACConfig.maxdiff({"point_mass": "PointMass", "swimmer": "Swimmer"}[env_name])
        if batch_size is not None:
            cfg = replace(cfg, batch_size=batch_size)
        return SACAgent(env.observation_space, env.action_space, cfg, seed=seed)
    raise ValueError(f"unknown algorithm {algo!r}; valid: {', '.join(ALGOS)}")


def run_name(algo: str, seed: int, **setting) -> str:
    parts = [algo] + [f"{k}{v:g}" for k, v in setting.items()] + [f"seed{seed}"]
    return "_".join(parts)


def train_one(*, experiment: str, scale: str, algo: str, seed: int, env_id: str, env_kwargs: dict[str, Any],
              env_name: str, setting: dict[str, Any], schedule: dict[str, Any], agent_kwargs: dict[str, Any],
              record_path: bool = False) -> xr.Dataset:
    """Train (or resume, or load the finished result of) one run; returns its per-run Dataset.

    The finished run is cached in ``build/runs/<experiment>/<scale>/<name>.nc`` (keyed by its config), its
    checkpoint lives in ``build/checkpoints/<experiment>/<scale>/<name>/``.
    """
    name = run_name(algo, seed, **setting)
    config = {"algo": algo, "seed": seed, "env_id": env_id, "env_kwargs": env_kwargs, "schedule": schedule,
              "agent_kwargs": agent_kwargs}
    cache = build_dir() / "runs" / experiment / scale / f"{name}.nc"
    if cache.exists():
        try:
            cached = load_results(cache)
        except CorruptResultsError:
            cached = xr.Dataset()
        if cached.attrs.get("config") == canonical_json(config):
            return cached
    made: list[gym.Env] = []

    def make() -> gym.Env:
        env = make_env(env_id, max_episode_steps=schedule["max_episode_steps"], **env_kwargs)
        if record_path and len(made) == 1:  # the second env train() builds is the evaluation env
            env = _PathRecorder(env)
        made.append(env)
        return env

    agent = make_agent(algo, env_name, make_env(env_id, **env_kwargs), seed, **agent_kwargs)
    cfg = TrainConfig(total_steps=schedule["total_steps"], eval_every=schedule["eval_every"],
                      eval_episodes=schedule["eval_episodes"], checkpoint_every=schedule["checkpoint_every"],
                      seed=seed)
    t0 = time.perf_counter()
    threads = torch.get_num_threads()
    # one thread per run: these small matmuls gain little from a second thread, and on a shared CPU a
    # spinning OpenMP barrier makes them many times slower; run_sweep's processes run runs side by side
    torch.set_num_threads(1)
    try:
        ds = train(make, agent, cfg, checkpoint_dir=build_dir() / "checkpoints" / experiment / scale / name,
                   progress=False)
    finally:
        torch.set_num_threads(threads)
    out = ds[["eval_return", "eval_length"]]
    for name, values in learning_curve(ds, schedule["total_steps"], schedule["curve_points"],
                                       schedule["max_episode_steps"]).items():
        out[name] = ("curve_step", values)
    out = out.assign_coords(curve_step=curve_grid(schedule["total_steps"], schedule["curve_points"]))
    n_steps = schedule["max_episode_steps"] + 1
    path = np.full((n_steps, 2), np.nan)
    if record_path and isinstance(made[1], _PathRecorder) and made[1]._paths:
        final = made[1]._paths[-schedule["eval_episodes"]]
        arr = np.stack(final)[:n_steps]
        path[: len(arr)] = arr
    out["traj_x"] = ("t", path[:, 0])
    out["traj_y"] = ("t", path[:, 1])
    out.attrs = {"config": canonical_json(config), "run_wall_time_s": time.perf_counter() - t0}
    cache.parent.mkdir(parents=True, exist_ok=True)
    save_results(out, cache)
    return load_results(cache)


def curve_grid(total_steps: int, points: int) -> np.ndarray:
    """The ``points`` environment steps at which learning curves are sampled: ``total/points, ..., total``."""
    return np.linspace(0, total_steps, points + 1)[1:].round().astype(np.int64)


def learning_curve(ds: xr.Dataset, total_steps: int, points: int, full_length: int) -> dict[str, np.ndarray]:
    """Training-episode curves of one run on :func:`curve_grid` (the authors' plotting, spec §5.2).

    ``best_return``: running maximum of the returns of *full-length* episodes finished by each grid step
    (episodes that ended early — the point mass leaving its box — are dropped, as in the published
    curves); NaN before the first one. ``interval_return``: mean return of all episodes finished since
    the previous grid step (the raw curve). ``episodes``: episodes finished so far.
    """
    grid = curve_grid(total_steps, points)
    ends = ds.episode_end_step.values.astype(np.int64)
    rets = ds.episode_return.values.astype(float)
    lengths = np.diff(np.concatenate([[0], ends]))
    full = lengths >= full_length
    best = np.full(len(grid), np.nan)
    interval = np.full(len(grid), np.nan)
    count = np.zeros(len(grid), dtype=np.int64)
    prev = 0
    for i, g in enumerate(grid):
        done = ends <= g
        count[i] = done.sum()
        if (done & full).any():
            best[i] = rets[done & full].max()
        now = done & (ends > prev)
        if now.any():
            interval[i] = rets[now].mean()
        prev = g
    return {"best_return": best, "interval_return": interval, "episodes": count}


def _strip(ds: xr.Dataset) -> xr.Dataset:
    """Per-run Dataset → the variables combined across runs (provenance lives on the combined file)."""
    out = ds.copy()
    wall = float(ds.attrs.get("run_wall_time_s", np.nan))
    out.attrs = {}
    out["run_wall_time_s"] = ((), wall)
    return out


def _schedule(cfg: dict[str, Any]) -> dict[str, Any]:
    return {k: cfg[k] for k in ("total_steps", "eval_every", "eval_episodes", "max_episode_steps",
                                "checkpoint_every", "curve_points")}


class _RunPointMass:
    """Picklable sweep function: one (algo, beta, seed) run at a given scale."""

    def __init__(self, scale: str, cfg: dict[str, Any]):
        self.scale, self.cfg = scale, cfg
        self.__name__ = "point_mass_run"

    def __call__(self, *, seed: int, algo: str, beta: float) -> xr.Dataset:
        cfg = self.cfg
        agent_kwargs = {"beta": beta, "batch_size": cfg["batch_size"]}
        if algo != "SAC":
            agent_kwargs["planner"] = cfg["planner"]
        else:
            agent_kwargs.pop("beta")
        return _strip(train_one(experiment=NAME, scale=self.scale, algo=algo, seed=seed, env_id=ENV_ID,
                                env_kwargs={"beta": beta}, env_name="point_mass", setting={"beta": beta},
                                schedule=_schedule(cfg), agent_kwargs=agent_kwargs, record_path=True))


def resolve_config(scale: str, overrides: dict[str, Any]) -> dict[str, Any]:
    config = merge_config(NAME, CONFIGS, scale, overrides)
    check_choices("algorithm", config["algos"], ALGOS)
    return config


def run(scale: str = "quick", *, executor: Any = None, rerun: bool | None = None, **overrides) -> xr.Dataset:
    """Load ``data/point_mass/<scale>.nc`` or compute it; ``overrides`` replace config keys."""
    config = resolve_config(scale, overrides)
    # smoke: in this process; longer scales: local worker processes, one run per core (or a dask cluster)
    executor = executor or ("serial" if scale == "smoke" else "process")

    def compute(cfg):
        ds = run_sweep(_RunPointMass(scale, cfg), {"algo": cfg["algos"], "beta": cfg["betas"]}, cfg["seeds"],
                       executor=executor, progress=False)
        ds.attrs["seeds"] = json.dumps(cfg["seeds"])
        return ds

    return load_or_run(NAME, scale, config, compute, rerun=rerun)


def final_error(ds: xr.Dataset) -> xr.DataArray:
    """The paper's final-policy error ``Σ_t (x_t² + y_t²)`` = −return of each final evaluation episode.

    Episodes that left the box (shorter than the episode length) are NaN — the authors drop them (§5.2).
    Returns ``(algo, beta, seed, eval_episode)``.
    """
    length = json.loads(ds.attrs["config"])["max_episode_steps"]
    final = ds.isel(step=-1)
    return (-final.eval_return).where(final.eval_length >= length)


def maxdiff_advantage(ds: xr.Dataset) -> xr.DataArray:
    """Per β: mean final error of each baseline minus MaxDiff's (positive = MaxDiff better); ``(algo, beta)``."""
    err = final_error(ds).mean(("seed", "eval_episode"))
    return (err - err.sel(algo="MaxDiff")).drop_sel(algo="MaxDiff")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mdrl_lib.experiments.point_mass")
    parser.add_argument("--scale", default="quick")
    parser.add_argument("--run", nargs=3, metavar=("ALGO", "BETA", "SEED"), help="train/resume one run only")
    args = parser.parse_args(argv)
    try:
        cfg = resolve_config(args.scale, {})
        if args.run:
            algo, beta, seed = args.run[0], float(args.run[1]), int(args.run[2])
            ds = _RunPointMass(args.scale, cfg)(seed=seed, algo=algo, beta=beta)
            print(f"{algo} beta={beta:g} seed={seed}: final eval return {ds.eval_return.values[-1]}, "
                  f"{int(ds.episodes[-1])} episodes, {float(ds.run_wall_time_s):.0f} s")
        else:
            print(run(args.scale))
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())


"""MaxDiff RL paper, point mass (Figs 1–2, docs/methods/maxdiff.md §5.3): β × {MaxDiff, NN-MPPI, SAC} × seeds.

§ numbers refer to docs/methods/maxdiff.md.

Each run trains one agent on ``mdrl/PointMass-v0`` with coupling β (checkpointed by
:func:`~mdrl_lib.experiments.run_experiment`, so an interrupted sweep resumes), then keeps:

* ``episode_return(episode)``, ``episode_length(episode)``, ``episode_end_step(episode)``: every training
  episode — the published learning curves are running maxima of these (episodes that left the box dropped);
* ``eval_return(step, eval_episode)``, ``eval_length``: evaluation episodes at step 0 and at the end. The
  final ones are the final-policy evaluation (MaxDiff with its entropy bonus on, as published; SAC with
  tanh(mean)); the paper's "error" is ``−return`` of full-length episodes;
* ``traj_x(t)``, ``traj_y(t)``: the path of the first final evaluation episode.

The runs are combined into one Dataset with dimensions ``algo × beta × seed × ...`` and cached in
``data/point_mass/<scale>.nc``. ``python -m mdrl_lib.experiments point_mass --scale quick --list`` numbers the
runs; ``--job N`` trains (or resumes) one of them in the background.

:func:`run_one` and :func:`learning_curve` are shared with the Swimmer experiments (same agents, same curves).
"""

from __future__ import annotations

import json
from typing import Any

import gymnasium as gym
import numpy as np
import xarray as xr

from mdrl_lib.agents import make_agent
from mdrl_lib.experiments import Run, RunContext, check_choices
from mdrl_lib.train import TrainConfig

NAME = "point_mass"
ALGOS = ("MaxDiff", "NN-MPPI", "SAC")
ENV_ID = "mdrl/PointMass-v0"

#: published numbers recomputed from the authors' data (§5.3): β -> algo -> (mean, std), 10 seeds, 100 k steps
PUBLISHED_RUNNING_MAX = {
    1.0: {"MaxDiff": (-43.2, 10.5), "NN-MPPI": (-23.2, 4.1), "SAC": (-89.6, 10.4)},
    0.1: {"MaxDiff": (-48.2, 2.3), "NN-MPPI": (-40.6, 7.8), "SAC": (-121.9, 18.0)},
    0.01: {"MaxDiff": (-187.0, 94.0), "NN-MPPI": (-256.0, 191.0), "SAC": (-479.0, 154.0)},
    0.001: {"MaxDiff": (-451.0, 41.0), "NN-MPPI": (-835.0, 205.0), "SAC": (-850.0, 141.0)},
}
#: final-policy error Σ_t (x²+y²) over 1000 steps (§5.3 bar chart; β = 0.001 MaxDiff evaluated at α = 20)
PUBLISHED_FINAL_ERROR = {
    1.0: {"MaxDiff": (54.3, 5.2), "NN-MPPI": (23.1, 1.4), "SAC": (126.7, 25.3)},
    0.1: {"MaxDiff": (54.9, 6.5), "NN-MPPI": (44.5, 9.1), "SAC": (162.6, 27.9)},
    0.01: {"MaxDiff": (253.8, 110.3), "NN-MPPI": (320.9, 188.2), "SAC": (597.2, 229.4)},
    0.001: {"MaxDiff": (557.9, 131.5), "NN-MPPI": (919.6, 137.5), "SAC": (977.5, 97.2)},
}

PAPER_SEEDS = [13, 113, 213, 313, 413, 513, 613, 713, 813, 913]  # β = 0.001 replaced 513 by 1013 (§2.6)

#: Per-scale configuration. ``planner``: overrides of the published planner settings (smoke only).
SIZES: dict[str, dict[str, Any]] = {
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


def schedule(cfg: dict[str, Any]) -> TrainConfig:
    """The training schedule of every run of the MaxDiff-paper experiments (its seed is set per run)."""
    return TrainConfig(total_steps=cfg["total_steps"], eval_every=cfg["eval_every"],
                       eval_episodes=cfg["eval_episodes"], checkpoint_every=cfg["checkpoint_every"])


def maxdiff_paper_run(algo: str, env: str, cfg: dict[str, Any], *, env_kwargs: dict[str, Any] | None = None,
                      record_path: bool = False, planner: dict[str, Any] | None = None) -> Run:
    """One MaxDiff-paper run: MaxDiff / NN-MPPI with the published planner for ``env`` (plus ``planner``
    overrides) or SAC with the paper's v1 settings (``preset="maxdiff"``); the model's / SAC's batch size from
    ``cfg``; the learning-curve sizes in ``extra``."""
    extra = {"curve_points": cfg["curve_points"], "record_path": record_path}
    common = dict(env_kwargs=env_kwargs, max_episode_steps=cfg["max_episode_steps"], extra=extra)
    if algo == "SAC":
        return Run.of(algo, env, schedule(cfg), preset="maxdiff", batch_size=cfg["batch_size"], **common)
    return Run.of(algo, env, schedule(cfg), model={"batch_size": cfg["batch_size"]},
                  planner={**cfg["planner"], **(planner or {})}, **common)


def grid(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"algo": algo, "beta": float(beta)} for algo in cfg["algos"] for beta in cfg["betas"]]


def resolve(setting: dict[str, Any], cfg: dict[str, Any]) -> Run:
    return maxdiff_paper_run(setting["algo"], ENV_ID, cfg, env_kwargs={"beta": setting["beta"]}, record_path=True)


def validate(cfg: dict[str, Any]) -> None:
    check_choices("algorithm", cfg["algos"], ALGOS)


def run_one(run: Run, seed: int, ctx: RunContext) -> xr.Dataset:
    """Train one agent; keep its evaluations, its learning curves and (``record_path``) one final path."""
    made: list[gym.Env] = []

    def make() -> gym.Env:
        env = run.make_env()
        if run.extra["record_path"] and len(made) == 1:  # the second env train() builds is the evaluation env
            env = _PathRecorder(env)
        made.append(env)
        return env

    agent, _ = make_agent(run.algo, run.make_env(), seed=seed, config=run.agent)
    ds = ctx.train(run, agent, seed, make_env=make)
    total, points = run.train.total_steps, run.extra["curve_points"]
    out = ds[["eval_return", "eval_length"]]
    for name, values in learning_curve(ds, total, points, run.max_episode_steps).items():
        out[name] = ("curve_step", values)
    out = out.assign_coords(curve_step=curve_grid(total, points))
    if run.extra["record_path"]:
        n_steps = run.max_episode_steps + 1
        path = np.full((n_steps, 2), np.nan)
        if isinstance(made[1], _PathRecorder) and made[1]._paths:
            final = np.stack(made[1]._paths[-run.train.eval_episodes])[:n_steps]
            path[: len(final)] = final
        out["traj_x"] = ("t", path[:, 0])
        out["traj_y"] = ("t", path[:, 1])
    return out


def curve_grid(total_steps: int, points: int) -> np.ndarray:
    """The ``points`` environment steps at which learning curves are sampled: ``total/points, ..., total``."""
    return np.linspace(0, total_steps, points + 1)[1:].round().astype(np.int64)


def learning_curve(ds: xr.Dataset, total_steps: int, points: int, full_length: int) -> dict[str, np.ndarray]:
    """Training-episode curves of one run on :func:`curve_grid` (the authors' plotting, §5.2).

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

"""MaxDiff RL paper, single-shot learning (probably Fig. 5 and its SI panels; docs/methods/maxdiff.md §5.7): one
deployment without resets, MaxDiff vs NN-MPPI vs SAC on the light-tail Swimmer and on HalfCheetah.

Each run is one :func:`mdrl_lib.train.train` call in single-shot mode (``TrainConfig.single_shot``, the authors'
``--singleshot``, §2.6): ``total_steps`` steps from one reset, ``done`` ignored, no evaluation episodes, and the
reward summed over each consecutive 1000-step chunk (``chunk``). The environment is built with
``max_episode_steps=-1`` (gymnasium: no ``TimeLimit``). Settings are the single-shot rows of §4.2–4.3:

* light Swimmer (``mdrl/SwimmerLight-v0``, the authors' ``inertia="cylinder"`` physics): MaxDiff α = 50 with the
  windowed entropy (w = 10, stride 3: :func:`mdrl_lib.planners.mppi.window_length`), NN-MPPI; both H = 40,
  K = 1000 samples, λ = 0.1, 10 model updates per step, batch 128; SAC as in the episodic Swimmer runs;
* HalfCheetah (gymnasium ``HalfCheetah-v5`` with the root x kept in the observation, 18 numbers as the authors'
  v3): MaxDiff α = 5 on (x, z, ẋ, ż) = dims [0, 1, 9, 10] with weights [1, 1, .05, .05], NN-MPPI; both H = 10,
  K = 1000, λ = 0.5, 5 model updates per step, batch 256, 200×2 model; SAC 256×2, batch 256, reward scale 5.
  Actions are clipped to [−1, 1] before the simulator (:class:`ClipActions`), as the authors' ``NormalizedActions``
  does: gymnasium's HalfCheetah would charge its control cost on the unclipped planner action.

The model-based settings are the single-shot rows of :func:`mdrl_lib.agents.maxdiff.maxdiff_config` and
:func:`mdrl_lib.agents.nn_mppi.mppi_config` (``single_shot=True``; :func:`model_based_config`).

Kept per run: ``chunk_return(chunk_step)`` (each chunk's reward sum, ``chunk_step`` its last step),
``best_return(chunk_step)`` (their running maximum: the published curves, §5.2) and ``final_x``, the root x position
after the last step (the published "final x": s'[0] of the last transition of ``buffer_data.pkl``).
Dimensions ``env × algo × seed × chunk_step``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import gymnasium as gym
import numpy as np
import xarray as xr

from mdrl_lib.agents import make_agent
from mdrl_lib.agents.maxdiff import MaxDiffConfig, maxdiff_config
from mdrl_lib.agents.nn_mppi import mppi_config
from mdrl_lib.envs.legacy_inertia import INERTIA_MODELS
from mdrl_lib.experiments import Run, RunContext, check_choices
from mdrl_lib.experiments.point_mass import PAPER_SEEDS, curve_grid, learning_curve
from mdrl_lib.train import TrainConfig

NAME = "single_shot"
ALGOS = ("MaxDiff", "NN-MPPI", "SAC")
SWIMMER, CHEETAH = "mdrl/SwimmerLight-v0", "HalfCheetah-v5"
ENVS = (SWIMMER, CHEETAH)

#: §5.7 (10 seeds, 1 M steps): final x and best 1000-step chunk return (mean, std), keyed by (env, algo)
PUBLISHED_FINAL_X = {(SWIMMER, "SAC"): (72.0, 127.0), (SWIMMER, "NN-MPPI"): (2048.0, 2817.0),
                     (SWIMMER, "MaxDiff"): (8156.0, 2605.0), (CHEETAH, "SAC"): (7421.0, 1277.0),
                     (CHEETAH, "NN-MPPI"): (5674.0, 11135.0), (CHEETAH, "MaxDiff"): (28515.0, 2385.0)}
PUBLISHED_BEST_CHUNK = {(SWIMMER, "SAC"): (75.4, 10.9), (SWIMMER, "NN-MPPI"): (222.6, 101.0),
                        (SWIMMER, "MaxDiff"): (319.4, 5.3), (CHEETAH, "SAC"): (173.3, 30.6),
                        (CHEETAH, "NN-MPPI"): (433.8, 567.7), (CHEETAH, "MaxDiff"): (780.9, 37.3)}

#: the quick scale as planned (overrides of ``SIZES["quick"]``): both environments, 5 seeds, ~5.4 core-hours (the
#: arithmetic is in ``SIZES["quick"]``). One session of this 2-core machine cannot hold it beside other runs, so it is
#: trained over sessions like cheetah_ant's (``python -m mdrl_lib.experiments single_shot --target --job N``):
#: HalfCheetah first, the light Swimmer next; ``SIZES["quick"]`` is now all of it.
QUICK_TARGET: dict[str, Any] = {"envs": list(ENVS), "seeds": PAPER_SEEDS[:5]}

#: ``total_steps``: one number, or one per environment. ``batch_size``: None = the published batch of each
#: algorithm and environment (model 128 Swimmer / 256 HalfCheetah, SAC the same), else it replaces both (smoke).
#: ``planner``: overrides of the published planner settings (smoke only).
SIZES: dict[str, dict[str, Any]] = {
    "smoke": {"envs": list(ENVS), "algos": list(ALGOS), "seeds": [0], "total_steps": 60, "chunk": 20,
              "checkpoint_every": 30, "planner": {"samples": 16, "horizon": 8}, "batch_size": 16,
              "inertia": "cylinder"},
    # quick: 5 seeds, as long as ~6 core-hours allow. Per-step cost on one core: an episodic Swimmer MaxDiff step
    # (K = 500, H = 40, 5 updates of batch 128) is ~75 ms (swimmer_alpha's quick runs: 2330–2580 s for 30 k steps
    # + 4 evaluation episodes); the single-shot configs timed against it on this 2-core machine (same load, 1
    # thread) cost 1.9× (light Swimmer MaxDiff/NN-MPPI: K = 1000, 10 updates), 0.75× (HalfCheetah MaxDiff/NN-MPPI:
    # K = 1000 × H = 10, 5 updates of batch 256), 0.22× (HalfCheetah SAC, batch 256) and 0.12–0.14× (Swimmer SAC),
    # i.e. ≈ 145, 55, 16 and 11 ms. 5 seeds × (2 × 8 k × 145 ms + 8 k × 11 ms + 2 × 12 k × 55 ms + 12 k × 16 ms)
    # = 5 × 3 920 s ≈ 19 600 s ≈ 5.4 core-hours (≈ 2.7 h on 2 cores): 8 chunks per Swimmer run, 12 per HalfCheetah.
    # Measured after the subnormal guard (two 1-thread runs side by side): HalfCheetah MaxDiff 394–395 s, NN-MPPI
    # 362–428 s, SAC 89–95 s per run (≈ 33, 30–36 and 8 ms a step; seed 13's runs, beside a `make test`, took
    # 689–700 s and 194 s), 5 seeds ≈ 1.3 core-hours instead of the 2.1 planned; a light-Swimmer MaxDiff step ≈ 82 ms
    # (1 000 steps, one run alone) instead of 145 ms, so the Swimmer part should cost ≈ 2 core-hours, not 3.3.
    # Trained in parts (QUICK_TARGET): HalfCheetah × 5 seeds first; the light Swimmer next, measured (two 1-thread
    # runs side by side, the lane's clock): MaxDiff 732–738 s, NN-MPPI 683–696 s, SAC 45–48 s per 8 k-step run
    # (≈ 92, 86 and 6 ms a step), 5 seeds ≈ 2.0 core-hours as planned.
    "quick": {"envs": list(ENVS), "algos": list(ALGOS), "seeds": PAPER_SEEDS[:5],
              "total_steps": {SWIMMER: 8_000, CHEETAH: 12_000}, "chunk": 1000, "checkpoint_every": 1000,
              "planner": {}, "batch_size": None, "inertia": "cylinder"},
    # paper: the authors' protocol, 10 seeds × one 1 M-step deployment per environment and algorithm
    "paper": {"envs": list(ENVS), "algos": list(ALGOS), "seeds": PAPER_SEEDS, "total_steps": 1_000_000,
              "chunk": 1000, "checkpoint_every": 10_000, "planner": {}, "batch_size": None, "inertia": "cylinder"},
}


class ClipActions(gym.ActionWrapper):
    """Clip actions to the action box before the environment sees them (the authors' ``NormalizedActions`` on a
    [−1, 1] box); the action space is unchanged (gymnasium's ``ClipAction`` widens it to ±inf, which would change
    SAC's action scaling)."""

    def action(self, action):
        return np.clip(np.asarray(action, dtype=np.float64), self.action_space.low, self.action_space.high)


def model_based_config(algo: str, env: str, planner: dict[str, Any] | None = None,
                       batch_size: int | None = None) -> MaxDiffConfig:
    """The single-shot MaxDiff / NN-MPPI settings of §4.2 for ``env`` (``planner``: overrides, e.g. for smoke runs).

    The single-shot rows of :func:`~mdrl_lib.agents.maxdiff.maxdiff_config` and
    :func:`~mdrl_lib.agents.nn_mppi.mppi_config` (``single_shot=True``). Swimmer: K = 1000, 10 model updates per
    step and, for MaxDiff, α = 50 and the windowed entropy. HalfCheetah: H = 10, K = 1000, λ = 0.5, α = 5 on dims
    [0, 1, 9, 10] (weights [1, 1, .05, .05]), 200×2 model, lr 3e-4, batch 256, 5 updates; NN-MPPI the same with
    α = 0, no exploration dims and its control prior. ``batch_size`` replaces the model's batch (smoke).
    """
    check_choices("model-based algorithm", [algo], ("MaxDiff", "NN-MPPI"))
    names = {SWIMMER: "swimmer", CHEETAH: "half_cheetah"}
    if env not in names:
        raise ValueError(f"no single-shot settings for environment {env!r}; valid: {', '.join(ENVS)}")
    make = maxdiff_config if algo == "MaxDiff" else mppi_config
    cfg = make(names[env], single_shot=True, **dict(planner or {}))
    if batch_size is not None:
        cfg = replace(cfg, model=replace(cfg.model, batch_size=int(batch_size)))
    return cfg


def env_kwargs(env: str, cfg: dict[str, Any]) -> dict[str, Any]:
    """Environment keywords: the Swimmer's physics; HalfCheetah with its root x in the observation."""
    if env == SWIMMER:
        return {"inertia": cfg["inertia"]}
    return {"exclude_current_positions_from_observation": False}


def steps_of(env: str, cfg: dict[str, Any]) -> int:
    steps = cfg["total_steps"]
    return int(steps[env] if isinstance(steps, dict) else steps)


def grid(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"env": env, "algo": algo} for env in cfg["envs"] for algo in cfg["algos"]]


def resolve(setting: dict[str, Any], cfg: dict[str, Any]) -> Run:
    env, algo = setting["env"], setting["algo"]
    steps = steps_of(env, cfg)
    schedule = TrainConfig(total_steps=steps, eval_every=steps, eval_episodes=0,
                           checkpoint_every=cfg["checkpoint_every"], single_shot=True, chunk=cfg["chunk"])
    common = {"env_kwargs": env_kwargs(env, cfg), "max_episode_steps": -1, "extra": {"clip_actions": env == CHEETAH}}
    if algo == "SAC":
        batch = {} if cfg["batch_size"] is None else {"batch_size": int(cfg["batch_size"])}
        return Run.of("SAC", env, schedule, preset="maxdiff", **common, **batch)
    agent = model_based_config(algo, env, cfg["planner"], cfg["batch_size"])
    return Run(algo, env, agent, schedule, **common)


def validate(cfg: dict[str, Any]) -> None:
    check_choices("algorithm", cfg["algos"], ALGOS)
    check_choices("environment", cfg["envs"], ENVS)
    check_choices("inertia", [cfg["inertia"]], INERTIA_MODELS)
    steps = cfg["total_steps"]
    if isinstance(steps, dict):
        missing = [e for e in cfg["envs"] if e not in steps]
        if missing:
            raise ValueError(f"total_steps has no entry for environment(s) {missing}; it has {sorted(steps)}")
    if cfg["chunk"] < 1 or any(steps_of(e, cfg) < cfg["chunk"] for e in cfg["envs"]):
        raise ValueError(f"every run needs at least one chunk: total_steps {steps} must be >= chunk {cfg['chunk']}")


def make_run_env(run: Run) -> gym.Env:
    """The run's environment: no time limit, actions clipped where ``extra["clip_actions"]``."""
    env = run.make_env()
    return ClipActions(env) if run.extra["clip_actions"] else env


def train_run(run: Run, seed: int, ctx: RunContext) -> xr.Dataset:
    """Build the run's agent and train it on :func:`make_run_env` environments (also cheetah_ant's runs)."""
    probe = make_run_env(run)
    try:
        agent, _ = make_agent(run.algo, probe, seed=seed, config=run.agent)
    finally:
        probe.close()
    return ctx.train(run, agent, seed, make_env=lambda: make_run_env(run))


def run_one(run: Run, seed: int, ctx: RunContext) -> xr.Dataset:
    """One single-shot deployment; its chunk returns, their running maximum and the final root x."""
    ds = train_run(run, seed, ctx)
    chunk = run.train.chunk
    n = run.train.total_steps // chunk
    curves = learning_curve(ds, n * chunk, n, chunk)
    out = xr.Dataset({"chunk_return": ("chunk_step", curves["interval_return"]),
                      "best_return": ("chunk_step", curves["best_return"]),
                      "final_x": float(ds.final_qpos.values[0])},
                     coords={"chunk_step": curve_grid(n * chunk, n)})
    out["chunk_return"].attrs["long_name"] = f"reward summed over the {chunk} steps ending at chunk_step"
    out["final_x"].attrs["long_name"] = "root x position after the last step"
    return out


__all__ = ["ClipActions", "grid", "model_based_config", "resolve", "run_one", "train_run", "validate"]

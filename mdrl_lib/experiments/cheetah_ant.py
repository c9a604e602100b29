"""MaxDiff RL paper, episodic HalfCheetah and Ant benchmarks (probably Extended Data / SI;
docs/methods/maxdiff.md §5.8): MaxDiff (α = 5) vs NN-MPPI vs SAC.

§ numbers refer to docs/methods/maxdiff.md.

Each run trains one agent in 1000-step episodes (§2.6) on

* HalfCheetah: gymnasium ``HalfCheetah-v5`` with the root x kept in the observation (18 numbers, the authors'
  v3 layout and reward, x-velocity − 0.1·‖a‖²; §3), actions clipped to [−1, 1] before the simulator
  (:class:`~mdrl_lib.experiments.single_shot.ClipActions`, the authors' ``NormalizedActions``);
* Ant: ``mdrl/AntMaxDiff-v0`` (:mod:`mdrl_lib.envs.ant`): the authors' "orig" Ant — qpos + qvel observed
  (29 numbers), x-velocity reward, termination after more than 1 s upside down; it clips its actions itself.

Settings are the episodic rows of §4.2–4.3: MaxDiff :func:`~mdrl_lib.agents.maxdiff.maxdiff_config` (HalfCheetah
H 10, K 500, λ 0.5, α 5 on (x, z, ẋ, ż), 200×2 model, batch 256; Ant H 20, K 1000, λ 0.5, α 5 on (x, y, z),
512×3 model, batch 256; 5 model updates per step), NN-MPPI :func:`~mdrl_lib.agents.nn_mppi.mppi_config` (the
same without the bonus, with its control prior), SAC v1 ``SACConfig.maxdiff`` (256×2 / 512×3, batch 256,
reward scale 5). The agents come from :func:`mdrl_lib.agents.make_agent`.

Kept per run (:func:`mdrl_lib.experiments.point_mass.learning_curve` on :func:`~.point_mass.curve_grid`):

* ``best_return(curve_step)``: running maximum of the training-episode returns — the published curves (§5.2).
  Every episode counts, also the Ant's early-terminated ones (the authors drop short episodes for the point
  mass only);
* ``interval_return(curve_step)``: mean return of the episodes that ended since the previous grid step (raw);
  ``episodes(curve_step)``: episodes finished so far;
* ``last10_return``: mean return of the last 10 training episodes (§5.8's second number);
  ``full_episode_fraction``: the share of training episodes that ran the whole ``max_episode_steps``
  (the Ant's terminations, §3);
* ``eval_return(step, eval_episode)``, ``eval_length``: evaluation episodes at step 0 and at the end; the final
  ones are the final-policy evaluation (MaxDiff with its entropy bonus on, SAC with tanh(mean), §2.2).

Dimensions ``env × algo × seed × ...``; published numbers in :data:`PUBLISHED_RUNNING_MAX` and
:data:`PUBLISHED_LAST10`, the published curves in ``mdrl_lib.references`` (``data/published/maxdiff.nc``).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import xarray as xr

from mdrl_lib.experiments import Run, RunContext, check_choices, single_shot
from mdrl_lib.experiments.point_mass import PAPER_SEEDS, curve_grid, learning_curve
from mdrl_lib.train import TrainConfig

NAME = "cheetah_ant"
ALGOS = ("MaxDiff", "NN-MPPI", "SAC")
CHEETAH, ANT = "HalfCheetah-v5", "mdrl/AntMaxDiff-v0"
ENVS = (CHEETAH, ANT)
#: our environment -> the ``env`` of its released runs (:func:`mdrl_lib.references.published_folder`; gym 0.21 "v3")
PUBLISHED_ENV = {CHEETAH: "half_cheetah", ANT: "ant"}
#: environment keywords of each run: HalfCheetah with its root x observed (MuJoCo 3's exact capsule bodies: the
#: stock gymnasium model); the Ant's id sets its own task, and its bodies weigh as in the authors' MuJoCo 2.0
#: (``inertia="cylinder"``, :mod:`mdrl_lib.envs.legacy_inertia`), named here so that every run records it
ENV_KWARGS: dict[str, dict[str, Any]] = {CHEETAH: {"exclude_current_positions_from_observation": False},
                                         ANT: {"inertia": "cylinder"}}

#: §5.8 (10 seeds, 1 M steps): running-max training return at 1 M steps, (mean, std), keyed by (env, algo)
PUBLISHED_RUNNING_MAX = {(CHEETAH, "MaxDiff"): (4900.0, 265.0), (CHEETAH, "NN-MPPI"): (4272.0, 1589.0),
                         (CHEETAH, "SAC"): (4124.0, 2388.0), (ANT, "MaxDiff"): (4077.0, 165.0),
                         (ANT, "NN-MPPI"): (3987.0, 192.0), (ANT, "SAC"): (1818.0, 830.0)}
#: §5.8: mean return of the last 10 training episodes (mean over seeds), keyed by (env, algo)
PUBLISHED_LAST10 = {(CHEETAH, "MaxDiff"): 4142.0, (CHEETAH, "NN-MPPI"): 3672.0, (CHEETAH, "SAC"): 3119.0,
                    (ANT, "MaxDiff"): 2322.0, (ANT, "NN-MPPI"): 2350.0, (ANT, "SAC"): 1025.0}

#: the Ant at quick scale: its first 3 episodes, planners with K = 250 samples instead of 1000 (a stated deviation:
#: arithmetic in ``SIZES["quick"]``), one evaluation episode at step 0 and at the end
QUICK_ANT: dict[str, Any] = {"total_steps": 3_000, "eval_every": 3_000, "eval_episodes": 1, "curve_points": 3,
                             "planner": {"samples": 250}}
#: the quick scale as planned (overrides of ``SIZES["quick"]``; see there): HalfCheetah and the Ant, 5 seeds
QUICK_TARGET: dict[str, Any] = {"envs": list(ENVS), "seeds": PAPER_SEEDS[:5]}

#: ``planner``: overrides of the published planner settings; ``batch_size`` / ``hidden``: None = the published
#: batch and layer sizes of each algorithm and environment, else they replace the model's and SAC's (smoke only).
#: ``per_env``: ``{env: {key: value}}``, the keys above that differ for one environment (:func:`env_config`).
SIZES: dict[str, dict[str, Any]] = {
    # smoke: the shape of quick in miniature — the Ant with its own budget and fewer evaluation episodes (per_env)
    "smoke": {"envs": list(ENVS), "algos": list(ALGOS), "seeds": [0], "total_steps": 40, "eval_every": 40,
              "eval_episodes": 2, "max_episode_steps": 20, "checkpoint_every": 20, "curve_points": 4,
              "planner": {"samples": 16, "horizon": 4}, "batch_size": 16, "hidden": [32, 32],
              "per_env": {ANT: {"total_steps": 20, "eval_every": 20, "curve_points": 2, "eval_episodes": 1}}},
    # quick: HalfCheetah, 5 seeds × 15 k steps (15 episodes), the published settings; and the Ant's start (QUICK_ANT).
    # Per-step cost on one thread, measured as ratios to an episodic Swimmer MaxDiff step (K 500, H 40, 5 updates
    # of batch 128) in the same process on this loaded 2-core machine (two runs: Swimmer 47–69 ms there):
    # HalfCheetah MaxDiff / NN-MPPI (K 500 × H 10, 5 updates of batch 256 through 200×2) 0.57–0.66×, HalfCheetah
    # SAC (256×2, batch 256) 0.20–0.21×; with the Swimmer step at ~75 ms in real runs (swimmer_alpha's quick runs),
    # ≈ 45, 45 and 16 ms. 5 seeds × 15 k × (45 + 45 + 16) ms ≈ 7 950 s, plus the evaluations at step 0 and at the
    # end (2 episodes × 1000 planner steps at ≈ 17 ms, twice, for 10 planner runs ≈ 680 s) ≈ 8 650 s
    # ≈ 2.4 core-hours (≈ 1.2 h on 2 cores). Measured after the subnormal guard (utils.flush_denormals; two 1-thread
    # runs side by side): MaxDiff 607 s, NN-MPPI 548–597 s, SAC 159 s per run. The published curves (§5.8 runs,
    # 10 seeds) at 15 k steps:
    # running max MaxDiff 313 ± 92, NN-MPPI 399 ± 212, SAC −80 ± 53 — the planners far ahead of SAC; MaxDiff
    # overtakes NN-MPPI on average only at ~100 k (2582 vs 2506; 4900 vs 4272 at 1 M), beyond this budget.
    # The Ant at the published settings: its planner (K 1000 × H 20 through 512×3, 5 updates of batch 256 through 512×3)
    # measured 9–14× a Swimmer step (≈ 0.8 s; NN-MPPI the same), SAC (512×3) ≈ 0.8× (≈ 60 ms), so 3 seeds ×
    # (2 × 0.8 + 0.06) s ≈ 5 s per step: ~1 400 steps in 2 core-hours. Cutting K to 250 (≈ 3.1×, ≈ 0.23 s: the
    # model updates alone are ≈ 1.7×) gives 3 × (2 × 0.23 + 0.06) ≈ 1.6 s per step, ~4 500 steps — where the
    # published Ant curves cannot be told apart (running max at 5 k: MaxDiff 111 ± 40, NN-MPPI 93 ± 40,
    # SAC 83 ± 31; still 231 / 240 / 211 at 100 k, against 4077 / 3987 / 1818 at 1 M). No 2-core-hour Ant run
    # could show the published result. What a quick Ant run can check is the start: QUICK_ANT, the first 3 episodes
    # with K = 250 (published running max at 3 k: MaxDiff 81 ± 32, NN-MPPI 72 ± 26, SAC 73 ± 33). Its cost:
    # a planner run 3 000 × 0.23 s + 2 evaluation episodes (step 0 and the end) × 1000 planning-only steps × ≈ 0.1 s
    # ≈ 890 s, SAC 3 000 × 0.06 s ≈ 180 s; 5 seeds × (2 × 890 + 180) ≈ 9 800 s ≈ 2.7 core-hours (≈ 1.4 h on 2 cores).
    # Measured (after the subnormal guard, two 1-thread runs side by side): MaxDiff 637–727 s, NN-MPPI 669–771 s,
    # SAC 137–164 s per Ant run, 7 750 s ≈ 2.15 core-hours for the 15.
    # The grid is trained over sessions (2 cores): SIZES["quick"] is always what data/cheetah_ant/quick.nc holds
    # (so `make figures` trains nothing), growing to QUICK_TARGET (both envs, 5 seeds), which it now is; a run keeps
    # its cache key as the grid grows (the key is the run's own config).
    "quick": {"envs": list(ENVS), "algos": list(ALGOS), "seeds": [13, 113, 213, 313, 413], "total_steps": 15_000,
              "eval_every": 15_000, "eval_episodes": 2, "max_episode_steps": 1000, "checkpoint_every": 1000,
              "curve_points": 15, "planner": {}, "batch_size": None, "hidden": None, "per_env": {ANT: QUICK_ANT}},
    # paper: the authors' protocol (§2.6, §4.2–4.3, §11): 10 seeds × 1 M steps, 100 final evaluation episodes,
    # curves on 100 points
    "paper": {"envs": list(ENVS), "algos": list(ALGOS), "seeds": PAPER_SEEDS, "total_steps": 1_000_000,
              "eval_every": 1_000_000, "eval_episodes": 100, "max_episode_steps": 1000, "checkpoint_every": 10_000,
              "curve_points": 100, "planner": {}, "batch_size": None, "hidden": None, "per_env": {}},
}

#: the keys ``per_env`` may set
PER_ENV_KEYS = ("total_steps", "eval_every", "eval_episodes", "curve_points", "checkpoint_every", "planner")


def env_config(env: str, cfg: dict[str, Any]) -> dict[str, Any]:
    """The experiment config as it applies to ``env``: ``cfg`` with ``cfg["per_env"][env]`` laid over it."""
    return {**cfg, **cfg.get("per_env", {}).get(env, {})}


def grid(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"env": env, "algo": algo} for env in cfg["envs"] for algo in cfg["algos"]]


def resolve(setting: dict[str, Any], cfg: dict[str, Any]) -> Run:
    """The run of ``(env, algo)``: the published agent for the environment (plus the smoke overrides), the
    episodic schedule, the learning-curve size and whether to clip actions in ``extra``."""
    env, algo = setting["env"], setting["algo"]
    cfg = env_config(env, cfg)
    schedule = TrainConfig(total_steps=cfg["total_steps"], eval_every=cfg["eval_every"],
                           eval_episodes=cfg["eval_episodes"], checkpoint_every=cfg["checkpoint_every"])
    common = {"env_kwargs": ENV_KWARGS[env], "max_episode_steps": cfg["max_episode_steps"],
              "extra": {"curve_points": cfg["curve_points"], "clip_actions": env == CHEETAH}}
    sizes = {}
    if cfg["batch_size"] is not None:
        sizes["batch_size"] = int(cfg["batch_size"])
    if cfg["hidden"] is not None:
        sizes["hidden"] = tuple(int(h) for h in cfg["hidden"])
    if algo == "SAC":
        return Run.of(algo, env, schedule, preset="maxdiff", **common, **sizes)
    return Run.of(algo, env, schedule, planner=dict(cfg["planner"]), model=sizes, **common)


def validate(cfg: dict[str, Any]) -> None:
    check_choices("algorithm", cfg["algos"], ALGOS)
    check_choices("environment", cfg["envs"], ENVS)
    check_choices("per_env environment", list(cfg["per_env"]), ENVS)
    for env, over in cfg["per_env"].items():
        check_choices(f"per_env[{env!r}] key", list(over), PER_ENV_KEYS)
    for env in cfg["envs"]:
        _validate_one(env_config(env, cfg))


def _validate_one(cfg: dict[str, Any]) -> None:
    if cfg["eval_episodes"] < 1:
        raise ValueError(f"eval_episodes must be >= 1 (the final-policy evaluation), got {cfg['eval_episodes']}")
    if not 1 <= cfg["curve_points"] <= cfg["total_steps"]:
        raise ValueError(f"curve_points must be in 1..total_steps ({cfg['total_steps']}), got {cfg['curve_points']}")
    if cfg["max_episode_steps"] < 1:
        raise ValueError(f"max_episode_steps must be >= 1, got {cfg['max_episode_steps']}")


def run_one(run: Run, seed: int, ctx: RunContext) -> xr.Dataset:
    """Train one agent; keep its learning curves, its last-10-episode mean and its evaluation episodes."""
    ds = single_shot.train_run(run, seed, ctx)
    total, points = run.train.total_steps, run.extra["curve_points"]
    out = ds[["eval_return", "eval_length"]]
    for name, values in learning_curve(ds, total, points, 1).items():  # full_length 1: every episode counts
        out[name] = ("curve_step", values)
    out = out.assign_coords(curve_step=curve_grid(total, points))
    returns = ds.episode_return.values.astype(float)
    lengths = np.diff(np.concatenate([[0], ds.episode_end_step.values.astype(np.int64)]))
    out["last10_return"] = float(returns[-10:].mean()) if len(returns) else np.nan
    out["full_episode_fraction"] = float((lengths >= run.max_episode_steps).mean()) if len(lengths) else np.nan
    out["last10_return"].attrs["long_name"] = "mean return of the last 10 training episodes"
    out["full_episode_fraction"].attrs["long_name"] = "share of training episodes that ran max_episode_steps"
    return out


def final_best(ds: xr.Dataset) -> xr.DataArray:
    """The running-max return at the end of each environment's own budget, ``(env, algo, seed)`` (the envs may have
    different budgets, ``per_env``: the shorter one is NaN past its end on the shared ``curve_step`` grid)."""
    cfg = json.loads(ds.attrs["config"])
    return xr.concat([ds.best_return.sel(env=env, curve_step=env_config(str(env), cfg)["total_steps"])
                      .drop_vars("curve_step") for env in ds.env.values], dim="env")


def final_eval(ds: xr.Dataset) -> xr.DataArray:
    """The final-policy evaluation episodes, at the end of each environment's own budget,
    ``(env, algo, seed, eval_episode)``."""
    cfg = json.loads(ds.attrs["config"])
    return xr.concat([ds.eval_return.sel(env=env, step=env_config(str(env), cfg)["total_steps"]).drop_vars("step")
                      for env in ds.env.values], dim="env")


def running_max_table(ds: xr.Dataset) -> xr.Dataset:
    """Per ``(env, algo)``: the running-max return at the end of the env's budget (mean and std over seeds) beside
    the published 1 M-step values (:data:`PUBLISHED_RUNNING_MAX`; NaN for pairs it lacks)."""
    final = final_best(ds)
    pub = np.full((ds.sizes["env"], ds.sizes["algo"], 2), np.nan)
    for i, env in enumerate(ds.env.values.tolist()):
        for j, algo in enumerate(ds.algo.values.tolist()):
            pub[i, j] = PUBLISHED_RUNNING_MAX.get((env, algo), (np.nan, np.nan))
    return xr.Dataset({"mean": final.mean("seed"), "std": final.std("seed"),  # numpy's std, as the authors plot
                       "published_mean": (("env", "algo"), pub[..., 0]),
                       "published_std": (("env", "algo"), pub[..., 1])},
                      attrs={"published_step": 1_000_000})


__all__ = ["env_config", "final_best", "final_eval", "grid", "resolve", "run_one", "running_max_table", "validate"]

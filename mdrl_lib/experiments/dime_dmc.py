"""DIME and a SAC baseline on DeepMind Control tasks, beside the authors' published DIME curves (issue 15).

Dimensions ``env × algo × seed × step × eval_episode``: ``env`` is a DMC task as ``<domain>-<task>`` (default
``cheetah-run`` and ``walker-run``, run as ``mdrl/dmc-<domain>-<task>-v0`` from :mod:`mdrl_lib.envs.dmc`: the
authors' dm_control → shimmy path, flattened observations, DMC's own 1,000-step episodes as truncation, no action
repeat); ``algo`` is ``DIME`` (:class:`~mdrl_lib.agents.dime.DIMEAgent`) or ``SAC``
(:class:`~mdrl_lib.agents.sac.SACAgent`, :class:`~mdrl_lib.agents.sac.SACConfig` defaults: 2018b SAC, 256 × 256,
5,000 random warm-up steps). ``data/dime_dmc/<scale>.nc`` holds the evaluation returns and each algorithm's update
metrics against ``step`` (metrics one algorithm does not log are NaN for the other).

DIME's configuration is :meth:`DIMEConfig.for_env` for the DMC id: the authors' ICML defaults, which *are* their DMC
configuration (docs/methods/dime.md §2), with the DMC critic support ±200 (``for_env`` gives ±200 to every id that
is not gym Humanoid/Ant; :func:`validate` checks it). The published curves are compared by
:data:`REFERENCE_TASK` (``cheetah-run`` -> ``dmc_cheetah_run``; ``acrobot-swingup`` -> ``dmc_acrobot``;
``finger-turn_hard`` -> ``dmc_finger_turn``); :func:`ours_at_grid` and :func:`published_at_grid` put ours and theirs
on the published grid (24k, 48k, ...), the latter through :func:`mdrl_lib.references.published_curve` (the
committed ``data/published/dime.nc``).

Protocol (docs/methods/dime.md §1.4, §4), as :mod:`mdrl_lib.experiments.dime`: evaluation every 3,000 steps with 5
episodes (the published grid is every 8th: 24k, 48k, ...); our step 0 is the authors' step 1. The authors' SB3
``EvalCallback`` asks for ``deterministic=True``, which their diffusion policy ignores, so DIME's evaluation is
*stochastic* (a fresh diffusion sample per action; ``eval_deterministic=True`` only marks the calls as evaluation,
see :mod:`mdrl_lib.agents.dime`). SAC has a deterministic mode, and ``deterministic=True`` is what the authors'
callback asks of every policy, so SAC is evaluated with its mean action (tanh of the Gaussian mean). The Dataset's
``evaluation`` attribute records both.

Scales: ``smoke`` is tiny networks and episodes for CI (every code path, seconds); ``quick`` (CPU) keeps the
published DIME actor and schedule but uses the **narrow critic** (2 × 256 instead of 2 × 2048; recorded in the
Dataset's ``critic`` attribute, as in :mod:`mdrl_lib.experiments.dime`) for 48k steps (the first two published
grid points), replay buffers holding all 48k transitions (what the published 1M buffer holds by then); its target
is :data:`QUICK_TARGET`, 2 tasks × 3 seeds (about 5 h on 2 cores, so it is trained over several sessions: see
:data:`SIZES`); ``paper`` is the published configuration, 10 seeds × 1M steps (a GPU
job; SAC at its defaults).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import xarray as xr

from mdrl_lib import references
from mdrl_lib.agents import make_agent
from mdrl_lib.agents.dime import SUPPORT_DMC, DIMEConfig
from mdrl_lib.envs.dmc import DIME_TASKS, dmc_env_id
from mdrl_lib.experiments import Run, RunContext, check_choices
from mdrl_lib.experiments.dime import SMOKE_AGENT, critic_label
from mdrl_lib.train import TrainConfig

NAME = "dime_dmc"
ALGOS = ("DIME", "SAC")

#: the authors' task names where they are not ``dmc_<domain>_<task>`` (docs/methods/dime.md §3.2)
_REFERENCE_NAME = {("acrobot", "swingup"): "dmc_acrobot", ("finger", "turn_hard"): "dmc_finger_turn"}
#: our task (``<domain>-<task>``) -> the authors' released task it is compared with (references.DIME_TASKS)
REFERENCE_TASK: dict[str, str] = {f"{d}-{t}": _REFERENCE_NAME.get((d, t), f"dmc_{d}_{t}")
                                  for d, t in DIME_TASKS if (d, t) != ("finger", "turn_easy")}

_SMOKE_SAC = dict(hidden=(32, 32), batch_size=32, random_steps=100, buffer_size=10_000)

#: Per-scale configuration; ``agent[algo]`` overrides that algorithm's published/default config for the task.
#:
#: quick budget (this 2-core CPU, 1 torch thread per run, two runs side by side). DIME with the published 2 × 2048
#: critic costs ~0.7 s per env step (issue 15): 43k updating steps ≈ 8.4 h per run, ~50 h for 6 DIME runs — not a
#: CPU job. Measured here (cheetah-run, 1 thread, 200 steps after the warm-up, act + observe + update): DIME with
#: the narrow 2 × 256 critic 131 ms per step, SAC 11.6 ms. Per run: 5k warm-up steps (no updates, seconds) +
#: 43k × 0.131 s ≈ 94 min for DIME, 43k × 0.0116 s ≈ 8 min for SAC; evaluation adds 17 × 5 × 1,000 = 85k
#: acting-only steps per run (not timed; DIME's 16-step chain at batch 1, no gradients). 2 tasks × 3 seeds ×
#: (94 + 8) min ≈ 10 core-hours ≈ 5 h on 2 cores, plus evaluation. paper (2 × 2048 critic, 1M steps) is a GPU job.
#: Measured in the first quick runs (two side by side, one thread each): DIME ≈ 100 min per 48k-step run
#: (5k warm-up, 43k updating steps at ~0.13 s, 17 evaluations), SAC ≈ 9 min.
#:
#: A session of this machine holds ~2 DIME runs side by side, so ``quick`` grows toward :data:`QUICK_TARGET` one
#: session at a time; ``SIZES["quick"]`` is always what ``data/dime_dmc/quick.nc`` holds (so ``make figures``
#: trains nothing), and a run keeps its cache key as the grid grows (the key is the run's own config).
QUICK_TARGET = {"envs": ["cheetah-run", "walker-run"], "seeds": [0, 1, 2]}
SIZES: dict[str, dict[str, Any]] = {
    "smoke": {"envs": ["cheetah-run", "walker-run"], "algos": list(ALGOS), "seeds": [0], "total_steps": 300,
              "eval_every": 150, "eval_episodes": 1, "max_episode_steps": 40,
              "agent": {"DIME": SMOKE_AGENT, "SAC": _SMOKE_SAC}},
    "quick": {"envs": ["cheetah-run", "walker-run"], "algos": list(ALGOS), "seeds": [0, 1, 2], "total_steps": 48_000,
              "eval_every": 3_000, "eval_episodes": 5, "max_episode_steps": None,
              "agent": {"DIME": {"critic_hidden": [256, 256], "buffer_size": 48_000},
                        "SAC": {"buffer_size": 48_000}}},
    "paper": {"envs": ["cheetah-run", "walker-run"], "algos": list(ALGOS), "seeds": list(range(10)),
              "total_steps": 1_000_000, "eval_every": 3_000, "eval_episodes": 5, "max_episode_steps": None,
              "agent": {"DIME": {}, "SAC": {}}},
}


def env_id(task: str) -> str:
    """``"cheetah-run"`` -> ``"mdrl/dmc-cheetah-run-v0"``."""
    domain, _, name = task.partition("-")
    return dmc_env_id(domain, name)


def grid(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"env": env, "algo": algo} for env in cfg["envs"] for algo in cfg["algos"]]


def resolve(setting: dict[str, Any], cfg: dict[str, Any]) -> Run:
    """The algorithm's config for the DMC id (DIME: :meth:`DIMEConfig.for_env`, SAC: :class:`SACConfig`) with
    ``cfg["agent"][algo]`` overrides; the authors' evaluation schedule, ``eval_deterministic=True`` (DIME: only
    marks the calls, its actor always samples; SAC: the mean action). SAC's loop updates after its random steps."""
    algo = setting["algo"]
    overrides = dict(cfg["agent"].get(algo, {}))
    warmup = 0
    if algo == "SAC":
        from mdrl_lib.agents.sac import SACConfig

        warmup = overrides.get("random_steps", SACConfig().random_steps)
    schedule = TrainConfig(total_steps=cfg["total_steps"], eval_every=cfg["eval_every"],
                           eval_episodes=cfg["eval_episodes"], eval_deterministic=True, learning_starts=warmup)
    return Run.of(algo, env_id(setting["env"]), schedule, max_episode_steps=cfg["max_episode_steps"], **overrides)


def validate(cfg: dict[str, Any]) -> None:
    check_choices("DMC task", cfg["envs"], list(REFERENCE_TASK))
    check_choices("algorithm", cfg["algos"], ALGOS)
    unknown = sorted(set(cfg["agent"]) - set(ALGOS))
    if unknown:
        raise ValueError(f"agent overrides for unknown algorithm(s) {unknown}; valid algorithms are "
                         f"{', '.join(ALGOS)}")
    if "DIME" in cfg["algos"]:  # the authors' DMC support unless the config overrides it on purpose
        support = DIMEConfig.for_env(env_id(cfg["envs"][0]))
        if (support.v_min, support.v_max) != SUPPORT_DMC:
            raise ValueError(f"DIMEConfig.for_env gives the critic support {(support.v_min, support.v_max)} on DMC; "
                             f"the authors' DMC support is {SUPPORT_DMC}")


def run_one(run: Run, seed: int, ctx: RunContext) -> xr.Dataset:
    """One seed of one algorithm on one task: train; keep the evaluations and update metrics."""
    agent, _ = make_agent(run.algo, run.make_env(), seed=seed, config=run.agent)
    return ctx.train(run, agent, seed).drop_dims("episode")


def ours_at_grid(ds: xr.Dataset, grid_step: int = references.DIME_GRID_STEP) -> xr.DataArray:
    """Our evaluation return (mean over ``eval_episode``) at the published grid points we reached (``grid_step``,
    ``2 grid_step``, ...), dims ``(env, algo, seed, step)``; no ``step`` when the run is shorter than one point."""
    steps = [int(s) for s in ds.step.values if s >= grid_step and s % grid_step == 0]
    out = ds.eval_return.mean("eval_episode").sel(step=steps)
    return out.assign_attrs(long_name="mean evaluation return at the published grid points",
                            definition=f"mean over {ds.sizes['eval_episode']} evaluation episodes")


def published_at_grid(env: str, steps: Sequence[int] | None = None) -> xr.DataArray:
    """The authors' DIME curve for our task ``env`` (``DataArray(seed, step)``, their 10 seeds) from the committed
    ``data/published/dime.nc`` (:func:`mdrl_lib.references.published_curve`), at ``steps`` (default all)."""
    check_choices("DMC task", [env], list(REFERENCE_TASK))
    curve = references.published_curve(REFERENCE_TASK[env])
    return curve if steps is None else curve.sel(step=[int(s) for s in steps])


def grid_comparison(ds: xr.Dataset, grid_step: int = references.DIME_GRID_STEP) -> xr.Dataset:
    """Ours against the authors' 10 seeds at every published grid point we reached.

    Variables: ``ours(env, algo, seed, step)`` (:func:`ours_at_grid`); ``our_quantile(env, algo, seed, step)``, the
    fraction of the published seeds below ours at the same step (:func:`mdrl_lib.plotting.published_quantile`:
    0 = below all, 1 = above all, ties half); ``published_median``, ``published_min``, ``published_max``
    ``(env, step)`` over the published seeds. Empty ``step`` when the runs are shorter than one grid point.
    """
    from mdrl_lib.plotting import published_quantile

    ours = ours_at_grid(ds, grid_step)
    steps = [int(s) for s in ours.step.values]
    quantile = xr.full_like(ours, np.nan)
    stats = {k: xr.DataArray(np.full((ours.sizes["env"], len(steps)), np.nan), dims=("env", "step"),
                             coords={"env": ours.env, "step": ours.step}) for k in ("median", "min", "max")}
    for env in ours.env.values.tolist():
        pub = published_at_grid(env, steps).transpose("seed", "step")
        for k, fn in (("median", np.median), ("min", np.min), ("max", np.max)):
            stats[k].loc[{"env": env}] = fn(pub.values, axis=0)
        for step in steps:
            o = ours.sel(env=env, step=step)  # (algo, seed)
            q = published_quantile(o.values.ravel(), pub.sel(step=step).values).reshape(o.shape)
            quantile.loc[{"env": env, "step": step}] = xr.DataArray(q, dims=o.dims, coords=o.coords)
    quantile.attrs = {"long_name": "quantile of our seed among the published seeds at the same step",
                      "definition": "fraction of published seeds below ours (ties half): 0 below all, 1 above all"}
    return xr.Dataset({"ours": ours, "our_quantile": quantile, **{f"published_{k}": v for k, v in stats.items()}},
                      attrs={"grid_step": grid_step, "published_seeds": references.DIME_SEEDS})


def finish(ds: xr.Dataset, cfg: dict[str, Any]) -> xr.Dataset:
    """The comparison's labels: tasks and their released counterparts, critic width, evaluation protocol."""
    attrs: dict[str, Any] = {"envs": json.dumps(list(cfg["envs"])),
                             "reference_task": json.dumps({e: REFERENCE_TASK[e] for e in cfg["envs"]})}
    if "DIME" in cfg["algos"]:
        dime = resolve({"env": cfg["envs"][0], "algo": "DIME"}, cfg).agent
        attrs.update(critic=critic_label(dime), published_config=int(dime.is_published),
                     dime_support=json.dumps([dime.v_min, dime.v_max]),
                     dime_config=json.dumps(asdict(dime), sort_keys=True))
    if "SAC" in cfg["algos"]:
        sac = resolve({"env": cfg["envs"][0], "algo": "SAC"}, cfg).agent
        attrs["sac_config"] = json.dumps(asdict(sac), sort_keys=True)
    attrs["evaluation"] = (f"{cfg['eval_episodes']} episodes every {cfg['eval_every']} steps (authors: 5 every "
                           "3,000, published every 24,000); DIME stochastic (its diffusion policy has no "
                           "deterministic mode, as in the authors' code), SAC deterministic (mean action; the "
                           "authors' EvalCallback asks deterministic=True); our step 0 is the authors' step 1")
    ds.attrs.update(attrs)
    return ds

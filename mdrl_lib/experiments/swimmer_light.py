"""MaxDiff RL paper, light vs heavy tail and cross-embodiment transfer on the Swimmer (probably Fig. 4;
docs/methods/maxdiff.md §5.5–5.6): MaxDiff (α = 100), NN-MPPI and SAC trained on each tail, and every final model
evaluated on both tails.

Each run trains one agent on one body — ``train_body`` ``"light"`` (``mdrl/SwimmerLight-v0``, tail density 100) or
``"heavy"`` (``mdrl/SwimmerHeavy-v0``, the stock swimmer) — with the settings of
:mod:`mdrl_lib.experiments.swimmer_alpha` (:func:`~mdrl_lib.experiments.point_mass.maxdiff_paper_run`: the
published planner, model and SAC v1 of §4.2–4.3, 1000-step episodes). A heavy-tail run here is the same run as
swimmer_alpha's at the same scale and α (same agent config, environment and schedule), except that its training
loop does no evaluation episodes — which never changes training (the evaluations use their own environment,
planner and generator) — so the heavy-tail runs can start from swimmer_alpha's checkpoints at this scale's step
(:func:`mdrl_lib.experiments.branch_job`, ``tools/branch_swimmer_light.py``). It keeps:

* ``best_return(curve_step)``, ``interval_return(curve_step)``, ``episodes(curve_step)``: the training-episode
  curves of :func:`~mdrl_lib.experiments.point_mass.learning_curve` (running max = the published curves, §5.2);
* ``eval_return(eval_body, eval_episode)``, ``eval_length``: the final model on each body, ``eval_episodes``
  episodes each (the authors' ``eval.py --physics_model_eval orig|light``: 100 episodes per seed). As ``eval.py``
  does, MaxDiff plans with its entropy bonus on and SAC samples its actions (stochastic); NN-MPPI has no bonus.
  Episode ``i`` starts from the same reset seed on both bodies (:func:`mdrl_lib.train.eval_seed` at the last
  step), so the two columns differ only by the body.

Dimensions ``algo × alpha × train_body × seed × ...``: as in swimmer_alpha, ``alpha`` is MaxDiff's α and the
baselines sit at ``alpha = 0``: ``ds.sel(algo="MaxDiff", alpha=100.0, train_body="light", eval_body="heavy")``.
:func:`transfer_table` pools the final evaluations into the §5.6 table.

The transfer evaluation runs after training, in :func:`run_one`, from the agent the training loop returns (or
restores from its final checkpoint, so a run killed during the evaluation repeats only the evaluation, with the
same numbers). It is not checkpointed itself: at paper scale it is 2 × 100 planner episodes (≈ 3 h per MaxDiff
run on one core).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import xarray as xr

from mdrl_lib.agents import make_agent
from mdrl_lib.envs.legacy_inertia import INERTIA_MODELS
from mdrl_lib.experiments import Run, RunContext, check_choices
from mdrl_lib.experiments.point_mass import PAPER_SEEDS, curve_grid, learning_curve, maxdiff_paper_run
from mdrl_lib.train import evaluate

NAME = "swimmer_light"
ALGOS = ("MaxDiff", "NN-MPPI", "SAC")
#: body name -> environment id (§3: the light tail's last capsule has density 100 instead of 1000)
BODIES = {"heavy": "mdrl/SwimmerHeavy-v0", "light": "mdrl/SwimmerLight-v0"}

#: §5.5 running-max training return at 1 M steps (mean, std over 10 seeds), keyed by (algo, alpha, train_body);
#: the heavy-tail values are swimmer_alpha's (§5.4)
PUBLISHED_RUNNING_MAX = {("SAC", 0.0, "light"): (106.6, 15.1), ("NN-MPPI", 0.0, "light"): (376.9, 94.6),
                         ("MaxDiff", 100.0, "light"): (400.3, 4.0), ("MaxDiff", 50.0, "light"): (415.5, 4.4),
                         ("SAC", 0.0, "heavy"): (52.2, 9.1), ("NN-MPPI", 0.0, "heavy"): (66.8, 11.5),
                         ("MaxDiff", 100.0, "heavy"): (175.6, 7.2), ("MaxDiff", 50.0, "heavy"): (179.5, 11.6)}
NAN = float("nan")
#: §5.6 final-policy return, pooled mean ± std over 100 episodes × 10 seeds, keyed by (algo, alpha, train_body,
#: eval_body) (MaxDiff α = 50: means only, published without std here, so NaN)
PUBLISHED_TRANSFER = {
    ("SAC", 0.0, "heavy", "heavy"): (33.5, 17.7), ("NN-MPPI", 0.0, "heavy", "heavy"): (33.6, 10.6),
    ("MaxDiff", 100.0, "heavy", "heavy"): (151.7, 11.2),
    ("SAC", 0.0, "light", "light"): (96.4, 20.4), ("NN-MPPI", 0.0, "light", "light"): (331.7, 100.0),
    ("MaxDiff", 100.0, "light", "light"): (375.3, 10.2),
    ("SAC", 0.0, "heavy", "light"): (26.5, 13.4), ("NN-MPPI", 0.0, "heavy", "light"): (26.9, 17.3),
    ("MaxDiff", 100.0, "heavy", "light"): (172.2, 15.3),
    ("SAC", 0.0, "light", "heavy"): (44.1, 10.1), ("NN-MPPI", 0.0, "light", "heavy"): (190.6, 69.8),
    ("MaxDiff", 100.0, "light", "heavy"): (228.3, 9.9),
    ("MaxDiff", 50.0, "light", "heavy"): (242.3, NAN), ("MaxDiff", 50.0, "light", "light"): (395.4, NAN),
    ("MaxDiff", 50.0, "heavy", "light"): (179.8, NAN),
}

SIZES: dict[str, dict[str, Any]] = {
    "smoke": {"alphas": [100.0], "algos": list(ALGOS), "train_bodies": ["light", "heavy"],
              "eval_bodies": ["heavy", "light"], "seeds": [0], "total_steps": 80, "eval_episodes": 1,
              "max_episode_steps": 40, "checkpoint_every": 40, "curve_points": 4,
              "planner": {"samples": 16, "horizon": 8}, "batch_size": 32, "inertia": "cylinder"},
    # quick: all four transfer cells (3 algos × 2 training bodies, each final model on both bodies), 5 seeds × 10 k
    # steps. Cost, from swimmer_alpha's quick runs (same agents; two runs side by side on 2 cores, subnormal guard on):
    # a MaxDiff/NN-MPPI run of 30 k steps plus 4 evaluation episodes took 28–35 min, i.e. ≤ 60 ms per step, training or
    # evaluation; a SAC run 3–7 min. A light-tail planner run here is 10 k training steps + 2 bodies × 2 episodes
    # × 1000 steps ≤ 14 k × 60 ms ≈ 14 min; 10 of them ≈ 2.3 core-hours, 5 SAC runs ≈ 0.2. The heavy-tail runs start
    # from swimmer_alpha's checkpoints at 10 k steps (tools/branch_swimmer_light.py), so they cost only their 4 000
    # evaluation steps: ≤ 10 × 4 min ≈ 0.7 core-hours. In all ≈ 3.2 core-hours (≈ 1.6 h on 2 cores); trained from
    # scratch, the heavy tail would add ≈ 1.7 core-hours more. Measured (two 1-core lanes, the lane's clock per job):
    # light-tail MaxDiff/NN-MPPI 578–762 s per run, SAC 57–60 s; branched heavy-tail planners 141–155 s, SAC 5 s (its
    # seed 113, trained from scratch, 58 s): 2.30 core-hours in all, not 3.2.
    "quick": {"alphas": [100.0], "algos": list(ALGOS), "train_bodies": ["light", "heavy"],
              "eval_bodies": ["heavy", "light"], "seeds": PAPER_SEEDS[:5], "total_steps": 10_000,
              "eval_episodes": 2, "max_episode_steps": 1000, "checkpoint_every": 1000, "curve_points": 20,
              "planner": {}, "batch_size": 128, "inertia": "cylinder"},
    # paper: the authors' protocol — 10 seeds × 1 M steps on each body, α ∈ {50, 100} (both released), every final
    # model evaluated for 100 episodes on each body (§5.5–5.6)
    "paper": {"alphas": [50.0, 100.0], "algos": list(ALGOS), "train_bodies": ["light", "heavy"],
              "eval_bodies": ["heavy", "light"], "seeds": PAPER_SEEDS, "total_steps": 1_000_000,
              "eval_episodes": 100, "max_episode_steps": 1000, "checkpoint_every": 10_000, "curve_points": 100,
              "planner": {}, "batch_size": 128, "inertia": "cylinder"},
}


def grid(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """Per training body: MaxDiff at every α, then each baseline at α = 0."""
    out = []
    for body in cfg["train_bodies"]:
        for algo in cfg["algos"]:
            alphas = cfg["alphas"] if algo == "MaxDiff" else [0.0]
            out += [{"algo": algo, "alpha": float(a), "train_body": body} for a in alphas]
    return out


def resolve(setting: dict[str, Any], cfg: dict[str, Any]) -> Run:
    """swimmer_alpha's run on ``BODIES[train_body]``, its training loop without evaluation episodes, and the
    transfer evaluation (bodies, episodes, how each algorithm acts) in ``extra``."""
    planner = {"alpha": setting["alpha"]} if setting["algo"] == "MaxDiff" else {}
    train_cfg = {**cfg, "eval_every": cfg["total_steps"], "eval_episodes": 0}
    run = maxdiff_paper_run(setting["algo"], BODIES[setting["train_body"]], train_cfg,
                            env_kwargs={"inertia": cfg["inertia"]}, planner=planner)
    extra = {"curve_points": cfg["curve_points"], "eval_bodies": {b: BODIES[b] for b in cfg["eval_bodies"]},
             "eval_episodes": cfg["eval_episodes"], "eval_deterministic": setting["algo"] != "SAC"}
    return replace(run, extra=extra)


def validate(cfg: dict[str, Any]) -> None:
    check_choices("algorithm", cfg["algos"], ALGOS)
    bad = [b for b in [*cfg["train_bodies"], *cfg["eval_bodies"]] if b not in BODIES]
    if bad:
        raise ValueError(f"unknown Swimmer body(ies) {bad} in train_bodies/eval_bodies; valid bodies are "
                         f"{', '.join(BODIES)}")
    check_choices("inertia", [cfg["inertia"]], INERTIA_MODELS)
    if any(not a > 0 for a in cfg["alphas"]):
        raise ValueError(f"alphas must be > 0, got {cfg['alphas']} (α = 0 is NN-MPPI without its control prior)")
    if cfg["eval_episodes"] < 1:
        raise ValueError(f"eval_episodes (final-model episodes per evaluation body) must be >= 1, "
                         f"got {cfg['eval_episodes']}")


def run_one(run: Run, seed: int, ctx: RunContext) -> xr.Dataset:
    """Train on the run's body; keep the learning curves and the final model's episodes on every evaluation body."""
    agent, _ = make_agent(run.algo, run.make_env(), seed=seed, config=run.agent)
    ds = ctx.train(run, agent, seed)
    total, points = run.train.total_steps, run.extra["curve_points"]
    out = xr.Dataset(coords={"curve_step": curve_grid(total, points)})
    for name, values in learning_curve(ds, total, points, run.max_episode_steps).items():
        out[name] = ("curve_step", values)
    bodies, n = run.extra["eval_bodies"], run.extra["eval_episodes"]
    returns, lengths = np.zeros((len(bodies), n)), np.zeros((len(bodies), n), dtype=np.int64)
    for i, env_id in enumerate(bodies.values()):
        env = replace(run, env=env_id).make_env()
        try:
            returns[i], lengths[i] = evaluate(agent, env, n, seed=seed, step=total,
                                              deterministic=run.extra["eval_deterministic"])
        finally:
            env.close()
    out["eval_return"] = (("eval_body", "eval_episode"), returns)
    out["eval_length"] = (("eval_body", "eval_episode"), lengths)
    out["eval_return"].attrs["long_name"] = "final-model episode return on eval_body"
    return out.assign_coords(eval_body=list(bodies), eval_episode=np.arange(n))


def finish(ds: xr.Dataset, cfg: dict[str, Any]) -> xr.Dataset:
    return ds.reindex(alpha=sorted(ds.alpha.values.tolist()))  # α ascending: baselines (0) first


def transfer_table(ds: xr.Dataset) -> xr.Dataset:
    """The §5.6 table from the final evaluations: per (algo, alpha, train_body, eval_body) the pooled ``mean`` and
    ``std`` over every seed's episodes, and ``seed_std``, the std of the per-seed means (the bracketed numbers)."""
    ret = ds.eval_return
    pooled = ret.stack(sample=("seed", "eval_episode"))
    return xr.Dataset({"mean": pooled.mean("sample"), "std": pooled.std("sample"),
                       "seed_std": ret.mean("eval_episode").std("seed")})


__all__ = ["finish", "grid", "resolve", "run_one", "transfer_table", "validate"]

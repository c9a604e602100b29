"""The reproduction scorecard: one row per published claim — the published value, ours, and a verdict by a stated rule.

Every number comes from data: ours from ``data/<experiment>/<scale>.nc``, the published ones from the authors'
released results (``data/published/*.nc`` through :mod:`mdrl_lib.references`). Each experiment notebook prints its
own rows with the function below that builds them (its "result, stated plainly" cell), and
``notebooks/99_scorecard.ipynb`` writes all of them to ``REPRODUCTION.md`` (:func:`write_markdown`).

Rules (the ``rule`` column names the one a row uses):

* ``range`` — ours at the **same environment step** is inside the published [min, max] over the authors' seeds
  (our seed mean; the row also gives how many of our seeds are inside);
* ``best`` — the method the published data rank first is first in ours: its mean beats every other method's, and
  it beats each of them in at least 2 of every 3 of our seeds (seed by seed, over the seeds where both have a
  value) — so one lucky seed cannot carry it;
* ``spread`` — the method whose seeds the published data spread least (std over seeds, same step) is the least
  spread in ours (a claim about consistency, e.g. MaxDiff on the light-tail Swimmer);
* ``claim`` — the paper states a direction but released no numbers at our budget: the direction holds for the
  means of ours and in at least 2 of every 3 seeds.

Verdicts: ``reproduced`` / ``not reproduced`` (``best``, ``claim``), ``inside`` / ``outside`` (``range``).
A claim measured at a budget smaller than the paper's says so in its ``ours`` column.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from mdrl_lib import references

COLUMNS = ("paper", "figure", "claim", "published", "ours", "rule", "verdict")
VERDICTS = ("reproduced", "not reproduced", "inside", "outside", "no data")
PAPERS = {"maxdiff": "MaxDiff RL", "diffmaxent": "DiffSAC/DiffPPO/DiffWPO", "dime": "DIME"}


@dataclass(frozen=True)
class Row:
    """One claim of the scorecard."""

    paper: str
    figure: str
    claim: str
    published: str
    ours: str
    rule: str
    verdict: str


def _fmt(x: float) -> str:
    if not np.isfinite(x):
        return "nan"
    return f"{x:.0f}" if abs(x) >= 100 else (f"{x:.1f}" if abs(x) >= 1 else f"{x:.3f}")


def _mean(values) -> float:
    """Mean of the finite values (NaN, without a warning, when there are none)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


def _spread(values: np.ndarray) -> str:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return f"{_fmt(v.mean())} [{_fmt(v.min())}, {_fmt(v.max())}]" if v.size else "no finite values"


def _majority(wins: np.ndarray) -> bool:
    """``True`` when at least 2 of every 3 comparisons hold (rounded up: 2/3, 3/4, 4/5, 7/10 ...)."""
    wins = np.asarray(wins, dtype=bool)
    return bool(wins.size and wins.sum() >= np.ceil(2 * wins.size / 3))


def _seed_wins(a: np.ndarray, b: np.ndarray, lower_is_better: bool) -> np.ndarray:
    """Seed by seed, where ``a`` beats ``b``; only the seeds where both have a value count (a seed with no value —
    e.g. a point-mass policy whose evaluation episodes all left the box — is no comparison either way)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    both = np.isfinite(a) & np.isfinite(b)
    return (a[both] < b[both]) if lower_is_better else (a[both] > b[both])


def _range_row(paper: str, figure: str, what: str, ours: np.ndarray, published: xr.DataArray, step: int) -> Row:
    """Rule ``range`` at ``step``; the published curve is read at its last grid point at or before ``step``."""
    pub, at = references.read_at(published, step)
    pub = pub[np.isfinite(pub)]
    o = np.asarray(ours, dtype=float)
    o = o[np.isfinite(o)]
    where = f"{step:,} steps" + ("" if at == step else f" (published read at {at:,})")
    if not (o.size and pub.size):
        return Row(PAPERS[paper], figure, f"{what} at {where}", _spread(pub), _spread(o), "range", "no data")
    inside = (o >= pub.min()) & (o <= pub.max())
    verdict = "inside" if pub.min() <= o.mean() <= pub.max() else "outside"
    return Row(PAPERS[paper], figure, f"{what} at {where}", f"{_spread(pub)} ({pub.size} seeds, same step)",
               f"{_spread(o)} ({o.size} seeds; {int(inside.sum())}/{o.size} inside)", "range", verdict)


# ----- MaxDiff RL ---------------------------------------------------------------------------------------------

def _against_published(figure: str, best: dict[str, np.ndarray], curves: dict[str, xr.DataArray], steps: int, *,
                       what: str, order_what: str, published_note: str, ours_note: str,
                       ) -> tuple[list[Row], dict[str, np.ndarray]]:
    """The rows every MaxDiff figure gets against the authors' released curves at our step: one ``range`` row per
    method (``what`` formatted with ``{k}``, the method) and one ``best`` row at equal steps (higher is better).
    Returns the rows and the published seeds' values read at ``steps`` per method (for further rules)."""
    rows = [_range_row("maxdiff", figure, what.format(k=k), best[k], curve, steps) for k, curve in curves.items()]
    at_step = {k: references.read_at(curve, steps)[0] for k, curve in curves.items()}
    rows.append(_order_row("maxdiff", figure, order_what, {k: _mean(v) for k, v in at_step.items()}, best,
                           lower_is_better=False, published_note=published_note, ours_note=ours_note))
    return rows, at_step


def point_mass_published_error(beta: float, algo: str) -> np.ndarray:
    """The kept episodes of :func:`mdrl_lib.references.published_point_mass_error`, pooled: their mean is the
    paper's bar, their std its error bar."""
    err = references.published_point_mass_error(algo, beta).values
    return err[np.isfinite(err)]


def _order_row(paper: str, figure: str, what: str, published_means: dict[str, float],
               ours: dict[str, np.ndarray], *, lower_is_better: bool, published_note: str, ours_note: str) -> Row:
    """Rule ``best``: the method the published data rank first is first in ours too — its mean beats every other
    method's, and it beats each of them in at least 2 of every 3 of our seeds (seed by seed). Only the winner is
    required: the papers' claims are about the best method, and the order of near-tied others is not a claim."""
    sign = 1.0 if lower_is_better else -1.0
    if (any(not np.isfinite(np.asarray(v, dtype=float)).any() for v in ours.values())
            or not all(np.isfinite(v) for v in published_means.values())):
        return Row(PAPERS[paper], figure, what, published_note, ours_note, "best", "no data")
    order = sorted(published_means, key=lambda a: sign * published_means[a])
    best, others = order[0], order[1:]
    ours_means = {a: _mean(v) for a, v in ours.items()}
    mean_ok = all(sign * (ours_means[best] - ours_means[o]) < 0 for o in others)
    seeds_ok = all(_majority(_seed_wins(ours[best], ours[o], lower_is_better)) for o in others)
    verdict = "reproduced" if mean_ok and seeds_ok else "not reproduced"
    better = "<" if lower_is_better else ">"
    return Row(PAPERS[paper], figure, f"{what}: {best} best (published {f' {better} '.join(order)})",
               ", ".join(f"{a} {_fmt(published_means[a])}" for a in order) + f" ({published_note})",
               ", ".join(f"{a} {_fmt(ours_means[a])}" for a in order) + f" ({ours_note})", "best", verdict)


def point_mass_rows(ds: xr.Dataset) -> list[Row]:
    """Point mass (Figs 1–2): running max at our budget against the authors' seeds at the same step, and the
    published best method by final-policy error per β (published at 100 k steps; ours at our budget)."""
    from mdrl_lib.experiments import point_mass

    cfg = json.loads(ds.attrs["config"])
    steps, n = int(cfg["total_steps"]), ds.sizes["seed"]
    rows = []
    err = point_mass.final_error(ds).mean("eval_episode")  # (algo, beta, seed)
    for beta in ds.beta.values.tolist():
        for algo in ds.algo.values.tolist():
            pub = references.published_curve(references.published_folder(algo, "point_mass", beta=beta))
            ours = ds.best_return.sel(algo=algo, beta=beta).isel(curve_step=-1).values
            rows.append(_range_row("maxdiff", "10 · point mass", f"β = {beta:g}, {algo}: best training return",
                                   ours, pub, steps))
        published = {a: float(point_mass_published_error(beta, a).mean()) for a in ds.algo.values.tolist()}
        ours = {a: err.sel(algo=a, beta=beta).values for a in ds.algo.values.tolist()}
        rows.append(_order_row("maxdiff", "10 · point mass", f"β = {beta:g}, final-policy error", published, ours,
                               lower_is_better=True, published_note="100 k steps, 10 seeds",
                               ours_note=f"{steps:,} steps, {n} seeds"))
    return rows


def swimmer_alpha_rows(ds: xr.Dataset) -> list[Row]:
    """Heavy Swimmer (Fig. 3): running max against the authors' seeds at our budget, and the published best method
    by running max at that same step and by final-policy return (published at 1 M steps)."""
    cfg = json.loads(ds.attrs["config"])
    steps, n = int(cfg["total_steps"]), ds.sizes["seed"]
    runs = [(str(a), float(al)) for a in ds.algo.values for al in ds.alpha.values
            if ds.eval_return.sel(algo=a, alpha=al).notnull().any()]
    name = {r: (f"MaxDiff α={r[1]:g}" if r[0] == "MaxDiff" else r[0]) for r in runs}
    folder = {r: references.published_folder(r[0], "swimmer", body="heavy", alpha=r[1]) for r in runs}
    best = {name[r]: ds.best_return.sel(algo=r[0], alpha=r[1]).isel(curve_step=-1).values for r in runs}
    rows, _ = _against_published("11 · heavy Swimmer", best,
                                 {name[r]: references.published_curve(folder[r]) for r in runs}, steps,
                                 what="{k}: best training return", order_what="best training return at equal steps",
                                 published_note=f"{steps:,} steps, 10 seeds", ours_note=f"{steps:,} steps, {n} seeds")
    final = {name[r]: ds.eval_return.sel(algo=r[0], alpha=r[1]).isel(step=-1).mean("eval_episode").values
             for r in runs}
    pub_final = {name[r]: float(_mean(references.published_final_eval(folder[r], "heavy").values))
                 for r in runs}
    rows.append(_order_row("maxdiff", "11 · heavy Swimmer", "final-policy return (entropy bonus on)", pub_final,
                           final, lower_is_better=False, published_note="1 M steps, 10 seeds × 100 episodes",
                           ours_note=f"{steps:,} steps, {n} seeds × {ds.sizes['eval_episode']} episodes"))
    return rows


def _spread_row(paper: str, figure: str, what: str, published: dict[str, np.ndarray], ours: dict[str, np.ndarray],
                published_note: str, ours_note: str) -> Row:
    """Rule ``spread``: the method whose seeds the published data spread least (std over seeds) has the smallest
    std over our seeds too — a claim about consistency, not about the mean."""
    pub_std = {a: float(np.nanstd(np.asarray(v, dtype=float))) for a, v in published.items()}
    our_std = {a: float(np.nanstd(np.asarray(v, dtype=float))) for a, v in ours.items()}
    if any(np.isfinite(np.asarray(v, dtype=float)).sum() < 2 for v in ours.values()):
        return Row(PAPERS[paper], figure, what, published_note, ours_note, "spread", "no data")
    order = sorted(pub_std, key=pub_std.get)
    verdict = "reproduced" if min(our_std, key=our_std.get) == order[0] else "not reproduced"
    return Row(PAPERS[paper], figure, f"{what}: {order[0]} least spread over seeds (published std "
               f"{' < '.join(order)})", ", ".join(f"{a} ±{_fmt(pub_std[a])}" for a in order) + f" ({published_note})",
               ", ".join(f"{a} ±{_fmt(our_std[a])}" for a in order) + f" ({ours_note})", "spread", verdict)


def swimmer_light_rows(ds: xr.Dataset) -> list[Row]:
    """Light vs heavy tail and transfer (Fig. 4, §5.5–5.6): per training body, running max against the authors'
    seeds at our step and the published best method at that step; on the light tail, which of MaxDiff and NN-MPPI
    spreads less over seeds (the paper's light-tail claim; SAC is left out: its seeds agree on a low return); and the
    transfer claim — MaxDiff's model trained on the light tail beats the one trained on the heavy tail on the heavy
    body (published at 1 M steps only)."""
    from mdrl_lib.experiments.swimmer_light import PUBLISHED_TRANSFER

    cfg = json.loads(ds.attrs["config"])
    steps, n = int(cfg["total_steps"]), ds.sizes["seed"]
    rows = []
    runs = [(str(a), float(al)) for a in ds.algo.values for al in ds.alpha.values
            if ds.best_return.sel(algo=a, alpha=al).notnull().any()]
    name = {r: (f"MaxDiff α={r[1]:g}" if r[0] == "MaxDiff" else r[0]) for r in runs}
    for body in ds.train_body.values.tolist():
        figure = f"12 · {body}-tail Swimmer"
        pub = {name[r]: references.published_curve(references.published_folder(r[0], "swimmer", body=body,
                                                                                  alpha=r[1])) for r in runs}
        best = {name[r]: ds.best_return.sel(algo=r[0], alpha=r[1], train_body=body).isel(curve_step=-1).values
                for r in runs}
        notes = {"published_note": f"{steps:,} steps, 10 seeds", "ours_note": f"{steps:,} steps, {n} seeds"}
        body_rows, at_step = _against_published(
            figure, best, pub, steps, what=f"{{k}} trained on the {body} tail: best training return",
            order_what=f"{body} tail: best training return at equal steps", **notes)
        rows += body_rows
        planners = [k for k in at_step if k.startswith("MaxDiff")][-1:] + [k for k in at_step if k == "NN-MPPI"]
        if body == "light" and len(planners) == 2:  # the paper's light-tail claim: MaxDiff's seeds agree, NN-MPPI's not
            rows.append(_spread_row("maxdiff", figure, "light tail: best training return at equal steps",
                                    {k: at_step[k] for k in planners}, {k: best[k] for k in planners}, **notes))
    md = [r for r in runs if r[0] == "MaxDiff"]
    if md and {"light", "heavy"} <= set(ds.train_body.values.tolist()) and "heavy" in ds.eval_body.values.tolist():
        algo, alpha = md[-1]
        final = ds.eval_return.sel(algo=algo, alpha=alpha, eval_body="heavy").mean("eval_episode")
        pub = (PUBLISHED_TRANSFER[(algo, alpha, "light", "heavy")][0],
               PUBLISHED_TRANSFER[(algo, alpha, "heavy", "heavy")][0])
        rows.append(_claim_row("maxdiff", "12 · transfer", f"{name[md[-1]]} on the heavy body: the model trained on "
                               "the light tail beats the one trained on the heavy tail",
                               final.sel(train_body="light").values, final.sel(train_body="heavy").values,
                               f"{steps:,} steps, {ds.sizes['eval_episode']} episodes per seed",
                               published=f"{_fmt(pub[0])} vs {_fmt(pub[1])} (1 M steps, 10 seeds × 100 episodes)"))
    return rows


def cheetah_ant_rows(ds: xr.Dataset) -> list[Row]:
    """Episodic HalfCheetah and Ant (§5.8): running max of the training return at our budget against the authors'
    seeds at the same step, and the published best method at that same step (the paper's own claim — MaxDiff ahead
    and more consistent at 1 M steps — lies beyond a quick budget; the notebook says so)."""
    from mdrl_lib.experiments.cheetah_ant import CHEETAH, PUBLISHED_ENV, env_config, final_best

    cfg = json.loads(ds.attrs["config"])
    n = ds.sizes["seed"]
    rows = []
    final = final_best(ds)
    for env in ds.env.values.tolist():
        steps = int(env_config(env, cfg)["total_steps"])  # each environment at the end of its own budget
        planner = env_config(env, cfg)["planner"]
        figure = "14 · HalfCheetah" if env == CHEETAH else "14 · Ant"
        curves = {a: references.published_curve(references.published_folder(a, PUBLISHED_ENV[env], alpha=5))
                  for a in ds.algo.values.tolist()}
        best = {a: final.sel(env=env, algo=a).values for a in curves}
        rows += _against_published(figure, best, curves, steps, what=f"{env} {{k}}: best training return",
                                   order_what=f"{env}: best training return at equal steps",
                                   published_note=f"{steps:,} steps, gym v3, 10 seeds",
                                   ours_note=f"{steps:,} steps, {n} seeds"
                                   + (f", planners with {planner}" if planner else ""))[0]
    return rows


def single_shot_rows(ds: xr.Dataset) -> list[Row]:
    """Single-shot learning (§5.7): per environment, the running max of the chunk returns at our budget against the
    authors' single-shot seeds at the same step, and the published best method at that same step (the paper's claim —
    MaxDiff's one deployment goes further and more consistently, at 1 M steps — lies beyond a quick budget; the
    notebook says so). Each environment is read at the end of its own last chunk: the budgets differ per environment
    and ``chunk_step`` is their union, so the shorter run is NaN past its end."""
    from mdrl_lib.experiments.single_shot import CHEETAH, SWIMMER, steps_of

    # env -> (figure, released env name, body, MaxDiff α of the released single-shot runs: §4.2–4.3)
    released = {SWIMMER: ("13 · single-shot light Swimmer", "swimmer", "light", 50.0),
                CHEETAH: ("13 · single-shot HalfCheetah", "half_cheetah", None, 5.0)}
    cfg = json.loads(ds.attrs["config"])
    chunk, n = int(cfg["chunk"]), ds.sizes["seed"]
    rows = []
    for env in ds.env.values.tolist():
        figure, name, body, alpha = released[env]
        steps = steps_of(env, cfg) // chunk * chunk
        curves = {a: references.published_curve(references.published_folder(a, name, body=body, alpha=alpha,
                                                                             singleshot=True))
                  for a in ds.algo.values.tolist()}
        best = {a: ds.best_return.sel(env=env, algo=a, chunk_step=steps).values for a in curves}
        n_pub = max(pub.sizes["seed"] for pub in curves.values())
        rows += _against_published(figure, best, curves, steps,
                                   what=f"{env} {{k}}: best {chunk:,}-step chunk return (one deployment)",
                                   order_what=f"{env}: best chunk return at equal steps, one deployment",
                                   published_note=f"{steps:,} steps, gym v3, {n_pub} seeds",
                                   ours_note=f"{steps:,} steps, {n} seeds")[0]
    return rows


# ----- DiffSAC / DiffPPO / DiffWPO ----------------------------------------------------------------------------

def _claim_row(paper: str, figure: str, what: str, better: np.ndarray, worse: np.ndarray, ours_note: str,
               *, lower_is_better: bool = False, published: str = "claimed; no released numbers") -> Row:
    b, w = np.asarray(better, dtype=float), np.asarray(worse, dtype=float)
    wins = _seed_wins(b, w, lower_is_better)
    mean_ok = (_mean(b) < _mean(w)) if lower_is_better else (_mean(b) > _mean(w))
    verdict = "reproduced" if mean_ok and _majority(wins) else "not reproduced"
    return Row(PAPERS[paper], figure, what, published,
               f"{_fmt(_mean(b))} vs {_fmt(_mean(w))}; {int(wins.sum())}/{wins.size} seeds ({ours_note})",
               "claim", verdict)


def diffusion_maxent_rows(ds: xr.Dataset) -> list[Row]:
    """Each Diff* against its Gaussian base (the paper's claim: the diffusion policy does at least as well), per
    environment and K, on the mean evaluation return of the last two evaluations."""
    from mdrl_lib.experiments import diffusion_maxent

    cfg = json.loads(ds.attrs["config"])
    fs = diffusion_maxent.final_scores(ds)
    rows = []
    for env in ds.env.values.tolist():
        for algo, base in diffusion_maxent.BASE_OF.items():
            if algo not in ds.algo.values or base not in ds.algo.values:
                continue
            b = fs.sel(env=env, algo=base, K=0).values
            for K in ds.K.values.tolist():
                d = fs.sel(env=env, algo=algo, K=K).values
                if K == 0 or np.isnan(d).all():
                    continue
                rows.append(_claim_row("diffmaxent", "20 · MuJoCo", f"{env}: {algo} (K = {K}) ≥ {base}", d, b,
                                       f"{diffusion_maxent.env_steps(cfg, env):,} steps, {len(d)} seeds"))
    return rows


def bandit_uniform_floor(ds: xr.Dataset) -> np.ndarray:
    """Energy distance of uniform random actions on the action square to the Boltzmann target, per seed of ``ds``
    (the same number of samples as the runs, and the same seed-specific target samples): a policy that is not
    closer than this has not learned the target's shape."""
    from mdrl_lib.envs.bandit import MultimodalBanditEnv
    from mdrl_lib.experiments import diffusion_toy

    n, env = int(json.loads(ds.attrs["config"])["n_samples"]), MultimodalBanditEnv()
    return np.array([diffusion_toy.energy_distance(np.random.default_rng([int(s), 5]).uniform(-1, 1, (n, 2)),
                                                   env.sample_boltzmann(n, np.random.default_rng([int(s), 77])))
                     for s in ds.seed.values])


def diffusion_toy_rows(ds: xr.Dataset) -> list[Row]:
    """The bandit: a diffusion policy matches the multimodal Boltzmann target better (lower energy distance) than
    its Gaussian base, at each K — and, as a floor that is no claim of the paper, better than uniform random
    actions (seed by seed against :func:`bandit_uniform_floor`)."""
    from mdrl_lib.experiments import diffusion_toy

    rows = []
    uniform = bandit_uniform_floor(ds)
    for algo, base in diffusion_toy.DIFFUSION.items():
        if algo not in ds.algo.values or base not in ds.algo.values:
            continue
        b = ds.energy_distance.sel(algo=base, K=0).values
        for K in ds.K.values.tolist():
            d = ds.energy_distance.sel(algo=algo, K=K).values
            if K == 0 or np.isnan(d).all():
                continue
            rows.append(_claim_row("diffmaxent", "22 · bandit", f"{algo} (K = {K}) closer to the Boltzmann target "
                                   f"than {base} (energy distance)", d, b, f"{len(d)} seeds", lower_is_better=True,
                                   published="claimed (expressivity); no released numbers"))
            rows.append(_claim_row("diffmaxent", "22 · bandit", f"{algo} (K = {K}) closer to the Boltzmann target "
                                   "than uniform random actions (energy distance)", d, uniform, f"{len(d)} seeds",
                                   lower_is_better=True, published="a floor, not a claim of the paper"))
    return rows


# ----- DIME ---------------------------------------------------------------------------------------------------

def dime_rows(ds: xr.Dataset) -> list[Row]:
    """DIME: our evaluation return at each of the authors' grid steps we reached, against their 10 seeds."""
    task = ds.attrs["reference_task"]
    pub = references.published_curve(task)
    ours_steps = set(ds.step.values.tolist())
    rows = []
    for step in pub.step.values.tolist():
        if step in ours_steps and step > 1:
            o = ds.eval_return.sel(step=step).mean("eval_episode").values
            rows.append(_range_row("dime", "21 · DIME", f"{ds.attrs['env']} ({ds.attrs['critic']}) vs {task}: "
                                   "evaluation return", o, pub, int(step)))
    return rows


def dime_dmc_rows(ds: xr.Dataset) -> list[Row]:
    """DIME on DeepMind Control: per task, our evaluation return at each published grid step we reached, against
    the authors' 10 seeds (the SAC baseline has no published curve, so no row)."""
    from mdrl_lib.experiments.dime_dmc import grid_comparison

    cmp = grid_comparison(ds)
    rows = []
    if "DIME" not in ds.algo.values:
        return rows
    for env in cmp.env.values.tolist():
        task = json.loads(ds.attrs["reference_task"])[env]
        pub = references.published_curve(task)
        for step in cmp.step.values.tolist():
            rows.append(_range_row("dime", "21 · DIME on DMC", f"{env} ({ds.attrs['critic']}) vs {task}: evaluation "
                                   "return", cmp.ours.sel(env=env, algo="DIME", step=step).values, pub, int(step)))
    return rows


#: experiment -> the function that builds its rows (the order of REPRODUCTION.md)
ROWS = {"point_mass": point_mass_rows, "swimmer_alpha": swimmer_alpha_rows, "swimmer_light": swimmer_light_rows,
        "cheetah_ant": cheetah_ant_rows, "single_shot": single_shot_rows,
        "diffusion_maxent": diffusion_maxent_rows, "diffusion_toy": diffusion_toy_rows, "dime": dime_rows,
        "dime_dmc": dime_dmc_rows}


def scorecard(scale: str = "quick", folder: str | Path | None = None) -> tuple[list[Row], list[str]]:
    """Every row from the data files of ``scale`` that exist (nothing is trained); and the experiments missing."""
    from mdrl_lib.results import load_results, results_path

    rows, missing = [], []
    for name, fn in ROWS.items():
        path = results_path(name, scale, folder)
        if not path.exists():
            missing.append(name)
            continue
        rows += fn(load_results(path))
    return rows, missing


def to_frame(rows: Sequence[Row]):
    """The rows as a ``pandas.DataFrame`` (for display in a notebook)."""
    import pandas as pd

    return pd.DataFrame([asdict(r) for r in rows], columns=list(COLUMNS))


def markdown(rows: Sequence[Row], missing: Sequence[str] = (), *, scale: str = "quick") -> str:
    """``REPRODUCTION.md``: a header, the rules, then one table row per claim (deterministic: no dates)."""
    lines = ["# Reproduction scorecard", "",
             f"Written by `notebooks/99_scorecard.ipynb` from the {scale}-scale results in `data/` and the authors' "
             "released results in `data/published/` — no number here is typed. Regenerate with "
             "`make figures NOTEBOOKS=99`.", "",
             "Rules: **range** — ours at the same environment step inside the published [min, max] over the "
             "authors' seeds (our seed mean); **best** — the method the published data rank first is first in ours: "
             "its mean beats every other's and it beats each in at least 2 of 3 seeds; **spread** — the method the "
             "published seeds spread least (std over seeds) is the least spread in ours; **claim** — the paper states "
             "a direction without released numbers: it holds for our means and in at least 2 of 3 seeds. Values are "
             "mean [min, max] over seeds.", ""]
    counts = {v: sum(r.verdict == v for r in rows) for v in VERDICTS}
    lines += ["Summary: " + ", ".join(f"{v}: {c}" for v, c in counts.items()) + f" (of {len(rows)} rows).", ""]
    if missing:
        lines += [f"Not in `data/` at this scale (no rows): {', '.join(missing)}.", ""]
    lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        lines.append("| " + " | ".join(str(getattr(r, c)).replace("|", "/") for c in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def write_markdown(path: str | Path, scale: str = "quick") -> str:
    """Write the scorecard of ``scale`` to ``path``; returns the text."""
    text = markdown(*scorecard(scale), scale=scale)
    Path(path).write_text(text, encoding="utf-8")
    return text

"""Aggregate RL scores over seeds and tasks: IQM, stratified bootstrap CIs, performance profiles.

Follows Agarwal, Schwarzer, Castro, Courville & Bellemare, *Deep Reinforcement Learning at the Edge of the
Statistical Precipice*, NeurIPS 2021 (arXiv 2108.13264; the ``rliable`` library): with few seeds, report the
interquartile mean (IQM) with stratified-bootstrap confidence intervals and performance profiles beside the
familiar mean ± std.

Our own implementation (rliable 1.2.0 does not import with pandas 3 and ignores its ``random_state``); the
definitions match rliable's so numbers are comparable.

Shapes: a score matrix is ``(runs, tasks)`` — runs are independent seeds, tasks are environments (one task is
``scores[:, None]``). Every bootstrap draws its randomness from an explicit ``numpy.random.Generator`` (or an
int seed, wrapped with ``np.random.default_rng``), so the same seed gives the same interval; ``None`` is
refused because it would make figures irreproducible.

NaN scores are not supported: bootstrap functions raise; the point estimators follow numpy (NaN propagates).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from numbers import Integral, Real

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

__all__ = [
    "aggregate_over_seeds",
    "iqm",
    "mean_std",
    "normalize_scores",
    "performance_profile",
    "performance_profile_ci",
    "stratified_bootstrap_ci",
]

#: Fraction cut from *each* end for the interquartile mean (rliable's ``aggregate_iqm``).
IQM_TRIM = 0.25

# Bound on the resampled array held at once by aggregate_over_seeds (float64 elements, ~64 MiB).
_MAX_ELEMENTS = 2**23

Statistic = str | Callable[[np.ndarray], np.ndarray]


# --- Point estimators ---


def mean_std(x: ArrayLike, axis: int | Sequence[int] | None = None, ddof: int = 1) -> tuple:
    """Mean and standard deviation of ``x`` along ``axis`` (``None``: all elements).

    ``ddof=1`` (default) is the sample standard deviation, as usually reported as "mean ± std over N seeds";
    where fewer than ``ddof + 1`` values are reduced the std is NaN (no warning: one smoke-scale seed is
    legitimate). Returns ``(mean, std)``, each of ``x``'s shape with ``axis`` removed (floats for ``None``).
    """
    a = np.asarray(x, dtype=float)
    axis = tuple(axis) if isinstance(axis, Sequence) else axis
    n = a.size if axis is None else int(np.prod([a.shape[i] for i in np.atleast_1d(axis)]))
    if n == 0:
        raise ValueError(f"mean_std needs at least one value along axis={axis}; got shape {a.shape}")
    mean = a.mean(axis=axis)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "Degrees of freedom <= 0" -> NaN, documented
        std = a.std(axis=axis, ddof=ddof)
    return mean, std


def iqm(x: ArrayLike, axis: int | Sequence[int] | None = None) -> np.ndarray | float:
    """Interquartile mean: mean of the middle 50 % of the values (Agarwal et al. 2021, rliable's IQM).

    Defined exactly as rliable's ``aggregate_iqm``: ``scipy.stats.trim_mean(values, 0.25)``, i.e. sort the
    ``n`` values, drop ``floor(0.25 * n)`` from *each* end and average the rest (no fractional weighting of
    the boundary values). ``axis=None`` (default) pools all values — for a ``(runs, tasks)`` score matrix that
    is the flattened runs x tasks scores, as in rliable. An int or tuple of axes pools just those axes.

    Example: ``iqm(np.arange(1, 9)) == mean([3, 4, 5, 6]) == 4.5``.
    Returns a float for ``axis=None``, else an array of ``x``'s shape with ``axis`` removed.
    """
    a = np.asarray(x, dtype=float)
    if axis is None:
        flat = a.reshape(-1)
    else:
        axes = tuple(np.atleast_1d(axis).tolist())
        axes = tuple(ax % a.ndim if -a.ndim <= ax < a.ndim else ax for ax in axes)
        if any(not 0 <= ax < a.ndim for ax in axes) or len(set(axes)) != len(axes):
            raise ValueError(f"iqm: axis={axis} is invalid for an array of ndim {a.ndim}; valid: "
                             f"None or distinct ints in [-{a.ndim}, {a.ndim - 1}]")
        rest = [ax for ax in range(a.ndim) if ax not in axes]
        n = int(np.prod([a.shape[ax] for ax in axes]))
        flat = np.transpose(a, rest + list(axes)).reshape(*[a.shape[ax] for ax in rest], n)
    if flat.shape[-1] == 0:
        raise ValueError(f"iqm needs at least one value along axis={axis}; got shape {a.shape}")
    out = _interquartile_mean(flat, axis=-1)
    return float(out) if np.ndim(out) == 0 else out


def _interquartile_mean(a: np.ndarray, axis: int) -> np.ndarray:
    """``scipy.stats.trim_mean(a, 0.25, axis)``: sort, drop ``floor(0.25 n)`` values per end, average.

    Written with numpy so that importing this module does not pull in scipy.stats (~1 s), and because a full
    sort of the few pooled runs is faster than trim_mean's partition on (n_boot, runs x tasks, cells) arrays.
    """
    n = a.shape[axis]
    cut = int(IQM_TRIM * n)  # trim_mean's ``lowercut = int(proportiontocut * nobs)``
    middle = [slice(None)] * a.ndim
    middle[axis] = slice(cut, n - cut)
    return np.sort(a, axis=axis)[tuple(middle)].mean(axis=axis)


def normalize_scores(scores, random_score, reference_score):
    """``(scores - random_score) / (reference_score - random_score)``: 0 = random policy, 1 = reference.

    Normalise against fixed references (e.g. a random policy and the published result), never against
    whatever else is in the plot. Broadcasts like numpy; xarray inputs broadcast by dimension name and stay
    xarray. Raises ``ValueError`` where ``reference_score == random_score`` (division by zero).
    """

    def as_array(v):
        return v if isinstance(v, (xr.DataArray, xr.Dataset)) else np.asarray(v, dtype=float)

    scores, random_score, reference_score = map(as_array, (scores, random_score, reference_score))
    span = reference_score - random_score
    if bool(np.any(np.asarray(span == 0))):
        raise ValueError(f"reference_score must differ from random_score everywhere; both equal where "
                         f"reference_score - random_score == 0 (reference={reference_score!r}, "
                         f"random={random_score!r})")
    return (scores - random_score) / span


# --- Stratified bootstrap ---

# Built-in statistics act on resampled arrays of shape (n_boot, runs, tasks, *rest) and reduce runs x tasks.


def _stat_mean(s: np.ndarray) -> np.ndarray:
    return s.mean(axis=(1, 2))


def _stat_median(s: np.ndarray) -> np.ndarray:
    return np.median(s.reshape(s.shape[0], -1, *s.shape[3:]), axis=1)


def _stat_iqm(s: np.ndarray) -> np.ndarray:
    return _interquartile_mean(s.reshape(s.shape[0], -1, *s.shape[3:]), axis=1)


_STATISTICS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "mean": _stat_mean,
    "median": _stat_median,
    "iqm": _stat_iqm,
}


def _resolve_statistic(statistic: Statistic) -> Callable[[np.ndarray], np.ndarray]:
    if callable(statistic):
        return statistic
    if isinstance(statistic, str) and statistic in _STATISTICS:
        return _STATISTICS[statistic]
    raise ValueError(f"unknown statistic {statistic!r}; valid: {sorted(_STATISTICS)} or a callable mapping "
                     f"(n_boot, runs, tasks) -> (n_boot, ...)")


def _check_rng(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, Integral) and not isinstance(rng, bool) and rng >= 0:
        return np.random.default_rng(int(rng))
    raise ValueError(f"rng must be a numpy.random.Generator (e.g. np.random.default_rng(0)) or a "
                     f"non-negative int seed; got {rng!r}")


def _check_ci_nboot(ci, n_boot) -> None:
    if isinstance(ci, bool) or not isinstance(ci, Real) or not 0 < ci < 1:
        raise ValueError(f"ci must be a number in the open interval (0, 1), e.g. 0.95; got {ci!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, Integral) or n_boot < 1:
        raise ValueError(f"n_boot must be an integer >= 1 (e.g. 2000); got {n_boot!r}")


def _check_scores(scores: ArrayLike, name: str = "scores") -> np.ndarray:
    a = np.asarray(scores, dtype=float)
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D with shape (runs, tasks); got ndim {a.ndim} (shape {a.shape}). "
                         f"For a single task pass {name}[:, None].")
    if 0 in a.shape:
        raise ValueError(f"{name} must have at least one run and one task; got shape {a.shape}")
    if np.isnan(a).any():
        raise ValueError(f"{name} contain {int(np.isnan(a).sum())} NaN values; valid: finite or +-inf scores "
                         f"(drop or impute missing runs first)")
    return a


def _draw_indices(rng: np.random.Generator, n_boot: int, runs: int, tasks: int) -> np.ndarray:
    """Run indices of shape (n_boot, runs, tasks): each task's runs resampled independently (stratified)."""
    return rng.integers(0, runs, size=(n_boot, runs, tasks))


def _percentile_interval(replicates: np.ndarray, ci: float) -> tuple[np.ndarray, np.ndarray]:
    alpha = 1.0 - ci
    lo, hi = np.quantile(replicates, [alpha / 2, 1 - alpha / 2], axis=0)
    return lo, hi


def _scalar_or_array(v: np.ndarray):
    return float(v) if np.ndim(v) == 0 else v


def stratified_bootstrap_ci(
    scores: ArrayLike,
    statistic: Statistic = "iqm",
    n_boot: int = 2000,
    ci: float = 0.95,
    *,
    rng: np.random.Generator | int,
) -> tuple:
    """Point estimate and percentile stratified-bootstrap confidence interval (Agarwal et al. 2021).

    ``scores``: shape ``(runs, tasks)``. Each of ``n_boot`` replicates resamples the runs *with replacement
    independently within each task* (stratified by task: a replicate never moves a score to another task),
    applies ``statistic``, and the interval is the ``(1 - ci) / 2`` and ``(1 + ci) / 2`` quantiles of the
    replicates (percentile method, numpy's linear quantile). Vectorised: all replicates are computed at once
    (memory ``n_boot * runs * tasks`` floats).

    ``statistic``: ``"iqm"`` (default; trimmed mean of the pooled runs x tasks, see :func:`iqm`), ``"mean"``,
    ``"median"``, or a callable mapping a resampled array of shape ``(n_boot, runs, tasks)`` to shape
    ``(n_boot,)`` or ``(n_boot, ...)`` (e.g. a per-task mean ``lambda s: s.mean(axis=1)``); it is also called
    on ``scores[None]`` for the point estimate.

    ``rng``: a ``numpy.random.Generator`` (required; it is advanced) or a non-negative int seed wrapped with
    ``np.random.default_rng``. The same seed gives the same interval.

    Returns ``(point, lo, hi)``: floats for a scalar statistic, else arrays of the statistic's shape.
    """
    a = _check_scores(scores)
    _check_ci_nboot(ci, n_boot)
    gen = _check_rng(rng)
    fn = _resolve_statistic(statistic)
    runs, tasks = a.shape

    point = np.asarray(fn(a[None]))
    if point.ndim == 0 or point.shape[0] != 1:
        raise ValueError(f"statistic must map shape (n_boot, runs, tasks) to (n_boot, ...); for input shape "
                         f"{(1, runs, tasks)} it returned shape {point.shape}")
    idx = _draw_indices(gen, int(n_boot), runs, tasks)
    replicates = np.asarray(fn(a[idx, np.arange(tasks)]))  # (n_boot, runs, tasks) -> (n_boot, ...)
    lo, hi = _percentile_interval(replicates, ci)
    return _scalar_or_array(point[0]), _scalar_or_array(lo), _scalar_or_array(hi)


# --- Performance profiles ---


def _profile(samples: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """(B, runs, tasks) -> (B, n_taus): per task the fraction of runs scoring > tau, averaged over tasks."""
    return (samples[..., None] > taus).mean(axis=1).mean(axis=1)


def _check_taus(taus: ArrayLike) -> np.ndarray:
    t = np.asarray(taus, dtype=float)
    if t.ndim > 1:
        raise ValueError(f"taus must be a scalar or 1-D array of thresholds; got shape {t.shape}")
    return np.atleast_1d(t)


def performance_profile(scores: ArrayLike, taus: ArrayLike) -> np.ndarray:
    """Run-score distribution / performance profile (Agarwal et al. 2021, Sec. 4.2).

    ``scores``: shape ``(runs, tasks)``; ``taus``: thresholds, shape ``(n_taus,)`` (or a scalar).
    Returns shape ``(n_taus,)``: for each tau, the fraction of runs with score ``> tau`` computed per task and
    averaged over tasks (each task weighs the same). It is non-increasing in tau, 1 below the smallest score
    and 0 at or above the largest.
    """
    a = _check_scores(scores)
    return _profile(a[None], _check_taus(taus))[0]


def performance_profile_ci(
    scores: ArrayLike,
    taus: ArrayLike,
    n_boot: int = 2000,
    ci: float = 0.95,
    *,
    rng: np.random.Generator | int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`performance_profile` with a pointwise percentile stratified-bootstrap CI.

    Same arguments as :func:`stratified_bootstrap_ci`. Returns ``(point, lo, hi)``, each of shape
    ``(n_taus,)``. Memory ``n_boot * runs * tasks * n_taus`` booleans.
    """
    t = _check_taus(taus)
    return stratified_bootstrap_ci(scores, lambda s: _profile(s, t), n_boot=n_boot, ci=ci, rng=rng)


# --- xarray: learning curves with bands ---


def mean_of_last_evaluations(curve: xr.DataArray, by: str, last: int) -> xr.DataArray:
    """Mean over the last ``last`` evaluated steps, taken separately for each value of dimension ``by``.

    ``curve`` has a ``step`` dimension holding the union of several evaluation grids (e.g. envs or algorithms with
    their own budgets, NaN where a group was never evaluated); a step counts for a group when any of its runs has
    a value there. Returns ``curve`` without ``step`` (``by`` first).
    """
    out = []
    for value in curve[by].values:
        sub = curve.sel({by: value})
        reached = sub.notnull().any([d for d in sub.dims if d != "step"])
        out.append(sub.sel(step=reached).isel(step=slice(-last, None)).mean("step"))
    return xr.concat(out, dim=by)


def aggregate_over_seeds(
    data: xr.DataArray | xr.Dataset,
    dim: str = "seed",
    *,
    rng: np.random.Generator | int,
    var: str | None = None,
    task_dim: str | None = None,
    ci_statistic: str = "iqm",
    n_boot: int = 2000,
    ci: float = 0.95,
    ddof: int = 1,
) -> xr.Dataset:
    """Reduce the ``dim`` (seed) axis of a DataArray to ``mean, std, iqm, ci_lo, ci_hi`` over the other dims.

    ``data``: a DataArray with a ``dim`` dimension (e.g. dims ``(algo, seed, step)``), or a Dataset together
    with ``var``, the name of the variable to aggregate (optional when it holds exactly one).
    ``task_dim``: optionally a task/environment dimension that is reduced too; seeds are then resampled
    independently within each task (stratified bootstrap) and the estimators pool seeds x tasks like rliable.

    Returns a Dataset whose variables have the remaining dims and coords (e.g. ``(algo, step)``):

    - ``mean``: mean over seeds (x tasks);
    - ``std``: std (``ddof``) over seeds of each seed's (task-averaged) score; NaN with a single seed;
    - ``iqm``: interquartile mean over seeds (x tasks), see :func:`iqm`;
    - ``ci_lo``, ``ci_hi``: percentile stratified-bootstrap ``ci`` interval of ``ci_statistic``
      (``"iqm"``, ``"mean"`` or ``"median"``), Agarwal et al. 2021.

    All cells share the same resampled seed indices, so a seed's whole learning curve is resampled together
    (as rliable does for sample-efficiency curves); each cell's interval equals
    ``stratified_bootstrap_ci(cell_scores, ci_statistic, n_boot, ci, rng=<same seed>)``. ``rng`` is a
    ``numpy.random.Generator`` or an int seed, as in :func:`stratified_bootstrap_ci`. The input's attrs are
    kept and the aggregation settings added.
    """
    da = _select_dataarray(data, var)
    for name, d in (("dim", dim), ("task_dim", task_dim)):
        if d is not None and d not in da.dims:
            raise ValueError(f"{name}={d!r} is not a dimension of the data; valid: {list(da.dims)}")
    if task_dim == dim:
        raise ValueError(f"task_dim must differ from dim; both are {dim!r}")
    if ci_statistic not in _STATISTICS:
        raise ValueError(f"unknown ci_statistic {ci_statistic!r}; valid: {sorted(_STATISTICS)}")
    _check_ci_nboot(ci, n_boot)
    gen = _check_rng(rng)

    reduced = [dim] if task_dim is None else [dim, task_dim]
    template = da.isel({d: 0 for d in reduced}, drop=True)  # remaining dims and their coords
    runs = da.sizes[dim]
    tasks = 1 if task_dim is None else da.sizes[task_dim]
    cells = int(np.prod(template.shape))
    values = np.asarray(da.transpose(*reduced, ...).values, dtype=float).reshape(runs, tasks, cells)
    if runs == 0 or tasks == 0:
        raise ValueError(f"need at least one entry along {reduced}; got sizes {dict(da.sizes)}")
    if np.isnan(values).any():
        raise ValueError(f"data contain {int(np.isnan(values).sum())} NaN values; valid: finite scores for "
                         f"every {dim} (drop or align runs first)")

    mean = values.mean(axis=(0, 1))
    _, std = mean_std(values.mean(axis=1), axis=0, ddof=ddof)
    iqm_ = _interquartile_mean(values.reshape(runs * tasks, cells), axis=0)

    fn = _STATISTICS[ci_statistic]
    idx = _draw_indices(gen, int(n_boot), runs, tasks)
    task_index = np.arange(tasks)
    replicates = np.empty((int(n_boot), cells))
    chunk = max(1, _MAX_ELEMENTS // (int(n_boot) * runs * tasks))
    for c0 in range(0, cells, chunk):  # chunks of cells bound memory; replicates stay vectorised
        replicates[:, c0:c0 + chunk] = fn(values[idx, task_index, c0:c0 + chunk])
    lo, hi = _percentile_interval(replicates, ci)

    over = dim if task_dim is None else f"{dim} x {task_dim}"
    pct = f"{100 * ci:g}%"

    def as_da(arr: np.ndarray, long_name: str) -> xr.DataArray:
        return template.copy(data=np.asarray(arr).reshape(template.shape)).assign_attrs(long_name=long_name)

    ds = xr.Dataset(
        {
            "mean": as_da(mean, f"mean over {over}"),
            "std": as_da(std, f"std (ddof={ddof}) over {dim}"),
            "iqm": as_da(iqm_, f"interquartile mean over {over}"),
            "ci_lo": as_da(lo, f"lower bound of {pct} stratified-bootstrap CI of the {ci_statistic}"),
            "ci_hi": as_da(hi, f"upper bound of {pct} stratified-bootstrap CI of the {ci_statistic}"),
        }
    )
    ds.attrs = {
        **da.attrs,
        "aggregated_over": over,
        "n_seeds": runs,
        "ci": float(ci),
        "n_boot": int(n_boot),
        "ci_statistic": ci_statistic,
        "ci_method": "percentile stratified bootstrap (Agarwal et al. 2021, rliable)",
    }
    return ds


def _select_dataarray(data, var: str | None) -> xr.DataArray:
    if isinstance(data, xr.DataArray):
        return data
    if isinstance(data, xr.Dataset):
        names = list(data.data_vars)
        if var is None and len(names) == 1:
            return data[names[0]]
        if var in names:
            return data[var]
        raise ValueError(f"var={var!r} does not name one data variable of the Dataset; valid: {names}")
    raise ValueError(f"data must be an xarray.DataArray or xarray.Dataset; got {type(data).__name__}")

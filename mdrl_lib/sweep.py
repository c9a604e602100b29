"""Run seeds × settings through an executor and combine the runs into one Dataset.

Two layers: :func:`run_jobs` runs any list of picklable jobs on an executor (what
:func:`mdrl_lib.experiments.run_experiment` uses), :func:`combine` merges per-run Datasets; and
``run_sweep(fn, settings, seeds)`` calls ``fn(seed=s, **setting)`` for every pair, each call returning an
``xarray.Dataset`` for one run. Each run is tagged with its setting's values and its seed as new
dimensions, and all runs are merged with :func:`xarray.combine_by_coords` — a grid of settings becomes a
dense array (``algo × beta × seed × step``), a ragged list leaves NaN where a combination was not run.

Executors:

* ``"process"`` (default): local worker processes (``spawn``, so torch is never forked); each worker gets
  ``cores // workers`` torch threads so workers do not oversubscribe the CPU.
* ``"serial"``: in this process, one run after another (debugging, notebooks at smoke scale).
* a ``dask.distributed`` scheduler address (``"tcp://host:8786"``) or a ``distributed.Client``: runs on
  a cluster. Workers need ``mdrl_lib`` importable.

Results are combined in (setting, seed) order regardless of which run finishes first, so the combined
Dataset does not depend on the executor.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

import xarray as xr
from tqdm import tqdm

Setting = Mapping[str, Any]


def grid(**axes: Sequence[Any]) -> list[dict[str, Any]]:
    """Cartesian product of named axes: ``grid(algo=["a", "b"], beta=[1, 0.1])`` → 4 settings."""
    for name, values in axes.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise ValueError(f"grid axis {name!r} must be a list of values, got {values!r}")
    names = list(axes)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*axes.values())]


def _threads_initializer(n_threads: int) -> None:
    import torch

    # a worker process only runs jobs: flush subnormals process-wide, before torch starts its thread pool, so that
    # its worker threads inherit the setting (mdrl_lib.utils.flush_denormals covers the calling thread only)
    torch.set_flush_denormal(True)
    torch.set_num_threads(n_threads)
    os.environ["OMP_NUM_THREADS"] = str(n_threads)


def _call(fn: Callable[..., xr.Dataset], setting: Setting, seed: int) -> xr.Dataset:
    ds = fn(seed=seed, **setting)
    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"sweep function {getattr(fn, '__name__', fn)!r} returned {type(ds).__name__} "
                        f"for setting {dict(setting)} seed {seed}; expected xarray.Dataset")
    return ds


def _tag(ds: xr.Dataset, setting: Setting, seed: int) -> xr.Dataset:
    ds = ds.expand_dims({"seed": [seed]})
    for key in reversed(list(setting)):
        ds = ds.expand_dims({key: [setting[key]]})
    return ds


def _check(settings: Sequence[Setting], seeds: Sequence[int]) -> None:
    if not seeds:
        raise ValueError("seeds is empty; give at least one seed, e.g. seeds=[0, 1, 2]")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds contain duplicates: {list(seeds)}")
    if not settings:
        raise ValueError("settings is empty; give at least one setting, e.g. [{}] or grid(algo=['SAC'])")
    keys = {tuple(s) for s in settings}
    if len(keys) != 1:
        raise ValueError(f"all settings must have the same keys; got {sorted(keys)}")
    for s in settings:
        if "seed" in s:
            raise ValueError(f"setting {dict(s)} must not contain 'seed'; seeds are given separately")


def run_jobs(fn: Callable[[Any], Any], jobs: Sequence[Any], *, executor: Any = "process",
             max_workers: int | None = None, threads: int | None = None,
             on_result: Callable[[int, Any], None] | None = None, progress: bool = True) -> list[Any]:
    """``[fn(job) for job in jobs]`` on an executor; results in job order, whatever order they finish in.

    ``threads``: torch threads in each local worker process (default ``cores // workers``, so workers do not
    oversubscribe the CPU). ``on_result(i, result)`` is called in this process as each job finishes (e.g. to
    store a finished run at once, so an interrupted sweep keeps it).
    """
    jobs = list(jobs)
    results: list[Any] = [None] * len(jobs)
    bar = tqdm(total=len(jobs), desc="runs", disable=not progress, leave=False, mininterval=2.0)

    def done(i: int, value: Any) -> None:
        results[i] = value
        if on_result is not None:
            on_result(i, value)
        bar.update(1)

    try:
        if executor == "serial":
            for i, job in enumerate(jobs):
                done(i, fn(job))
        elif executor == "process":
            cores = os.cpu_count() or 1
            workers = max(1, min(len(jobs), max_workers or cores))
            with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                     initializer=_threads_initializer,
                                     initargs=(threads or max(1, cores // workers),)) as pool:
                futures = {pool.submit(fn, job): i for i, job in enumerate(jobs)}
                for fut in as_completed(futures):
                    done(futures[fut], fut.result())
        else:
            client, own = _dask_client(executor)
            try:
                futures = [client.submit(fn, job, pure=False) for job in jobs]
                from distributed import as_completed as dask_completed

                index = {f.key: i for i, f in enumerate(futures)}
                for fut in dask_completed(futures):
                    done(index[fut.key], fut.result())
            finally:
                if own:
                    client.close()
    finally:
        bar.close()
    return results


def combine(parts: Sequence[xr.Dataset], settings: Sequence[Setting], seeds: Sequence[int]) -> xr.Dataset:
    """Tag each run's Dataset with its setting and seed (new dimensions) and merge them into one Dataset.

    ``parts[i]`` belongs to ``settings[i]`` and ``seeds[i]``. A dense grid gives a dense array, a ragged one NaN
    where a combination was not run. Coordinates keep the order in which values first appear in ``settings``
    and ``seeds`` (``combine_by_coords`` alone would sort them). A part that already carries its setting and
    seed as length-1 dimensions (a slice of an earlier combined file) is used as it is.

    Runs whose own dimensions differ in their values (e.g. learning-curve steps of environments with different
    budgets) are first put on the sorted union of those values, NaN past a run's end, so that only the setting
    and seed dimensions are concatenated: a variable keeps exactly the dimensions its runs gave it. Overlapping
    values must agree (``compat="no_conflicts"``, stated because xarray's default is moving to ``"override"``,
    which would keep the first run's value silently).
    """
    tagged = []
    for ds, setting, seed in zip(parts, settings, seeds, strict=True):
        if "seed" not in ds.dims:
            ds = _tag(ds, setting, seed)
        tagged.append(ds.drop_attrs())
    tags = set(settings[0]) | {"seed"} if settings else {"seed"}
    values: dict[str, list] = {}
    for ds in tagged:
        for dim in ds.dims:
            if dim not in tags and dim in ds.coords:
                values.setdefault(dim, []).append(ds[dim].values.tolist())
    ragged = {dim: sorted(set().union(*map(set, v))) for dim, v in values.items() if any(x != v[0] for x in v)}
    if ragged:
        tagged = [ds.reindex({d: u for d, u in ragged.items() if d in ds.dims}) for ds in tagged]
    combined = xr.combine_by_coords(tagged, compat="no_conflicts", combine_attrs="drop_conflicts",
                                  join="outer")
    order = {key: list(dict.fromkeys(s[key] for s in settings)) for key in (settings[0] if settings else {})}
    order["seed"] = list(dict.fromkeys(int(s) for s in seeds))
    return combined.reindex(order)


class _SweepCall:
    """Picklable ``job -> fn(seed=..., **setting)`` adapter for :func:`run_sweep`."""

    def __init__(self, fn: Callable[..., xr.Dataset]):
        self.fn = fn

    def __call__(self, job: tuple[Setting, int]) -> xr.Dataset:
        return _call(self.fn, *job)


def run_sweep(fn: Callable[..., xr.Dataset], settings: Sequence[Setting] | Mapping[str, Sequence[Any]],
              seeds: Sequence[int], *, executor: Any = "process", max_workers: int | None = None,
              progress: bool = True) -> xr.Dataset:
    """Run ``fn(seed=s, **setting)`` for every setting and seed; return the runs combined.

    Parameters
    ----------
    fn : a module-level function (it must be picklable for process and dask executors).
    settings : a list of dicts with the same keys, or a dict of axes expanded with :func:`grid`.
    seeds : the seeds, e.g. ``[0, 1, 2]``.
    executor : ``"process"`` (default), ``"serial"``, a dask scheduler address (str starting with
        ``tcp://``, ``tls://``, ``inproc://`` or ``ucx://``) or a ``distributed.Client``.
    max_workers : local processes (default: ``min(runs, cores)``).
    """
    if isinstance(settings, Mapping):
        settings = grid(**settings)
    settings = [dict(s) for s in settings]
    seeds = [int(s) for s in seeds]
    _check(settings, seeds)
    check_executor(executor)
    jobs = [(s, seed) for s in settings for seed in seeds]
    results = run_jobs(_SweepCall(fn), jobs, executor=executor, max_workers=max_workers, progress=progress)
    return combine(results, [s for s, _ in jobs], [seed for _, seed in jobs])


def check_executor(executor: Any) -> Any:
    """``executor`` if it names a valid executor, else one ``ValueError`` listing the valid ones."""
    if executor in ("serial", "process"):
        return executor
    if isinstance(executor, str) and executor.split("://")[0] in ("tcp", "tls", "inproc", "ucx") and "://" in executor:
        return executor
    if type(executor).__name__ == "Client":
        return executor
    raise ValueError(f"unknown executor {executor!r}; valid: 'process', 'serial', a dask scheduler address "
                     "like 'tcp://127.0.0.1:8786', or a distributed.Client")


def _dask_client(executor: Any):
    try:
        from distributed import Client
    except ImportError as err:  # pragma: no cover - distributed is a dependency
        raise ValueError("executor is a dask address but dask.distributed is not installed") from err
    if isinstance(executor, Client):
        return executor, False
    if isinstance(executor, str) and executor.split("://")[0] in ("tcp", "tls", "inproc", "ucx"):
        return Client(executor), True
    raise ValueError(f"unknown executor {executor!r}; valid: 'process', 'serial', a dask scheduler address "
                     "like 'tcp://127.0.0.1:8786', or a distributed.Client")

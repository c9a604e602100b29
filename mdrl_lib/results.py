"""Experiment results as ``xarray.Dataset``: one schema, atomic netCDF writes, provenance, a load-or-run cache.

Schema
------
A results Dataset has dimensions named after what varies — ``algo``, ``seed``, ``step`` and any
experiment-specific ones (``beta``, ``alpha``, ``env``, ``eval_episode`` ...) — and these attributes
(all strings or numbers, so they survive netCDF):

=================  ==========================================================================
``experiment``     experiment name, e.g. ``"random_baseline"``
``scale``          ``smoke`` | ``quick`` | ``paper``
``config``         the resolved configuration as canonical JSON (sorted keys)
``seeds``          JSON list of the seeds that were run
``git_commit``     ``git rev-parse HEAD`` of the code that produced it (``+dirty`` when uncommitted)
``versions``       JSON dict of package versions (python, torch, numpy, gymnasium, mujoco, xarray ...)
``device``         what computed it, e.g. ``"cpu (2 threads)"`` or ``"cuda: NVIDIA H100"``
``wall_time_s``    seconds the run took
``created_at``     ISO-8601 UTC time the file was written
``schema_version`` integer, bumped when this schema changes
=================  ==========================================================================

The cache (:func:`load_or_run`) keys a file by experiment, scale and config: a changed config re-runs, a
corrupt file is reported and re-run, and ``MDRL_RERUN=1`` (``make reproduce``) forces a re-run.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from mdrl_lib.paths import check_scale, data_dir, root
from mdrl_lib.utils import canonical_json

SCHEMA_VERSION = 1
ENGINE = "h5netcdf"
PROVENANCE_ATTRS = ("git_commit", "versions", "device", "wall_time_s", "created_at", "schema_version")
_PACKAGES = ("torch", "numpy", "scipy", "xarray", "gymnasium", "mujoco", "pandas", "h5netcdf", "dask")


class ResultsError(RuntimeError):
    """A results file could not be read or written."""


class CorruptResultsError(ResultsError):
    """A results file exists but cannot be read as a results Dataset."""


def git_commit() -> str:
    """The current commit of the repository, ``+dirty`` if tracked files differ; ``"unknown"`` outside git.

    Results and figures (``data/``, ``figures/``) do not count: regenerating a data file while an older version
    of it is committed does not make the code that produced it dirty.
    """
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root(), capture_output=True, text=True,
                             check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)data", ":(exclude)figures"], cwd=root(),
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages that shape numerical results."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def device_description() -> str:
    """A short description of the compute device, e.g. ``cpu: x86_64, 2 threads``."""
    import torch

    if torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(0)}"
    return f"cpu: {platform.machine()}, {torch.get_num_threads()} threads"


def environment_info() -> dict[str, str]:
    """Versions, device and commit — printed in the last cell of every notebook."""
    return {**package_versions(), "device": device_description(), "git_commit": git_commit()}


def with_provenance(ds: xr.Dataset, *, experiment: str, scale: str, config: Mapping[str, Any],
                    wall_time_s: float) -> xr.Dataset:
    """Return a copy of ``ds`` carrying the schema's attributes (see the module docstring)."""
    ds = ds.copy()
    seeds = config.get("seeds", ds["seed"].values.tolist() if "seed" in ds.coords else [])
    ds.attrs.update(
        experiment=experiment,
        scale=scale,
        config=canonical_json(dict(config)),
        seeds=canonical_json(list(seeds)),
        git_commit=git_commit(),
        versions=canonical_json(package_versions()),
        device=ds.attrs.get("device", device_description()),
        wall_time_s=float(wall_time_s),
        created_at=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        schema_version=SCHEMA_VERSION,
    )
    return ds


def _check_attrs(ds: xr.Dataset) -> None:
    for key, value in ds.attrs.items():
        if not isinstance(value, (str, int, float, np.integer, np.floating, np.ndarray, list, tuple)):
            raise ResultsError(
                f"attribute {key!r} has type {type(value).__name__}; netCDF attributes must be str, numbers "
                "or arrays of them (store dicts as canonical_json(...))"
            )


def save_results(ds: xr.Dataset, path: str | Path) -> Path:
    """Write ``ds`` to netCDF at ``path`` atomically.

    The Dataset is written to a temporary file in the same folder and renamed over ``path`` only once
    complete (``os.replace`` is atomic on POSIX), so a writer killed mid-way leaves the previous file — or
    no file — at ``path``, never a partial one. Raises :class:`ResultsError` naming the folder when it
    cannot be created or written.
    """
    path = Path(path)
    _check_attrs(ds)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.{os.getpid()}.", suffix=".nc.tmp", dir=path.parent)
        os.close(fd)
    except OSError as err:
        raise ResultsError(f"cannot write results to folder {str(path.parent)!r}: {err.strerror or err}. "
                           "Choose a writable folder (set MDRL_DATA, or fix its permissions).") from err
    try:
        ds.to_netcdf(tmp, engine=ENGINE)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be shared
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _remove_stale_temporaries(path: Path) -> None:
    """Delete temporaries of ``path`` left by writers that were killed (their process no longer exists)."""
    for tmp in path.parent.glob(f".{path.stem}.*.nc.tmp"):
        try:
            pid = int(tmp.name[len(path.stem) + 2:].split(".")[0])
        except ValueError:
            continue
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
        except PermissionError:
            pass


def load_results(path: str | Path) -> xr.Dataset:
    """Read a results file fully into memory (the file is closed on return).

    Raises :class:`CorruptResultsError` when the file exists but is not a readable results Dataset,
    ``FileNotFoundError`` when it does not exist.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no results file at {str(path)!r}")
    try:
        with xr.open_dataset(path, engine=ENGINE) as ds:
            ds = ds.load()
    except Exception as err:  # h5py/h5netcdf raise many types for damaged files
        raise CorruptResultsError(f"results file {str(path)!r} is corrupt or unreadable: "
                                  f"{type(err).__name__}: {err}") from err
    if "config" not in ds.attrs:
        raise CorruptResultsError(f"results file {str(path)!r} has no 'config' attribute; it was not written "
                                  "by mdrl_lib.results.save_results")
    return ds


def results_path(experiment: str, scale: str, folder: str | Path | None = None) -> Path:
    """``<folder>/<experiment>/<scale>.nc``; ``folder`` defaults to :func:`mdrl_lib.paths.data_dir`."""
    check_scale(scale)
    if not experiment or not all(c.isalnum() or c in "_-" for c in experiment):
        raise ValueError(f"experiment name {experiment!r} must be non-empty and use letters, digits, '_', '-'")
    base = Path(folder) if folder is not None else data_dir(scale)
    return base / experiment / f"{scale}.nc"


def _rerun_requested(scale: str) -> bool:
    flag = os.environ.get("MDRL_RERUN", "").strip().lower()
    if flag in ("1", "true", "yes", "all"):
        return True
    if flag and flag not in ("0", "false", "no"):
        raise ValueError(f"MDRL_RERUN={flag!r} is not understood; valid values are 1/true/yes or 0/false/no")
    # Smoke results are never worth caching: re-running keeps CI exercising the code paths.
    return scale == "smoke"


def load_or_run(experiment: str, scale: str, config: Mapping[str, Any],
                run_fn: Callable[[Mapping[str, Any]], xr.Dataset], *, folder: str | Path | None = None,
                rerun: bool | None = None, verbose: bool = True) -> xr.Dataset:
    """Return the cached ``<folder>/<experiment>/<scale>.nc`` if its config matches, else run and save.

    Parameters
    ----------
    experiment, scale : name the file (``data/<experiment>/<scale>.nc``).
    config : the resolved configuration (JSON-serialisable); compared with the file's ``config`` attribute.
    run_fn : ``run_fn(config) -> xr.Dataset``; called when the cache cannot be used.
    folder : data root (default :func:`mdrl_lib.paths.data_dir`).
    rerun : force (``True``) or forbid (``False``) a re-run; default: re-run when ``MDRL_RERUN=1`` or
        ``scale == "smoke"``.

    The cache is used only when the file reads cleanly and its config equals ``config``. A different config
    re-runs (the message names the keys that changed); a corrupt file is reported and re-run. The new
    result carries the provenance attributes of the module docstring and is written atomically.
    """
    path = results_path(experiment, scale, folder)
    want = canonical_json(dict(config))
    if rerun is None:
        rerun = _rerun_requested(scale)
    if not rerun and path.exists():
        try:
            cached = load_results(path)
        except CorruptResultsError as err:
            warnings.warn(f"{err}; re-running {experiment!r} at scale {scale!r}", stacklevel=2)
        else:
            if cached.attrs["config"] == want and cached.attrs.get("scale") == scale:
                if verbose:
                    print(f"{experiment} [{scale}]: using cached {path} (commit {cached.attrs.get('git_commit')})")
                return cached
            if verbose:
                print(f"{experiment} [{scale}]: config differs from {path} "
                      f"({_config_diff(json.loads(cached.attrs['config']), json.loads(want))}); re-running")
    t0 = time.perf_counter()
    ds = run_fn(config)
    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"run_fn for {experiment!r} returned {type(ds).__name__}, expected xarray.Dataset")
    ds = with_provenance(ds, experiment=experiment, scale=scale, config=config,
                         wall_time_s=time.perf_counter() - t0)
    save_results(ds, path)
    if verbose:
        print(f"{experiment} [{scale}]: ran in {ds.attrs['wall_time_s']:.1f} s, saved {path}")
    return ds


def _config_diff(old: Any, new: Any) -> str:
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return "config changed"
    keys = sorted(k for k in set(old) | set(new) if old.get(k, "<missing>") != new.get(k, "<missing>"))
    return "changed keys: " + ", ".join(keys) if keys else "scale changed"

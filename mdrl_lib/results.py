"""Experiment results as ``xarray.Dataset``: one schema, atomic netCDF writes, per-run provenance, a cache keyed
on every run's fully resolved config.

Schema (version 2)
------------------
A results Dataset has dimensions named after what varies — the setting's keys (``algo``, ``beta``, ``alpha``,
``env``, ``K`` ...), then ``seed``, then the run's own (``step``, ``eval_episode`` ...) — the variable
``run_wall_time_s(setting..., seed)``, and these attributes (strings or numbers, so they survive netCDF):

=================  ==========================================================================================
``experiment``     experiment name, e.g. ``"random_baseline"``
``scale``          ``smoke`` | ``quick`` | ``paper``
``config``         the experiment's configuration (sizes + overrides) as canonical JSON
``seeds``          JSON list of the seeds
``runs``           JSON list, one record per (setting, seed): ``label``, ``setting``, ``seed``, ``config`` (sha256
                   of the run's resolved config), ``git_commit`` that trained it (plus ``dirty_files`` and
                   ``diff_sha256`` when it was trained from an uncommitted tree), ``wall_time_s`` (its whole
                   training, across resumes; ``null`` where it was never recorded), ``device``, ``created_at``
``run_configs``    JSON ``{sha256: resolved run config}``: agent (every field, nested), schedule, environment
``git_commit``     the commit this file was written from (``+dirty`` → see ``dirty_files``, ``diff_sha256``)
``versions``       JSON dict of package versions; ``device``: the devices the runs used
``wall_time_s``    seconds this file's writing took (reused runs cost nothing); ``run_time_s``: sum over runs
``created_at``     ISO-8601 UTC; ``schema_version``: 2
=================  ==========================================================================================

The cache (:func:`load_or_run`) reuses a run when the data file (or the run store ``build/runs/``) holds the
same setting and seed with the same resolved-config hash; any other run is trained, and the message names the
config fields that changed. Quick and paper results are written only from a committed tree
(``MDRL_ALLOW_DIRTY=1`` overrides, recording what was dirty). ``python -m mdrl_lib.results check`` validates
every committed data file.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from mdrl_lib.paths import build_dir, check_scale, data_dir, root
from mdrl_lib.utils import canonical_json

SCHEMA_VERSION = 2
ENGINE = "h5netcdf"
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
        # encodings inherited from files read earlier (e.g. an int dtype of a variable that combining padded with
        # NaN) must not apply to what is written now
        ds.drop_encoding().to_netcdf(tmp, engine=ENGINE)
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


# ----- provenance of the code ---------------------------------------------------------------------------------

#: the folders whose uncommitted changes make a tree "dirty" for writing results
CODE_PATHS = ("mdrl_lib", "notebooks")


class DirtyTreeError(ResultsError):
    """Quick/paper results were about to be written from uncommitted code."""


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=root(), capture_output=True, text=True, check=True,
                          timeout=30).stdout


def dirty_files() -> list[str]:
    """Uncommitted (modified, staged or untracked, not ignored) files under :data:`CODE_PATHS`."""
    out = _git("status", "--porcelain", "--untracked-files=all", "--", *CODE_PATHS)
    return sorted(line[3:].strip() for line in out.splitlines() if line.strip())


def _allow_dirty() -> bool:
    flag = os.environ.get("MDRL_ALLOW_DIRTY", "").strip().lower()
    if flag and flag not in ("0", "1", "true", "false", "yes", "no"):
        raise ValueError(f"MDRL_ALLOW_DIRTY={flag!r} is not understood; valid values are 1/true/yes or 0/false/no")
    return flag in ("1", "true", "yes")


def code_provenance(scale: str) -> dict[str, Any]:
    """The commit new results of ``scale`` are computed from; refuses a dirty tree for quick and paper.

    Returns ``{"git_commit": sha}`` for a committed tree. With uncommitted changes under ``mdrl_lib/`` or
    ``notebooks/``: smoke results (never committed) get ``sha+dirty``; quick and paper raise
    :class:`DirtyTreeError` naming the files, unless ``MDRL_ALLOW_DIRTY=1`` — then the record carries
    ``dirty_files`` and ``diff_sha256`` (sha256 of every dirty file's name and contents, on top of the commit).
    Outside a git checkout the commit is ``"unknown"`` (and quick/paper are refused the same way).
    """
    check_scale(scale)
    try:
        sha = _git("rev-parse", "HEAD").strip()
        files = dirty_files()
    except (OSError, subprocess.SubprocessError):
        sha, files = "unknown", ["<not a git checkout>"]
    if not files:
        return {"git_commit": sha}
    if scale == "smoke":
        return {"git_commit": sha + "+dirty"}
    if not _allow_dirty():
        shown = ", ".join(files[:10]) + (f" and {len(files) - 10} more" if len(files) > 10 else "")
        raise DirtyTreeError(f"refusing to write {scale} results from a tree with uncommitted changes to "
                             f"{shown}: commit them first (results must name the code that made them), or set "
                             "MDRL_ALLOW_DIRTY=1 to record the dirty files and a hash of the diff")
    # the commit plus the contents of every dirty file fix the tree exactly (no `git diff`: with the nbstripout
    # filter installed it re-runs the filter on every changed notebook, seconds each)
    digest = hashlib.sha256()
    for name in files:
        f = root() / name
        digest.update(name.encode() + b"\0" + (f.read_bytes() if f.is_file() else b"<deleted>") + b"\0")
    return {"git_commit": sha + "+dirty", "dirty_files": files, "diff_sha256": digest.hexdigest()}


# ----- runs and their keys ------------------------------------------------------------------------------------

def config_sha(config: Mapping[str, Any]) -> str:
    """sha256 of a resolved run config's canonical JSON: the key a run is cached under."""
    return hashlib.sha256(canonical_json(dict(config)).encode()).hexdigest()


@dataclass(frozen=True)
class Job:
    """One run to provide: its setting (typed coordinate values), its seed and its fully resolved config."""

    setting: Mapping[str, Any]
    seed: int
    config: Mapping[str, Any]

    @property
    def label(self) -> str:
        """``"algo=MaxDiff beta=0.001"`` (``"run"`` for an experiment with one setting)."""
        return " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.setting.items()) \
            or "run"

    @property
    def key(self) -> tuple[str, int]:
        return canonical_json(dict(self.setting)), int(self.seed)

    @property
    def sha(self) -> str:
        return config_sha(self.config)

    def store_name(self) -> str:
        safe = "".join(c if c.isalnum() or c in "=.-" else "_" for c in self.label)
        return f"{safe}__seed{self.seed}.nc"


def config_changes(old: Any, new: Any, prefix: str = "") -> list[str]:
    """``["agent.sac.lr: 0.0003 -> 0.001", ...]``: every leaf that differs between two nested configs."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new)):
            if k not in old or k not in new:
                out.append(f"{prefix}{k}: {old.get(k, '<absent>')!r} -> {new.get(k, '<absent>')!r}")
            else:
                out += config_changes(old[k], new[k], f"{prefix}{k}.")
        return out
    return [] if old == new else [f"{prefix.rstrip('.')}: {old!r} -> {new!r}"]


def run_store(experiment: str, scale: str) -> Path:
    """Where finished runs are kept one file each until their experiment's data file is written (git-ignored)."""
    return build_dir() / "runs" / experiment / check_scale(scale)


def _records(ds: xr.Dataset) -> tuple[dict[tuple[str, int], dict], dict[str, Any]]:
    runs = json.loads(ds.attrs.get("runs", "[]"))
    return ({(canonical_json(r["setting"]), int(r["seed"])): r for r in runs},
            json.loads(ds.attrs.get("run_configs", "{}")))


def _slice(ds: xr.Dataset, job: Job) -> xr.Dataset:
    """One run of a combined file, with its setting and seed kept as length-1 dimensions."""
    return ds.sel({**{k: [v] for k, v in job.setting.items()}, "seed": [job.seed]}).drop_attrs()


def _from_store(experiment: str, scale: str, job: Job) -> tuple[xr.Dataset, dict] | None:
    path = run_store(experiment, scale) / job.store_name()
    if not path.exists():
        return None
    try:
        ds = load_results(path)
    except CorruptResultsError:
        return None
    record = json.loads(ds.attrs.get("run_record", "{}"))
    if record.get("config") != job.sha:
        return None
    return ds.drop_attrs(), record


def store_run(experiment: str, scale: str, job: Job, ds: xr.Dataset, record: Mapping[str, Any]) -> Path:
    """Keep one finished run in the run store (atomically), keyed by its resolved config."""
    out = ds.copy()
    out.attrs = {"config": canonical_json(dict(job.config)), "run_record": canonical_json(dict(record))}
    return save_results(out, run_store(experiment, scale) / job.store_name())


RunFn = Callable[[list[Job], Callable[[int, tuple[xr.Dataset, dict]], None]], list[tuple[xr.Dataset, dict]]]


def load_or_run(experiment: str, scale: str, config: Mapping[str, Any], jobs: list[Job], run_fn: RunFn,
                combine: Callable[[list[xr.Dataset], list[Job]], xr.Dataset], *, folder: str | Path | None = None,
                rerun: bool | None = None, verbose: bool = True) -> xr.Dataset:
    """Provide every run of ``jobs``: reused where cached under the same resolved config, else trained.

    Parameters
    ----------
    experiment, scale : name the file ``<folder>/<experiment>/<scale>.nc`` (folder: :func:`~mdrl_lib.paths.data_dir`).
    config : the experiment's configuration, stored in the ``config`` attribute (not the key).
    jobs : the (setting, seed, resolved config) of every run; the config is the cache key.
    run_fn : ``run_fn(todo, on_result) -> [(Dataset, record), ...]`` trains the runs not found; it calls
        ``on_result(i, (ds, record))`` as run ``todo[i]`` finishes (the run is then kept in the run store).
        ``record`` holds ``wall_time_s`` and ``device``.
    combine : ``combine(parts, jobs) -> Dataset``: one Dataset from the per-run parts in ``jobs`` order.
    rerun : ``True`` ignores the data file (the run store and training checkpoints are still used, so an
        interrupted re-run resumes); default: ``MDRL_RERUN=1``, or always for ``smoke`` (which caches nothing).

    A run is reused from the data file, else from the run store, when its setting, seed and config hash match.
    When every run comes from the data file and nothing else changed, the file is returned as it is; otherwise
    the new file is written atomically with one provenance record per run (reused runs keep theirs).
    """
    t0 = time.perf_counter()
    path = results_path(experiment, scale, folder)
    if rerun is None:
        rerun = _rerun_requested(scale)
    cache_runs = scale != "smoke"
    cached = None if rerun else _read_cached(path, experiment, scale, verbose)
    records, run_configs = _records(cached) if cached is not None else ({}, {})
    parts: dict[int, tuple[xr.Dataset, dict]] = {}
    changes: dict[str, list[str]] = {}
    for i, job in enumerate(jobs):
        rec = records.get(job.key)
        if rec is not None and rec["config"] == job.sha:
            parts[i] = (_slice(cached, job), rec)
            continue
        if rec is not None:
            diff = config_changes(run_configs.get(rec["config"], {}), json.loads(canonical_json(dict(job.config))))
            for line in diff or ["(config hash differs)"]:
                changes.setdefault(line, []).append(f"{job.label} seed {job.seed}")
        stored = _from_store(experiment, scale, job) if cache_runs else None
        if stored is not None:
            parts[i] = stored
    if changes and verbose:
        print(f"{experiment} [{scale}]: the resolved config changed for {len({r for v in changes.values() for r in v})}"
              f" run(s) of {path}; re-running them:")
        for line, runs in changes.items():
            print(f"  {line}   ({len(runs)} run(s), e.g. {runs[0]})")
    from_file = sum(1 for i in parts if parts[i][1] is records.get(jobs[i].key))
    if (cached is not None and from_file == len(jobs) == len(records)
            and cached.attrs.get("config") == canonical_json(dict(config))):
        if verbose:
            print(f"{experiment} [{scale}]: using cached {path} ({len(jobs)} runs, commit "
                  f"{_short(cached.attrs.get('git_commit'))})")
        return cached
    todo = [i for i in range(len(jobs)) if i not in parts]
    provenance = code_provenance(scale)  # before any training: a dirty tree fails now, not after hours
    if verbose and (from_file or len(parts) > from_file):
        print(f"{experiment} [{scale}]: reusing {from_file} run(s) from {path} and {len(parts) - from_file} from "
              f"{run_store(experiment, scale)}; training {len(todo)}")

    def on_result(k: int, result: tuple[xr.Dataset, dict]) -> None:
        job = jobs[todo[k]]
        record = run_record(job, result[1], provenance)
        result[1].clear()
        result[1].update(record)
        if cache_runs:
            store_run(experiment, scale, job, result[0], record)

    if todo:
        for k, result in enumerate(run_fn([jobs[i] for i in todo], on_result)):
            parts[todo[k]] = result
    ordered = [parts[i] for i in range(len(jobs))]
    ds = combine([part.drop_vars("run_wall_time_s", errors="ignore") for part, _ in ordered], jobs)
    ds = _with_run_wall_times(ds, jobs, [rec for _, rec in ordered])
    ds = _with_file_attrs(ds, experiment, scale, config, jobs, [rec for _, rec in ordered], provenance,
                          time.perf_counter() - t0)
    save_results(ds, path)
    if verbose:
        print(f"{experiment} [{scale}]: trained {len(todo)} run(s) in {ds.attrs['wall_time_s']:.1f} s, saved {path}")
    return load_results(path) if scale != "smoke" else ds


def _with_run_wall_times(ds: xr.Dataset, jobs: list[Job], records: list[dict]) -> xr.Dataset:
    """``run_wall_time_s(setting..., seed)`` from the per-run records (NaN where a run's time was not recorded)."""
    dims = [*jobs[0].setting, "seed"]
    wall = xr.DataArray(np.full([ds.sizes[d] for d in dims], np.nan), coords={d: ds[d] for d in dims}, dims=dims)
    for job, rec in zip(jobs, records, strict=True):
        if rec.get("wall_time_s") is not None:
            wall.loc[{**job.setting, "seed": job.seed}] = float(rec["wall_time_s"])
    wall.attrs["long_name"] = "training wall time of the run (all of it, across resumes)"
    return ds.assign(run_wall_time_s=wall)


def _short(commit: Any) -> str:
    return str(commit)[:10] + ("+dirty" if str(commit).endswith("+dirty") else "")


def _read_cached(path: Path, experiment: str, scale: str, verbose: bool) -> xr.Dataset | None:
    if not path.exists():
        return None
    try:
        cached = load_results(path)
    except CorruptResultsError as err:
        warnings.warn(f"{err}; re-running {experiment!r} at scale {scale!r}", stacklevel=3)
        return None
    if cached.attrs.get("scale") != scale or "runs" not in cached.attrs:
        if verbose:
            print(f"{experiment} [{scale}]: {path} has no per-run records (schema "
                  f"{cached.attrs.get('schema_version')}); re-running")
        return None
    return cached


def run_record(job: Job, measured: Mapping[str, Any], provenance: Mapping[str, Any]) -> dict[str, Any]:
    """The provenance record of one finished run: setting, seed, config hash, code provenance, ``measured``
    wall time and device, creation time; for a run started from another's checkpoint, ``branched_from``
    (:func:`mdrl_lib.experiments.branch_job`)."""
    return {"label": job.label, "setting": dict(job.setting), "seed": int(job.seed), "config": job.sha,
            **provenance, "wall_time_s": measured.get("wall_time_s"), "device": measured.get("device"),
            "created_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            **({"branched_from": measured["branched_from"]} if measured.get("branched_from") else {})}


def _with_file_attrs(ds: xr.Dataset, experiment: str, scale: str, config: Mapping[str, Any], jobs: list[Job],
                     records: list[dict], provenance: Mapping[str, Any], wall: float) -> xr.Dataset:
    ds = ds.copy()
    keep = {k: v for k, v in ds.attrs.items() if k not in ("runs", "run_configs")}
    devices = sorted({str(r.get("device")) for r in records if r.get("device")})
    known = [float(r["wall_time_s"]) for r in records if r.get("wall_time_s") is not None]
    ds.attrs = {
        **keep,
        "experiment": experiment,
        "scale": scale,
        "config": canonical_json(dict(config)),
        "seeds": canonical_json(list(dict.fromkeys(int(j.seed) for j in jobs))),
        "runs": canonical_json(records),
        "run_configs": canonical_json({j.sha: dict(j.config) for j in jobs}),
        **{k: (canonical_json(v) if isinstance(v, list) else v) for k, v in provenance.items()},
        "versions": canonical_json(package_versions()),
        "device": "; ".join(devices) or device_description(),
        "wall_time_s": float(wall),
        "run_time_s": float(sum(known)),
        "created_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "schema_version": SCHEMA_VERSION,
    }
    return ds


# ----- validating committed results ---------------------------------------------------------------------------

REQUIRED_ATTRS = ("experiment", "scale", "config", "seeds", "runs", "run_configs", "git_commit", "versions", "device",
                  "wall_time_s", "run_time_s", "created_at", "schema_version")
RECORD_KEYS = ("label", "setting", "seed", "config", "git_commit", "wall_time_s", "device", "created_at")


def _commit_problem(commit: Any, what: str) -> str | None:
    """None when ``commit`` (``sha`` or ``sha+dirty``) is an ancestor of HEAD; else what is wrong."""
    sha = str(commit).removesuffix("+dirty")
    if len(sha) != 40 or any(c not in "0123456789abcdef" for c in sha):
        return f"{what}: {commit!r} is not a full commit sha"
    try:
        subprocess.run(["git", "cat-file", "-e", f"{sha}^{{commit}}"], cwd=root(), check=True, capture_output=True,
                       timeout=30)
    except subprocess.CalledProcessError:
        shallow = _git("rev-parse", "--is-shallow-repository").strip() == "true"
        return None if shallow else f"{what}: commit {sha[:12]} is not in this repository's history"
    except (OSError, subprocess.SubprocessError):
        return None  # not a git checkout: nothing to verify against
    if subprocess.run(["git", "merge-base", "--is-ancestor", sha, "HEAD"], cwd=root(), capture_output=True,
                      timeout=30).returncode != 0:
        return f"{what}: commit {sha[:12]} is not an ancestor of HEAD"
    return None


def _dirty_problem(record: Mapping[str, Any], what: str) -> list[str]:
    """A ``+dirty`` commit must say what was dirty (files and diff hash), or name the clean commits a migration
    verified to resolve the same configs."""
    if not str(record.get("git_commit", "")).endswith("+dirty"):
        return []
    if record.get("dirty_files") and record.get("diff_sha256"):
        return []
    verified = record.get("verified_commits")
    if verified:
        return [p for c in verified if (p := _commit_problem(c, f"{what} verified commit"))]
    return [f"{what}: commit {record.get('git_commit')} is dirty but records neither dirty_files + diff_sha256 nor "
            "verified_commits"]


def check_file(path: str | Path) -> list[str]:
    """Everything wrong with one committed results file (empty list: it passes).

    Checks the schema attributes, that ``experiment``/``scale`` match the path, that every run has a complete
    provenance record whose config hash matches its stored config and whose coordinates are in the data, and
    that every recorded commit is an ancestor of HEAD (dirty ones explained).
    """
    path = Path(path)
    try:
        ds = load_results(path)
    except (CorruptResultsError, FileNotFoundError) as err:
        return [str(err)]
    a = ds.attrs
    problems = [f"missing attribute {k!r}" for k in REQUIRED_ATTRS if k not in a]
    if problems:
        return problems
    if a["schema_version"] != SCHEMA_VERSION:
        problems.append(f"schema_version {a['schema_version']} (current: {SCHEMA_VERSION})")
    if a["experiment"] != path.parent.name or a["scale"] != path.stem:
        problems.append(f"attributes say {a['experiment']}/{a['scale']} but the file is {path.parent.name}/{path.name}")
    if a["scale"] not in ("quick", "paper"):
        problems.append(f"scale {a['scale']!r}: only quick and paper results are committed")
    records, configs = json.loads(a["runs"]), json.loads(a["run_configs"])
    if not records:
        problems.append("no run records")
    seen = set()
    for i, rec in enumerate(records):
        what = f"run {i} ({rec.get('label')} seed {rec.get('seed')})"
        missing = [k for k in RECORD_KEYS if k not in rec]
        if missing:
            problems.append(f"{what}: record lacks {missing}")
            continue
        key = (canonical_json(rec["setting"]), rec["seed"])
        if key in seen:
            problems.append(f"{what}: recorded twice")
        seen.add(key)
        if rec["config"] not in configs:
            problems.append(f"{what}: config {rec['config'][:12]} not in run_configs")
        elif config_sha(configs[rec["config"]]) != rec["config"]:
            problems.append(f"{what}: stored config does not hash to {rec['config'][:12]}")
        for dim, value in {**rec["setting"], "seed": rec["seed"]}.items():
            if dim not in ds.coords or value not in ds[dim].values:
                problems.append(f"{what}: {dim}={value!r} is not a coordinate of the data")
        if rec["wall_time_s"] is not None and not isinstance(rec["wall_time_s"], (int, float)):
            problems.append(f"{what}: wall_time_s {rec['wall_time_s']!r} is not a number or null")
        if p := _commit_problem(rec["git_commit"], what):
            problems.append(p)
        problems += _dirty_problem(rec, what)
    if p := _commit_problem(a["git_commit"], "file"):
        problems.append(p)
    problems += _dirty_problem({k: a.get(k) for k in ("git_commit", "dirty_files", "diff_sha256")}, "file")
    return problems


def committed_results(folder: str | Path | None = None) -> list[Path]:
    """Every ``<experiment>/<scale>.nc`` under the committed data folder (``data/published`` has its own schema)."""
    base = Path(folder) if folder is not None else root() / "data"
    return sorted(p for p in base.glob("*/*.nc") if p.parent.name != "published")


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m mdrl_lib.results",
                                     description="Validate committed results files (attributes and provenance).")
    parser.add_argument("command", choices=["check"])
    parser.add_argument("paths", nargs="*", help="files to check (default: every data/<experiment>/<scale>.nc)")
    args = parser.parse_args(argv)
    paths = [Path(p).resolve() for p in args.paths] or committed_results()
    failed = 0
    for path in paths:
        problems = check_file(path)
        shown = path.relative_to(root()) if path.resolve().is_relative_to(root()) else path
        if problems:
            failed += 1
            print(f"FAIL {shown}")
            for p in problems:
                print(f"     - {p}")
        else:
            print(f"ok   {shown}")
    if not paths:
        print("no results files found")
    return 1 if failed else 0


if __name__ == "__main__":
    import sys

    sys.exit(main())

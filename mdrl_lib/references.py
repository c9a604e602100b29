"""The authors' published results: pinned, integrity-checked, loaded without running their code, as xarray.

Two papers released their raw results:

* **MaxDiff RL** (MurpheyLab/MaxDiffRL @ cb695d8, GPL-3.0): the repository's ``data/`` tree, one folder per run,
  ``data/<method>/<experiment>/seed_<n>/`` with ``reward_data.pkl`` (the training log), ``config.yaml`` (the
  merged config the run used), final-policy evaluations and, for the single-shot runs, the last 10 000
  transitions (``buffer_data.pkl``). Method note: ``docs/methods/maxdiff.md`` §5–6.
* **DIME** (ALRhub/DIME @ 7082bb7, MIT): ``paper_results/<task>/{env_interacts,mean_return}.npy``, 10 seeds
  × an evaluation every 24 000 steps. Method note: ``docs/methods/dime.md`` §4.

Layers (each one below uses the one above):

1. **Files.** :data:`MANIFEST` (``mdrl_lib/published_manifest.tsv``, a copy of ``../shared/published/
   MANIFEST.tsv``) pins every file by source repository, commit, path, size and sha256. :func:`published_bytes`
   looks for a file, in order, in the user cache (``$MDRL_CACHE/published`` or ``~/.cache/mdrl/published``),
   in the local folder ``$MDRL_PUBLISHED_DIR`` (a copy laid out like ``../shared/published``), and finally
   downloads it from ``raw.githubusercontent.com`` at the pinned commit into the cache (not when
   ``MDRL_OFFLINE=1``). Every file's sha256 is checked on every read. A file that is nowhere raises one
   :class:`ReferenceUnavailableError` naming the file and each place looked in; a file whose sha256 is not the
   pinned one raises :class:`ReferenceIntegrityError` naming the file and where it came from (a damaged
   *cache* copy is reported and skipped, never used).
2. **Parsing.** The MaxDiff logs are Python pickles, and unpickling can run arbitrary code. They are read only
   with :func:`safe_loads`, a restricted unpickler that admits plain containers, numbers, strings and numpy
   arrays/scalars and refuses every other global by name. DIME's ``.npy`` are read with
   ``allow_pickle=False``.
3. **Curves.** :func:`maxdiff_curve` (training curves: best-so-far, raw and trailing-mean episode return on a
   step grid), :func:`maxdiff_final_eval` (final-policy evaluations, including the light/heavy Swimmer transfer),
   :func:`maxdiff_singleshot_final_state` (where each single-shot run ended), :func:`maxdiff_buffer` (a whole
   released replay buffer), :func:`dime_curve`.
4. **Committed numbers.** ``python -m mdrl_lib.references build`` writes ``data/published/maxdiff.nc`` and
   ``data/published/dime.nc`` (numbers only, each input's source, commit and sha256 in the attributes;
   byte-identical on rebuild). :func:`load_published`, :func:`published_curve`, :func:`published_final_eval`
   and :func:`published_final_x` read them, so figures need neither network nor ``../shared``.

The raw files are never committed to this repository (the MaxDiff ones are GPL-3.0 pickles); only the derived
numbers in ``data/published/`` are, with their citation.

Kept for notebook 21: :func:`load_dime_curves` / :func:`try_load_dime_curves` (DIME curves as
``mean_return(task, seed, step)``), :data:`DIME_TASKS`, :data:`DIME_FILES`, :data:`DIME_HEADLINE`.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import io
import json
import os
import pickle
import re
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import xarray as xr
import yaml

from mdrl_lib.paths import root

# ----- errors ----------------------------------------------------------------------------------------------------


class ReferenceDataError(RuntimeError):
    """Published reference data could not be provided."""


class ReferenceUnavailableError(ReferenceDataError):
    """A published file is in none of the places looked in (cache, local folder, download)."""


class ReferenceIntegrityError(ReferenceDataError):
    """A file is not the published one (sha256, size or content check failed)."""


class UnsafePickleError(ReferenceDataError, pickle.UnpicklingError):
    """A pickle asked for something other than plain containers, numbers and numpy arrays."""


# ----- the pinned manifest ---------------------------------------------------------------------------------------

MANIFEST_FILE = "published_manifest.tsv"
#: Where a missing file is downloaded from: the source repository at the pinned commit.
RAW_URL = "https://raw.githubusercontent.com/{source}/{commit}/{path}"
DOWNLOAD_TIMEOUT_S = 30.0
MAXDIFF_SOURCE, DIME_SOURCE = "MurpheyLab/MaxDiffRL", "ALRhub/DIME"
_PREFIX = {MAXDIFF_SOURCE: "maxdiff", DIME_SOURCE: "dime"}
#: The single-shot buffers (4 MB each, 10 000 transitions) are kept in ``$MDRL_PUBLISHED_DIR`` only as their last
#: row, in this file (key: the path below ``data/`` with ``/`` written as ``__``). It is derived, not published,
#: so its own sha256 is pinned here; a downloaded buffer is checked against the manifest's sha256 of the original.
SINGLESHOT_NPZ = "maxdiff/singleshot_final_state.npz"
DERIVED_SHA256 = {SINGLESHOT_NPZ: "a359c896f30bdff2dd8d1ec6016ff64b55fd8fd53326dabc835ccb60f25f3701"}
#: Full hashes of the manifest's abbreviated commits, where known (docs/methods/dime.md §0), for the download URL.
#: The MaxDiff commit is known only as cb695d8 (docs/methods/maxdiff.md §1.1): its URL uses that (GitHub resolves
#: unique abbreviations); the sha256 check makes either form safe.
FULL_COMMITS = {"7082bb7": "7082bb7e8ab0e7f8a036a985333541d08d9d3e7d"}


@dataclass(frozen=True)
class PublishedFile:
    """One published file, pinned.

    ``key``: its name in this library, ``<maxdiff|dime>/<path in the repository>`` (``data/`` dropped for MaxDiff),
    e.g. ``"maxdiff/maxdiff/SwimmerEnv_v3_H40_alpha100/seed_13/reward_data.pkl"``. ``source``/``commit``/``path``:
    where it is published. ``size`` (bytes) and ``sha256``: of the published file. ``stored_as``: where it lies in
    a local copy (``$MDRL_PUBLISHED_DIR``): ``key`` itself, or :data:`SINGLESHOT_NPZ` for single-shot buffers.
    """

    key: str
    source: str
    commit: str
    path: str
    size: int
    sha256: str
    stored_as: str

    @property
    def url(self) -> str:
        commit = FULL_COMMITS.get(self.commit, self.commit)
        return RAW_URL.format(source=self.source, commit=commit, path=self.path)

    @property
    def citation(self) -> str:
        return f"{self.source}@{self.commit}:{self.path}"


def _key_of(source: str, path: str) -> str:
    if source not in _PREFIX:
        raise ReferenceIntegrityError(f"manifest: unknown source {source!r}; known sources are {', '.join(_PREFIX)}")
    return f"{_PREFIX[source]}/{path.removeprefix('data/') if source == MAXDIFF_SOURCE else path}"


@cache
def manifest() -> dict[str, PublishedFile]:
    """The pinned manifest: key -> :class:`PublishedFile` (from ``mdrl_lib/published_manifest.tsv``)."""
    text = resources.files("mdrl_lib").joinpath(MANIFEST_FILE).read_text(encoding="utf-8")
    lines = text.splitlines()
    if lines[0].split("\t") != ["source", "commit", "path", "bytes", "sha256", "stored_as"]:
        raise ReferenceIntegrityError(f"{MANIFEST_FILE}: unexpected header {lines[0]!r}")
    out = {}
    for line in lines[1:]:
        source, commit, path, size, sha, stored_as = line.split("\t")
        key = _key_of(source, path)
        if stored_as not in (key, SINGLESHOT_NPZ):
            raise ReferenceIntegrityError(f"{MANIFEST_FILE}: {path} is stored as {stored_as}, expected {key}")
        out[key] = PublishedFile(key, source, commit, path, int(size), sha, stored_as)
    return out


def manifest_sha256() -> str:
    """sha256 of the packaged manifest (recorded in the committed ``data/published/*.nc``)."""
    return hashlib.sha256(resources.files("mdrl_lib").joinpath(MANIFEST_FILE).read_bytes()).hexdigest()


def _entry(key: str) -> PublishedFile:
    try:
        return manifest()[key]
    except KeyError:
        near = difflib.get_close_matches(key, list(manifest()), n=3, cutoff=0.6)
        hint = f"; closest pinned files: {', '.join(near)}" if near else ""
        raise ValueError(f"{key!r} is not a pinned published file (see mdrl_lib/{MANIFEST_FILE}){hint}") from None


# ----- finding a file: cache, local folder, download ------------------------------------------------------------

def cache_dir() -> Path:
    """Root of the download cache: ``$MDRL_CACHE``, else ``$XDG_CACHE_HOME/mdrl``, else ``~/.cache/mdrl``."""
    env = os.environ.get("MDRL_CACHE")
    if env:
        return Path(env).expanduser().resolve()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "mdrl"


def published_dir() -> Path | None:
    """The local copy of the released files, ``$MDRL_PUBLISHED_DIR`` (e.g. ``../shared/published``), or None."""
    env = os.environ.get("MDRL_PUBLISHED_DIR")
    return Path(env).expanduser().resolve() if env else None


def _offline() -> bool:
    return os.environ.get("MDRL_OFFLINE", "").strip().lower() in ("1", "true", "yes")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _mismatch(entry: PublishedFile, where: str, data: bytes, pinned: str | None = None) -> str:
    pinned = pinned or entry.sha256
    return (f"published file {entry.key} from {where}: sha256 {_sha256(data)} ({len(data)} bytes) is not the pinned "
            f"{pinned} ({entry.size} bytes, {entry.citation}); the file is damaged or not the released one")


@dataclass(frozen=True)
class _Found:
    """A located file: its verified bytes and where they came from; ``container`` when they are the npz's."""

    data: bytes
    where: str
    container: str | None = None


def _locate(key: str, *, container_ok: bool = False) -> _Found:
    """Find ``key`` in the cache, then ``$MDRL_PUBLISHED_DIR``, then download it; sha256-checked."""
    entry = _entry(key)
    looked: list[str] = []
    cached = cache_dir() / "published" / key
    if cached.is_file():
        data = cached.read_bytes()
        if _sha256(data) == entry.sha256:
            return _Found(data, f"cache {cached}")
        looked.append(f"cache {cached}: present but damaged ({_mismatch(entry, 'cache', data)}); skipped")
    else:
        looked.append(f"cache {cached}: not there")
    local = published_dir()
    if local is None:
        looked.append("local folder: MDRL_PUBLISHED_DIR is not set")
    else:
        path = local / entry.stored_as
        if entry.stored_as != key and not container_ok:
            looked.append(f"local folder {local}: holds only the last row of this file (in {entry.stored_as})")
        elif path.is_file():
            data = path.read_bytes()
            pinned = entry.sha256 if entry.stored_as == key else DERIVED_SHA256[entry.stored_as]
            if _sha256(data) != pinned:
                raise ReferenceIntegrityError(_mismatch(entry, str(path), data, pinned))
            return _Found(data, str(path), None if entry.stored_as == key else entry.stored_as)
        else:
            looked.append(f"local folder: {path} not there")
    url = entry.url
    if _offline():
        looked.append(f"download {url}: skipped (MDRL_OFFLINE is set)")
    else:
        try:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as resp:  # noqa: S310 (https or file://)
                data = resp.read()
        except (urllib.error.URLError, OSError, ValueError) as err:
            reason = (f"HTTP {err.code} {err.reason}" if isinstance(err, urllib.error.HTTPError)
                      else getattr(err, "reason", err))
            looked.append(f"download {url}: failed ({reason}; offline?)")
        else:
            if _sha256(data) != entry.sha256:
                raise ReferenceIntegrityError(_mismatch(entry, url, data))
            _atomic_write(cached, data)
            return _Found(data, url)
    raise ReferenceUnavailableError(
        f"published file {key} ({entry.citation}) is not available here. Looked in:\n  "
        + "\n  ".join(f"{i}. {w}" for i, w in enumerate(looked, 1))
        + "\nSet MDRL_PUBLISHED_DIR to a copy of the released files (e.g. ../shared/published), or go online.")


def published_bytes(key: str) -> bytes:
    """The verified bytes of the published file ``key`` (a key of :func:`manifest`)."""
    return _locate(key).data


# ----- restricted unpickling ------------------------------------------------------------------------------------

_RECONSTRUCT = np.zeros(1).__reduce__()[0]  # numpy's array reconstructor, whatever module numpy keeps it in
_SCALAR = np.float64(0).__reduce__()[0]
_FROMBUFFER = np.zeros(1).__reduce_ex__(5)[0]
#: The only globals a published pickle may name: numpy's array, dtype and scalar constructors (under numpy 1's
#: ``numpy.core`` and numpy 2's ``numpy._core`` names) and the built-in containers/number types pickled by name.
SAFE_GLOBALS = {
    **{(mod, name): fn for mod in ("numpy.core.multiarray", "numpy._core.multiarray")
       for name, fn in (("_reconstruct", _RECONSTRUCT), ("scalar", _SCALAR))},
    **{(mod, "_frombuffer"): _FROMBUFFER for mod in ("numpy.core.numeric", "numpy._core.numeric")},
    ("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
    ("builtins", "set"): set, ("builtins", "frozenset"): frozenset, ("builtins", "complex"): complex,
    ("builtins", "bytearray"): bytearray,
}
_PLAIN = (type(None), bool, int, float, complex, str, bytes, bytearray)


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that builds only plain containers, numbers, strings and numpy arrays/scalars.

    ``find_class`` is the one place a pickle can reach code (``os.system``, ``builtins.eval``, any class); it
    returns only the objects in :data:`SAFE_GLOBALS` and raises :class:`UnsafePickleError` naming any other
    global before it is imported or called. Persistent ids are refused too.
    """

    def find_class(self, module: str, name: str):
        try:
            return SAFE_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refused global {module}.{name}: published pickles may hold only plain containers, numbers and "
                f"numpy arrays (allowed: {', '.join(sorted(f'{m}.{n}' for m, n in SAFE_GLOBALS))})") from None

    def persistent_load(self, pid):
        raise UnsafePickleError(f"refused persistent id {pid!r}")


def _check_plain(obj, what: str) -> None:
    stack = [obj]
    while stack:
        x = stack.pop()
        if isinstance(x, _PLAIN):
            continue
        if isinstance(x, (list, tuple, set, frozenset)):
            stack.extend(x)
        elif isinstance(x, dict):
            stack.extend(x.keys())
            stack.extend(x.values())
        elif isinstance(x, (np.ndarray, np.generic)):
            if x.dtype.kind not in "biufcSU" or x.dtype.fields is not None:
                raise UnsafePickleError(f"{what}: numpy data of dtype {x.dtype} refused (numbers and strings only)")
        else:
            raise UnsafePickleError(f"{what}: object of type {type(x).__name__} refused")


def safe_loads(data: bytes, what: str = "pickle"):
    """Unpickle ``data`` with :class:`SafeUnpickler`, then check the result holds only plain data."""
    try:
        obj = SafeUnpickler(io.BytesIO(data)).load()
    except UnsafePickleError as err:
        raise UnsafePickleError(f"{what}: {err}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as err:
        raise ReferenceIntegrityError(f"{what}: not a readable pickle of plain data ({type(err).__name__}: {err})"
                                      ) from err
    _check_plain(obj, what)
    return obj


def _load_pickle(key: str):
    return safe_loads(published_bytes(key), key)


def _load_npy(key: str) -> np.ndarray:
    try:
        return np.load(io.BytesIO(published_bytes(key)), allow_pickle=False)
    except ValueError as err:
        raise ReferenceIntegrityError(f"{key} is not a plain .npy array: {err}") from err


# ----- MaxDiff RL: runs, training curves ------------------------------------------------------------------------

METRICS = {
    "best_so_far": "running maximum of the returns of the episodes counted so far (the curves of the MaxDiff "
                   "paper: plotting_utils.process_data with get_max)",
    "raw": "return of the most recent counted episode",
    "trailing_mean": "mean return of the last `window` (default 10) counted episodes, fewer before that many "
                     "have ended",
}
COUNTING_RULE = ("the value at step s uses the episodes that ended at or before environment step s (at and after "
                 "the run's budget, config max_frames, the whole run: the last episode overruns the budget); NaN "
                 "before the first counted episode. Point mass: only full-length (1000-step) episodes count (the "
                 "authors' skip_early_stop). Single-shot runs: each 1000-step chunk is an 'episode' and the "
                 "trailing dummy row [1e6, 0, 0] is dropped. Seeds: the seed_<n> folders; at beta = 0.001 the "
                 "replaced runs _seed_513 are excluded (seed 1013 replaces them), as the authors' notebooks do.")
#: The common step grid of ``data/published/maxdiff.nc`` (environment steps): every 1000 steps (one episode) up
#: to 100 000 -- the point mass's whole budget, and fine enough to compare our short MuJoCo runs (20-30 k) -- then
#: every 10 000 up to 1 000 000. 191 points; a run's curve is NaN past its budget.
STEP_GRID = np.concatenate([np.arange(0, 100_000, 1_000), np.arange(100_000, 1_000_001, 10_000)]).astype(np.int64)
STEP_GRID_DOC = "0, 1000, ..., 100000 (every 1000 steps), then 110000, ..., 1000000 (every 10000); NaN past a budget"
TRAILING_WINDOW = 10
METHODS = {"maxdiff": "MaxDiff", "mppi": "NN-MPPI", "sac_orig": "SAC"}
_ENVS = {"PointMass2D_DoubleIntEnv": "point_mass", "SwimmerEnv_v3": "swimmer", "HalfCheetahEnv_v3": "half_cheetah",
         "AntEnv_v3": "ant"}
#: (observation, action) sizes, to split a replay-buffer row [s, a, r, s', a', done] (docs/methods/maxdiff.md §3, §6)
_OBS_ACT = {"point_mass": (4, 2), "swimmer": (10, 2), "half_cheetah": (18, 6), "ant": (29, 8)}
_SEED_DIR = re.compile(r"seed_(\d+)")


@cache
def _runs() -> dict[str, dict[int, str]]:
    """folder (``<method>/<experiment>``) -> {seed: seed folder key prefix}, from the manifest's reward logs."""
    out: dict[str, dict[int, str]] = {}
    for key in manifest():
        parts = key.split("/")
        if parts[0] == "maxdiff" and len(parts) == 5 and parts[4] == "reward_data.pkl":
            folder = f"{parts[1]}/{parts[2]}"
            m = _SEED_DIR.fullmatch(parts[3])  # "_seed_513" (replaced runs) does not match
            out.setdefault(folder, {})
            if m:
                out[folder][int(m.group(1))] = f"maxdiff/{folder}/{parts[3]}"
    return {f: dict(sorted(s.items())) for f, s in sorted(out.items())}


def maxdiff_folders() -> list[str]:
    """Every released MaxDiff run folder, ``<method>/<experiment>`` (e.g. ``"mppi/SwimmerEnv_v3_H40"``)."""
    return list(_runs())


def _check_folder(folder: str) -> dict[int, str]:
    runs = _runs()
    if folder not in runs:
        near = difflib.get_close_matches(folder, list(runs), n=3, cutoff=0.5)
        raise ValueError(f"unknown MaxDiff run folder {folder!r}" + (f" (did you mean {', '.join(near)}?)" if near
                         else "") + f"; valid folders are {', '.join(runs)}")
    return runs[folder]


def maxdiff_seeds(folder: str) -> list[int]:
    """The seeds of a run folder that the authors' notebooks use (``seed_<n>``; not the replaced ``_seed_513``)."""
    return list(_check_folder(folder))


@dataclass(frozen=True)
class RunInfo:
    """What a MaxDiff run folder is: method label, environment, body, α, β, single-shot, budget (env steps)."""

    folder: str
    method: str
    env: str
    body: str
    alpha: float
    beta: float
    singleshot: bool
    budget: int
    max_steps: int


def _parse_beta(name: str) -> float:
    m = re.search(r"_beta1e(_?)(\d\d)", name)
    if not m:
        return float("nan")
    return 10.0 ** ((-1 if m.group(1) else 1) * int(m.group(2)))


@cache
def maxdiff_run_info(folder: str) -> RunInfo:
    """:class:`RunInfo` of ``folder``: labels from its name, budget and episode length from its ``config.yaml``."""
    seeds = _check_folder(folder)
    method_dir, experiment = folder.split("/")
    env = next(v for k, v in _ENVS.items() if experiment.startswith(k))
    first = next(iter(seeds.values()))
    cfg = yaml.safe_load(published_bytes(f"{first}/config.yaml").decode())
    m = re.search(r"_alpha(\d+)", experiment)
    return RunInfo(folder=folder, method=METHODS[method_dir], env=env,
                   body=("light" if "_Light" in experiment else "heavy") if env == "swimmer" else "",
                   alpha=float(m.group(1)) if m else float("nan"), beta=_parse_beta(experiment),
                   singleshot="singleshot" in experiment, budget=int(cfg["max_frames"]),
                   max_steps=int(cfg["max_steps"]))


def _numeric_rows(obj, key: str, min_cols: int) -> np.ndarray:
    if not isinstance(obj, list) or not all(isinstance(r, (list, tuple)) and len(r) >= min_cols for r in obj):
        raise ReferenceIntegrityError(f"{key}: expected a list of rows of at least {min_cols} entries")
    if not obj:
        return np.zeros((0, min_cols))
    width = min(len(r) for r in obj)
    try:
        return np.array([[float(v) for v in r[1:width]] for r in obj]).reshape(len(obj), width - 1)
    except (TypeError, ValueError) as err:
        raise ReferenceIntegrityError(f"{key}: non-numeric entry ({err})") from err


def maxdiff_episodes(folder: str, seed: int, *, drop_dummy: bool = True) -> dict[str, np.ndarray]:
    """The counted episodes of one run, in order: ``frame`` (env step at the episode's end), ``return``.

    The rows of ``reward_data.pkl`` are [frame at episode end, return, episode index(, episode length)]. Kept
    (see :data:`COUNTING_RULE`): for the point mass only full-length episodes; for single-shot runs every
    1000-step chunk except the trailing dummy row (same frame as the row before it, return 0), which
    ``drop_dummy=False`` keeps (the authors' notebooks keep it).
    """
    seeds = _check_folder(folder)
    if seed not in seeds:
        raise ValueError(f"{folder} has no seed {seed}; its seeds are {', '.join(map(str, seeds))}")
    info = maxdiff_run_info(folder)
    key = f"{seeds[seed]}/reward_data.pkl"
    rows = _load_pickle(key)
    if not isinstance(rows, list) or not rows:
        raise ReferenceIntegrityError(f"{key}: expected a non-empty list of episode rows")
    frame = np.array([int(r[0]) for r in rows], dtype=np.int64)
    values = _numeric_rows(rows, key, 3)
    ret = values[:, 0]
    keep = np.ones(len(rows), bool)
    dummy = info.singleshot and len(rows) > 1 and frame[-1] == frame[-2] and ret[-1] == 0
    keep[-1] = not (dummy and drop_dummy)
    if info.env == "point_mass":
        if values.shape[1] < 3:
            raise ReferenceIntegrityError(f"{key}: point-mass rows lack the episode-length column")
        keep &= values[:, 2] == info.max_steps
    frame, ret = frame[keep], ret[keep]
    if (np.diff(frame[:-1] if dummy and not drop_dummy else frame) <= 0).any():
        raise ReferenceIntegrityError(f"{key}: episode end frames are not increasing")
    return {"frame": frame, "return": ret}


def _check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; valid metrics are {', '.join(METRICS)}")
    return metric


def _curve_values(frame: np.ndarray, ret: np.ndarray, steps: np.ndarray, budget: int, metric: str,
                  window: int) -> np.ndarray:
    n = np.searchsorted(frame, steps, side="right")
    n[steps >= budget] = len(frame)
    if metric == "best_so_far":
        per = np.maximum.accumulate(ret) if len(ret) else ret
    elif metric == "raw":
        per = ret
    else:
        csum = np.concatenate([[0.0], np.cumsum(ret)])
        i = np.arange(1, len(ret) + 1)
        lo = np.maximum(i - window, 0)
        per = (csum[i] - csum[lo]) / (i - lo)
    out = np.full(len(steps), np.nan)
    ok = n > 0
    out[ok] = per[n[ok] - 1]
    return out


def _as_steps(steps, default: np.ndarray) -> np.ndarray:
    if steps is None:
        return default
    arr = np.asarray(steps)
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.number) or (arr < 0).any():
        raise ValueError(f"steps must be a non-empty 1-D sequence of non-negative env steps, got {steps!r}")
    return arr.astype(np.int64)


def default_steps(folder: str) -> np.ndarray:
    """The step grid :func:`maxdiff_curve` uses by default: :data:`STEP_GRID` up to the run's budget."""
    return STEP_GRID[STEP_GRID <= maxdiff_run_info(folder).budget]


def maxdiff_curve(folder: str, metric: str = "best_so_far", steps: Iterable[int] | None = None, *,
                  window: int = TRAILING_WINDOW) -> xr.DataArray:
    """A released MaxDiff-paper training curve as ``DataArray(seed, step)`` of episode returns.

    ``folder``: a run folder as released, ``<method>/<experiment>`` (:func:`maxdiff_folders`), e.g.
    ``"maxdiff/SwimmerEnv_v3_H40_alpha100"``, ``"mppi/SwimmerEnv_v3_H40"``, ``"sac_orig/SwimmerEnv_v3_rew100"``.
    ``metric``: one of :data:`METRICS` -- ``"best_so_far"`` (what the paper plots), ``"raw"``, ``"trailing_mean"``
    (over ``window`` episodes). ``steps``: environment steps to evaluate at (default :func:`default_steps`).
    The value at step s uses the episodes that ended at or before s; at and past the run's budget, the whole run
    (:data:`COUNTING_RULE`). Returns are undiscounted sums of the env reward over one episode (1000 steps, or
    until the point mass leaves its box / the Ant flips); single-shot runs: sums over 1000-step chunks.
    ``seed`` holds the authors' seed numbers (13, 113, ..., 913; 1013 at beta = 0.001).
    """
    _check_metric(metric)
    if not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be a positive number of episodes, got {window!r}")
    info = maxdiff_run_info(folder)
    grid = _as_steps(steps, default_steps(folder))
    seeds = maxdiff_seeds(folder)
    values = np.stack([_curve_values(*maxdiff_episodes(folder, s).values(), grid, info.budget, metric, window)
                       for s in seeds])
    da = xr.DataArray(values, dims=("seed", "step"), coords={"seed": seeds, "step": grid}, name=metric)
    da.attrs.update(folder=folder, metric=metric, definition=METRICS[metric], counting_rule=COUNTING_RULE,
                    window=window, budget=info.budget, method=info.method, env=info.env,
                    units="episode return (sum of env rewards)",
                    source=f"{MAXDIFF_SOURCE}@{_entry(reward_log_key(folder, seeds[0])).commit} "
                           f"data/{folder}/seed_*/reward_data.pkl")
    da["step"].attrs["units"] = "environment steps"
    return da


AUTHORS_CURVE_DEFINITION = ("the authors' process_data(get_max=True): per seed the running maximum of the episode "
                            "returns at the episodes' end frames, linearly interpolated onto n_points (60 point mass, "
                            "100 otherwise) evenly spaced steps from 0 to the shortest seed's last episode end")


def authors_points(folder: str) -> int:
    """Points of the authors' plotted curves: 60 for the point mass, 100 otherwise (docs/methods/maxdiff.md §5.2)."""
    return 60 if maxdiff_run_info(folder).env == "point_mass" else 100


def authors_curve(folder: str, n_points: int | None = None) -> xr.DataArray:
    """The best-so-far curve exactly as the MaxDiff paper's notebooks plot it, ``DataArray(seed, step)``.

    The authors' ``process_data(get_max=True)`` (docs/methods/maxdiff.md §5.2): per seed the running maximum of
    the episode returns at the episodes' end frames, linearly interpolated onto ``n_points`` (default
    :func:`authors_points`) evenly spaced steps from 0 to the *shortest* seed's last frame (so ``step`` is
    float). It differs from :func:`maxdiff_curve`'s step-function reading between episodes, and at the end where
    a seed whose last episode overran the shortest seed's end had improved then (point mass, Ant: by < 2 return
    units in the released runs), and for single-shot runs, whose trailing dummy chunk (return 0 at step 1e6) the
    authors keep: a seed whose every chunk return was negative ends at 0 (3 NN-MPPI HalfCheetah seeds: -0.9,
    -0.8, -1.3). The tables of docs/methods/maxdiff.md §5 are this curve's last point (mean ± std over seeds).
    """
    n = authors_points(folder) if n_points is None else n_points
    if not isinstance(n, int) or n < 2:
        raise ValueError(f"n_points must be an integer >= 2, got {n_points!r}")
    seeds = maxdiff_seeds(folder)
    eps = [maxdiff_episodes(folder, s, drop_dummy=False) for s in seeds]
    x = np.linspace(0.0, float(min(e["frame"][-1] for e in eps)), n)
    values = np.stack([np.interp(x, e["frame"], np.maximum.accumulate(e["return"])) for e in eps])
    da = xr.DataArray(values, dims=("seed", "step"), coords={"seed": seeds, "step": x}, name="best_so_far")
    da.attrs.update(folder=folder, definition=AUTHORS_CURVE_DEFINITION, n_points=n, counting_rule=COUNTING_RULE)
    da["step"].attrs["units"] = "environment steps"
    return da


def reward_log_key(folder: str, seed: int) -> str:
    """Manifest key of a run's ``reward_data.pkl`` (``maxdiff/<folder>/seed_<seed>/reward_data.pkl``)."""
    return f"{_check_folder(folder)[seed]}/reward_data.pkl"


# ----- MaxDiff RL: final-policy evaluations and single-shot final states ---------------------------------------

#: ``on`` of :func:`maxdiff_final_eval` -> released file. heavy/light: the final Swimmer model run by ``eval.py``
#: on the stock ("heavy tail") or light-tail body, 100 episodes per seed (the transfer figure,
#: docs/methods/maxdiff.md §5.6); one_corner(_alpha20): point-mass final policy from the (-1, -1) corner, 100
#: episodes (MaxDiff at beta = 0.001 also with alpha = 20, the value the paper's bar uses, §5.3 there).
FINAL_EVALS = {"heavy": "orig_eval_reward_log.pkl", "light": "light_eval_reward_log.pkl",
               "one_corner": "one_corner_final_eval_reward_data.pkl",
               "one_corner_alpha20": "one_corner_final_eval_reward_data_alpha20.pkl"}


def final_eval_available(folder: str) -> list[str]:
    """The ``on`` values of :data:`FINAL_EVALS` released for ``folder`` (every seed has the file)."""
    seeds = _check_folder(folder)
    return [on for on, name in FINAL_EVALS.items() if all(f"{p}/{name}" in manifest() for p in seeds.values())]


def maxdiff_final_eval(folder: str, on: str) -> xr.DataArray:
    """Returns of the final policy, ``DataArray(seed, episode)``, with coordinate ``length(seed, episode)``.

    ``on``: a key of :data:`FINAL_EVALS` (``"heavy"``/``"light"`` for the Swimmer transfer, ``"one_corner"`` or
    ``"one_corner_alpha20"`` for the point mass). Rows are [tag, return, episode, length]. The paper's bars pool
    the 1000 episodes (mean ± std); for the point mass they first drop episodes shorter than 1000 steps and
    outliers (docs/methods/maxdiff.md §5.2) -- use ``length`` to do so.
    """
    if on not in FINAL_EVALS:
        raise ValueError(f"unknown evaluation {on!r}; valid values are {', '.join(FINAL_EVALS)}")
    have = final_eval_available(folder)
    if on not in have:
        raise ValueError(f"{folder} released no {FINAL_EVALS[on]}; evaluations it has: {', '.join(have) or 'none'}")
    seeds = _check_folder(folder)
    rets, lengths, episodes = [], [], None
    for prefix in seeds.values():
        key = f"{prefix}/{FINAL_EVALS[on]}"
        rows = _numeric_rows(_load_pickle(key), key, 4)
        ep = rows[:, 1].astype(np.int64)
        if episodes is None:
            episodes = ep
        if not np.array_equal(ep, episodes):
            raise ReferenceIntegrityError(f"{key}: episode indices differ from the other seeds'")
        rets.append(rows[:, 0])
        lengths.append(rows[:, 2].astype(np.int64))
    da = xr.DataArray(np.stack(rets), dims=("seed", "episode"),
                      coords={"seed": list(seeds), "episode": episodes,
                              "length": (("seed", "episode"), np.stack(lengths))}, name="return")
    da.attrs.update(folder=folder, evaluated_on=on, file=FINAL_EVALS[on], units="episode return",
                    source=f"{MAXDIFF_SOURCE}@{_entry(key).commit} data/{folder}/seed_*/{FINAL_EVALS[on]}")
    return da


def singleshot_folders() -> list[str]:
    """Single-shot run folders whose final states were released (no Ant: its buffers are not readable)."""
    return [f for f, seeds in _runs().items()
            if seeds and all(f"{p}/buffer_data.pkl" in manifest() for p in seeds.values())]


def _buffer_last_row(key: str) -> np.ndarray:
    found = _locate(key, container_ok=True)
    if found.container is None:
        buf = safe_loads(found.data, key)
        if not isinstance(buf, np.ndarray) or buf.ndim != 2:
            raise ReferenceIntegrityError(f"{key}: expected a 2-D array of transitions")
        return np.asarray(buf[-1], dtype=np.float64)
    npz_key = key.removeprefix("maxdiff/").replace("/", "__")
    with np.load(io.BytesIO(found.data), allow_pickle=False) as z:
        if npz_key not in z.files:
            raise ReferenceIntegrityError(f"{found.where} has no entry {npz_key}")
        return np.asarray(z[npz_key], dtype=np.float64)


def _split_transitions(rows: np.ndarray, env: str) -> list[np.ndarray]:
    """Buffer rows [s, a, r, s', a', done] of ``env`` -> [s, a, r (n, 1), s', a', done (n, 1)]."""
    ds_, da_ = _OBS_ACT[env]
    return np.split(rows, np.cumsum([ds_, da_, 1, ds_, da_]), axis=1)


def maxdiff_buffer(folder: str, seed: int) -> dict[str, np.ndarray]:
    """The whole released replay buffer of one single-shot run (its last 10 000 transitions, in stored order).

    Returns float64 arrays ``state`` / ``next_state`` (n, state_dim), ``action`` / ``next_action`` (n, action_dim)
    and ``reward`` / ``done`` (n,), split from the rows [s, a, r, s', a', done] of ``buffer_data.pkl`` (read with
    :func:`safe_loads`, sha256-checked). The action is the one the agent proposed, before the authors'
    ``NormalizedActions`` wrapper clipped it. A local copy (``$MDRL_PUBLISHED_DIR``) holds one buffer whole,
    ``maxdiff/SwimmerEnv_v3_Light_H40_alpha50_singleshot`` seed 13; the others only as their last row, so they
    need the cache or a download. Folders: :func:`singleshot_folders`.
    """
    if folder not in singleshot_folders():
        raise ValueError(f"no released buffers for {folder!r}; valid folders are {', '.join(singleshot_folders())}")
    seeds = _check_folder(folder)
    if seed not in seeds:
        raise ValueError(f"{folder} has no seed {seed}; its seeds are {', '.join(map(str, seeds))}")
    info = maxdiff_run_info(folder)
    key = f"{seeds[seed]}/buffer_data.pkl"
    rows = safe_loads(published_bytes(key), key)
    ds_, da_ = _OBS_ACT[info.env]
    if not isinstance(rows, np.ndarray) or rows.ndim != 2 or rows.shape[1] != 2 * (ds_ + da_) + 2:
        raise ReferenceIntegrityError(f"{key}: expected a 2-D array of rows with {2 * (ds_ + da_) + 2} entries")
    s, a, rew, s2, a2, done = _split_transitions(np.asarray(rows, dtype=np.float64), info.env)
    return {"state": s, "action": a, "reward": rew[:, 0], "next_state": s2, "next_action": a2, "done": done[:, 0]}


def maxdiff_singleshot_final_state(folder: str) -> xr.Dataset:
    """Where each single-shot run ended: the last transition of its ``buffer_data.pkl``, ``Dataset(seed, ...)``.

    A buffer row is [s, a, r, s', a', done]. Variables: ``state``/``next_state`` (seed, state_dim), ``action``/
    ``next_action`` (seed, action_dim), ``reward``, ``done`` and ``final_x`` (seed) = s'[0], the body's x
    position after the 1 000 000th step (the paper's "final x", docs/methods/maxdiff.md §5.7; the figure uses the
    last state, s and s' differ by one step). Folders: :func:`singleshot_folders`.
    """
    if folder not in singleshot_folders():
        raise ValueError(f"no released final states for {folder!r}; valid folders are "
                         f"{', '.join(singleshot_folders())}")
    info = maxdiff_run_info(folder)
    ds_, da_ = _OBS_ACT[info.env]
    seeds = _check_folder(folder)
    rows = []
    for prefix in seeds.values():
        row = _buffer_last_row(f"{prefix}/buffer_data.pkl")
        if row.shape != (2 * (ds_ + da_) + 2,):
            raise ReferenceIntegrityError(f"{prefix}/buffer_data.pkl: last row has {row.size} entries, expected "
                                          f"{2 * (ds_ + da_) + 2} for {info.env}")
        rows.append(row)
    s, a, rew, s2, a2, done = _split_transitions(np.stack(rows), info.env)
    ds = xr.Dataset({"state": (("seed", "state_dim"), s), "action": (("seed", "action_dim"), a),
                     "reward": ("seed", rew[:, 0]), "next_state": (("seed", "state_dim"), s2),
                     "next_action": (("seed", "action_dim"), a2), "done": ("seed", done[:, 0]),
                     "final_x": ("seed", s2[:, 0])}, coords={"seed": list(seeds)})
    ds["final_x"].attrs.update(long_name="x position after the last step (s'[0] of the last transition)",
                               units="m (MuJoCo length units)")
    commit = _entry(f"{next(iter(seeds.values()))}/buffer_data.pkl").commit
    ds.attrs.update(folder=folder, source=f"{MAXDIFF_SOURCE}@{commit} data/{folder}/seed_*/buffer_data.pkl (last row)")
    return ds


# ----- DIME ------------------------------------------------------------------------------------------------------

DIME_COMMIT = "7082bb7e8ab0e7f8a036a985333541d08d9d3e7d"
DIME_GRID_STEP = 24_000
DIME_SEEDS = 10


@dataclass(frozen=True)
class ReferenceFile:
    """One DIME file (docs/methods/dime.md §4): path below ``paper_results/``, size, git blob SHA-1 prefix, sha256."""

    path: str
    size: int
    git_blob_prefix: str
    sha256: str | None = None


# docs/methods/dime.md §4: task -> (grid length T, git blob prefix of mean_return.npy); env_interacts.npy is
# identical for every task of the same grid (blob a4373ba5 for T = 42, c5922386 for T = 126). Kept as an
# independent check of the manifest (tests: every pinned file has this blob prefix). dmc_dog_walk: the table
# was first transcribed as 4d670528; the released file's blob is 4d67052b... (7 of 8 digits agree; its numbers
# are §3.3's 925 ± 62), so that last digit was a typo, now corrected in docs/methods/dime.md §4.
_DIME_TABLE = {
    "dmc_acrobot": (42, "39b8d2f6"), "dmc_cheetah_run": (42, "59b1ccda"), "dmc_dog_run": (126, "5ab9a189"),
    "dmc_dog_stand": (42, "1e4d89cb"), "dmc_dog_trot": (42, "a98122e6"), "dmc_dog_walk": (42, "4d67052b"),
    "dmc_finger_turn": (42, "6efd65a0"), "dmc_fish_swim": (42, "3bee052b"), "dmc_hopper_hop": (42, "6637e42f"),
    "dmc_humanoid_run": (126, "cb58e483"), "dmc_humanoid_stand": (42, "16475583"),
    "dmc_humanoid_walk": (42, "249d9749"), "dmc_pendulum_swingup": (42, "da8c4edb"),
    "dmc_quadruped_run": (42, "63530e96"), "dmc_walker_run": (42, "16f287ec"), "gym_ant_v3": (42, "e2dd10bc"),
    "gym_humanoid_v3": (42, "25f7b1b5"), "myo_hand_key_turn_rndm": (42, "ad3b5e76"),
    "myo_hand_obj_hold_rndm": (42, "9634a781"), "myo_hand_pen_twirl_rndm": (42, "5f2ac38e"),
    "myo_hand_reach_rndm": (42, "1d6ee3b0"),
}
_GRID_BLOB = {42: "a4373ba5", 126: "c5922386"}


def _dime_files() -> dict[str, dict[str, ReferenceFile]]:
    out = {}
    for task, (T, blob) in _DIME_TABLE.items():
        out[task] = {}
        for name, prefix in (("env_interacts", _GRID_BLOB[T]), ("mean_return", blob)):
            path = f"{task}/{name}.npy"
            pinned = manifest().get(f"dime/paper_results/{path}")
            out[task][name] = ReferenceFile(path, 128 + 8 * DIME_SEEDS * T, prefix, pinned and pinned.sha256)
    return out


#: task -> {"env_interacts": ReferenceFile, "mean_return": ReferenceFile}
DIME_FILES = _dime_files()
DIME_TASKS = tuple(DIME_FILES)
#: Pinned sha256 of the DIME files, ``"<task>/<file>.npy" -> hex`` (from the manifest).
DIME_SHA256 = {f.path: f.sha256 for t in DIME_FILES.values() for f in t.values() if f.sha256}

#: The table of docs/methods/dime.md §3.3 (mean over 10 seeds of the 5-episode means; "final" at the grid end),
#: as computed for that note from ``paper_results`` at 7082bb7. Keys: grid_end (env steps), mean_0p5M, mean_1M,
#: final_mean, final_std, final_iqm. MyoSuite values are success rates.
DIME_HEADLINE_SOURCE = ("docs/methods/dime.md §3.3, 'Headline numbers computed from paper_results' (ALRhub/DIME "
                        "@7082bb7; mean over 10 seeds)")
DIME_HEADLINE: dict[str, dict[str, float]] = {
    task: dict(zip(("grid_end", "mean_0p5M", "mean_1M", "final_mean", "final_std", "final_iqm"), row, strict=True))
    for task, row in {
        "dmc_dog_run": (3.0e6, 385, 637, 814, 28, 818),
        "dmc_humanoid_run": (3.0e6, 160, 254, 448, 173, 465),
        "dmc_dog_stand": (984e3, 948, 961, 961, 32, 968),
        "dmc_dog_walk": (984e3, 917, 925, 925, 62, 944),
        "dmc_dog_trot": (984e3, 662, 854, 854, 89, 886),
        "dmc_humanoid_stand": (984e3, 777, 911, 911, 17, 910),
        "dmc_humanoid_walk": (984e3, 545, 737, 737, 120, 736),
        "dmc_acrobot": (984e3, 417, 451, 451, 80, 462),
        "dmc_cheetah_run": (984e3, 889, 898, 898, 43, 911),
        "dmc_finger_turn": (984e3, 958, 955, 955, 60, 974),
        "dmc_fish_swim": (984e3, 586, 749, 749, 92, 756),
        "dmc_hopper_hop": (984e3, 301, 319, 319, 63, 334),
        "dmc_pendulum_swingup": (984e3, 838, 755, 755, 242, 825),
        "dmc_quadruped_run": (984e3, 911, 940, 940, 17, 942),
        "dmc_walker_run": (984e3, 839, 850, 850, 9, 851),
        "gym_humanoid_v3": (984e3, 9598, 11886, 11886, 1666, 12504),
        "gym_ant_v3": (984e3, 6136, 6239, 6239, 1270, 6669),
        "myo_hand_key_turn_rndm": (984e3, 0.90, 1.00, 1.00, 0.00, 1.00),
        "myo_hand_obj_hold_rndm": (984e3, 0.86, 0.98, 0.98, 0.06, 1.00),
        "myo_hand_pen_twirl_rndm": (984e3, 0.68, 0.60, 0.60, 0.34, 0.70),
        "myo_hand_reach_rndm": (984e3, 0.94, 0.80, 0.80, 0.30, 0.90),
    }.items()
}
DIME_DEFINITION = ("each value: mean return of 5 stochastic-policy evaluation episodes (MyoSuite myo_*: success "
                   "rate); 10 seeds; evaluated at env step 1 and every 24 000 steps (docs/methods/dime.md §4)")


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a file with content ``data`` (``git hash-object``): hex SHA-1."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _check_task(task: str) -> str:
    if task not in DIME_FILES:
        raise ValueError(f"unknown DIME task {task!r}; valid tasks are {', '.join(DIME_TASKS)}")
    return task


def dime_curve(task: str) -> xr.DataArray:
    """DIME's published learning curve of ``task`` as ``DataArray(seed, step)`` (:data:`DIME_DEFINITION`).

    ``seed``: row 0-9 of the released arrays (the authors' seed ids are not recorded). ``step``: env steps
    1, 24 000, 48 000, ... (984 000 for most tasks, 3 000 000 for dmc_dog_run and dmc_humanoid_run).
    """
    _check_task(task)
    T = (DIME_FILES[task]["mean_return"].size - 128) // (8 * DIME_SEEDS)
    grid = _load_npy(f"dime/paper_results/{task}/env_interacts.npy")
    values = _load_npy(f"dime/paper_results/{task}/mean_return.npy")
    expect = np.concatenate([[1.0], DIME_GRID_STEP * np.arange(1, T)])
    for name, arr in (("env_interacts", grid), ("mean_return", values)):
        if arr.dtype != np.float64 or arr.shape != (DIME_SEEDS, T):
            raise ReferenceIntegrityError(f"{task}/{name}.npy: dtype {arr.dtype} shape {arr.shape}, expected float64 "
                                          f"{(DIME_SEEDS, T)}")
    if not (grid == expect).all():
        raise ReferenceIntegrityError(f"{task}/env_interacts.npy is not the grid 1, 24000, 48000, ... in every row")
    da = xr.DataArray(values, dims=("seed", "step"),
                      coords={"seed": np.arange(DIME_SEEDS), "step": expect.astype(np.int64)}, name="mean_return")
    da.attrs.update(task=task, definition=DIME_DEFINITION,
                    metric="success_rate" if task.startswith("myo_") else "return",
                    source=f"{DIME_SOURCE}@{DIME_COMMIT[:7]} paper_results/{task}/{{env_interacts,mean_return}}.npy")
    da["step"].attrs["units"] = "environment steps"
    return da


def _dime_dataset(tasks: Sequence[str]) -> xr.Dataset:
    curves = [dime_curve(t) for t in tasks]
    ds = xr.concat([c.to_dataset() for c in curves], dim=xr.DataArray(list(tasks), dims="task", name="task"),
                   join="outer", combine_attrs="drop")
    ds = ds.assign_coords(metric=("task", ["success_rate" if t.startswith("myo_") else "return" for t in tasks]))
    ds["mean_return"].attrs.update(long_name="mean of 5 stochastic evaluation episodes (success rate for myo_*)")
    ds["seed"].attrs["note"] = "row index of the published arrays; the authors' seed ids are not recorded"
    ds["step"].attrs["units"] = "environment steps"
    ds.attrs.update(source=f"github.com/{DIME_SOURCE} paper_results/ at commit {DIME_COMMIT}", license="MIT",
                    protocol=DIME_DEFINITION, definition=DIME_DEFINITION)
    return ds


def load_dime_curves(tasks: str | Sequence[str] | None = None, *, timeout: float | None = None) -> xr.Dataset:
    """DIME's published curves as ``mean_return(task, seed, step)``, NaN past a task's grid end.

    Thin wrapper over :func:`dime_curve` (files from the cache, ``$MDRL_PUBLISHED_DIR`` or a download).
    ``timeout``: seconds per download attempt (default :data:`DOWNLOAD_TIMEOUT_S`). Raises
    :class:`ReferenceUnavailableError` / :class:`ReferenceIntegrityError`.
    """
    global DOWNLOAD_TIMEOUT_S
    tasks = list(DIME_TASKS) if tasks is None else [tasks] if isinstance(tasks, str) else list(tasks)
    bad = [t for t in tasks if t not in DIME_FILES]
    if bad:
        raise ValueError(f"unknown DIME task(s) {bad}; valid tasks are {', '.join(DIME_TASKS)}")
    old = DOWNLOAD_TIMEOUT_S
    DOWNLOAD_TIMEOUT_S = old if timeout is None else float(timeout)
    try:
        ds = _dime_dataset(tasks)
    finally:
        DOWNLOAD_TIMEOUT_S = old
    ds.attrs["sha256"] = json.dumps({f"{t}/{n}.npy": DIME_FILES[t][n].sha256 for t in tasks
                                     for n in ("env_interacts", "mean_return")}, sort_keys=True)
    return ds


def try_load_dime_curves(tasks: str | Sequence[str] | None = None, **kwargs) -> tuple[xr.Dataset | None, str]:
    """:func:`load_dime_curves`; if the raw files cannot be had, the committed ``data/published/dime.nc``;
    else ``(None, reason)``."""
    try:
        return load_dime_curves(tasks, **kwargs), "published curves loaded from the released files"
    except ReferenceDataError as err:
        raw_err = err
    try:
        ds = load_published("dime")
        sel = list(DIME_TASKS) if tasks is None else [tasks] if isinstance(tasks, str) else list(tasks)
        return (ds.sel(task=sel).dropna("step", how="all"),
                f"published curves loaded from the committed {published_data_dir() / 'dime.nc'}")
    except (ReferenceDataError, KeyError) as err:
        return None, f"published DIME curves unavailable: {raw_err}; committed copy: {err}"


# ----- the committed derived numbers: data/published/{maxdiff,dime}.nc -------------------------------------------

NC_ENGINE = "h5netcdf"
_ENCODE = {"zlib": True, "complevel": 4, "shuffle": True}
MAXDIFF_GROUPS = ("curves", "as_plotted", "final_eval", "singleshot")
PUBLISHED_DATASETS = tuple(f"maxdiff_{g}" for g in MAXDIFF_GROUPS) + ("dime",)


def published_data_dir() -> Path:
    """Folder of the committed derived files: ``<repo>/data/published``."""
    return root() / "data" / "published"


def _inputs_attrs(keys: Iterable[str]) -> dict[str, str]:
    """``inputs``: one line per input file, ``<sha256>  <path in the source repository>`` (``sha256sum``'s format),
    and ``inputs_source``: the repository and commit they are from."""
    entries = [manifest()[k] for k in sorted(set(keys))]
    sources = sorted({f"{e.source}@{e.commit}" for e in entries})
    if len(sources) != 1:
        raise ReferenceIntegrityError(f"inputs from several sources {sources}; expected one")
    return {"inputs_source": sources[0], "inputs": "\n".join(f"{e.sha256}  {e.path}" for e in entries)}


def _run_coords(folders: Sequence[str]) -> dict:
    infos = [maxdiff_run_info(f) for f in folders]
    return {"run": list(folders), "method": ("run", [i.method for i in infos]), "env": ("run", [i.env for i in infos]),
            "body": ("run", [i.body for i in infos]), "alpha": ("run", [i.alpha for i in infos]),
            "beta": ("run", [i.beta for i in infos]), "singleshot": ("run", [int(i.singleshot) for i in infos]),
            "budget": ("run", [i.budget for i in infos])}


def _seed_id(folders: Sequence[str]) -> tuple[np.ndarray, int]:
    n = max(len(maxdiff_seeds(f)) for f in folders)
    ids = np.full((len(folders), n), -1, np.int64)
    for i, f in enumerate(folders):
        s = maxdiff_seeds(f)
        ids[i, :len(s)] = s
    return ids, n


def _curves_group(folders: Sequence[str]) -> xr.Dataset:
    ids, n = _seed_id(folders)
    curves = {m: np.full((len(folders), n, len(STEP_GRID)), np.nan) for m in METRICS}
    n_episodes = np.zeros((len(folders), n), np.int64)
    used = []
    for i, f in enumerate(folders):
        info = maxdiff_run_info(f)
        inside = STEP_GRID <= info.budget
        used.append(f"{_check_folder(f)[maxdiff_seeds(f)[0]]}/config.yaml")
        for j, s in enumerate(maxdiff_seeds(f)):
            used.append(reward_log_key(f, s))
            ep = maxdiff_episodes(f, s)
            n_episodes[i, j] = len(ep["frame"])
            for m in METRICS:
                curves[m][i, j, inside] = _curve_values(ep["frame"], ep["return"], STEP_GRID[inside], info.budget, m,
                                                        TRAILING_WINDOW)
    c = xr.Dataset({m: (("run", "seed", "step"), curves[m], {"definition": d}) for m, d in METRICS.items()},
                   coords={**_run_coords(folders), "step": STEP_GRID})
    c["seed_id"] = (("run", "seed"), ids, {"long_name": "the authors' seed number (-1: no such seed)"})
    c["n_episodes"] = (("run", "seed"), n_episodes, {"long_name": "episodes counted over the whole run"})
    c["trailing_mean"].attrs["window"] = TRAILING_WINDOW
    c["step"].attrs.update(units="environment steps", grid=STEP_GRID_DOC)
    c.attrs.update(counting_rule=COUNTING_RULE, **_inputs_attrs(used))
    return c


def _as_plotted_group(folders: Sequence[str]) -> xr.Dataset:
    ids, n = _seed_id(folders)
    values = np.full((len(folders), n, 100), np.nan)
    step_at = np.full((len(folders), 100), np.nan)
    used = []
    for i, f in enumerate(folders):
        da = authors_curve(f)
        values[i, :da.sizes["seed"], :da.sizes["step"]] = da.values
        step_at[i, :da.sizes["step"]] = da.step.values
        used += [reward_log_key(f, s) for s in maxdiff_seeds(f)]
    a = xr.Dataset({"best_so_far": (("run", "seed", "point"), values, {"definition": AUTHORS_CURVE_DEFINITION}),
                    "step_at": (("run", "point"), step_at, {"units": "environment steps",
                                                            "long_name": "step of each point (NaN past n_points)"}),
                    "n_points": ("run", np.array([authors_points(f) for f in folders], np.int64)),
                    "seed_id": (("run", "seed"), ids)}, coords=_run_coords(folders))
    a.attrs.update(description="the best-so-far curves exactly as the paper's notebooks draw them; the tables of "
                               "docs/methods/maxdiff.md §5 are their last points", counting_rule=COUNTING_RULE,
                   **_inputs_attrs(used))
    return a


def _final_eval_group(folders: Sequence[str]) -> xr.Dataset:
    folders = [f for f in folders if final_eval_available(f)]
    ids, n = _seed_id(folders)
    ret = np.full((len(folders), len(FINAL_EVALS), n, 100), np.nan)
    length = np.full_like(ret, np.nan)
    used = []
    for i, f in enumerate(folders):
        for k, on in enumerate(FINAL_EVALS):
            if on in final_eval_available(f):
                da = maxdiff_final_eval(f, on)
                used += [f"{p}/{FINAL_EVALS[on]}" for p in _check_folder(f).values()]
                ret[i, k, :da.sizes["seed"], :da.sizes["episode"]] = da.values
                length[i, k, :da.sizes["seed"], :da.sizes["episode"]] = da.length.values
    e = xr.Dataset({"return": (("run", "evaluated_on", "seed", "episode"), ret,
                               {"long_name": "return of one evaluation episode of the final policy"}),
                    "length": (("run", "evaluated_on", "seed", "episode"), length,
                               {"long_name": "episode length in steps (< 1000: the point mass left its box)"}),
                    "seed_id": (("run", "seed"), ids)},
                   coords={**_run_coords(folders), "evaluated_on": list(FINAL_EVALS),
                           "file": ("evaluated_on", list(FINAL_EVALS.values())), "episode": np.arange(100)})
    e.attrs.update(description="final-policy evaluations: heavy/light = the Swimmer model evaluated on the stock / "
                               "light-tail body (transfer, docs/methods/maxdiff.md §5.6); one_corner(_alpha20) = point "
                               "mass from the (-1,-1) corner (§5.3); NaN = not released", **_inputs_attrs(used))
    return e


def _singleshot_group() -> xr.Dataset:
    folders = singleshot_folders()
    ids, n = _seed_id(folders)
    width = max(_OBS_ACT[maxdiff_run_info(f).env][0] for f in folders)
    state = np.full((len(folders), n, width), np.nan)
    final_x = np.full((len(folders), n), np.nan)
    dims, used = [], []
    for i, f in enumerate(folders):
        d = maxdiff_singleshot_final_state(f)
        used += [f"{p}/buffer_data.pkl" for p in _check_folder(f).values()]
        state[i, :d.sizes["seed"], :d.sizes["state_dim"]] = d.next_state.values
        final_x[i, :d.sizes["seed"]] = d.final_x.values
        dims.append(d.sizes["state_dim"])
    s = xr.Dataset({"final_x": (("run", "seed"), final_x, {"long_name": "x position after the last of 1e6 steps "
                                                                        "(s'[0] of the last transition)"}),
                    "final_state": (("run", "seed", "state_dim"), state,
                                    {"long_name": "s' of the last transition (NaN-padded past state_dim_used)"}),
                    "state_dim_used": ("run", np.array(dims, np.int64)), "seed_id": (("run", "seed"), ids)},
                   coords=_run_coords(folders))
    s.attrs.update(description="single-shot runs (one 1e6-step episode, no reset): last row of buffer_data.pkl "
                               "(Ant: buffers not released in a readable form)", **_inputs_attrs(used),
                   local_copy=f"a local copy ($MDRL_PUBLISHED_DIR) keeps only these last rows, in {SINGLESHOT_NPZ} "
                              f"(sha256 {DERIVED_SHA256[SINGLESHOT_NPZ]})")
    return s


def build_maxdiff_datasets() -> dict[str, xr.Dataset]:
    """The groups of ``maxdiff.nc`` (:data:`MAXDIFF_GROUPS`) from the released files."""
    folders = maxdiff_folders()
    return {"curves": _curves_group(folders), "as_plotted": _as_plotted_group(folders),
            "final_eval": _final_eval_group(folders), "singleshot": _singleshot_group()}


def _root_attrs(title: str, source: str, commit: str, license_: str) -> dict:
    return {"title": title, "source": source, "commit": commit, "license_of_source": license_,
            "manifest": f"mdrl_lib/{MANIFEST_FILE}", "manifest_sha256": manifest_sha256(),
            "built_by": "python -m mdrl_lib.references build", "conventions": "numbers derived from the released "
            "files only; no raw file is stored here. Each dataset's 'inputs' attribute lists its input files as "
            "'<sha256>  <path>' lines, from the repository and commit in 'inputs_source'."}


def _write_nc(path: Path, root_attrs: Mapping, groups: Mapping[str, xr.Dataset] | None = None,
              ds: xr.Dataset | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        def enc(d):  # measured values as float32 (7 significant digits, plenty for a figure): half the size
            return {v: {**_ENCODE, "dtype": "float32"} for v in d.data_vars if d[v].dtype.kind == "f"}
        if ds is not None:
            ds = ds.assign_attrs(**root_attrs)
            ds.to_netcdf(tmp, engine=NC_ENGINE, mode="w", encoding=enc(ds))
        else:
            xr.Dataset(attrs=dict(root_attrs)).to_netcdf(tmp, engine=NC_ENGINE, mode="w")
            for name, g in groups.items():
                g.to_netcdf(tmp, engine=NC_ENGINE, mode="a", group=name, encoding=enc(g))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build(out: str | Path | None = None) -> list[Path]:
    """Write ``maxdiff.nc`` and ``dime.nc`` (default into :func:`published_data_dir`); return their paths.

    Deterministic: the same manifest and inputs give byte-identical files (no time stamps are stored).
    """
    out = Path(out) if out is not None else published_data_dir()
    mx = manifest()[reward_log_key("maxdiff/SwimmerEnv_v3_H40_alpha100", 13)]
    maxdiff_attrs = _root_attrs(
        "MaxDiff RL (Berrueta, Pinosky, Murphey, Nature Machine Intelligence 2024): released results as numbers",
        f"github.com/{MAXDIFF_SOURCE} data/", mx.commit, "GPL-3.0")
    maxdiff_attrs.update(metrics=json.dumps(METRICS, sort_keys=True), counting_rule=COUNTING_RULE,
                         step_grid=STEP_GRID_DOC, groups="curves: training curves (run, seed, step); as_plotted: "
                         "best-so-far curves as the authors' notebooks draw them (run, seed, point); final_eval: "
                         "final-policy evaluations (run, evaluated_on, seed, episode); singleshot: final states "
                         "(run, seed)")
    paths = [out / "maxdiff.nc", out / "dime.nc"]
    _write_nc(paths[0], maxdiff_attrs, groups=build_maxdiff_datasets())
    dime = _dime_dataset(DIME_TASKS)
    dime.attrs.update(_inputs_attrs(f"dime/paper_results/{t}/{n}.npy" for t in DIME_TASKS
                                    for n in ("env_interacts", "mean_return")))
    dime_attrs = _root_attrs("DIME (Celik et al., ICML 2025): published learning curves (paper_results/)",
                             f"github.com/{DIME_SOURCE} paper_results/", DIME_COMMIT, "MIT")
    _write_nc(paths[1], dime_attrs, ds=dime)
    return paths


@cache
def _open_published(which: str, path: str, mtime: float) -> xr.Dataset:
    group = None if which == "dime" else which.removeprefix("maxdiff_")
    with xr.open_dataset(path, engine=NC_ENGINE, group=group) as ds:
        ds = ds.load()
    if group is not None:  # the file's own attributes (source, commit, definitions) with the group's
        with xr.open_dataset(path, engine=NC_ENGINE) as top:
            ds.attrs = {**top.attrs, **ds.attrs}
    return ds


def load_published(which: str) -> xr.Dataset:
    """A committed derived dataset from ``data/published/`` (no network, no ``../shared``).

    ``which``: ``"maxdiff_curves"`` (best_so_far / raw / trailing_mean (run, seed, step) on :data:`STEP_GRID`),
    ``"maxdiff_final_eval"`` (return, length (run, evaluated_on, seed, episode)), ``"maxdiff_singleshot"``
    (final_x (run, seed), final_state) or ``"dime"`` (mean_return (task, seed, step)). ``run`` is the released
    folder, ``seed`` an index with the authors' number in ``seed_id``. Do not modify the returned Dataset.
    """
    if which not in PUBLISHED_DATASETS:
        raise ValueError(f"unknown published dataset {which!r}; valid names are {', '.join(PUBLISHED_DATASETS)}")
    path = published_data_dir() / ("dime.nc" if which == "dime" else "maxdiff.nc")
    if not path.is_file():
        raise ReferenceUnavailableError(f"{path} is missing; build it with `python -m mdrl_lib.references build` "
                                        "(needs MDRL_PUBLISHED_DIR or network)")
    return _open_published(which, str(path), path.stat().st_mtime).copy()


def _by_seed(da: xr.DataArray, seed_id: xr.DataArray) -> xr.DataArray:
    keep = seed_id.values >= 0
    return da.isel(seed=keep).assign_coords(seed=seed_id.values[keep])


def published_folder(method: str, env: str, *, beta: float | None = None, alpha: float | None = None,
                     body: str | None = None, singleshot: bool = False) -> str:
    """The released MaxDiff run folder for ``method`` (``MaxDiff``, ``NN-MPPI``, ``SAC``) on ``env``
    (``point_mass``, ``swimmer``, ``halfcheetah``, ``ant``), chosen by β (point mass), ``body`` (``heavy`` /
    ``light``, Swimmer) and, for MaxDiff, α; e.g. ``published_folder("MaxDiff", "swimmer", body="heavy",
    alpha=100)`` → ``"maxdiff/SwimmerEnv_v3_H40_alpha100"``. One clear error when none or several match."""
    ds = load_published("maxdiff_curves")
    keep = (ds.method == method) & (ds.env == env) & (ds.singleshot == int(singleshot))
    if beta is not None:
        keep &= np.isclose(ds.beta, beta)
    if body is not None:
        keep &= ds.body == body
    if alpha is not None and method == "MaxDiff":
        keep &= np.isclose(ds.alpha, alpha)
    runs = ds.run.values[keep.values]
    if len(runs) != 1:
        valid = sorted(set(zip(ds.method.values.tolist(), ds.env.values.tolist(), strict=True)))
        raise ValueError(f"expected one released run for {method} on {env} (beta={beta}, alpha={alpha}, "
                         f"body={body}, singleshot={singleshot}); found {list(runs)}; released (method, env): {valid}")
    return str(runs[0])


def published_curve(name: str, metric: str = "best_so_far") -> xr.DataArray:
    """A published curve from the committed files, ``DataArray(seed, step)``, up to the run's budget.

    ``name``: a MaxDiff run folder (:func:`maxdiff_folders`; ``metric`` one of :data:`METRICS`) or a DIME task
    (:data:`DIME_TASKS`; ``metric`` ignored). Same numbers as :func:`maxdiff_curve` / :func:`dime_curve`.
    """
    if name in DIME_FILES:
        da = load_published("dime").mean_return.sel(task=name).dropna("step", how="all")
        return da.drop_vars(["task", "metric"]).assign_attrs(task=name, definition=DIME_DEFINITION)
    _check_metric(metric)
    ds = load_published("maxdiff_curves")
    if name not in ds.run.values:
        raise ValueError(f"unknown published curve {name!r}; valid names are MaxDiff run folders "
                         f"({', '.join(ds.run.values)}) and DIME tasks ({', '.join(DIME_TASKS)})")
    run = ds.sel(run=name)
    da = _by_seed(run[metric], run.seed_id).sel(step=ds.step[ds.step <= int(run.budget)])
    return da.drop_vars([c for c in da.coords if c not in ("seed", "step")]).assign_attrs(
        folder=name, metric=metric, definition=METRICS[metric], counting_rule=COUNTING_RULE)


def read_at(curve: xr.DataArray, step: int) -> tuple[np.ndarray, int]:
    """A published curve read where a run of ours stopped: the seeds' values at the last grid point at or before
    ``step`` (the curves are step functions of the environment step: :data:`COUNTING_RULE`), and that grid point.

    ``curve``: a ``DataArray(seed, step)`` as from :func:`published_curve`. Raises ``ValueError`` naming ``step``
    and the curve's first grid point when ``step`` comes before it.
    """
    grid = np.asarray(curve.step.values)
    before = grid[grid <= step]
    if before.size == 0:
        raise ValueError(f"step {step} comes before the curve's first grid point ({grid.min():g}); "
                         f"valid steps are >= {grid.min():g}")
    at = int(before.max())
    return curve.sel(step=at).values.astype(float), at


def published_authors_curve(folder: str) -> xr.DataArray:
    """:func:`authors_curve` from the committed ``maxdiff.nc``: ``DataArray(seed, step)``, float steps."""
    ds = load_published("maxdiff_as_plotted")
    if folder not in ds.run.values:
        raise ValueError(f"unknown MaxDiff run folder {folder!r}; valid folders are {', '.join(ds.run.values)}")
    run = ds.sel(run=folder)
    n = int(run.n_points)
    da = _by_seed(run.best_so_far, run.seed_id).isel(point=slice(0, n)).rename(point="step")
    da = da.assign_coords(step=run.step_at.values[:n])
    return da.drop_vars([c for c in da.coords if c not in ("seed", "step")]).assign_attrs(folder=folder)


def published_final_eval(folder: str, on: str) -> xr.DataArray:
    """:func:`maxdiff_final_eval` from the committed ``maxdiff.nc``: ``DataArray(seed, episode)`` with ``length``."""
    ds = load_published("maxdiff_final_eval")
    if on not in FINAL_EVALS:
        raise ValueError(f"unknown evaluation {on!r}; valid values are {', '.join(FINAL_EVALS)}")
    if folder not in ds.run.values:
        raise ValueError(f"no final evaluations for {folder!r}; valid folders are {', '.join(ds.run.values)}")
    run = ds.sel(run=folder, evaluated_on=on)
    if np.isnan(run["return"].values).all():
        raise ValueError(f"{folder} released no {FINAL_EVALS[on]}")
    da = _by_seed(run["return"], run.seed_id)
    length = _by_seed(run["length"], run.seed_id)
    da = da.assign_coords(length=(("seed", "episode"), length.values.astype(np.int64)))
    return da.drop_vars([c for c in da.coords if c not in ("seed", "episode", "length")]).assign_attrs(
        folder=folder, evaluated_on=on)


def published_point_mass_error(algo: str, beta: float, on: str | None = None) -> xr.DataArray:
    """The authors' point-mass final-policy error Σ_t (x_t² + y_t²) = −return, ``DataArray(seed, episode)``, with
    the episodes their notebooks drop set to NaN (docs/methods/maxdiff.md §5.2): first those that left the box
    (shorter than 1000 steps), then outliers beyond median ± (P90 − P10) of the pooled episodes. The mean of the
    kept episodes is the paper's bar, their std its error bar. ``on=None``: the evaluation the paper's bars use —
    the α = 20 re-evaluation where one was released (MaxDiff at β = 0.001), else ``"one_corner"``."""
    folder = published_folder(algo, "point_mass", beta=beta)
    if on is None:
        ds = load_published("maxdiff_final_eval")
        alpha20 = bool(ds["return"].sel(run=folder, evaluated_on="one_corner_alpha20").notnull().any())
        on = "one_corner_alpha20" if alpha20 else "one_corner"
    ev = published_final_eval(folder, on)
    err = (-ev).where(ev.length >= 1000)
    p10, p50, p90 = np.nanpercentile(err, [10, 50, 90])
    return err.where(abs(err - p50) <= p90 - p10).assign_attrs(folder=folder, evaluated_on=on)


def matches_printed(value: float, printed: str) -> bool:
    """``value`` equals the number printed as ``printed`` (e.g. ``"400.3"``) to within one unit of its last digit:
    how a value recomputed from the released data is checked against a paper's (or a note's) printed table."""
    digits = len(printed.split(".")[1]) if "." in printed else 0
    return abs(float(value) - float(printed)) <= 10.0 ** -digits + 1e-9


def check_mean_std(values, printed: str) -> None:
    """Assert that mean ± std (ddof 0) of ``values`` is ``printed`` (``"m ± s"``) to one unit of the last digits."""
    m, s = printed.split(" ± ")
    v = np.asarray(values, dtype=float)
    assert matches_printed(v.mean(), m) and matches_printed(v.std(), s), (printed, v.mean(), v.std())


def published_final_x(folder: str) -> xr.DataArray:
    """Single-shot final x positions from the committed ``maxdiff.nc``: ``DataArray(seed)``."""
    ds = load_published("maxdiff_singleshot")
    if folder not in ds.run.values:
        raise ValueError(f"no single-shot final states for {folder!r}; valid folders are {', '.join(ds.run.values)}")
    run = ds.sel(run=folder)
    da = _by_seed(run.final_x, run.seed_id)
    return da.drop_vars([c for c in da.coords if c != "seed"]).assign_attrs(folder=folder)


# ----- command line ---------------------------------------------------------------------------------------------

def verify_all() -> dict[str, str]:
    """Locate and sha256-check every pinned file; return key -> where it was found."""
    out = {}
    for key, entry in manifest().items():
        out[key] = _locate(key, container_ok=entry.stored_as != key).where
    return out


def _main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mdrl_lib.references",
                                     description="The authors' released results: verify them, or build the "
                                                 "committed data/published/*.nc from them.")
    parser.add_argument("command", choices=("build", "verify"),
                        help="build: write data/published/{maxdiff,dime}.nc; verify: find and sha256-check every "
                             "pinned file")
    parser.add_argument("--published-dir", help="local copy of the released files (sets MDRL_PUBLISHED_DIR; "
                                                "default: $MDRL_PUBLISHED_DIR, else ../shared/published if present)")
    parser.add_argument("--out", help="output folder for build (default data/published)")
    args = parser.parse_args(argv)
    local = args.published_dir or os.environ.get("MDRL_PUBLISHED_DIR")
    if not local and (root().parent / "shared" / "published").is_dir():
        local = str(root().parent / "shared" / "published")
    if local:
        os.environ["MDRL_PUBLISHED_DIR"] = local
        print(f"released files: cache {cache_dir() / 'published'}, then {local}, then download")
    try:
        if args.command == "verify":
            found = verify_all()
            print(f"{len(found)} pinned files found and sha256-checked")
        else:
            for p in build(args.out):
                print(f"wrote {p} ({p.stat().st_size:,} bytes, sha256 {_sha256(p.read_bytes())})")
    except ReferenceDataError as err:
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    _main()

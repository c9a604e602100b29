"""The authors' published results: downloaded on demand, integrity-checked, cached outside git, as xarray.

DIME (``specs/dime.md`` §4) publishes its learning curves in the repository ``ALRhub/DIME`` (MIT) at commit
``7082bb7e8ab0e7f8a036a985333541d08d9d3e7d``: ``paper_results/<task>/env_interacts.npy`` (the step grid
1, 24k, 48k, ...) and ``paper_results/<task>/mean_return.npy`` (10 seeds × grid; each value the mean of 5
stochastic evaluation episodes; for the MyoSuite tasks a *success rate*). :func:`load_dime_curves`
returns them as ``mean_return(task, seed, step)``.

Integrity. The spec records, for every file, its exact size and the first 8 hex digits of its **git blob
SHA-1** (``sha1(b"blob <size>\\0" + content)``, what ``git hash-object`` prints), not a sha256. A download
is accepted only if

1. its size is the recorded size,
2. its git blob SHA-1 starts with the recorded prefix (32 bits: any accidental corruption is caught; a
   deliberate collision is feasible, which is why 3 and 4 exist),
3. its sha256 equals the pinned one, for files in :data:`DIME_SHA256` (empty until someone with access
   to GitHub runs ``python -m mdrl_lib.references --pin`` and commits the printed table), and
4. it parses as a plain ``.npy`` (no pickle) of float64 with the expected shape, and the step grid is
   exactly ``1, 24000, 48000, ...``.

The sha256 of every accepted file is stored next to it in the cache (``manifest.json``) and re-checked on
every later read, so a cached file that changed is detected and fetched again.

Cache. ``$MDRL_CACHE`` (default ``$XDG_CACHE_HOME/mdrl`` or ``~/.cache/mdrl``) ``/references/dime/<commit>/``
— outside the repository: published data are never committed to mdrl.

Offline. Without network access (or with ``MDRL_OFFLINE=1``) a missing file raises
:class:`ReferenceUnavailableError` with a message saying so; :func:`try_load_dime_curves` turns that into
``(None, message)`` so notebooks still run and draw only our curves. :data:`DIME_HEADLINE` holds the spec's
§3.3 summary numbers (computed by the spec's authors from the same files), to be drawn, clearly labelled,
when the curves themselves cannot be downloaded.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

DIME_REPO = "ALRhub/DIME"
DIME_COMMIT = "7082bb7e8ab0e7f8a036a985333541d08d9d3e7d"
DIME_BASE_URL = f"https://raw.githubusercontent.com/{DIME_REPO}/{DIME_COMMIT}/paper_results"
DIME_GRID_STEP = 24_000
DIME_SEEDS = 10


class ReferenceDataError(RuntimeError):
    """Published reference data could not be provided."""


class ReferenceUnavailableError(ReferenceDataError):
    """The data are not cached and could not be downloaded (offline, blocked, or not found)."""


class ReferenceIntegrityError(ReferenceDataError):
    """A downloaded file is not the published one (size, hash or content check failed)."""


@dataclass(frozen=True)
class ReferenceFile:
    """One published file: path relative to the base URL, exact size, git blob SHA-1 prefix, sha256."""

    path: str
    size: int
    git_blob_prefix: str
    sha256: str | None = None


# spec §4: task -> (grid length T, git blob prefix of mean_return.npy); env_interacts.npy is identical for
# every task of the same grid (blob a4373ba5 for T = 42, c5922386 for T = 126).
_DIME_TABLE = {
    "dmc_acrobot": (42, "39b8d2f6"), "dmc_cheetah_run": (42, "59b1ccda"), "dmc_dog_run": (126, "5ab9a189"),
    "dmc_dog_stand": (42, "1e4d89cb"), "dmc_dog_trot": (42, "a98122e6"), "dmc_dog_walk": (42, "4d670528"),
    "dmc_finger_turn": (42, "6efd65a0"), "dmc_fish_swim": (42, "3bee052b"), "dmc_hopper_hop": (42, "6637e42f"),
    "dmc_humanoid_run": (126, "cb58e483"), "dmc_humanoid_stand": (42, "16475583"),
    "dmc_humanoid_walk": (42, "249d9749"), "dmc_pendulum_swingup": (42, "da8c4edb"),
    "dmc_quadruped_run": (42, "63530e96"), "dmc_walker_run": (42, "16f287ec"), "gym_ant_v3": (42, "e2dd10bc"),
    "gym_humanoid_v3": (42, "25f7b1b5"), "myo_hand_key_turn_rndm": (42, "ad3b5e76"),
    "myo_hand_obj_hold_rndm": (42, "9634a781"), "myo_hand_pen_twirl_rndm": (42, "5f2ac38e"),
    "myo_hand_reach_rndm": (42, "1d6ee3b0"),
}
_GRID_BLOB = {42: "a4373ba5", 126: "c5922386"}

#: Pinned sha256 of the published files, ``"<task>/<file>.npy" -> hex``; empty until pinned (module doc).
DIME_SHA256: dict[str, str] = {}


def _npy_size(T: int) -> int:
    return 128 + 8 * DIME_SEEDS * T  # .npy v1.0 header of 128 bytes + float64 (10, T): 3488 / 10208 (spec §4)


def _dime_files() -> dict[str, dict[str, ReferenceFile]]:
    out = {}
    for task, (T, blob) in _DIME_TABLE.items():
        out[task] = {}
        for name, prefix in (("env_interacts", _GRID_BLOB[T]), ("mean_return", blob)):
            path = f"{task}/{name}.npy"
            out[task][name] = ReferenceFile(path, _npy_size(T), prefix, DIME_SHA256.get(path))
    return out


#: task -> {"env_interacts": ReferenceFile, "mean_return": ReferenceFile}
DIME_FILES = _dime_files()
DIME_TASKS = tuple(DIME_FILES)

#: The spec's §3.3 table (mean over 10 seeds of the 5-episode means; "final" at the grid end), as computed
#: by the spec's authors from ``paper_results`` at 7082bb7. Keys: grid_end (env steps), mean_0p5M, mean_1M,
#: final_mean, final_std, final_iqm. MyoSuite values are success rates.
DIME_HEADLINE_SOURCE = ("specs/dime.md §3.3, 'Headline numbers computed from paper_results' (ALRhub/DIME "
                        "@7082bb7; mean over 10 seeds; not downloaded here)")
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


# ----- hashing, cache ------------------------------------------------------------------------------------------

def git_blob_sha1(data: bytes) -> str:
    """The git object id of a file with content ``data`` (``git hash-object``): hex SHA-1."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def cache_dir() -> Path:
    """Root of the download cache: ``$MDRL_CACHE``, else ``$XDG_CACHE_HOME/mdrl``, else ``~/.cache/mdrl``."""
    env = os.environ.get("MDRL_CACHE")
    if env:
        return Path(env).expanduser().resolve()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "mdrl"


def _offline() -> bool:
    return os.environ.get("MDRL_OFFLINE", "").strip().lower() in ("1", "true", "yes")


def verify(data: bytes, ref: ReferenceFile, source: str) -> str:
    """Check size, git blob prefix and pinned sha256 of ``data``; return its sha256 or raise."""
    if len(data) != ref.size:
        raise ReferenceIntegrityError(f"{ref.path} from {source}: {len(data)} bytes, expected {ref.size}")
    blob = git_blob_sha1(data)
    if not blob.startswith(ref.git_blob_prefix.lower()):
        raise ReferenceIntegrityError(f"{ref.path} from {source}: git blob SHA-1 {blob} does not start with the "
                                      f"published {ref.git_blob_prefix}")
    sha = hashlib.sha256(data).hexdigest()
    if ref.sha256 is not None and sha != ref.sha256.lower():
        raise ReferenceIntegrityError(f"{ref.path} from {source}: sha256 {sha}, pinned {ref.sha256}")
    return sha


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


class _Manifest:
    """``manifest.json`` in a cache folder: relative path -> sha256 recorded when the file was accepted."""

    def __init__(self, folder: Path):
        self.path = folder / "manifest.json"
        try:
            self.entries: dict[str, str] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.entries = {}

    def save(self) -> None:
        _atomic_write(self.path, json.dumps(self.entries, indent=1, sort_keys=True).encode())


def fetch(ref: ReferenceFile, *, base_url: str, folder: Path, manifest: _Manifest, timeout: float = 30.0
          ) -> tuple[bytes, str]:
    """The verified bytes of ``ref`` and their sha256: from the cache ``folder`` if intact, else downloaded."""
    local = folder / ref.path
    if local.exists():
        data = local.read_bytes()
        try:
            sha = verify(data, ref, f"cache {local}")
            recorded = manifest.entries.get(ref.path)
            if recorded in (None, sha):  # changed since it was accepted: fetch again
                if recorded is None:
                    manifest.entries[ref.path] = sha
                    manifest.save()
                return data, sha
        except ReferenceIntegrityError:
            pass  # a damaged cache entry is fetched again
    url = f"{base_url.rstrip('/')}/{ref.path}"
    if _offline():
        raise ReferenceUnavailableError(f"{ref.path} is not cached in {folder} and MDRL_OFFLINE is set; "
                                        f"unset it (and go online) to download it from {url}")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (https or file:// by design)
            data = resp.read()
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = f"HTTP {err.code} {err.reason}" if isinstance(err, urllib.error.HTTPError) else getattr(
            err, "reason", err)
        raise ReferenceUnavailableError(f"could not download {url}: {reason}. No network access (offline?) or "
                                        "the file is not there; the published curves are not available here. "
                                        f"Cached files live in {folder}.") from err
    sha = verify(data, ref, url)
    _atomic_write(local, data)
    manifest.entries[ref.path] = sha
    manifest.save()
    return data, sha


def _load_npy(data: bytes, ref: ReferenceFile, shape: tuple[int, ...]) -> np.ndarray:
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as err:
        raise ReferenceIntegrityError(f"{ref.path} is not a plain .npy array: {err}") from err
    if arr.dtype != np.float64 or arr.shape != shape:
        raise ReferenceIntegrityError(f"{ref.path}: dtype {arr.dtype} shape {arr.shape}, expected float64 {shape}")
    return arr


# ----- DIME ----------------------------------------------------------------------------------------------------

def load_dime_curves(tasks: str | Sequence[str] | None = None, *, base_url: str = DIME_BASE_URL,
                     cache: str | Path | None = None, files: Mapping[str, Mapping[str, ReferenceFile]] | None = None,
                     timeout: float = 30.0) -> xr.Dataset:
    """DIME's published learning curves as ``mean_return(task, seed, step)`` (NaN past a task's grid end).

    ``tasks``: names of :data:`DIME_TASKS` (default all 21). ``base_url``: where ``<task>/<file>.npy`` are
    served (default: raw.githubusercontent.com at the pinned commit; tests use ``file://`` or a local
    server). ``cache``: cache root (default :func:`cache_dir`). ``files``: the table of expected files
    (default :data:`DIME_FILES`). Raises :class:`ReferenceUnavailableError` when offline and not cached,
    :class:`ReferenceIntegrityError` when a file is not the published one.
    """
    files = DIME_FILES if files is None else files
    if tasks is None:
        tasks = list(files)
    elif isinstance(tasks, str):
        tasks = [tasks]
    bad = [t for t in tasks if t not in files]
    if bad:
        raise ValueError(f"unknown DIME task(s) {bad}; valid tasks are {', '.join(files)}")
    folder = (Path(cache) if cache is not None else cache_dir()) / "references" / "dime" / DIME_COMMIT[:12]
    manifest = _Manifest(folder)
    grids, curves, hashes = {}, {}, {}
    for task in tasks:
        got = {}
        for name in ("env_interacts", "mean_return"):
            ref = files[task][name]
            data, hashes[ref.path] = fetch(ref, base_url=base_url, folder=folder, manifest=manifest,
                                           timeout=timeout)
            T = (ref.size - 128) // (8 * DIME_SEEDS)
            got[name] = _load_npy(data, ref, (DIME_SEEDS, T))
        steps = got["env_interacts"]
        expect = np.concatenate([[1.0], DIME_GRID_STEP * np.arange(1, steps.shape[1])])
        if not (steps == expect).all():
            raise ReferenceIntegrityError(f"{task}/env_interacts.npy is not the grid 1, 24000, 48000, ... in "
                                          "every row")
        grids[task], curves[task] = expect.astype(np.int64), got["mean_return"]
    all_steps = np.unique(np.concatenate(list(grids.values())))
    arr = np.full((len(tasks), DIME_SEEDS, len(all_steps)), np.nan)
    for i, task in enumerate(tasks):
        arr[i][:, np.searchsorted(all_steps, grids[task])] = curves[task]
    metric = ["success_rate" if t.startswith("myo_") else "return" for t in tasks]
    ds = xr.Dataset({"mean_return": (("task", "seed", "step"), arr)},
                    coords={"task": list(tasks), "seed": np.arange(DIME_SEEDS), "step": all_steps,
                            "metric": ("task", metric)})
    ds["mean_return"].attrs.update(long_name="mean of 5 stochastic evaluation episodes (success rate for myo_*)")
    ds["seed"].attrs["note"] = "row index of the published arrays; the authors' seed ids are not recorded"
    ds.attrs.update(source=f"github.com/{DIME_REPO} paper_results/ at commit {DIME_COMMIT}", license="MIT",
                    base_url=base_url, sha256=json.dumps(hashes, sort_keys=True),
                    protocol="10 seeds; each value the mean of 5 stochastic-policy episodes; grid 1, then "
                             "every 24,000 env steps (spec dime.md §4)")
    return ds


def try_load_dime_curves(tasks: str | Sequence[str] | None = None, **kwargs) -> tuple[xr.Dataset | None, str]:
    """:func:`load_dime_curves`, or ``(None, reason)`` when the data cannot be had (offline, integrity)."""
    try:
        return load_dime_curves(tasks, **kwargs), "published curves loaded"
    except ReferenceDataError as err:
        return None, f"published DIME curves unavailable: {err}"


def _main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mdrl_lib.references",
                                     description="Download and verify DIME's published curves into the cache.")
    parser.add_argument("tasks", nargs="*", help=f"tasks (default all): {', '.join(DIME_TASKS)}")
    parser.add_argument("--pin", action="store_true", help="print the sha256 table to paste into DIME_SHA256")
    args = parser.parse_args(argv)
    ds = load_dime_curves(args.tasks or None)
    print(f"{ds.sizes['task']} tasks verified and cached under {cache_dir()}")
    if args.pin:
        for path, sha in sorted(json.loads(ds.attrs["sha256"]).items()):
            print(f'    "{path}": "{sha}",')


if __name__ == "__main__":
    _main()

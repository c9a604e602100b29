"""references.py: the pinned manifest, the layered lookup, the restricted unpickler, the curves and the committed
``data/published/*.nc`` -- offline, against the released files in ``../shared/published``.

Tests that need the released files skip (saying why) when ``../shared/published`` is absent; the tests of the
committed ``data/published/*.nc`` and of the unpickler run everywhere.
"""

import hashlib
import os
import pickle
import shutil

import numpy as np
import pytest

from mdrl_lib import references as refs
from mdrl_lib.paths import root
from mdrl_lib.references import (
    ReferenceIntegrityError,
    ReferenceUnavailableError,
    UnsafePickleError,
    safe_loads,
)

SHARED = root().parent / "shared" / "published"
needs_shared = pytest.mark.skipif(not (SHARED / "MANIFEST.tsv").is_file(),
                                  reason=f"the authors' released files are not here ({SHARED} is absent)")
POINT_MASS = "maxdiff/PointMass2D_DoubleIntEnv_beta1e_03_H30_alpha25"
SWIMMER = "maxdiff/SwimmerEnv_v3_H40_alpha100"
ANT_SAC = "sac_orig/AntEnv_v3_orig_rew5"
SS_CHEETAH = "mppi/HalfCheetahEnv_v3_H10_singleshot"


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """No network, an empty cache, no local copy."""
    monkeypatch.setenv("MDRL_OFFLINE", "1")
    monkeypatch.setenv("MDRL_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MDRL_PUBLISHED_DIR", raising=False)
    return tmp_path


@pytest.fixture
def shared(offline, monkeypatch):
    """As ``offline``, with ``MDRL_PUBLISHED_DIR`` at ``../shared/published``."""
    monkeypatch.setenv("MDRL_PUBLISHED_DIR", str(SHARED))
    return offline


def raw_rows(key):
    """Rows of a released pickle read straight from ../shared (not through the lookup layer)."""
    return safe_loads((SHARED / key).read_bytes(), key)


def direct_curve(folder, seed, metric, steps, budget, point_mass=False, singleshot=False, window=10):
    """The curve computed the obvious way, episode by episode, from the raw rows."""
    rows = raw_rows(f"maxdiff/{folder}/seed_{seed}/reward_data.pkl")
    if singleshot:
        assert rows[-1][0] == rows[-2][0] and rows[-1][1] == 0
        rows = rows[:-1]
    if point_mass:
        rows = [r for r in rows if r[3] == 1000]
    out = []
    for s in steps:
        seen = [float(r[1]) for r in rows if r[0] <= s or s >= budget]
        if not seen:
            out.append(np.nan)
        elif metric == "best_so_far":
            out.append(max(seen))
        elif metric == "raw":
            out.append(seen[-1])
        else:
            out.append(sum(seen[-window:]) / len(seen[-window:]))
    return np.array(out)


# ----- manifest --------------------------------------------------------------------------------------------------

def test_manifest_is_parsed_and_dime_table_agrees():
    m = refs.manifest()
    assert len(m) == 1655
    e = m["maxdiff/maxdiff/SwimmerEnv_v3_H40_alpha100/seed_13/reward_data.pkl"]
    assert (e.source, e.commit, e.path) == ("MurpheyLab/MaxDiffRL", "cb695d8",
                                           "data/maxdiff/SwimmerEnv_v3_H40_alpha100/seed_13/reward_data.pkl")
    assert e.url == ("https://raw.githubusercontent.com/MurpheyLab/MaxDiffRL/cb695d8/"
                     "data/maxdiff/SwimmerEnv_v3_H40_alpha100/seed_13/reward_data.pkl")
    assert sum(k.startswith("dime/") for k in m) == 42
    # the DIME sizes of docs/methods/dime.md §4 agree with the manifest, and every DIME file is now sha256-pinned
    for files in refs.DIME_FILES.values():
        for f in files.values():
            pinned = m[f"dime/paper_results/{f.path}"]
            assert pinned.size == f.size and f.sha256 == pinned.sha256
    assert sum(f.size for t in refs.DIME_FILES.values() for f in t.values()) == 173_376  # docs/methods/dime.md §4 total
    assert len(refs.maxdiff_folders()) == 40
    assert refs.maxdiff_seeds(POINT_MASS) == [13, 113, 213, 313, 413, 613, 713, 813, 913, 1013]  # no _seed_513
    assert refs.maxdiff_seeds(SWIMMER) == list(range(13, 1000, 100))


@needs_shared
def test_manifest_is_the_shared_one_and_dime_blobs_match_the_spec():
    assert (SHARED / "MANIFEST.tsv").read_bytes() == (root() / "mdrl_lib" / refs.MANIFEST_FILE).read_bytes()
    for files in refs.DIME_FILES.values():  # blob prefixes of docs/methods/dime.md §4: an independent check
        for f in files.values():
            blob = refs.git_blob_sha1((SHARED / "dime/paper_results" / f.path).read_bytes())
            assert blob.startswith(f.git_blob_prefix), (f.path, blob)
    assert hashlib.sha256((SHARED / refs.SINGLESHOT_NPZ).read_bytes()).hexdigest() == \
        refs.DERIVED_SHA256[refs.SINGLESHOT_NPZ]


# ----- lookup: cache, local folder, download; errors --------------------------------------------------------------

def test_missing_file_is_one_error_naming_every_place(offline):
    key = f"maxdiff/{SWIMMER}/seed_13/reward_data.pkl"
    with pytest.raises(ReferenceUnavailableError) as err:
        refs.published_bytes(key)
    msg = str(err.value)
    assert key in msg and "MurpheyLab/MaxDiffRL@cb695d8:data/" in msg
    assert str(offline / "cache" / "published" / key) in msg and "MDRL_PUBLISHED_DIR is not set" in msg
    assert "raw.githubusercontent.com/MurpheyLab/MaxDiffRL/cb695d8" in msg and "MDRL_OFFLINE" in msg
    with pytest.raises(ValueError, match="'maxdiff/nope' is not a pinned published file"):
        refs.published_bytes("maxdiff/nope")


def test_failed_download_is_named(offline, monkeypatch):
    monkeypatch.delenv("MDRL_OFFLINE")
    monkeypatch.setattr(refs, "RAW_URL", (offline / "nowhere").as_uri() + "/{source}/{commit}/{path}")
    with pytest.raises(ReferenceUnavailableError, match=r"3\. download file:.*nowhere/ALRhub/DIME/7082bb7e8ab0e7f8a0"
                                                        r"36a985333541d08d9d3e7d/"
                                                        r"paper_results/gym_ant_v3/mean_return.npy: failed"):
        refs.published_bytes("dime/paper_results/gym_ant_v3/mean_return.npy")


@needs_shared
def test_download_goes_to_the_cache_and_is_checked(offline, monkeypatch):
    """A stand-in for GitHub (a file:// tree <source>/<commit>/<path>): fetched once, then read from the cache."""
    key = "dime/paper_results/gym_ant_v3/mean_return.npy"
    e = refs.manifest()[key]
    server, commit = offline / "server", refs.FULL_COMMITS.get(e.commit, e.commit)
    (server / e.source / commit / e.path).parent.mkdir(parents=True)
    shutil.copy(SHARED / key, server / e.source / commit / e.path)
    monkeypatch.delenv("MDRL_OFFLINE")
    monkeypatch.setattr(refs, "RAW_URL", server.as_uri() + "/{source}/{commit}/{path}")
    assert refs.published_bytes(key) == (SHARED / key).read_bytes()
    assert (offline / "cache" / "published" / key).read_bytes() == (SHARED / key).read_bytes()
    shutil.rmtree(server)
    assert refs.published_bytes(key) == (SHARED / key).read_bytes()  # from the cache now
    # a damaged cache copy is never used: reported and skipped
    data = bytearray((offline / "cache" / "published" / key).read_bytes())
    data[-1] ^= 1
    (offline / "cache" / "published" / key).write_bytes(bytes(data))
    with pytest.raises(ReferenceUnavailableError, match="present but damaged"):
        refs.published_bytes(key)
    # a server handing out a wrong file: integrity error naming the file and the URL, nothing cached
    (server / e.source / commit / e.path).parent.mkdir(parents=True)
    (server / e.source / commit / e.path).write_bytes(b"not the file")
    (offline / "cache" / "published" / key).unlink()
    with pytest.raises(ReferenceIntegrityError, match=f"{key} from file:.*sha256 [0-9a-f]{{64}} \\(12 bytes\\) is not "
                                                      f"the pinned {e.sha256}"):
        refs.published_bytes(key)
    assert not (offline / "cache" / "published" / key).exists()


@needs_shared
def test_hash_mismatch_in_local_copy_is_one_clear_error(offline, monkeypatch):
    key = f"maxdiff/{SWIMMER}/seed_13/reward_data.pkl"
    local = offline / "published"
    (local / key).parent.mkdir(parents=True)
    data = bytearray((SHARED / key).read_bytes())
    data[len(data) // 2] ^= 1  # one flipped bit, same size
    (local / key).write_bytes(bytes(data))
    config = f"maxdiff/{SWIMMER}/seed_13/config.yaml"
    shutil.copy(SHARED / config, local / config)
    monkeypatch.setenv("MDRL_PUBLISHED_DIR", str(local))
    with pytest.raises(ReferenceIntegrityError) as err:
        refs.published_bytes(key)
    msg = str(err.value)
    assert msg.startswith(f"published file {key} from {local / key}: sha256 ")
    assert f"is not the pinned {refs.manifest()[key].sha256}" in msg and "not the released one" in msg
    # and through a loader
    with pytest.raises(ReferenceIntegrityError, match=key):
        refs.maxdiff_curve(SWIMMER)


# ----- restricted unpickler ---------------------------------------------------------------------------------------

class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class _Plain:
    """An ordinary class: unpickling it would import and instantiate it."""


def test_malicious_pickle_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    evil = pickle.dumps([1.0, {"a": _RunsCode(marker)}])
    with pytest.raises(UnsafePickleError, match=r"evil.pkl: refused global (posix|os|nt)\.system: published pickles "
                                                r"may hold only plain containers, numbers and numpy arrays"):
        safe_loads(evil, "evil.pkl")
    assert not marker.exists()
    with pytest.raises(UnsafePickleError, match="refused global builtins.eval"):
        safe_loads(pickle.dumps(eval))
    with pytest.raises(UnsafePickleError, match="refused global .*test_references._Plain"):
        safe_loads(pickle.dumps(_Plain()))
    with pytest.raises(UnsafePickleError, match="numpy data of dtype object refused"):
        safe_loads(pickle.dumps(np.array([1, "a"], dtype=object)))
    with pytest.raises(ReferenceIntegrityError, match="not a readable pickle"):
        safe_loads(b"\x80\x04not a pickle")


@pytest.mark.parametrize("protocol", [3, 4, 5])  # the released pickles are protocols 3 and 4
def test_plain_data_round_trips(protocol):
    obj = [[1000, np.float64(-27.5), 0], ("final", 3.5, 1, 1000), {"x": np.arange(6.0).reshape(2, 3)},
           {1, 2}, np.int64(7), None, True, "text", 2 + 1j]
    back = safe_loads(pickle.dumps(obj, protocol=protocol))
    assert back[0] == obj[0] and back[1] == obj[1] and back[3:] == obj[3:]
    np.testing.assert_array_equal(back[2]["x"], obj[2]["x"])


# ----- MaxDiff curves ---------------------------------------------------------------------------------------------

@needs_shared
@pytest.mark.parametrize("metric", list(refs.METRICS))
def test_curves_equal_a_direct_computation(shared, metric):
    steps = [0, 999, 1000, 1200, 2000, 20_000, 30_000, 99_999, 100_000, 100_186, 1_000_000]
    cases = [(POINT_MASS, dict(point_mass=True)), (SWIMMER, {}), (ANT_SAC, {}), (SS_CHEETAH, dict(singleshot=True))]
    for folder, kw in cases:
        budget = refs.maxdiff_run_info(folder).budget
        grid = [s for s in steps if s <= 1_000_000]
        da = refs.maxdiff_curve(folder, metric, steps=grid)
        assert da.dims == ("seed", "step") and list(da.step.values) == grid
        for seed in (da.seed.values[0], da.seed.values[-1]):
            np.testing.assert_allclose(da.sel(seed=seed).values,
                                       direct_curve(folder, seed, metric, grid, budget, **kw), rtol=1e-12)
    # trailing-mean window is a parameter
    da = refs.maxdiff_curve(SWIMMER, "trailing_mean", steps=[50_000], window=3)
    np.testing.assert_allclose(da.sel(seed=13).values, direct_curve(SWIMMER, 13, "trailing_mean", [50_000],
                                                                    1_000_000, window=3))


@needs_shared
def test_curve_counting_rules(shared):
    # point mass: the first full-length episode of seed 13 ends at 1200 (an early 200-step exit before it)
    da = refs.maxdiff_curve("maxdiff/PointMass2D_DoubleIntEnv_beta1e00_H30_alpha5", "raw", steps=[1199, 1200])
    assert np.isnan(da.sel(seed=13).values[0]) and np.isfinite(da.sel(seed=13).values[1])
    # the last point of the default grid is the budget and counts the whole run (Ant's last episode overruns it)
    ant = refs.maxdiff_curve(ANT_SAC, "raw")
    assert int(ant.step[-1]) == 1_000_000 and ant.sizes["step"] == len(refs.STEP_GRID)
    last = [float(raw_rows(f"maxdiff/{ANT_SAC}/seed_{s}/reward_data.pkl")[-1][1]) for s in ant.seed.values]
    np.testing.assert_allclose(ant.isel(step=-1).values, last)
    pm = refs.maxdiff_curve(POINT_MASS)
    assert int(pm.step[-1]) == 100_000 and pm.sizes["step"] == 101
    assert list(pm.seed.values) == [13, 113, 213, 313, 413, 613, 713, 813, 913, 1013]


def test_curve_arguments_are_checked():
    with pytest.raises(ValueError, match="unknown MaxDiff run folder 'maxdiff/SwimmerEnv_v3_H40_alpha7' "
                                         r"\(did you mean .*\); valid folders are maxdiff/AntEnv"):
        refs.maxdiff_curve("maxdiff/SwimmerEnv_v3_H40_alpha7")
    with pytest.raises(ValueError, match="unknown metric 'mean'; valid metrics are best_so_far, raw, trailing_mean"):
        refs.maxdiff_curve(SWIMMER, "mean")
    with pytest.raises(ValueError, match="unknown evaluation 'cold'; valid values are heavy, light"):
        refs.maxdiff_final_eval(SWIMMER, "cold")
    with pytest.raises(ValueError, match="no released final states for 'mppi/AntEnv_v3_orig_H20_singleshot'"):
        refs.maxdiff_singleshot_final_state("mppi/AntEnv_v3_orig_H20_singleshot")
    with pytest.raises(ValueError, match="unknown DIME task 'gym_ant_v5'; valid tasks are dmc_acrobot"):
        refs.dime_curve("gym_ant_v5")


def _mean_std(x):
    return float(np.mean(x)), float(np.std(x))  # docs/methods/maxdiff.md §5's ± is the std over seeds (ddof 0)


def _close(got, want, digits):
    """Equal to the printed digits, give or take one unit of the last (docs/methods/maxdiff.md §5 does not always
    round half-up: MaxDiff Ant is 4076.5 printed 4077)."""
    tol = 10.0 ** (-digits) + 1e-9
    assert abs(got[0] - want[0]) <= tol and abs(got[1] - want[1]) <= tol, (got, want)


@needs_shared
def test_spec_published_numbers(shared):
    """docs/methods/maxdiff.md §5: running-max returns at the budget, transfer, single-shot (values as printed there).

    Its tables are the last point of the authors' plotted curve (:func:`authors_curve`), matched here to
    every printed digit. :func:`maxdiff_curve` counts the whole run at the budget instead of interpolating to the
    shortest seed's end (never lower per seed) and drops the single-shot dummy chunk; within 2 return units of
    every table entry.
    """
    best = {  # folder: (mean, std, decimals printed in docs/methods/maxdiff.md §5)
        "maxdiff/PointMass2D_DoubleIntEnv_beta1e00_H30_alpha5": (-43.2, 10.5, 1),
        "mppi/PointMass2D_DoubleIntEnv_beta1e00_H30": (-23.2, 4.1, 1),
        "sac_orig/PointMass2D_DoubleIntEnv_beta1e00_rew25": (-89.6, 10.4, 1),
        "maxdiff/PointMass2D_DoubleIntEnv_beta1e_01_H30_alpha5": (-48.2, 2.3, 1),
        "mppi/PointMass2D_DoubleIntEnv_beta1e_01_H30": (-40.6, 7.8, 1),
        "sac_orig/PointMass2D_DoubleIntEnv_beta1e_01_rew25": (-121.9, 18.0, 1),
        "maxdiff/PointMass2D_DoubleIntEnv_beta1e_02_H30_alpha5": (-187, 94, 0),
        "mppi/PointMass2D_DoubleIntEnv_beta1e_02_H30": (-256, 191, 0),
        "sac_orig/PointMass2D_DoubleIntEnv_beta1e_02_rew25": (-479, 154, 0),
        POINT_MASS: (-451, 41, 0),  # beta = 0.001 without _seed_513
        "mppi/PointMass2D_DoubleIntEnv_beta1e_03_H30": (-835, 205, 0),
        "sac_orig/PointMass2D_DoubleIntEnv_beta1e_03_rew25": (-850, 141, 0),
        "sac_orig/SwimmerEnv_v3_rew100": (52.2, 9.1, 1), "mppi/SwimmerEnv_v3_H40": (66.8, 11.5, 1),
        "maxdiff/SwimmerEnv_v3_H40_alpha1": (80, 21, 0), "maxdiff/SwimmerEnv_v3_H40_alpha5": (95, 35, 0),
        "maxdiff/SwimmerEnv_v3_H40_alpha10": (117, 33, 0), "maxdiff/SwimmerEnv_v3_H40_alpha50": (179.5, 11.6, 1),
        SWIMMER: (175.6, 7.2, 1), "maxdiff/SwimmerEnv_v3_H40_alpha500": (130.5, 3.9, 1),
        "maxdiff/SwimmerEnv_v3_H40_alpha1000": (111.5, 9.4, 1),
        "sac_orig/SwimmerEnv_v3_Light_rew100": (106.6, 15.1, 1), "mppi/SwimmerEnv_v3_Light_H40": (376.9, 94.6, 1),
        "maxdiff/SwimmerEnv_v3_Light_H40_alpha100": (400.3, 4.0, 1),
        "maxdiff/SwimmerEnv_v3_Light_H40_alpha50": (415.5, 4.4, 1),
        "maxdiff/HalfCheetahEnv_v3_H10_alpha5": (4900, 265, 0), "mppi/HalfCheetahEnv_v3_H10": (4272, 1589, 0),
        "sac_orig/HalfCheetahEnv_v3_rew5": (4124, 2388, 0), "maxdiff/AntEnv_v3_orig_H20_alpha5": (4077, 165, 0),
        "mppi/AntEnv_v3_orig_H20": (3987, 192, 0), ANT_SAC: (1818, 830, 0),
        # single-shot: best 1000-step chunk
        "sac_orig/SwimmerEnv_v3_Light_singleshot": (75.4, 10.9, 1),
        "mppi/SwimmerEnv_v3_Light_singleshot": (222.6, 101.0, 1),
        "maxdiff/SwimmerEnv_v3_Light_H40_alpha50_singleshot": (319.4, 5.3, 1),
        "sac_orig/HalfCheetahEnv_v3_singleshot": (173.3, 30.6, 1), SS_CHEETAH: (433.8, 567.7, 1),
        "maxdiff/HalfCheetahEnv_v3_H10_alpha5_singleshot": (780.9, 37.3, 1),
        "sac_orig/AntEnv_v3_orig_singleshot": (90.4, 39.0, 1), "mppi/AntEnv_v3_orig_H20_singleshot": (1439.4, 106.9, 1),
        "maxdiff/AntEnv_v3_orig_H20_alpha15_singleshot": (1672.7, 182.2, 1),
    }
    for folder, (m, s, d) in best.items():
        authors = refs.authors_curve(folder).isel(step=-1).values
        _close(_mean_std(authors), (m, s), d)
        ours = refs.maxdiff_curve(folder, steps=[10**6]).values[:, 0]
        if refs.maxdiff_run_info(folder).singleshot:  # the authors keep the dummy 0 chunk: max(ours, 0)
            np.testing.assert_array_equal(authors, np.maximum(ours, 0.0))
        else:
            assert (ours >= authors - 1e-9).all(), folder
        assert abs(ours.mean() - m) < 2.0, folder
    # transfer (docs/methods/maxdiff.md §5.6): pooled mean ± std over 10 seeds × 100 episodes
    for folder, on, want in [(SWIMMER, "heavy", (151.7, 11.2)), (SWIMMER, "light", (172.2, 15.3)),
                             ("maxdiff/SwimmerEnv_v3_Light_H40_alpha100", "heavy", (228.3, 9.9)),
                             ("mppi/SwimmerEnv_v3_Light_H40", "light", (331.7, 100.0)),
                             ("sac_orig/SwimmerEnv_v3_rew100", "light", (26.5, 13.4))]:
        ev = refs.maxdiff_final_eval(folder, on)
        assert ev.sizes == {"seed": 10, "episode": 100}
        _close(_mean_std(ev.values), want, 1)
    _close((0.0, float(refs.maxdiff_final_eval(SWIMMER, "heavy").mean("episode").std())), (0.0, 7.1), 1)
    # single-shot final x (docs/methods/maxdiff.md §5.7)
    for folder, want in [("maxdiff/SwimmerEnv_v3_Light_H40_alpha50_singleshot", (8156, 2605)),
                         ("maxdiff/HalfCheetahEnv_v3_H10_alpha5_singleshot", (28515, 2385)),
                         (SS_CHEETAH, (5674, 11135)), ("sac_orig/SwimmerEnv_v3_Light_singleshot", (72, 127))]:
        _close(_mean_std(refs.maxdiff_singleshot_final_state(folder).final_x.values), want, 0)


@needs_shared
def test_final_eval_and_singleshot_equal_the_raw_files(shared):
    ev = refs.maxdiff_final_eval(POINT_MASS, "one_corner_alpha20")
    rows = raw_rows(f"maxdiff/{POINT_MASS}/seed_1013/one_corner_final_eval_reward_data_alpha20.pkl")
    np.testing.assert_array_equal(ev.sel(seed=1013).values, [r[1] for r in rows])
    np.testing.assert_array_equal(ev.length.sel(seed=1013).values, [r[3] for r in rows])
    assert refs.final_eval_available(POINT_MASS) == ["one_corner", "one_corner_alpha20"]
    # the one buffer released whole: its last row is what the loader reports (which reads the npz for the others)
    folder = "maxdiff/SwimmerEnv_v3_Light_H40_alpha50_singleshot"
    buf = raw_rows(f"maxdiff/{folder}/seed_13/buffer_data.pkl")
    assert buf.shape == (10_000, 26)
    ss = refs.maxdiff_singleshot_final_state(folder)
    np.testing.assert_array_equal(ss.sel(seed=13).state.values, buf[-1, :10])
    np.testing.assert_array_equal(ss.sel(seed=13).next_state.values, buf[-1, 13:23])
    assert float(ss.sel(seed=13).final_x) == buf[-1, 13]
    with np.load(SHARED / refs.SINGLESHOT_NPZ, allow_pickle=False) as z:
        np.testing.assert_array_equal(z[f"{folder.replace('/', '__')}__seed_13__buffer_data.pkl"], buf[-1])


@needs_shared
def test_maxdiff_buffer_is_the_released_rows_split(shared):
    folder = "maxdiff/SwimmerEnv_v3_Light_H40_alpha50_singleshot"
    buf = refs.maxdiff_buffer(folder, 13)
    raw = raw_rows(f"maxdiff/{folder}/seed_13/buffer_data.pkl")
    shapes = {k: v.shape for k, v in buf.items()}
    assert shapes == {"state": (10_000, 10), "action": (10_000, 2), "reward": (10_000,), "next_state": (10_000, 10),
                      "next_action": (10_000, 2), "done": (10_000,)}
    joined = np.column_stack([buf["state"], buf["action"], buf["reward"], buf["next_state"], buf["next_action"],
                              buf["done"]])
    np.testing.assert_array_equal(joined, raw)
    # one run without resets: each transition starts where the last one ended
    np.testing.assert_array_equal(buf["state"][1:], buf["next_state"][:-1])
    np.testing.assert_array_equal(buf["action"][1:], buf["next_action"][:-1])
    with pytest.raises(ReferenceUnavailableError, match="holds only the last row"):
        refs.maxdiff_buffer(folder, 113)  # kept locally only as its last row
    with pytest.raises(ValueError, match="has no seed 14; its seeds are 13, 113"):
        refs.maxdiff_buffer(folder, 14)
    with pytest.raises(ValueError, match="no released buffers for 'maxdiff/SwimmerEnv_v3_H40_alpha100'"):
        refs.maxdiff_buffer(SWIMMER, 13)


@needs_shared
def test_dime_curve_equals_the_npy_and_the_spec(shared):
    da = refs.dime_curve("gym_ant_v3")
    np.testing.assert_array_equal(da.values, np.load(SHARED / "dime/paper_results/gym_ant_v3/mean_return.npy",
                                                     allow_pickle=False))
    assert da.step.values[:3].tolist() == [1, 24_000, 48_000] and int(da.step[-1]) == 984_000
    for task in ("gym_ant_v3", "dmc_dog_run", "dmc_humanoid_run", "myo_hand_reach_rndm", "dmc_walker_run"):
        h = refs.DIME_HEADLINE[task]
        final = refs.dime_curve(task).isel(step=-1)
        assert int(refs.dime_curve(task).step[-1]) == h["grid_end"]
        tol = 0.005 if task.startswith("myo_") else 1.0  # docs/methods/dime.md §3.3 rounds (849.49 printed 850)
        assert abs(float(final.mean()) - h["final_mean"]) <= tol and abs(float(final.std()) - h["final_std"]) <= tol
    # the older Dataset API notebook 21 uses
    ds = refs.load_dime_curves(["gym_ant_v3", "dmc_dog_run"])
    assert ds.mean_return.dims == ("task", "seed", "step") and ds.sizes == {"task": 2, "seed": 10, "step": 126}
    assert np.isnan(ds.mean_return.sel(task="gym_ant_v3", step=3_000_000)).all()
    got, msg = refs.try_load_dime_curves("gym_ant_v3", timeout=5)
    assert msg == "published curves loaded from the released files"
    np.testing.assert_array_equal(got.mean_return.sel(task="gym_ant_v3").values, da.values)


# ----- committed data/published/*.nc ----------------------------------------------------------------------------

@needs_shared
def test_build_is_byte_identical_to_the_committed_files(shared):
    """Two builds give the same bytes, and those are the committed files (so data/published is current)."""
    a, b = refs.build(shared / "a"), refs.build(shared / "b")
    for pa, pb in zip(a, b, strict=True):
        assert pa.read_bytes() == pb.read_bytes(), f"{pa.name}: two builds differ"
        committed = refs.published_data_dir() / pa.name
        assert committed.is_file(), f"{committed} is not committed; run python -m mdrl_lib.references build"
        assert pa.read_bytes() == committed.read_bytes(), (f"{committed} is out of date: rebuild it with "
                                                           "`python -m mdrl_lib.references build` and commit it")


@needs_shared
def test_committed_numbers_equal_the_loaders(shared):
    for folder in (POINT_MASS, SWIMMER, SS_CHEETAH):
        for metric in refs.METRICS:
            pub, raw = refs.published_curve(folder, metric), refs.maxdiff_curve(folder, metric)
            assert (pub.seed.values == raw.seed.values).all() and (pub.step.values == raw.step.values).all()
            np.testing.assert_allclose(pub.values, raw.values, rtol=1e-6)
    for folder in (POINT_MASS, SS_CHEETAH, ANT_SAC):
        pub, raw = refs.published_authors_curve(folder), refs.authors_curve(folder)
        assert (pub.seed.values == raw.seed.values).all() and pub.sizes["step"] == refs.authors_points(folder)
        np.testing.assert_allclose(pub.step.values, raw.step.values)
        np.testing.assert_allclose(pub.values, raw.values, rtol=1e-6)
    ev, pub = refs.maxdiff_final_eval(SWIMMER, "light"), refs.published_final_eval(SWIMMER, "light")
    np.testing.assert_allclose(pub.values, ev.values, rtol=1e-6)
    assert (pub.seed.values == ev.seed.values).all() and (pub.length.values == ev.length.values).all()
    np.testing.assert_allclose(refs.published_final_x(SS_CHEETAH).values,
                               refs.maxdiff_singleshot_final_state(SS_CHEETAH).final_x.values, rtol=1e-6)
    np.testing.assert_allclose(refs.published_curve("dmc_dog_run").values, refs.dime_curve("dmc_dog_run").values,
                               rtol=1e-6)


def test_committed_files_need_no_network_and_no_shared(offline):
    """A fresh clone: figures read data/published/*.nc; the headline numbers are there, with their provenance."""
    cur = refs.load_published("maxdiff_curves")
    assert cur.sizes == {"run": 40, "seed": 10, "step": len(refs.STEP_GRID)}
    assert cur.attrs["commit"] == "cb695d8" and cur.attrs["inputs_source"] == "MurpheyLab/MaxDiffRL@cb695d8"
    lines = cur.attrs["inputs"].splitlines()
    e = refs.manifest()[f"maxdiff/{SWIMMER}/seed_13/reward_data.pkl"]
    assert f"{e.sha256}  {e.path}" in lines and "best_so_far" in cur.attrs["metrics"]
    assert "created" not in " ".join(cur.attrs)  # nothing that changes from one build to the next
    best = refs.published_curve(SWIMMER)
    assert best.dims == ("seed", "step") and int(best.step[-1]) == 1_000_000
    assert abs(float(best.isel(step=-1).mean()) - 175.6) < 0.05
    assert abs(float(refs.published_curve(POINT_MASS).isel(step=-1).mean()) - (-450.8)) < 0.05
    assert refs.published_curve(POINT_MASS).sizes["step"] == 101
    as_plotted = refs.published_authors_curve(SS_CHEETAH)  # docs/methods/maxdiff.md §5.7: 433.8 (dummy chunk kept)
    assert as_plotted.sizes == {"seed": 10, "step": 100} and abs(float(as_plotted.isel(step=-1).mean()) - 433.8) < 0.1
    assert list(refs.published_curve(POINT_MASS).seed.values)[-1] == 1013
    assert abs(float(refs.published_final_eval(SWIMMER, "heavy").mean()) - 151.7) < 0.05
    assert abs(float(refs.published_final_x("maxdiff/HalfCheetahEnv_v3_H10_alpha5_singleshot").mean()) - 28515) < 1
    assert abs(float(refs.published_curve("gym_ant_v3").isel(step=-1).mean()) - 6239) < 0.5
    # notebook 21's call falls back to the committed copy when the raw files are nowhere
    ds, msg = refs.try_load_dime_curves("gym_ant_v3", timeout=1)
    assert msg.startswith("published curves loaded from the committed") and ds.sizes["step"] == 42
    with pytest.raises(ValueError, match="unknown published curve 'maxdiff/x'; valid names are MaxDiff run folders"):
        refs.published_curve("maxdiff/x")
    with pytest.raises(ValueError, match="unknown published dataset 'curves'; valid names are maxdiff_curves"):
        refs.load_published("curves")
    with pytest.raises(ValueError, match="released no light_eval_reward_log.pkl"):
        refs.published_final_eval("maxdiff/SwimmerEnv_v3_H40_alpha1", "light")


def test_read_at_takes_the_last_grid_point_at_or_before_the_step(offline):
    """A published curve is a step function: a run of ours stopped between grid points is compared with the
    earlier one, never the later one (which would credit the authors with steps they had not yet taken)."""
    best = refs.published_curve(SWIMMER)
    grid = best.step.values
    values, at = refs.read_at(best, int(grid[3]) + 1)
    assert at == grid[3] and at < int(grid[3]) + 1
    np.testing.assert_array_equal(values, best.sel(step=grid[3]).values)
    assert refs.read_at(best, int(grid[4]))[1] == grid[4]  # exactly on a grid point: that point
    assert refs.read_at(best, 10**9)[1] == grid[-1]
    with pytest.raises(ValueError, match=r"step -1 comes before the curve's first grid point \(0\)"):
        refs.read_at(best, -1)


def test_headline_table():
    assert refs.DIME_HEADLINE["gym_ant_v3"]["final_mean"] == 6239
    assert set(refs.DIME_HEADLINE) == set(refs.DIME_FILES) == set(refs.DIME_TASKS)

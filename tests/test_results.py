import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import xarray as xr

from mdrl_lib import results
from mdrl_lib.results import CorruptResultsError, ResultsError, load_or_run, load_results, results_path, save_results


def make_ds(seed=0, n_steps=5):
    rng = np.random.default_rng(seed)
    ds = xr.Dataset(
        {"eval_return": (("algo", "seed", "step"), rng.normal(size=(2, 3, n_steps))),
         "episodes": (("algo", "seed"), rng.integers(0, 9, size=(2, 3)))},
        coords={"algo": ["MaxDiff", "SAC"], "seed": [0, 1, 2], "step": np.arange(n_steps) * 1000},
    )
    return results.with_provenance(ds, experiment="unit", scale="quick", config={"seeds": [0, 1, 2]},
                                   wall_time_s=1.5)


def test_round_trip_is_identical(tmp_path):
    ds = make_ds()
    path = save_results(ds, tmp_path / "unit" / "quick.nc")
    xr.testing.assert_identical(load_results(path), ds)
    for key in ("config", "scale", "seeds", "git_commit", "versions", "device", "wall_time_s", "created_at"):
        assert key in ds.attrs
    assert json.loads(ds.attrs["versions"])["numpy"] == np.__version__


def test_killed_writer_leaves_previous_file_intact(tmp_path):
    path = tmp_path / "unit" / "quick.nc"
    old = make_ds(seed=1)
    save_results(old, path)
    # A child process writes a new version but is SIGKILLed after the data is on disk, before the rename.
    child = textwrap.dedent(f"""
        import os, sys, time
        import numpy as np, xarray as xr
        from mdrl_lib import results
        real = xr.Dataset.to_netcdf
        def slow(self, *a, **k):
            real(self, *a, **k)
            print("written", flush=True)
            time.sleep(60)
        xr.Dataset.to_netcdf = slow
        ds = xr.Dataset({{"x": ("step", np.zeros(100000))}}, attrs={{"config": "{{}}"}})
        results.save_results(ds, {str(path)!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "written"
        temps = list(path.parent.glob(".quick.*.nc.tmp"))
        assert len(temps) == 1 and temps[0].stat().st_size > 0  # the new data exists only as a temporary
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    xr.testing.assert_identical(load_results(path), old)
    # the next write cleans up the dead writer's temporary
    save_results(make_ds(seed=2), path)
    assert list(path.parent.glob(".quick.*.nc.tmp")) == []


def test_killed_first_writer_leaves_no_file(tmp_path):
    path = tmp_path / "new" / "quick.nc"
    child = textwrap.dedent(f"""
        import os, signal
        import numpy as np, xarray as xr
        from mdrl_lib import results
        real = xr.Dataset.to_netcdf
        def die(self, *a, **k):
            real(self, *a, **k)
            os.kill(os.getpid(), signal.SIGKILL)
        xr.Dataset.to_netcdf = die
        results.save_results(xr.Dataset({{"x": ("s", np.zeros(10))}}), {str(path)!r})
    """)
    assert subprocess.run([sys.executable, "-c", child]).returncode == -signal.SIGKILL
    assert not path.exists()


def test_load_or_run_caches_and_reruns_on_config_change(isolated, capsys):
    calls = []

    def run_fn(cfg):
        calls.append(dict(cfg))
        return make_ds(seed=cfg["lr"] * 10).drop_attrs()

    a = load_or_run("unit", "quick", {"lr": 1, "seeds": [0, 1, 2]}, run_fn)
    b = load_or_run("unit", "quick", {"seeds": (0, 1, 2), "lr": 1}, run_fn)  # same config, other spelling
    assert len(calls) == 1
    xr.testing.assert_identical(a, b)
    c = load_or_run("unit", "quick", {"lr": 2, "seeds": [0, 1, 2]}, run_fn)
    assert len(calls) == 2 and "changed keys: lr" in capsys.readouterr().out
    assert json.loads(c.attrs["config"])["lr"] == 2
    assert not np.array_equal(a.eval_return.values, c.eval_return.values)
    assert json.loads(load_results(results_path("unit", "quick")).attrs["config"])["lr"] == 2


def test_load_or_run_reports_and_reruns_corrupt_file(isolated):
    calls = []

    def run_fn(cfg):
        calls.append(1)
        return make_ds().drop_attrs()

    load_or_run("unit", "quick", {"a": 1}, run_fn)
    path = results_path("unit", "quick")
    path.write_bytes(path.read_bytes()[:200])  # truncated file
    with pytest.raises(CorruptResultsError, match="corrupt"):
        load_results(path)
    with pytest.warns(UserWarning, match="corrupt or unreadable.*re-running"):
        ds = load_or_run("unit", "quick", {"a": 1}, run_fn)
    assert len(calls) == 2
    xr.testing.assert_identical(load_results(path), ds)


def test_rerun_flags(isolated, monkeypatch):
    calls = []

    def run_fn(cfg):
        calls.append(1)
        return make_ds().drop_attrs()

    load_or_run("unit", "smoke", {"a": 1}, run_fn)
    load_or_run("unit", "smoke", {"a": 1}, run_fn)  # smoke is never cached
    assert len(calls) == 2
    load_or_run("unit", "quick", {"a": 1}, run_fn)
    monkeypatch.setenv("MDRL_RERUN", "1")
    load_or_run("unit", "quick", {"a": 1}, run_fn)
    assert len(calls) == 4
    monkeypatch.setenv("MDRL_RERUN", "maybe")
    with pytest.raises(ValueError, match="MDRL_RERUN='maybe'"):
        load_or_run("unit", "quick", {"a": 1}, run_fn)


def test_bad_input_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown scale 'huge'; valid scales are smoke, quick, paper"):
        results_path("unit", "huge")
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(ResultsError, match="cannot write results to folder .*a_file"):
        save_results(make_ds(), blocker / "unit" / "quick.nc")
    with pytest.raises(ResultsError, match="attribute 'bad'"):
        save_results(make_ds().assign_attrs(bad={"a": 1}), tmp_path / "x.nc")
    assert not (tmp_path / "x.nc").exists()
    assert not list(tmp_path.glob(".x.*"))


def test_unwritable_data_folder_in_load_or_run(tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    monkeypatch.setenv("MDRL_DATA", str(blocker))
    with pytest.raises(ResultsError, match="cannot write results to folder"):
        load_or_run("unit", "quick", {"a": 1}, lambda cfg: make_ds().drop_attrs())


def test_unknown_experiment_is_one_clear_error():
    from mdrl_lib.experiments import get_experiment

    with pytest.raises(ValueError, match="unknown experiment 'nope'; valid experiments are .*random_baseline"):
        get_experiment("nope")
    out = subprocess.run([sys.executable, "-m", "mdrl_lib.experiments", "nope"], capture_output=True, text=True)
    assert out.returncode == 2 and "unknown experiment 'nope'" in out.stderr
    out = subprocess.run([sys.executable, "-m", "mdrl_lib.experiments", "random_baseline", "--scale", "huge"],
                         capture_output=True, text=True, env={**os.environ, "MDRL_DATA": "/nonexistent"})
    assert out.returncode == 2 and "unknown scale 'huge'" in out.stderr

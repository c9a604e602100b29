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
    ds.attrs.update(experiment="unit", scale="quick", config='{"seeds":[0,1,2]}', seeds="[0,1,2]",
                    git_commit=results.git_commit(), versions=json.dumps(results.package_versions()),
                    device=results.device_description(), wall_time_s=1.5, created_at="2026-01-01T00:00:00+00:00")
    return ds


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


def unit_jobs(lr=1, seeds=(0, 1, 2)):
    return [results.Job({"algo": algo}, seed, {"agent": {"lr": lr}, "algo": algo})
            for algo in ("MaxDiff", "SAC") for seed in seeds]


class UnitRuns:
    """A stand-in for run_experiment's run function: each run's 'curve' depends on its config and seed."""

    def __init__(self):
        self.calls = []

    def __call__(self, todo, on_result):
        out = []
        for i, job in enumerate(todo):
            self.calls.append((job.setting["algo"], job.seed))
            rng = np.random.default_rng([job.seed, int(job.config["agent"]["lr"] * 10)])
            result = (xr.Dataset({"eval_return": ("step", rng.normal(size=3))}, coords={"step": [0, 1, 2]}),
                      {"wall_time_s": 2.0, "device": "cpu: test"})
            on_result(i, result)
            out.append(result)
        return out


def unit_combine(parts, jobs):
    from mdrl_lib.sweep import combine

    return combine(parts, [j.setting for j in jobs], [j.seed for j in jobs])


def unit_run(jobs, runner, scale="quick", config=None, **kw):
    return load_or_run("unit", scale, config or {"seeds": [0, 1, 2]}, jobs, runner, unit_combine, **kw)


def test_load_or_run_caches_per_run_and_names_the_changed_field(isolated, monkeypatch, capsys):
    monkeypatch.setenv("MDRL_ALLOW_DIRTY", "1")
    runner = UnitRuns()
    a = unit_run(unit_jobs(), runner)
    assert len(runner.calls) == 6 and a.run_wall_time_s.shape == (2, 3)
    b = unit_run(unit_jobs(), runner)  # everything cached: the file itself comes back
    assert len(runner.calls) == 6 and "using cached" in capsys.readouterr().out
    xr.testing.assert_identical(a, b)
    records = json.loads(b.attrs["runs"])
    assert {(r["setting"]["algo"], r["seed"]) for r in records} == {(a_, s) for a_ in ("MaxDiff", "SAC")
                                                                   for s in (0, 1, 2)}
    assert all(r["wall_time_s"] == 2.0 and r["git_commit"] for r in records)
    runner.calls.clear()
    changed = [j if j.setting["algo"] == "MaxDiff" else results.Job(j.setting, j.seed, {**j.config, "agent": {"lr": 2}})
               for j in unit_jobs()]
    c = unit_run(changed, runner)
    out = capsys.readouterr().out
    assert sorted(runner.calls) == [("SAC", 0), ("SAC", 1), ("SAC", 2)]  # only the changed runs
    assert "agent.lr: 1 -> 2" in out
    xr.testing.assert_identical(c.eval_return.sel(algo="MaxDiff"), a.eval_return.sel(algo="MaxDiff"))
    assert not np.array_equal(c.eval_return.sel(algo="SAC").values, a.eval_return.sel(algo="SAC").values)


def test_load_or_run_reports_and_reruns_corrupt_file(isolated, monkeypatch):
    monkeypatch.setenv("MDRL_ALLOW_DIRTY", "1")
    monkeypatch.setenv("MDRL_BUILD", str(isolated / "other_build"))
    runner = UnitRuns()
    unit_run(unit_jobs(), runner)
    path = results_path("unit", "quick")
    path.write_bytes(path.read_bytes()[:200])  # truncated file
    with pytest.raises(CorruptResultsError, match="corrupt"):
        load_results(path)
    monkeypatch.setenv("MDRL_BUILD", str(isolated / "empty_build"))  # no run store either
    with pytest.warns(UserWarning, match="corrupt or unreadable.*re-running"):
        ds = unit_run(unit_jobs(), runner)
    assert len(runner.calls) == 12
    xr.testing.assert_identical(load_results(path), ds)


def test_rerun_flags_and_the_run_store(isolated, monkeypatch):
    monkeypatch.setenv("MDRL_ALLOW_DIRTY", "1")
    runner = UnitRuns()
    unit_run(unit_jobs(), runner, scale="smoke")
    unit_run(unit_jobs(), runner, scale="smoke")  # smoke is never cached
    assert len(runner.calls) == 12
    unit_run(unit_jobs(), runner)
    assert len(runner.calls) == 18
    monkeypatch.setenv("MDRL_RERUN", "1")  # ignores the data file; finished runs in the run store still count
    unit_run(unit_jobs(), runner)
    assert len(runner.calls) == 18
    for f in results.run_store("unit", "quick").glob("*.nc"):
        f.unlink()
    unit_run(unit_jobs(), runner)
    assert len(runner.calls) == 24
    monkeypatch.setenv("MDRL_RERUN", "maybe")
    with pytest.raises(ValueError, match="MDRL_RERUN='maybe'"):
        unit_run(unit_jobs(), runner)


def test_dirty_tree_is_refused_for_quick_results(isolated, monkeypatch):
    monkeypatch.setattr(results, "dirty_files", lambda: ["mdrl_lib/agents/sac.py"])
    monkeypatch.delenv("MDRL_ALLOW_DIRTY", raising=False)
    runner = UnitRuns()
    with pytest.raises(results.DirtyTreeError, match="uncommitted changes to mdrl_lib/agents/sac.py.*MDRL_ALLOW_DIRTY"):
        unit_run(unit_jobs(), runner)
    assert runner.calls == [] and not results_path("unit", "quick").exists()  # refused before any training
    unit_run(unit_jobs(), runner, scale="smoke")  # smoke results are never committed: allowed
    monkeypatch.setenv("MDRL_ALLOW_DIRTY", "1")
    ds = unit_run(unit_jobs(), runner)
    assert ds.attrs["git_commit"].endswith("+dirty")
    assert json.loads(ds.attrs["dirty_files"]) == ["mdrl_lib/agents/sac.py"]
    assert len(ds.attrs["diff_sha256"]) == 64
    assert all(r["dirty_files"] == ["mdrl_lib/agents/sac.py"] for r in json.loads(ds.attrs["runs"]))


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
    monkeypatch.setenv("MDRL_BUILD", str(tmp_path / "build"))
    with pytest.raises(ResultsError, match="cannot write results to folder"):
        unit_run(unit_jobs(), UnitRuns(), scale="smoke")


def test_unknown_experiment_is_one_clear_error():
    from mdrl_lib.experiments import get_experiment

    with pytest.raises(ValueError, match="unknown experiment 'nope'; valid experiments are .*random_baseline"):
        get_experiment("nope")
    out = subprocess.run([sys.executable, "-m", "mdrl_lib.experiments", "nope"], capture_output=True, text=True)
    assert out.returncode == 2 and "unknown experiment 'nope'" in out.stderr
    out = subprocess.run([sys.executable, "-m", "mdrl_lib.experiments", "random_baseline", "--scale", "huge"],
                         capture_output=True, text=True, env={**os.environ, "MDRL_DATA": "/nonexistent"})
    assert out.returncode == 2 and "unknown scale 'huge'" in out.stderr

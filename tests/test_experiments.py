"""The experiments layer: one factory, one run_experiment, a cache keyed on every run's resolved config."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from mdrl_lib import results
from mdrl_lib.agents import agent_config, make_agent
from mdrl_lib.agents.sac import SACConfig
from mdrl_lib.envs import make_env
from mdrl_lib.experiments import (
    EXPERIMENTS,
    choose_executor,
    choose_threads,
    get_experiment,
    run_experiment,
    run_single,
)

ROOT = results.root()


def test_make_agent_returns_the_agent_and_its_resolved_config():
    env = make_env("InvertedPendulum-v5")
    agent, cfg = make_agent("DiffSAC", env, seed=0, sac={"lr": 1e-3, "hidden": [16, 16]}, diffusion={"n_steps": 2})
    assert cfg.sac.lr == 1e-3 and cfg.sac.hidden == (16, 16) and cfg.diffusion.n_steps == 2
    assert agent.config is cfg
    assert make_agent("SAC", env, seed=0, config=cfg.sac)[1] is cfg.sac
    pm = make_env("mdrl/PointMass-v0", beta=0.01)
    assert agent_config("SAC", pm, preset="maxdiff").variant == "v1"
    assert agent_config("MaxDiff", pm).alpha_schedule == ((1000, 5.0),)  # from the env's own beta
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['lrr'\] of DiffSAC config.sac \(SACConfig\); valid:"):
        agent_config("DiffSAC", env, sac={"lrr": 1})
    with pytest.raises(ValueError, match="unknown algorithm 'TD3'; valid algorithms are SAC, WPO"):
        agent_config("TD3", env)
    with pytest.raises(ValueError, match="preset 'maxdiff' is not defined for PPO"):
        agent_config("PPO", env, preset="maxdiff")
    with pytest.raises(ValueError, match="no published MaxDiff/NN-MPPI settings for environment 'InvertedPendulum-v5'"):
        agent_config("MaxDiff", env)
    with pytest.raises(ValueError, match="PPO needs a PPOConfig, got SACConfig"):
        make_agent("PPO", env, seed=0, config=cfg.sac)


TOY = {**get_experiment("diffusion_toy").SIZES["smoke"], "algos": ["SAC", "DiffSAC"], "Ks": [2],
       "total_steps": 60, "eval_every": 60, "eval_episodes": 2, "n_samples": 50}


def test_changing_a_default_inside_an_agent_config_reruns_and_names_the_field(isolated, monkeypatch, capsys):
    """The cache key is every run's resolved config: a default edited in a dataclass re-runs what it affects."""
    monkeypatch.setenv("MDRL_ALLOW_DIRTY", "1")
    first = run_experiment("diffusion_toy", "quick", overrides=TOY, executor="serial", threads=1)
    assert "trained 2 run(s)" in capsys.readouterr().out
    run_experiment("diffusion_toy", "quick", overrides=TOY, executor="serial", threads=1)
    assert "using cached" in capsys.readouterr().out
    names = [f.name for f in SACConfig.__dataclass_fields__.values()]
    defaults = list(SACConfig.__init__.__defaults__)
    defaults[names.index("tau")] = 0.01  # as if someone edited `tau: float = 0.005` in agents/sac.py
    monkeypatch.setattr(SACConfig.__init__, "__defaults__", tuple(defaults))
    assert SACConfig().tau == 0.01
    second = run_experiment("diffusion_toy", "quick", overrides=TOY, executor="serial", threads=1)
    out = capsys.readouterr().out
    assert "agent.tau: 0.005 -> 0.01" in out and "agent.sac.tau: 0.005 -> 0.01" in out and "trained 2 run(s)" in out
    cfgs = json.loads(second.attrs["run_configs"]).values()
    assert {c["agent"].get("tau", c["agent"].get("sac", {}).get("tau")) for c in cfgs} == {0.01}
    assert not np.array_equal(first.energy_distance.values, second.energy_distance.values)


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_every_experiment_trains_only_the_new_runs_when_its_grid_grows(name, isolated, monkeypatch):
    """One reuse mechanism for all six: add a seed, and only that seed's runs are trained."""
    monkeypatch.setenv("MDRL_ALLOW_DIRTY", "1")
    module = get_experiment(name)
    small = dict(module.SIZES["smoke"])
    first = run_experiment(name, "quick", overrides=small, executor="serial", threads=1, verbose=False)
    calls = []
    real = module.run_one

    def counting(run, seed, ctx):
        calls.append(seed)
        return real(run, seed, ctx)

    monkeypatch.setattr(module, "run_one", counting)
    new_seed = max(small["seeds"]) + 1
    grown = run_experiment(name, "quick", overrides={**small, "seeds": [*small["seeds"], new_seed]},
                           executor="serial", threads=1, verbose=False)
    assert calls == [new_seed] * len(module.grid(small))
    old = grown.sel(seed=small["seeds"]).drop_vars("run_wall_time_s")
    for v in old.data_vars:  # the kept runs are the first file's, value for value
        a, b = first[v].sel(seed=small["seeds"]), old[v].transpose(*first[v].dims)
        np.testing.assert_array_equal(a.values, b.values, err_msg=f"{name}: {v}")
    records = json.loads(grown.attrs["runs"])
    assert len(records) == len(module.grid(small)) * (len(small["seeds"]) + 1)
    assert results.check_file(results.results_path(name, "quick")) == [] or not (ROOT / ".git").exists()


def test_run_single_keeps_a_run_that_the_full_run_reuses(isolated, monkeypatch):
    monkeypatch.setenv("MDRL_ALLOW_DIRTY", "1")
    small = get_experiment("random_baseline").SIZES["smoke"]
    one = run_single("random_baseline", "quick", 1, overrides=small, threads=1)
    assert len(list(results.run_store("random_baseline", "quick").glob("*.nc"))) == 1
    calls = []
    module = get_experiment("random_baseline")
    real = module.run_one
    monkeypatch.setattr(module, "run_one", lambda run, seed, ctx: calls.append(seed) or real(run, seed, ctx))
    ds = run_experiment("random_baseline", "quick", overrides=small, executor="serial", threads=1, verbose=False)
    assert len(calls) == 3  # 4 jobs, one of them from the run store
    np.testing.assert_array_equal(ds.eval_return.sel(env="Swimmer-v5", seed=1).values, one.eval_return.values)
    with pytest.raises(ValueError, match="job index 9 out of range; random_baseline \\[quick\\] has jobs 0..3"):
        run_single("random_baseline", "quick", 9, overrides=small)


def test_executor_and_thread_rules(monkeypatch):
    monkeypatch.delenv("MDRL_EXECUTOR", raising=False)
    assert choose_executor("smoke") == "serial" and choose_executor("quick") == "process"
    monkeypatch.setenv("MDRL_EXECUTOR", "tcp://127.0.0.1:8786")
    assert choose_executor("quick") == "tcp://127.0.0.1:8786" and choose_executor("quick", "serial") == "serial"
    with pytest.raises(ValueError, match="unknown executor 'threads'; valid: 'process', 'serial', a dask scheduler"):
        choose_executor("quick", "threads")
    cores = os.cpu_count()
    assert choose_threads("smoke", "serial", 10) == 1 and choose_threads("quick", "tcp://h:1", 10) == 1
    assert choose_threads("quick", "process", 100) == 1 and choose_threads("quick", "serial", 5) == cores
    assert choose_threads("quick", "process", 1) == cores and choose_threads("quick", "process", 9, threads=3) == 3


def test_results_check_passes_on_every_committed_data_file():
    out = subprocess.run([sys.executable, "-m", "mdrl_lib.results", "check"], capture_output=True, text=True,
                         cwd=ROOT)
    files = results.committed_results()
    assert len(files) >= 6
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("ok ") == len(files)


def test_results_check_catches_a_broken_record(tmp_path):
    src = ROOT / "data" / "random_baseline" / "quick.nc"
    ds = results.load_results(src)
    runs = json.loads(ds.attrs["runs"])
    runs[0]["config"] = "0" * 64
    runs[1]["git_commit"] = "f" * 40
    runs[2]["git_commit"] = runs[2]["git_commit"].removesuffix("+dirty") + "+dirty"
    bad = ds.assign_attrs(runs=json.dumps(runs))
    path = results.save_results(bad, tmp_path / "random_baseline" / "quick.nc")
    problems = "\n".join(results.check_file(path))
    assert "config 000000000000 not in run_configs" in problems
    assert "commit ffffffffffff is not in this repository's history" in problems
    assert "is dirty but records neither dirty_files + diff_sha256 nor verified_commits" in problems
    moved = results.save_results(ds, tmp_path / "point_mass" / "quick.nc")
    assert "but the file is point_mass/quick.nc" in "\n".join(results.check_file(moved))


def test_cli_runs_an_experiment_on_a_loopback_dask_cluster(isolated):
    distributed = pytest.importorskip("distributed")
    from mdrl_lib.experiments.__main__ import main

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=40) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        assert main(["random_baseline", "--scale", "smoke", "--executor", cluster.scheduler_address]) == 0
    on_cluster = results.load_results(results.results_path("random_baseline", "smoke"))
    local = run_experiment("random_baseline", "smoke", executor="serial", verbose=False)
    xr.testing.assert_equal(on_cluster.drop_vars("run_wall_time_s"), local.drop_vars("run_wall_time_s"))


def test_cli_list_and_bad_input(isolated):
    out = subprocess.run([sys.executable, "-m", "mdrl_lib.experiments", "swimmer_alpha", "--scale", "smoke",
                          "--list"], capture_output=True, text=True)
    assert out.returncode == 0 and "   0  algo=MaxDiff alpha=1  seed 0" in out.stdout
    out = subprocess.run([sys.executable, "-m", "mdrl_lib.experiments", "random_baseline", "--scale", "smoke",
                          "--executor", "threads"], capture_output=True, text=True)
    assert out.returncode == 2 and "unknown executor 'threads'" in out.stderr


def test_import_registers_the_gymnasium_ids_and_bad_device_is_clear():
    code = "import gymnasium as gym, mdrl_lib; gym.make('mdrl/PointMass-v0').reset(seed=0); print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr
    code = "from mdrl_lib.utils import get_device; get_device()"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "MDRL_DEVICE": "tpu"})
    assert "ValueError: unknown MDRL_DEVICE 'tpu'; valid devices are 'cpu', 'cuda' and 'cuda:N'" in out.stderr


def test_every_environment_variable_is_documented_in_the_readme():
    import re

    used = set()
    for path in [*(ROOT / "mdrl_lib").rglob("*.py"), ROOT / "Makefile"]:
        used |= set(re.findall(r"MDRL_[A-Z_]+", path.read_text()))
    readme = (ROOT / "README.md").read_text()
    assert used and not sorted(v for v in used if v not in readme)


def test_run_or_pending_trains_nothing_when_a_quick_file_is_missing(isolated, capsys, monkeypatch):
    from mdrl_lib import experiments
    from mdrl_lib.experiments import run_or_pending

    calls = []
    monkeypatch.setattr(experiments, "run_experiment", lambda spec, scale, **kw: calls.append((scale, kw)) or "ran")
    assert run_or_pending("cheetah_ant", "quick", cost="~2.4 core-hours") is None and not calls
    out = capsys.readouterr().out
    assert "cheetah_ant/quick.nc is not committed yet" in out and "~2.4 core-hours" in out
    assert run_or_pending("cheetah_ant", "smoke") == "ran"  # smoke always runs
    assert run_or_pending("cheetah_ant", "quick", rerun=True) == "ran"  # asked for: trains
    monkeypatch.setenv("MDRL_RERUN", "1")
    assert run_or_pending("cheetah_ant", "quick") == "ran"
    monkeypatch.delenv("MDRL_RERUN")
    (isolated / "data" / "cheetah_ant").mkdir(parents=True)
    (isolated / "data" / "cheetah_ant" / "quick.nc").write_bytes(b"")
    assert run_or_pending("cheetah_ant", "quick") == "ran"  # committed: loaded by run_experiment
    assert [c[0] for c in calls] == ["smoke", "quick", "quick", "quick"]
    with pytest.raises(ValueError, match="unknown experiment"):
        run_or_pending("cheetah_and", "quick")


def test_cli_lists_the_planned_quick_grid_and_rejects_bad_overrides(capsys):
    from mdrl_lib.experiments.__main__ import main

    assert main(["cheetah_ant", "--target", "--list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 30 and lines[-1].split() == ["29", "env=mdrl/AntMaxDiff-v0", "algo=SAC", "seed", "413"]
    assert main(["dime_dmc", "--set", '{"envs": ["walker-run"], "seeds": [2]}', "--list"]) == 0
    assert capsys.readouterr().out.split() == ["0", "env=walker-run", "algo=DIME", "seed", "2",
                                               "1", "env=walker-run", "algo=SAC", "seed", "2"]
    assert main(["point_mass", "--target", "--list"]) == 2
    assert "point_mass has no QUICK_TARGET" in capsys.readouterr().err
    assert main(["cheetah_ant", "--target", "--scale", "paper", "--list"]) == 2
    assert "use it with --scale quick" in capsys.readouterr().err
    assert main(["dime_dmc", "--set", "{seeds: [1]}", "--list"]) == 2
    assert "is not JSON" in capsys.readouterr().err
    assert main(["dime_dmc", "--set", '{"seed": [1]}', "--list"]) == 2  # unknown SIZES key: named with the valid ones
    assert "seed" in capsys.readouterr().err


def test_quick_target_remaining_lists_what_quick_lacks_of_the_target():
    from types import ModuleType

    from mdrl_lib.experiments import quick_target_remaining

    module = ModuleType("fake_experiment")
    module.SIZES = {"quick": {"envs": ["a"], "seeds": [0, 1], "inertia": "mujoco3"}}
    module.QUICK_TARGET = {"envs": ["a", "b"], "seeds": [0, 1, 2], "inertia": "cylinder"}
    assert quick_target_remaining(module) == {"envs": ["b"], "seeds": [2], "inertia": "cylinder"}
    module.SIZES["quick"] = dict(module.QUICK_TARGET)
    assert quick_target_remaining(module) == {}
    del module.QUICK_TARGET  # an experiment whose quick grid is trained at once
    assert quick_target_remaining(module) == {}


@pytest.mark.parametrize("name", [n for n in EXPERIMENTS if hasattr(get_experiment(n), "QUICK_TARGET")])
def test_quick_is_a_part_of_the_quick_target_whose_runs_keep_their_cache_keys(name):
    """An experiment trained over sessions (``QUICK_TARGET``): ``SIZES["quick"]`` — what ``data/<name>/quick.nc``
    holds — is a part of the target grid, and each run of a part (quick, and a one-env/one-seed slice of the target,
    as a session trains it) is the same run, with the same cache key, in the target, so the parts trained in
    different sessions assemble into the target's file."""
    from mdrl_lib.experiments import experiment_config, jobs_of

    module = get_experiment(name)
    lists = [k for k, v in module.QUICK_TARGET.items() if isinstance(v, list)]  # e.g. envs, seeds
    quick = experiment_config(name, "quick")
    for key in lists:
        assert set(quick[key]) <= set(module.QUICK_TARGET[key]), (key, quick[key])
    target_jobs, target_runs = jobs_of(name, experiment_config(name, "quick", module.QUICK_TARGET))
    target_keys = {job.key for job in target_jobs}
    part = dict(module.QUICK_TARGET, **{k: module.QUICK_TARGET[k][-1:] for k in lists})
    for config in (quick, experiment_config(name, "quick", part)):
        jobs, runs = jobs_of(name, config)
        assert 0 < len(jobs) <= len(target_jobs)
        assert all(job.key in target_keys for job in jobs)
        assert all(runs[label] == target_runs[label] for label in runs)

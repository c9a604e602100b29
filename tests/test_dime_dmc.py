"""The DIME / SAC experiment on DeepMind Control (mdrl_lib.experiments.dime_dmc): smoke run, errors, quick config."""

import numpy as np
import pytest

from mdrl_lib import references
from mdrl_lib.agents.dime import SUPPORT_DMC
from mdrl_lib.experiments import EXPERIMENTS, experiment_config, get_experiment, jobs_of, run_experiment
from mdrl_lib.experiments import dime_dmc as exp

pytest.importorskip("dm_control")
pytest.importorskip("shimmy")


def test_smoke_runs_both_algorithms_on_both_tasks():
    ds = run_experiment("dime_dmc", "smoke", verbose=False)
    assert dict(ds.eval_return.sizes) == {"env": 2, "algo": 2, "seed": 1, "step": 3, "eval_episode": 1}
    assert list(ds.env.values) == ["cheetah-run", "walker-run"] and list(ds.algo.values) == ["DIME", "SAC"]
    assert list(ds.step.values) == [0, 150, 300]
    assert np.isfinite(ds.eval_return.values).all()
    assert "entropy_bound" in ds and "alpha" in ds  # DIME's metrics beside SAC's
    assert ds.attrs["critic"].startswith("narrow critic 2x32")
    assert "DIME stochastic" in ds.attrs["evaluation"] and "SAC deterministic" in ds.attrs["evaluation"]
    # our returns at grid points (the smoke run reaches none of the published 24k grid: an empty step axis)
    assert exp.ours_at_grid(ds).sizes["step"] == 0
    at = exp.ours_at_grid(ds, grid_step=150)
    assert dict(at.sizes) == {"env": 2, "algo": 2, "seed": 1, "step": 2} and list(at.step.values) == [150, 300]


def test_published_curves_at_the_grid_points():
    pub = exp.published_at_grid("cheetah-run", [24_000, 48_000])
    assert pub.sizes == {"seed": references.DIME_SEEDS, "step": 2}
    assert pub.attrs["task"] == "dmc_cheetah_run" and np.isfinite(pub.values).all()
    assert exp.published_at_grid("walker-run").attrs["task"] == "dmc_walker_run"
    assert set(exp.REFERENCE_TASK.values()) == {t for t in references.DIME_TASKS if t.startswith("dmc_")}


def test_bad_task_or_algorithm_is_one_clear_error():
    with pytest.raises(ValueError, match=r"unknown DMC task\(s\) \['cheetah-fly'\]; valid DMC tasks are .*cheetah-run"):
        experiment_config("dime_dmc", "smoke", {"envs": ["cheetah-run", "cheetah-fly"]})
    with pytest.raises(ValueError, match=r"unknown algorithm\(s\) \['TD3'\]; valid algorithms are DIME, SAC"):
        experiment_config("dime_dmc", "smoke", {"algos": ["DIME", "TD3"]})
    with pytest.raises(ValueError, match=r"agent overrides for unknown algorithm\(s\) \['PPO'\]"):
        experiment_config("dime_dmc", "smoke", {"agent": {"PPO": {}}})
    with pytest.raises(ValueError, match="unknown DMC task"):
        exp.published_at_grid("Ant-v5")


def test_quick_config_resolves_without_training():
    assert EXPERIMENTS["dime_dmc"] == "mdrl_lib.experiments.dime_dmc"
    cfg = experiment_config("dime_dmc", "quick")
    # quick's planned grid (issue 15: both tasks, >= 3 seeds; quick is a part of it: test_experiments.py)
    target = exp.QUICK_TARGET
    assert len(target["seeds"]) >= 3 and set(target["envs"]) == {"cheetah-run", "walker-run"}
    assert cfg["total_steps"] >= 48_000
    assert cfg["eval_every"] == 3_000 and cfg["eval_episodes"] == 5
    jobs, runs = jobs_of(get_experiment("dime_dmc"), cfg)
    assert len(jobs) == len(cfg["envs"]) * 2 * len(cfg["seeds"])
    by_algo = {run.algo: run for run in runs.values()}
    dime, sac = by_algo["DIME"], by_algo["SAC"]
    assert dime.env == "mdrl/dmc-cheetah-run-v0" or dime.env == "mdrl/dmc-walker-run-v0"
    assert (dime.agent.v_min, dime.agent.v_max) == SUPPORT_DMC  # the authors' DMC critic support
    assert dime.agent.critic_hidden == (256, 256) and not dime.agent.is_published
    assert dime.agent.n_steps == 16 and dime.agent.score_hidden == (256, 256, 256)  # the published actor
    assert dime.train.eval_deterministic and dime.train.learning_starts == 0  # DIME warms up inside the agent
    assert sac.train.learning_starts == sac.agent.random_steps == 5000 and sac.agent.hidden == (256, 256)
    paper = experiment_config("dime_dmc", "paper")
    assert len(paper["seeds"]) == 10 and paper["total_steps"] == 1_000_000
    assert exp.resolve({"env": "walker-run", "algo": "DIME"}, paper).agent.is_published


def _fake_results(values):
    """A dime_dmc-shaped Dataset whose evaluation return at 24k and 48k is ``values[env][algo]`` (per seed)."""
    import xarray as xr

    envs, algos, seeds = ["cheetah-run", "walker-run"], ["DIME", "SAC"], [0, 1]
    ret = np.zeros((2, 2, 2, 3, 2))
    for i, e in enumerate(envs):
        for j, a in enumerate(algos):
            ret[i, j, :, 1:, :] = np.asarray(values[e][a], dtype=float)[:, :, None]
    return xr.Dataset({"eval_return": (("env", "algo", "seed", "step", "eval_episode"), ret)},
                      coords={"env": envs, "algo": algos, "seed": seeds, "step": [0, 24_000, 48_000],
                              "eval_episode": [0, 1]})


def test_grid_comparison_places_each_seed_among_the_published_seeds():
    pub = {e: exp.published_at_grid(e, [24_000, 48_000]).transpose("seed", "step").values
           for e in ("cheetah-run", "walker-run")}
    above, below = {e: p.max(0) + 1.0 for e, p in pub.items()}, {e: p.min(0) - 1.0 for e, p in pub.items()}
    median = {e: np.sort(p, 0)[4] + 1e-3 for e, p in pub.items()}  # just above the 5th of 10 seeds
    values = {e: {"DIME": [above[e], below[e]], "SAC": [median[e], median[e]]} for e in pub}
    cmp = exp.grid_comparison(_fake_results(values))
    assert list(cmp.step.values) == [24_000, 48_000]
    q = cmp.our_quantile
    assert (q.sel(algo="DIME", seed=0) == 1.0).all() and (q.sel(algo="DIME", seed=1) == 0.0).all()
    np.testing.assert_allclose(q.sel(algo="SAC").values, 0.5)
    for e, p in pub.items():
        np.testing.assert_allclose(cmp.published_median.sel(env=e).values, np.median(p, 0))
        np.testing.assert_allclose(cmp.published_min.sel(env=e).values, p.min(0))
        np.testing.assert_allclose(cmp.ours.sel(env=e, algo="DIME", seed=0).values, above[e])
    # shorter than one grid point: nothing to compare, no error
    short = _fake_results(values).sel(step=[0])
    assert exp.grid_comparison(short).sizes["step"] == 0


def test_scorecard_rows_compare_dime_with_the_published_range_at_each_grid_step():
    import json

    from mdrl_lib import scorecard

    pub = {e: exp.published_at_grid(e, [24_000, 48_000]).transpose("seed", "step").values
           for e in ("cheetah-run", "walker-run")}
    values = {e: {"DIME": [p.max(0) + 50.0, p.max(0) + 60.0], "SAC": [p.min(0), p.min(0)]} for e, p in pub.items()}
    ds = _fake_results(values).assign_attrs(reference_task=json.dumps(exp.REFERENCE_TASK), critic="narrow critic")
    rows = scorecard.dime_dmc_rows(ds)
    assert len(rows) == 4 and all(r.rule == "range" for r in rows)
    assert all(r.verdict == "outside" for r in rows)  # both seeds above every published seed
    assert "cheetah-run" in rows[0].claim and "24,000 steps" in rows[0].claim and "0/2 inside" in rows[0].ours
    inside = _fake_results({e: {"DIME": [np.median(p, 0)] * 2, "SAC": [p.min(0)] * 2} for e, p in pub.items()})
    rows = scorecard.dime_dmc_rows(inside.assign_attrs(ds.attrs))
    assert all(r.verdict == "inside" for r in rows) and "2/2 inside" in rows[0].ours

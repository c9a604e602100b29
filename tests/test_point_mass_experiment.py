"""Experiment plumbing for the MaxDiff notebooks: learning curves as the authors plot them, final error, bad input."""

import json

import numpy as np
import pytest
import xarray as xr

from mdrl_lib.experiments import point_mass, swimmer_alpha


def episodes(ends, returns):
    return xr.Dataset({"episode_end_step": ("episode", np.asarray(ends)),
                       "episode_return": ("episode", np.asarray(returns, dtype=float))})


def test_learning_curve_is_running_max_of_full_length_episodes():
    # episodes of length 10, 3 (left the box: dropped from the running max), 10, 10
    ds = episodes([10, 13, 23, 33], [-50.0, -1.0, -80.0, -20.0])
    curve = point_mass.learning_curve(ds, total_steps=40, points=4, full_length=10)
    np.testing.assert_array_equal(point_mass.curve_grid(40, 4), [10, 20, 30, 40])
    np.testing.assert_array_equal(curve["best_return"], [-50.0, -50.0, -50.0, -20.0])
    np.testing.assert_array_equal(curve["interval_return"], [-50.0, -1.0, -80.0, -20.0])
    np.testing.assert_array_equal(curve["episodes"], [1, 2, 3, 4])
    empty = point_mass.learning_curve(episodes([], []), total_steps=40, points=2, full_length=10)
    assert np.isnan(empty["best_return"]).all() and (empty["episodes"] == 0).all()


def test_final_error_drops_episodes_that_left_the_box_and_advantage_sign():
    ret = np.array([[-100.0, -50.0], [-300.0, -400.0], [-900.0, -10.0]])  # (algo, eval_episode) at the end
    length = np.array([[1000, 1000], [1000, 1000], [1000, 7]])
    ds = xr.Dataset({"eval_return": (("algo", "beta", "seed", "step", "eval_episode"), ret[:, None, None, None, :]),
                     "eval_length": (("algo", "beta", "seed", "step", "eval_episode"), length[:, None, None, None, :])},
                    coords={"algo": ["MaxDiff", "NN-MPPI", "SAC"], "beta": [0.01], "seed": [0], "step": [5]})
    ds.attrs["config"] = json.dumps({"max_episode_steps": 1000})
    err = point_mass.final_error(ds)
    np.testing.assert_array_equal(err.sel(algo="SAC").values.ravel(), [900.0, np.nan])  # 7 steps: left the box
    adv = point_mass.maxdiff_advantage(ds)
    assert float(adv.sel(algo="NN-MPPI", beta=0.01)) == pytest.approx(350 - 75)
    assert float(adv.sel(algo="SAC", beta=0.01)) == pytest.approx(900 - 75)


def test_bad_experiment_input():
    from mdrl_lib.experiments import experiment_config

    with pytest.raises(ValueError, match=r"unknown config key\(s\) \['betaz'\]"):
        experiment_config("point_mass", "smoke", {"betaz": [1.0]})
    with pytest.raises(ValueError, match=r"unknown algorithm\(s\) \[.PPO.\]; valid algorithms are MaxDiff, NN-MPPI"):
        experiment_config("point_mass", "smoke", {"algos": ["PPO"]})
    with pytest.raises(ValueError, match="unknown scale"):
        experiment_config("point_mass", "huge")
    with pytest.raises(ValueError, match="alphas must be > 0"):
        experiment_config("swimmer_alpha", "smoke", {"alphas": [0.0]})


def test_swimmer_alpha_is_a_float_coordinate_and_reaches_the_planner():
    """α travels typed, from the grid to the planner: no string labels to parse."""
    cfg = swimmer_alpha.SIZES["smoke"]
    settings = swimmer_alpha.grid(cfg)
    assert {"algo": "MaxDiff", "alpha": 100.0} in settings and {"algo": "SAC", "alpha": 0.0} in settings
    assert all(isinstance(s["alpha"], float) for s in settings)
    run = swimmer_alpha.resolve({"algo": "MaxDiff", "alpha": 100.0}, cfg)
    assert run.agent.planner.alpha == 100.0 and run.agent.alpha_schedule == ()
    assert swimmer_alpha.resolve({"algo": "NN-MPPI", "alpha": 0.0}, cfg).agent.planner.alpha == 0.0
    pm = point_mass.resolve({"algo": "MaxDiff", "beta": 0.001}, point_mass.SIZES["smoke"])
    assert pm.agent.planner.alpha == 0.2 and pm.agent.alpha_schedule == ((500, 25.0),)  # published warm-up
    assert pm.env_kwargs == {"beta": 0.001}
    assert swimmer_alpha.PUBLISHED_RUNNING_MAX[("MaxDiff", 100.0)] == (175.6, 7.2)

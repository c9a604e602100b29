"""The MaxDiff point mass: gymnasium checks, exact RK4 of the double integrator, reward, box, state round trip."""

import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from mdrl_lib.envs import get_env_state, make_env, set_env_state
from mdrl_lib.envs.point_mass import PointMassEnv


def test_passes_gymnasium_env_checker():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unbounded observation box: intended
        check_env(make_env("mdrl/PointMass-v0", beta=0.01).unwrapped, skip_render_check=True)
    env = make_env("mdrl/PointMass-v0")
    assert env.spec.max_episode_steps == 1000


@pytest.mark.parametrize("beta", [1.0, 0.1, 0.001])
def test_one_step_matches_closed_form(beta):
    # ẋ = β v, v̇ = u with u constant: x(h) = x + β(v h + u h²/2), v(h) = v + u h; RK4 is exact for it
    env = PointMassEnv(beta=beta, start_noise=0.0)
    env.reset(seed=0)
    env.set_state({"state": np.array([0.3, -0.2, 0.5, -1.0])})
    u = np.array([0.7, -2.0])
    obs, r, term, trunc, _ = env.step(u)
    h = 0.1
    want = np.array([0.3 + beta * (0.5 * h + 0.7 * h * h / 2), -0.2 + (-1.0 * h - 2.0 * h * h / 2),
                     0.5 + 0.7 * h, -1.0 - 2.0 * h])
    np.testing.assert_allclose(obs, want, rtol=0, atol=1e-12)
    assert r == pytest.approx(-(want[0] ** 2 + want[1] ** 2)) and not term and not trunc


def test_small_beta_barely_moves_x():
    env = PointMassEnv(beta=0.001, start_noise=0.0)
    env.reset(seed=0)
    for _ in range(50):
        obs, *_ = env.step(np.array([1.0, 1.0]))
    assert abs(obs[0] + 1.0) < 0.02 and obs[1] > 5 - 10  # y moved a lot, x almost not


def test_start_state_and_unclipped_actions_and_box_termination():
    env = PointMassEnv(beta=1.0)
    starts = np.stack([env.reset(seed=s)[0] for s in range(200)])
    np.testing.assert_allclose(starts.mean(0), [-1, -1, 0, 0], atol=0.005)
    assert 0.007 < starts.std(0).mean() < 0.013
    env.reset(seed=0)
    a, *_ = env.step(np.array([10.0, 0.0]))  # not clipped: v_x jumps by 10·dt
    assert a[2] == pytest.approx(1.0, abs=0.01)
    terminated = False
    for _ in range(100):
        obs, _, terminated, _, _ = env.step(np.array([10.0, 0.0]))
        if terminated:
            break
    assert terminated and abs(obs[0]) > 5


def test_state_round_trip_for_resume():
    env = make_env("mdrl/PointMass-v0", beta=0.1)
    env.reset(seed=3)
    for _ in range(7):
        env.step(np.array([0.2, -0.1]))
    other = make_env("mdrl/PointMass-v0", beta=0.1)
    set_env_state(other, get_env_state(env))
    for _ in range(5):
        np.testing.assert_array_equal(env.step(np.array([0.5, 0.5]))[0], other.step(np.array([0.5, 0.5]))[0])
    np.testing.assert_array_equal(env.reset()[0], other.reset()[0])


def test_bad_beta():
    with pytest.raises(ValueError, match=r"beta must be a positive number, got -1.*0.001"):
        PointMassEnv(beta=-1)

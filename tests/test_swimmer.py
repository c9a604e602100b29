"""Swimmer as the MaxDiff paper used it: root position observed, heavy/light tail by editing the model."""

import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from mdrl_lib.envs import make_env
from mdrl_lib.envs.swimmer import SwimmerEnv, tail_mass


@pytest.mark.parametrize("env_id", ["mdrl/SwimmerHeavy-v0", "mdrl/SwimmerLight-v0"])
def test_passes_env_checker_and_keeps_root_position(env_id):
    env = make_env(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(env.unwrapped, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (10,) and env.spec.max_episode_steps == 1000
    base = env.unwrapped
    np.testing.assert_array_equal(obs[:5], base.data.qpos)  # x, y, θ, j1, j2
    assert base.dt == pytest.approx(0.04)


def test_light_tail_is_a_tenth_of_the_heavy_tail_and_nothing_else_changes():
    heavy, light = make_env("mdrl/SwimmerHeavy-v0"), make_env("mdrl/SwimmerLight-v0")
    assert tail_mass(light) == pytest.approx(tail_mass(heavy) / 10)
    mh, ml = heavy.unwrapped.model.body_mass, light.unwrapped.model.body_mass
    np.testing.assert_array_equal(mh[:-1], ml[:-1])
    # the dynamics differ: same actions, different paths
    heavy.reset(seed=1)
    light.reset(seed=1)
    a = np.array([1.0, -1.0])
    for _ in range(20):
        oh, *_ = heavy.step(a)
        ol, *_ = light.step(a)
    assert not np.allclose(oh, ol)


def test_actions_are_clipped_before_the_simulator():
    e1, e2 = make_env("mdrl/SwimmerHeavy-v0"), make_env("mdrl/SwimmerHeavy-v0")
    e1.reset(seed=0)
    e2.reset(seed=0)
    o1, r1, *_ = e1.step(np.array([5.0, -3.0]))
    o2, r2, *_ = e2.step(np.array([1.0, -1.0]))
    np.testing.assert_array_equal(o1, o2)
    assert r1 == r2


def test_bad_tail_density():
    with pytest.raises(ValueError, match="tail_density must be a positive number, got 0.*heavy tail 1000"):
        SwimmerEnv(tail_density=0)

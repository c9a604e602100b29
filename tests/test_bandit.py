import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from mdrl_lib.envs import make_env
from mdrl_lib.envs.bandit import MultimodalBanditEnv


def test_bandit_passes_check_env_and_is_one_step():
    env = make_env("mdrl/MultimodalBandit-v0")
    check_env(env.unwrapped, skip_render_check=True)
    env.reset(seed=0)
    _, r, term, trunc, _ = env.step(np.array([0.5, 0.5], dtype=np.float32))
    assert term and not trunc and r > 0


def test_boltzmann_target_has_the_mixture_weights():
    env = MultimodalBanditEnv()
    grid, p = env.boltzmann(1.0, 100)
    assert grid.shape == (100, 100, 2) and p.sum() == pytest.approx(1.0)
    samples = env.sample_boltzmann(20000, np.random.default_rng(0))
    np.testing.assert_allclose(env.mode_weights(samples), env.weights, atol=0.015)
    # at temperature α the mode weights become w^(1/α) (equal widths): a colder target sharpens them
    cold = env.weights ** 5 / (env.weights ** 5).sum()
    np.testing.assert_allclose(env.mode_weights(env.sample_boltzmann(5000, np.random.default_rng(1), alpha=0.2)),
                               cold, atol=0.02)
    assert env.reward(env.modes).argmax() == 0 and env.reward(np.array([1.0, 1.0])) == env.reward_floor


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="mode_std must be > 0, got -1"):
        MultimodalBanditEnv(mode_std=-1)
    with pytest.raises(ValueError, match="alpha must be > 0, got 0"):
        MultimodalBanditEnv().boltzmann(0)

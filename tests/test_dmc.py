"""DeepMind Control tasks as gymnasium envs (mdrl_lib/envs/dmc.py, docs/methods/dime.md §3.1): the env checker,
seeding, flat float32 observations, actions in [-1, 1], 1000-step truncation, exact checkpoints, lazy import."""

import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("dm_control")
pytest.importorskip("shimmy")

from gymnasium.utils.env_checker import check_env  # noqa: E402

from mdrl_lib.envs import get_env_state, make_env, set_env_state  # noqa: E402
from mdrl_lib.envs.dmc import DIME_TASKS, EPISODE_STEPS, dmc_env_id, make_dmc  # noqa: E402

# flat observation sizes (the sum of the DMC observation dict's entries) and action sizes
SIZES = {"cheetah-run": (17, 6), "walker-run": (24, 6), "hopper-hop": (15, 4), "humanoid-run": (67, 21),
         "pendulum-swingup": (3, 1), "quadruped-run": (78, 12)}


def _quiet_check(env):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(env, skip_render_check=True)


def _rollout(env, seed, actions):
    obs, _ = env.reset(seed=seed)
    out = [obs]
    rewards = []
    for a in actions:
        obs, r, terminated, truncated, _ = env.step(a)
        out.append(obs)
        rewards.append(r)
        assert not (terminated or truncated)
    return np.array(out), np.array(rewards)


@pytest.mark.parametrize("name", ["cheetah-run", "walker-run"])
def test_env_checker_passes(name):
    env = make_env(f"mdrl/dmc-{name}-v0")
    _quiet_check(env)  # the full chain: flat observations, [-1, 1] actions, seeding
    _quiet_check(env.unwrapped)  # shimmy's dict-observation env underneath


def test_registered_ids_cover_the_published_dmc_tasks():
    import gymnasium as gym

    published = {"acrobot", "cheetah_run", "dog_run", "dog_stand", "dog_trot", "dog_walk", "finger_turn",
                 "fish_swim", "hopper_hop", "humanoid_run", "humanoid_stand", "humanoid_walk",
                 "pendulum_swingup", "quadruped_run", "walker_run"}  # the paper_results dmc_* folders
    covered = {f"{d}_{t}".replace("_turn_hard", "_turn").replace("acrobot_swingup", "acrobot") for d, t in DIME_TASKS}
    assert published <= covered
    for d, t in DIME_TASKS:
        spec = gym.spec(dmc_env_id(d, t))
        assert spec.max_episode_steps == EPISODE_STEPS == 1000
        assert spec.kwargs == {"domain": d, "task": t}


@pytest.mark.parametrize("name", sorted(SIZES))
def test_flat_float32_observation_and_unit_actions(name):
    n_obs, n_act = SIZES[name]
    env = make_env(f"mdrl/dmc-{name}-v0")
    assert env.observation_space.shape == (n_obs,) and env.observation_space.dtype == np.float32
    assert env.action_space.shape == (n_act,) and env.action_space.dtype == np.float32
    np.testing.assert_array_equal(env.action_space.low, -1.0)
    np.testing.assert_array_equal(env.action_space.high, 1.0)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (n_obs,) and obs.dtype == np.float32
    obs, r, terminated, truncated, info = env.step(env.action_space.sample())
    assert obs.shape == (n_obs,) and obs.dtype == np.float32 and isinstance(r, float)
    assert not terminated and not truncated and info["control_steps"] == 1
    env.close()


def test_flattening_order_is_the_dict_spaces_sorted_keys():
    env = make_env("mdrl/dmc-walker-run-v0")
    obs, _ = env.reset(seed=3)
    raw = env.unwrapped._env.task.get_observation(env.unwrapped._env.physics)  # orientations, height, velocity
    expected = np.concatenate([np.ravel(raw[k]) for k in sorted(raw)]).astype(np.float32)
    np.testing.assert_array_equal(obs, expected)
    assert list(raw) != sorted(raw)  # the order is a choice: DMC's own order differs


@pytest.mark.parametrize("name", ["cheetah-run", "walker-run"])
def test_same_seed_same_episode_different_seed_differs(name):
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, size=(50, 6)).astype(np.float32)
    a, b = make_env(f"mdrl/dmc-{name}-v0"), make_env(f"mdrl/dmc-{name}-v0")
    obs_a, rew_a = _rollout(a, 7, actions)
    obs_b, rew_b = _rollout(b, 7, actions)
    np.testing.assert_array_equal(obs_a, obs_b)
    np.testing.assert_array_equal(rew_a, rew_b)
    assert np.ptp(obs_a, axis=0).any()  # the episode does move
    obs_c, _ = _rollout(b, 8, actions)
    assert not np.array_equal(obs_a[0], obs_c[0]) and not np.array_equal(obs_a, obs_c)
    # reseeding the same env reproduces the episode too
    obs_d, rew_d = _rollout(a, 7, actions)
    np.testing.assert_array_equal(obs_a, obs_d)
    np.testing.assert_array_equal(rew_a, rew_d)


@pytest.mark.parametrize(("domain", "task", "bad"), [("cheetah", "fly", "'fly'"), ("cheeta", "run", "'cheeta'")])
def test_bad_task_name_raises_a_clear_error(domain, task, bad):
    with pytest.raises(ValueError, match="unknown DeepMind Control task") as err:
        make_dmc(domain, task)
    msg = str(err.value)
    assert bad in msg and "cheetah-run" in msg and "walker-run" in msg and "dog-run" in msg


def test_bad_action_repeat_raises():
    with pytest.raises(ValueError, match="action_repeat"):
        make_dmc("cheetah", "run", action_repeat=0)


def test_episode_truncates_after_1000_steps_and_never_terminates():
    env = make_env("mdrl/dmc-cheetah-run-v0")
    env.reset(seed=0)
    zero = np.zeros(6, np.float32)
    steps, truncated = 0, False
    while not truncated and steps <= EPISODE_STEPS:
        _, _, terminated, truncated, _ = env.step(zero)
        steps += 1
        assert not terminated
    assert steps == EPISODE_STEPS and truncated
    assert env.unwrapped._env._reset_next_step  # DMC's own limit ends it at the same step as the TimeLimit


def test_action_repeat_counts_control_steps():
    env = make_dmc("cheetah", "run", action_repeat=4)
    ref = make_dmc("cheetah", "run")
    env.reset(seed=1)
    ref.reset(seed=1)
    a = np.full(6, 0.5, np.float32)
    obs, r, *_, info = env.step(a)
    total = 0.0
    for _ in range(4):
        ref_obs, ref_r, *_ = ref.step(a)
        total += ref_r
    np.testing.assert_array_equal(obs, ref_obs)
    assert r == pytest.approx(total) and info["control_steps"] == 4
    steps = 1
    while True:
        *_, terminated, truncated, info = env.step(a)
        steps += 1
        if terminated or truncated:
            break
    assert truncated and steps == EPISODE_STEPS // 4


@pytest.mark.parametrize("name", ["walker-run", "finger-turn_hard"])
def test_checkpoint_restores_the_episode_exactly(name):
    """get_env_state / set_env_state (what training checkpoints use) continue bit for bit, in a fresh env too;
    finger re-randomises its target in the model, which the state carries."""
    rng = np.random.default_rng(1)
    env = make_env(f"mdrl/dmc-{name}-v0")
    actions = rng.uniform(-1, 1, size=(40,) + env.action_space.shape).astype(np.float32)
    env.reset(seed=5)
    for a in actions[:20]:
        env.step(a)
    state = get_env_state(env)
    expected = [env.step(a)[:2] for a in actions[20:]]
    fresh = make_env(f"mdrl/dmc-{name}-v0")
    fresh.reset(seed=99)
    for target in (env, fresh):
        set_env_state(target, state)
        for (obs, r), a in zip(expected, actions[20:], strict=True):
            obs2, r2, *_ = target.step(a)
            np.testing.assert_array_equal(obs2, obs)
            assert r2 == r


def test_import_mdrl_lib_does_not_import_dm_control():
    code = ("import sys, mdrl_lib, mdrl_lib.envs.registration, gymnasium as gym; "
            "assert 'mdrl/dmc-cheetah-run-v0' in gym.registry; "
            "assert 'dm_control' not in sys.modules and 'shimmy' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)

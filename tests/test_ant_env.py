"""The authors' Ant task (docs/methods/maxdiff.md §3): ``mdrl/AntMaxDiff-v0`` on gymnasium Ant-v5."""

import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from mdrl_lib.envs import get_env_state, make_env, set_env_state
from mdrl_lib.envs.ant import UPSIDE_DOWN_TILT, AntMaxDiffEnv, torso_tilt

ENV_ID = "mdrl/AntMaxDiff-v0"
FLIPPED = np.array([0.0, 1.0, 0.0, 0.0])  # half a turn about the world x axis: torso on its back


def _flip(env, quat=FLIPPED, z=0.6):
    base = env.unwrapped
    q, v = base.data.qpos.copy(), base.data.qvel.copy()
    q[2], q[3:7] = z, quat
    base.set_state(q, np.zeros_like(v))


def test_passes_env_checker_and_observes_qpos_then_qvel():
    env = make_env(ENV_ID)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(env.unwrapped, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    base = env.unwrapped
    assert obs.shape == (29,) and env.observation_space.shape == (29,) and env.action_space.shape == (8,)
    assert env.spec.max_episode_steps == 1000 and base.dt == pytest.approx(0.05)
    obs, *_ = env.step(env.action_space.sample())
    np.testing.assert_array_equal(obs[:15], base.data.qpos)  # x, y, z, quaternion, 8 joints
    np.testing.assert_array_equal(obs[15:], base.data.qvel)
    np.testing.assert_array_equal(obs[:2], base.data.qpos[:2])  # root x, y first


def test_reward_is_the_forward_velocity_only():
    env = make_env(ENV_ID)
    env.reset(seed=1)
    base = env.unwrapped
    rng = np.random.default_rng(0)
    x0, torso0 = base.data.qpos[0], base.data.body("torso").xpos[0]
    total, rewards, qpos_fd = 0.0, [], []
    for _ in range(60):  # (random actions flip this Ant within ~80 steps)
        before, q_before = base.data.body("torso").xpos[0], base.data.qpos[0]
        _, r, terminated, _, info = env.step(rng.uniform(-1.5, 1.5, 8))  # out of range: clipped, no cost
        assert not terminated
        # exactly Δx/dt of the torso body position (no control, contact or healthy terms) ...
        assert r == pytest.approx((base.data.body("torso").xpos[0] - before) / base.dt, abs=1e-9)
        assert info["reward_ctrl"] == 0 and info["reward_contact"] == 0 and info["reward_survive"] == 0
        rewards.append(r)
        qpos_fd.append((base.data.qpos[0] - q_before) / base.dt)
        total += r * base.dt
    rewards, qpos_fd = np.array(rewards), np.array(qpos_fd)
    # ... which is the finite difference of qpos[0] / dt one 0.01 s physics substep earlier (module docstring):
    # close step by step, and the summed displacement differs by the last substep's motion only
    assert np.corrcoef(rewards, qpos_fd)[0, 1] > 0.99
    assert np.abs(rewards - qpos_fd).max() < 0.1 * np.abs(qpos_fd).max()
    assert total == pytest.approx(base.data.body("torso").xpos[0] - torso0, abs=1e-9)
    assert abs(total - (base.data.qpos[0] - x0)) < 0.01 * np.abs(qpos_fd).max() + 1e-3


def test_tilt_is_the_angle_between_torso_and_world_z():
    assert torso_tilt([1, 0, 0, 0]) == 0.0
    assert torso_tilt(FLIPPED) == pytest.approx(np.pi)
    half = np.pi / 4  # rotation by π/2 about y (unnormalised quaternion: the norm cancels)
    assert torso_tilt(2 * np.array([np.cos(half), 0, np.sin(half), 0])) == pytest.approx(np.pi / 2)
    assert torso_tilt([np.cos(1.4), np.sin(1.4), 0, 0]) == pytest.approx(2.8)  # 2.8 rad about x: upside down
    assert torso_tilt([np.cos(0.3), 0, 0, np.sin(0.3)]) == pytest.approx(0.0, abs=1e-7)  # yaw only: upright


def test_upside_down_for_more_than_one_second_terminates_and_not_before():
    env = make_env(ENV_ID)
    env.reset(seed=2)
    _flip(env)
    steps = round(1.0 / env.unwrapped.dt)  # 20 steps = exactly 1 s: not yet "more than 1 s"
    for t in range(1, steps + 1):
        _, _, terminated, truncated, info = env.step(np.zeros(8))
        assert info["tilt"] > UPSIDE_DOWN_TILT and not terminated and not truncated, t
    assert info["upside_down_time"] == pytest.approx(1.0)
    _, _, terminated, _, info = env.step(np.zeros(8))
    assert terminated and info["upside_down_time"] == pytest.approx(1.05)
    # the count restarts when the torso is not upside down after a step, and on reset
    env.reset(seed=2)
    _flip(env)
    for _ in range(10):
        assert not env.step(np.zeros(8))[2]
    _flip(env, quat=np.array([1.0, 0.0, 0.0, 0.0]))
    _, _, terminated, _, info = env.step(np.zeros(8))
    assert not terminated and info["upside_down_time"] == 0
    _flip(env)
    assert not any(env.step(np.zeros(8))[2] for _ in range(steps))
    assert env.step(np.zeros(8))[2]


def test_upright_ant_does_not_terminate_and_state_round_trips():
    env = make_env(ENV_ID)
    env.reset(seed=4)
    env.action_space.seed(4)
    for _ in range(40):
        _, _, terminated, _, info = env.step(env.action_space.sample())
        assert not terminated and info["upside_down_time"] == 0
    _flip(env)
    for _ in range(5):
        env.step(np.zeros(8))
    state = get_env_state(env)  # the upside-down count is part of the checkpointed state
    a = [env.step(np.zeros(8))[2] for _ in range(20)]
    other = make_env(ENV_ID)
    set_env_state(other, state)
    b = [other.step(np.zeros(8))[2] for _ in range(20)]
    assert a == b and a.index(True) == 15  # 5 + 16 = 21 steps upside down


def test_seeding_gives_identical_episodes():
    def episode(seed):
        env = make_env(ENV_ID)
        obs, _ = env.reset(seed=seed)
        env.action_space.seed(seed)
        out = [obs]
        for _ in range(50):
            obs, r, *_ = env.step(env.action_space.sample())
            out.append(np.append(obs, r))
        return np.concatenate(out)

    np.testing.assert_array_equal(episode(7), episode(7))
    assert not np.array_equal(episode(7), episode(8))


def test_task_settings_cannot_be_changed():
    with pytest.raises(ValueError, match=r"\['ctrl_cost_weight'\] are fixed by the authors' Ant task"):
        AntMaxDiffEnv(ctrl_cost_weight=0.5)
    with pytest.raises(ValueError, match="upside_down_tilt must be in"):
        AntMaxDiffEnv(upside_down_tilt=4.0)


def _inertia_tensor(model, body):
    """The body's inertia tensor about its centre of mass, in the body frame (orientation-independent check)."""
    import mujoco

    rot = np.zeros(9)
    mujoco.mju_quat2Mat(rot, model.body_iquat[body])
    rot = rot.reshape(3, 3)
    return rot @ np.diag(model.body_inertia[body]) @ rot.T


def test_legacy_capsules_weigh_as_mujoco_2_and_match_the_swimmers_replayed_physics():
    """The ghost-cylinder rule (legacy_inertia) gives the Swimmer exactly the bodies of its explicit cylinder
    inertials — the physics its released buffer replays to 1e-6 — and the Ant's legs the L + r cylinder mass."""
    import mujoco

    from mdrl_lib.envs.legacy_inertia import use_legacy_capsule_inertia

    swimmer = make_env("mdrl/SwimmerHeavy-v0").unwrapped  # explicit inertials (inertia="cylinder")
    spec = mujoco.MjSpec.from_file(swimmer.fullpath)
    assert use_legacy_capsule_inertia(spec) == 3
    ghost = spec.compile()
    for b in range(1, swimmer.model.nbody):
        assert ghost.body_mass[b] == pytest.approx(swimmer.model.body_mass[b], rel=1e-12)
        np.testing.assert_allclose(ghost.body_ipos[b], swimmer.model.body_ipos[b], atol=1e-12)
        np.testing.assert_allclose(_inertia_tensor(ghost, b), _inertia_tensor(swimmer.model, b), atol=1e-9)
    legacy, exact = make_env(ENV_ID).unwrapped, make_env(ENV_ID, inertia="mujoco3").unwrapped
    leg = legacy.model.body("front_left_leg").id
    length = np.hypot(0.2, 0.2)
    assert legacy.model.body_mass[leg] == pytest.approx(5.0 * np.pi * 0.08**2 * (length + 0.08), rel=1e-9)
    assert exact.model.body_mass[leg] == pytest.approx(5.0 * np.pi * 0.08**2 * (length + 4 * 0.08 / 3), rel=1e-9)
    torso = legacy.model.body("torso").id  # a sphere: the same in both
    assert legacy.model.body_mass[torso] == exact.model.body_mass[torso]
    with pytest.raises(ValueError, match="unknown inertia 'mujoco2'; valid values are 'cylinder', 'mujoco3'"):
        make_env(ENV_ID, inertia="mujoco2")


def test_ghost_cylinders_never_touch_anything():
    """The mass-carrying cylinders have no contacts: the legacy Ant collides exactly like the stock one."""
    env = make_env(ENV_ID)
    env.reset(seed=3)
    model, data = env.unwrapped.model, env.unwrapped.data
    ghosts = {g for g in range(model.ngeom) if model.geom_group[g] == 5}
    assert len(ghosts) == 12 and all(model.geom_contype[g] == model.geom_conaffinity[g] == 0 for g in ghosts)
    touched = set()
    rng = np.random.default_rng(0)
    for _ in range(200):
        env.step(rng.uniform(-1, 1, 8))
        touched |= {int(c.geom1) for c in data.contact[:data.ncon]} | {int(c.geom2) for c in data.contact[:data.ncon]}
    assert touched and not touched & ghosts

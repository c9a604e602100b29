"""DeepMind Control suite tasks as gymnasium environments, the way DIME ran them (docs/methods/dime.md §3.1).

The chain is ``dm_control.suite.load`` → shimmy's ``DmControlCompatibilityV0`` (the maintained dm_env →
gymnasium adapter) → :class:`DMCWrapper`:

* **Observation**: DMC returns a dict of float64 arrays (some scalars, e.g. walker's ``height``). It is flattened
  into one float32 vector by concatenating the entries in the key order of the gymnasium ``Dict`` space that
  shimmy builds, which sorts the keys alphabetically (the order ``gymnasium.wrappers.FlattenObservation`` and
  SB3's dict-observation extractor use; which of the two the authors used is not stated). Sizes of the registered
  tasks: acrobot-swingup 6, cheetah-run 17, dog-* 223, finger-turn_* 12, fish-swim 24, hopper-hop 15,
  humanoid-* 67, pendulum-swingup 3, quadruped-run 78, walker-run 24.
* **Action**: a float32 ``Box`` in [−1, 1]. Every suite task's action spec is already [−1, 1] and is then passed
  through unchanged; a task with other bounds is rescaled affinely onto them. Actions are not clipped here
  (MuJoCo clamps ``ctrl`` to the actuators' ``ctrlrange``).
* **Episodes**: DMC's own time limit, 1000 control steps for every suite task, reported by shimmy as
  ``truncated`` (discount > 0), never ``terminated``: no suite task terminates early. The registered ids add
  gymnasium's ``TimeLimit`` at the same 1000 steps, so ``env.spec.max_episode_steps`` states it.
* **Action repeat**: 1 by default, because docs/methods/dime.md §3.1 states that the authors' code runs DMC
  through shimmy with 1,000-step episodes and no action repeat. ``action_repeat=n`` repeats each action for n
  control steps and sums the rewards; the episode then has ceil(1000 / n) agent steps (DMC's limit ends it).
  **Counting env steps**: the published DIME curves count control steps, which equal agent steps at the default
  action repeat of 1; with ``action_repeat=n`` compare at agent steps × n (``info["control_steps"]`` gives the
  number of control steps each ``step`` took).
* **Seeding**: ``reset(seed=s)`` gives the task a fresh ``np.random.RandomState(s)``, which draws the initial
  state (shimmy's behaviour); the same seed and actions reproduce an episode exactly. A reset without a seed
  continues the task's generator. ``np_random`` is gymnasium's ``Generator`` (shimmy returns dm_control's
  ``RandomState`` there); the task's generator is ``env.unwrapped.task.random``.
* **Checkpoints**: :class:`DMControlEnv` adds ``get_state``/``set_state`` (the physics integration state, the
  model fields that suite tasks re-randomise per episode such as finger's and fish's targets, the task's
  generator and DMC's step counter), which :func:`mdrl_lib.envs.state.get_env_state` uses, so a resumed run
  continues bit for bit.
* **Rendering**: ``render_mode`` ("rgb_array", "depth_array", "multi_camera", "human") and ``render_kwargs``
  (``width``, ``height``, ``camera_id``) go to shimmy. No OpenGL backend is chosen here: dm_control reads
  ``MUJOCO_GL`` (e.g. ``egl`` or ``osmesa`` for headless rendering).
* ``quadruped`` calls ``np.in1d``, which NumPy 2.4 removed; when NumPy lacks it, :func:`make_dmc` replaces
  that one lookup (``quadruped.Physics._get_sensor_names``) by the same lookup with ``np.isin``.

dm_control and shimmy are imported only when a DMC environment is made, so ``import mdrl_lib`` does not need
them.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np

#: the DMC tasks registered as ``mdrl/dmc-<domain>-<task>-v0``: the 15 DMC tasks in DIME's published results
#: (``dmc_finger_turn`` is presumably turn_hard, so turn_easy is registered as well)
DIME_TASKS: tuple[tuple[str, str], ...] = (
    ("acrobot", "swingup"), ("cheetah", "run"), ("dog", "run"), ("dog", "stand"), ("dog", "trot"),
    ("dog", "walk"), ("finger", "turn_hard"), ("finger", "turn_easy"), ("fish", "swim"), ("hopper", "hop"),
    ("humanoid", "run"), ("humanoid", "stand"), ("humanoid", "walk"), ("pendulum", "swingup"),
    ("quadruped", "run"), ("walker", "run"),
)
#: DMC's episode length in control steps (every suite task: time limit / control timestep = 1000)
EPISODE_STEPS = 1000
#: model fields that suite tasks rewrite in ``initialize_episode`` (targets, terrain); saved with the state
_EPISODE_MODEL_FIELDS = ("body_pos", "body_quat", "geom_pos", "geom_size", "site_pos", "site_size", "wrap_prm",
                         "hfield_data")

_DMControlEnv = None  # the class below, built on first use so that shimmy is imported lazily


def dmc_env_id(domain: str, task: str) -> str:
    """The registered gymnasium id of a DMC task, e.g. ``mdrl/dmc-cheetah-run-v0``."""
    return f"mdrl/dmc-{domain}-{task}-v0"


def _check_task(domain: str, task: str) -> None:
    from dm_control import suite

    if (domain, task) in suite.ALL_TASKS:
        return
    valid = ", ".join(f"{d}-{t}" for d, t in suite.ALL_TASKS)
    domains = sorted({d for d, _ in suite.ALL_TASKS})
    what = (f"task {task!r} is not in domain {domain!r}" if domain in domains
            else f"domain {domain!r} does not exist (domains: {', '.join(domains)})")
    raise ValueError(f"unknown DeepMind Control task {domain!r}-{task!r}: {what}; valid tasks: {valid}")


def _patch_quadruped_for_numpy2() -> None:
    """dm_control 1.0.34's quadruped looks its sensors up with ``np.in1d`` (removed in NumPy 2.4): use ``isin``."""
    if hasattr(np, "in1d"):
        return
    from dm_control.suite import quadruped

    if getattr(quadruped.Physics._get_sensor_names, "_mdrl_isin", False):
        return

    def _get_sensor_names(self, *sensor_types):
        try:
            return self._sensor_types_to_names[sensor_types]
        except KeyError:
            [sensor_ids] = np.where(np.isin(self.model.sensor_type, sensor_types))
            names = [self.model.id2name(s_id, "sensor") for s_id in sensor_ids]
            self._sensor_types_to_names[sensor_types] = names
            return names

    _get_sensor_names._mdrl_isin = True
    quadruped.Physics._get_sensor_names = _get_sensor_names


def _dm_control_env_class():
    """:class:`DMControlEnv`, defined on first use (it subclasses shimmy's adapter)."""
    global _DMControlEnv
    if _DMControlEnv is not None:
        return _DMControlEnv
    import mujoco
    from shimmy import DmControlCompatibilityV0

    class DMControlEnv(DmControlCompatibilityV0):
        """shimmy's dm_control adapter with gymnasium's ``np_random`` and exact state capture.

        ``np_random`` returns gymnasium's ``Generator`` (set by ``reset(seed=...)``), as ``gymnasium.Env``
        documents; assigning a ``RandomState`` to it still replaces the task's generator, as in shimmy.
        ``render_fps`` is 1 / control timestep (shimmy's formula gives control timestep × 1000).
        """

        def __init__(self, env, render_mode=None, render_kwargs=None):
            super().__init__(env, render_mode=render_mode, render_kwargs=render_kwargs)
            # shimmy writes render_fps into the class-level dict shared by every instance: keep our own copy
            self.metadata = {**DmControlCompatibilityV0.metadata, "render_fps": 1.0 / self._env.control_timestep()}

        @property
        def np_random(self) -> np.random.Generator:
            return gym.Env.np_random.fget(self)

        @np_random.setter
        def np_random(self, value) -> None:
            if isinstance(value, np.random.Generator):
                gym.Env.np_random.fset(self, value)
            else:  # shimmy's reset hands over dm_control's RandomState
                DmControlCompatibilityV0.np_random.fset(self, value)

        def get_state(self) -> dict[str, Any]:
            physics = self._env.physics
            model, data = physics.model.ptr, physics.data.ptr
            spec = mujoco.mjtState.mjSTATE_INTEGRATION
            buf = np.empty(mujoco.mj_stateSize(model, spec))
            mujoco.mj_getState(model, data, buf, spec)
            return {"physics": buf,
                    "model": {f: np.array(getattr(model, f)) for f in _EPISODE_MODEL_FIELDS},
                    "task_random": self._env.task.random.get_state(),
                    "step_count": int(self._env._step_count),
                    "reset_next_step": bool(self._env._reset_next_step)}

        def set_state(self, state: dict[str, Any]) -> None:
            physics = self._env.physics
            model, data = physics.model.ptr, physics.data.ptr
            for f, value in state["model"].items():
                getattr(model, f)[...] = value
            mujoco.mj_setState(model, data, state["physics"], mujoco.mjtState.mjSTATE_INTEGRATION)
            mujoco.mj_forward(model, data)
            self._env.task.random.set_state(state["task_random"])
            self._env._step_count = state["step_count"]
            self._env._reset_next_step = state["reset_next_step"]

    _DMControlEnv = DMControlEnv
    return DMControlEnv


class DMCWrapper(gym.Wrapper):
    """Flat float32 observations, actions in [−1, 1] and an optional action repeat on a shimmy DMC env."""

    def __init__(self, env: gym.Env, action_repeat: int = 1):
        super().__init__(env)
        if not (isinstance(action_repeat, int | np.integer) and action_repeat >= 1):
            raise ValueError(f"action_repeat must be a positive integer, got {action_repeat!r}")
        self.action_repeat = int(action_repeat)
        obs_space = env.observation_space
        self._keys = tuple(obs_space.spaces)  # the Dict space's (sorted) key order
        size = sum(math.prod(obs_space[k].shape) for k in self._keys)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (size,), np.float32)
        act = env.action_space
        self._low, self._high = np.asarray(act.low, np.float64), np.asarray(act.high, np.float64)
        self._rescale = not (np.all(self._low == -1.0) and np.all(self._high == 1.0))
        self.action_space = gym.spaces.Box(-1.0, 1.0, act.shape, np.float32)
        self.metadata = {**env.metadata, "render_fps": env.metadata["render_fps"] / self.action_repeat}

    def _flat(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        return np.concatenate([np.asarray(obs[k], np.float32).ravel() for k in self._keys])

    def _dmc_action(self, action) -> np.ndarray:
        a = np.asarray(action, np.float64)
        if self._rescale:
            a = self._low + (a + 1.0) * 0.5 * (self._high - self._low)
        return a

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        return self._flat(obs), info

    def step(self, action):
        a = self._dmc_action(action)
        total, n = 0.0, 0
        while True:
            obs, reward, terminated, truncated, info = self.env.step(a)
            total, n = total + float(reward), n + 1
            if terminated or truncated or n == self.action_repeat:
                break
        info["control_steps"] = n
        return self._flat(obs), total, terminated, truncated, info


def make_dmc(domain: str, task: str, *, action_repeat: int = 1, render_mode: str | None = None,
             render_kwargs: dict[str, Any] | None = None, task_kwargs: dict[str, Any] | None = None,
             environment_kwargs: dict[str, Any] | None = None) -> gym.Env:
    """A DeepMind Control suite task as a gymnasium env (see the module docstring for every convention).

    ``domain``/``task`` name a task of ``dm_control.suite.ALL_TASKS`` (a ValueError lists them otherwise);
    ``task_kwargs``/``environment_kwargs`` go to ``dm_control.suite.load`` (seed with ``reset(seed=...)``, not
    ``task_kwargs["random"]``). Registered ids: ``mdrl/dmc-<domain>-<task>-v0`` for :data:`DIME_TASKS`.
    """
    _check_task(domain, task)
    from dm_control import suite

    if domain == "quadruped":
        _patch_quadruped_for_numpy2()
    dm_env = suite.load(domain, task, task_kwargs=task_kwargs, environment_kwargs=environment_kwargs)
    env = _dm_control_env_class()(dm_env, render_mode=render_mode, render_kwargs=render_kwargs)
    return DMCWrapper(env, action_repeat=action_repeat)

"""MuJoCo Ant as the MaxDiff paper ran it: the authors' ``AntEnv_v3`` "orig" task (docs/methods/maxdiff.md §3,
the ``AntEnv_v3`` table row and the "Ant wrapper" paragraph), rebuilt on gymnasium's ``Ant-v5``.

* Observation: ``qpos (15) + qvel (14)`` — 29 numbers, the root x, y (and z) first
  (``exclude_current_positions_from_observation=False``), no contact forces
  (``include_cfrc_ext_in_observation=False``), as the authors' wrapper returns it.
* Reward: the forward velocity only — ``ctrl_cost_weight = contact_cost_weight = healthy_reward = 0``.
  As in gym's v3 Ant and gymnasium's v5 it is Δx/dt of the torso body position ``data.body("torso").xpos``
  (dt = 0.05 s, frame skip 5 × 0.01 s). MuJoCo computes ``xpos`` at the start of each physics substep, so this
  position trails ``qpos[0]`` by one 0.01 s substep; summed over an episode, ``Σ r·dt`` is the torso's
  x displacement up to that last substep.
* Termination (replaces the stock z-height check, ``terminate_when_unhealthy=False``): the torso has been upside
  down for more than :data:`UPSIDE_DOWN_SECONDS` = 1 s of simulated time. *Tilt* is the angle between the
  torso's body z axis and the world z axis, from the torso quaternion ``(w, x, y, z) = qpos[3:7]``:
  ``cos(tilt) = R_zz = (w² − x² − y² + z²) / |q|²`` (:func:`torso_tilt`; 0 upright, π on its back). The
  torso is *upside down* after a step when ``tilt >`` :data:`UPSIDE_DOWN_TILT` = 2.7 rad. The episode
  terminates at the first step at which the run of consecutive upside-down steps lasts more than 1 s, i.e.
  ``n · dt > 1 s`` — the 21st such step at dt = 0.05 s; a step that is not upside down restarts the count.
  That the time is counted over *consecutive* steps, measured after each step, and that "more than" is
  strict is our reading of the note's description ("tilt > 2.7 rad for > 1 s of sim time"), not a detail
  checked against the authors' code.
* Actions are clipped to [−1, 1] before they reach the simulator, like the authors' ``NormalizedActions``
  (the actuators' own control range clamps them too; with no control cost the clip changes nothing else).
* The registered id ``mdrl/AntMaxDiff-v0`` adds the 1000-step time limit (§2.6).

* Physics: the authors ran gym 0.21 on MuJoCo 2.0, which gave every capsule the mass and inertia of a cylinder of
  length L + r. ``inertia="cylinder"`` (default) rebuilds that (:mod:`mdrl_lib.envs.legacy_inertia`: the leg
  capsules keep their shape and contacts, their bodies weigh as MuJoCo 2.0 weighed them: each 0.283-long leg
  capsule 5·π·0.08²·(0.283 + 0.08) = 0.0365 instead of MuJoCo 3's 0.0392, the whole Ant 0.879 instead of 0.911,
  3.5 % lighter; the torso sphere is unchanged); ``inertia="mujoco3"`` keeps MuJoCo 3's exact capsules (the stock
  ``Ant-v5`` bodies).

Their wrapper's ``mj_rnePostConstraint`` call only refreshes the contact forces, which this observation does not
contain.
"""

from __future__ import annotations

import mujoco
import numpy as np
from gymnasium import utils
from gymnasium.envs.mujoco.ant_v5 import AntEnv as _GymAnt

from mdrl_lib.envs.legacy_inertia import check_inertia, compile_for_env, use_legacy_capsule_inertia

#: the ``Ant-v5`` keywords of the authors' task: root position observed, no contact forces, x-velocity reward only
ANT_V5_KWARGS = {"exclude_current_positions_from_observation": False, "include_cfrc_ext_in_observation": False,
                 "ctrl_cost_weight": 0.0, "contact_cost_weight": 0.0, "healthy_reward": 0.0,
                 "terminate_when_unhealthy": False}
UPSIDE_DOWN_TILT = 2.7  # rad: the torso counts as upside down beyond this tilt
UPSIDE_DOWN_SECONDS = 1.0  # s of simulated time upside down after which the episode terminates


def torso_tilt(quat) -> float:
    """Angle (rad, in [0, π]) between the body z axis of a free body with quaternion ``(w, x, y, z)`` and the
    world z axis: ``arccos(R_zz)``, ``R_zz = (w² − x² − y² + z²) / |q|²`` (no unit norm assumed)."""
    w, x, y, z = (float(v) for v in quat)
    norm = w * w + x * x + y * y + z * z
    return float(np.arccos(np.clip((w * w - x * x - y * y + z * z) / norm, -1.0, 1.0)))


class AntMaxDiffEnv(_GymAnt):
    """Gymnasium Ant-v5 with the authors' observation, reward and upside-down termination (module docstring).

    ``info`` adds ``tilt`` (rad, after the step) and ``upside_down_time`` (s of consecutive upside-down steps).
    Other ``Ant-v5`` keywords (e.g. ``reset_noise_scale``) pass through; the ones of :data:`ANT_V5_KWARGS` are
    fixed by the task and may not be changed.
    """

    def __init__(self, upside_down_tilt: float = UPSIDE_DOWN_TILT, upside_down_seconds: float = UPSIDE_DOWN_SECONDS,
                 inertia: str = "cylinder", **kwargs):
        fixed = sorted(k for k in kwargs if k in ANT_V5_KWARGS and kwargs[k] != ANT_V5_KWARGS[k])
        if fixed:
            raise ValueError(f"Ant-v5 setting(s) {fixed} are fixed by the authors' Ant task; leave them out "
                             f"(fixed values: {ANT_V5_KWARGS})")
        if not (0 < upside_down_tilt < np.pi and upside_down_seconds >= 0):
            raise ValueError(f"upside_down_tilt must be in (0, π) and upside_down_seconds >= 0; got "
                             f"{upside_down_tilt}, {upside_down_seconds}")
        self.inertia = check_inertia(inertia)
        self.upside_down_tilt = float(upside_down_tilt)
        self.upside_down_seconds = float(upside_down_seconds)
        self.upside_down_steps = 0  # consecutive steps after which the torso was upside down
        super().__init__(**{**kwargs, **ANT_V5_KWARGS})
        utils.EzPickle.__init__(self, upside_down_tilt=upside_down_tilt, upside_down_seconds=upside_down_seconds,
                                inertia=inertia, **kwargs)

    def _initialize_simulation(self) -> tuple[mujoco.MjModel, mujoco.MjData]:
        spec = mujoco.MjSpec.from_file(self.fullpath)
        if self.inertia == "cylinder":
            use_legacy_capsule_inertia(spec)
        return compile_for_env(spec, self.width, self.height)

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(np.clip(np.asarray(action, dtype=np.float64),
                                                                        -1.0, 1.0))
        tilt = torso_tilt(self.data.qpos[3:7])
        self.upside_down_steps = self.upside_down_steps + 1 if tilt > self.upside_down_tilt else 0
        upside_down_time = self.upside_down_steps * self.dt
        # the count times dt, compared with a tolerance far below one step, so 20 × 0.05 s is not "more than 1 s"
        flipped = upside_down_time > self.upside_down_seconds + 1e-9
        info = {**info, "tilt": tilt, "upside_down_time": upside_down_time}
        return obs, reward, bool(terminated or flipped), truncated, info

    def reset_model(self):
        self.upside_down_steps = 0
        return super().reset_model()

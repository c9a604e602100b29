"""MuJoCo Swimmer as the MaxDiff paper ran it: root position kept, heavy (stock) or light tail
(docs/methods/maxdiff.md §3).

* Observation: ``qpos (x, y, θ, j1, j2) + qvel`` — 10 numbers; the root x, y stay in the observation
  (``exclude_current_positions_from_observation=False``), which MaxDiff's exploration dimensions need.
* Reward (stock v3/v5): x-velocity − 1e-4·‖a‖²; dt 0.04 s (frame skip 4 × 0.01); no termination; the
  registered ids add a 1000-step time limit.
* Actions are clipped to [−1, 1] before they reach the simulator, like the authors' ``NormalizedActions``
  wrapper, so the control cost sees the clipped action while a planner may propose unclipped ones.
* ``tail_density``: density of the last ("back") capsule. 1000 is the stock "heavy tail" model; the
  paper's "light tail" uses 100. The model is edited with ``mujoco.MjSpec`` at construction time, so no
  copied XML is needed.
"""

from __future__ import annotations

import mujoco
import numpy as np
from gymnasium import utils
from gymnasium.envs.mujoco.swimmer_v5 import SwimmerEnv as _GymSwimmer

HEAVY_TAIL_DENSITY = 1000.0
LIGHT_TAIL_DENSITY = 100.0
TAIL_BODY = "back"


class SwimmerEnv(_GymSwimmer):
    """Gymnasium Swimmer-v5 with root position observed, actions clipped and a configurable tail density."""

    def __init__(self, tail_density: float = HEAVY_TAIL_DENSITY, **kwargs):
        if not (np.isfinite(tail_density) and tail_density > 0):
            raise ValueError(f"tail_density must be a positive number, got {tail_density!r} "
                             f"(heavy tail {HEAVY_TAIL_DENSITY:g}, light tail {LIGHT_TAIL_DENSITY:g})")
        self.tail_density = float(tail_density)
        kwargs.setdefault("exclude_current_positions_from_observation", False)
        super().__init__(**kwargs)
        utils.EzPickle.__init__(self, tail_density=tail_density, **kwargs)  # pickles by keyword

    def _initialize_simulation(self) -> tuple[mujoco.MjModel, mujoco.MjData]:
        spec = mujoco.MjSpec.from_file(self.fullpath)
        geoms = spec.body(TAIL_BODY).geoms
        if len(geoms) != 1:
            raise ValueError(f"expected one geom on body {TAIL_BODY!r} of {self.fullpath}, found {len(geoms)}")
        geoms[0].density = self.tail_density
        model = spec.compile()
        model.vis.global_.offwidth = max(model.vis.global_.offwidth, self.width)
        model.vis.global_.offheight = max(model.vis.global_.offheight, self.height)
        return model, mujoco.MjData(model)

    def step(self, action):
        return super().step(np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0))


def tail_mass(env) -> float:
    """Mass (kg) of the tail body of a (wrapped) :class:`SwimmerEnv`."""
    base = env.unwrapped
    return float(base.model.body_mass[base.model.body(TAIL_BODY).id])

"""MuJoCo Swimmer as the MaxDiff paper ran it: root position kept, heavy (stock) or light tail, and the capsules'
mass and inertia as MuJoCo 2.0 computed them (docs/methods/maxdiff.md §3).

* Observation: ``qpos (x, y, θ, j1, j2) + qvel`` — 10 numbers; the root x, y stay in the observation
  (``exclude_current_positions_from_observation=False``), which MaxDiff's exploration dimensions need.
* Reward (stock v3/v5): x-velocity − 1e-4·‖a‖²; dt 0.04 s (frame skip 4 × 0.01); no termination; the
  registered ids add a 1000-step time limit.
* Actions are clipped to [−1, 1] before they reach the simulator, like the authors' ``NormalizedActions``
  wrapper, so the control cost sees the clipped action while a planner may propose unclipped ones.
* ``tail_density``: density of the last ("back") capsule. 1000 is the stock "heavy tail" model; the
  paper's "light tail" uses 100. The model is edited with ``mujoco.MjSpec`` at construction time, so no
  copied XML is needed.
* ``inertia``: how each segment's mass and inertia are computed. ``"cylinder"`` (default) is the authors'
  physics (gym 0.21 on MuJoCo 2.0): MuJoCo before 2.1.2 gave a capsule of half-length l and radius r the mass
  and inertia of a solid cylinder of length h = 2l + r, so each segment (length 1, r = 0.1) has
  m = ρπr²h = 34.56 (ρ = 1000) and transverse inertia m(3r² + h²)/12 = 3.57. They are set here as explicit
  body inertials (``inertiafromgeom`` off). ``"mujoco3"`` keeps the exact capsule newer MuJoCo computes
  (35.60 and 3.92). The Swimmer's fluid drag is MuJoCo's inertia-based model (``<option density viscosity>``,
  no per-geom ``fluidshape``), computed from each body's mass and inertia, so it follows the choice.
  ``tests/test_swimmer.py`` replays the authors' released light-tail buffer step by step: only
  ``"cylinder"`` reproduces it.
"""

from __future__ import annotations

import mujoco
import numpy as np
from gymnasium import utils
from gymnasium.envs.mujoco.swimmer_v5 import SwimmerEnv as _GymSwimmer

from mdrl_lib.envs.legacy_inertia import check_inertia, compile_for_env

HEAVY_TAIL_DENSITY = 1000.0
LIGHT_TAIL_DENSITY = 100.0
TAIL_BODY = "back"
SEGMENTS = ("torso", "mid", "back")


def cylinder_inertial(fromto, radius: float, density: float) -> tuple[float, np.ndarray, np.ndarray]:
    """Mass, centre and principal inertia ``(axial, transverse, transverse)`` MuJoCo 2.0 gave a capsule.

    The capsule from ``fromto[:3]`` to ``fromto[3:]`` (segment length L) with radius ``radius`` is treated as a
    solid cylinder of length h = L + r: m = ρπr²h, I = (m r²/2, m(3r² + h²)/12, m(3r² + h²)/12), the first axis
    along the capsule's axis, centred on the capsule's midpoint.
    """
    p1, p2 = np.asarray(fromto[:3], dtype=np.float64), np.asarray(fromto[3:], dtype=np.float64)
    r, h = float(radius), float(np.linalg.norm(p2 - p1)) + float(radius)
    mass = density * np.pi * r**2 * h
    transverse = mass * (3 * r**2 + h**2) / 12
    return mass, (p1 + p2) / 2, np.array([mass * r**2 / 2, transverse, transverse])


class SwimmerEnv(_GymSwimmer):
    """Gymnasium Swimmer-v5 with root position observed, actions clipped, a configurable tail density and the
    authors' (MuJoCo 2.0) segment inertias by default."""

    def __init__(self, tail_density: float = HEAVY_TAIL_DENSITY, inertia: str = "cylinder", **kwargs):
        if not (np.isfinite(tail_density) and tail_density > 0):
            raise ValueError(f"tail_density must be a positive number, got {tail_density!r} "
                             f"(heavy tail {HEAVY_TAIL_DENSITY:g}, light tail {LIGHT_TAIL_DENSITY:g})")
        self.inertia = check_inertia(inertia)
        self.tail_density = float(tail_density)
        kwargs.setdefault("exclude_current_positions_from_observation", False)
        super().__init__(**kwargs)
        utils.EzPickle.__init__(self, tail_density=tail_density, inertia=inertia, **kwargs)  # pickles by keyword

    def _initialize_simulation(self) -> tuple[mujoco.MjModel, mujoco.MjData]:
        spec = mujoco.MjSpec.from_file(self.fullpath)
        for name in SEGMENTS:
            if len(spec.body(name).geoms) != 1:
                raise ValueError(f"expected one geom on body {name!r} of {self.fullpath}, "
                                 f"found {len(spec.body(name).geoms)}")
        spec.body(TAIL_BODY).geoms[0].density = self.tail_density
        if self.inertia == "cylinder":
            self._set_cylinder_inertials(spec)
        return compile_for_env(spec, self.width, self.height)

    def _set_cylinder_inertials(self, spec: mujoco.MjSpec) -> None:
        """Give every segment body the explicit inertial of :func:`cylinder_inertial` and stop inferring
        inertias from geoms."""
        spec.compiler.inertiafromgeom = mujoco.mjtInertiaFromGeom.mjINERTIAFROMGEOM_FALSE
        for name in SEGMENTS:
            body = spec.body(name)
            geom = body.geoms[0]
            fromto = np.asarray(geom.fromto, dtype=np.float64)
            axis = fromto[3:] - fromto[:3]
            if (geom.type != mujoco.mjtGeom.mjGEOM_CAPSULE or not np.all(np.isfinite(fromto))
                    or np.any(axis[1:] != 0) or axis[0] == 0):
                raise ValueError(f"expected a capsule given by 'fromto' along x on body {name!r} of {self.fullpath}")
            mass, centre, principal = cylinder_inertial(fromto, geom.size[0], geom.density)
            body.explicitinertial = True
            body.mass = mass
            body.ipos = centre
            body.iquat = [1.0, 0.0, 0.0, 0.0]  # principal axes = body axes: the first one is the capsule's (x)
            body.inertia = principal

    def step(self, action):
        return super().step(np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0))


def tail_mass(env) -> float:
    """Mass (kg) of the tail body of a (wrapped) :class:`SwimmerEnv`."""
    base = env.unwrapped
    return float(base.model.body_mass[base.model.body(TAIL_BODY).id])

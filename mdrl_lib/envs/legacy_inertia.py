"""Capsule bodies as MuJoCo 2.0 weighed them, for any model (the Ant; the Swimmer has its own explicit version).

Before MuJoCo 2.1.2 a capsule geom contributed the mass and inertia of a solid **cylinder** of the same radius r
and length h = L + r (L the capsule's segment length, 2 × its half-length), centred on the capsule; newer MuJoCo
computes the exact capsule (a cylinder of length L plus two half-spheres). The authors ran gym 0.21 on MuJoCo 2.0,
so their bodies weighed what :func:`use_legacy_capsule_inertia` gives (for the Swimmer, whose released buffer
replays to 1e-6 under this rule, :func:`mdrl_lib.envs.swimmer.cylinder_inertial`).

How: every capsule geom of the spec keeps its shape, contacts and look but gets density 0, and its body gains a
"ghost" cylinder geom — same centre and axis, radius r, length L + r, the capsule's density, no contacts
(``contype = conaffinity = 0``), invisible — whose mass and inertia MuJoCo computes exactly as a cylinder's.
Bodies with several geoms (the Ant's torso and legs) combine their geoms as MuJoCo always does, so the result
is the legacy body inertia for any orientation and composition. Capsules with an explicit ``mass`` are left alone
(their mass is not density-based; MuJoCo 2.0 scaled such a capsule's inertia to its given mass, which this
rule does not model), as are models that set their bodies' inertials explicitly.
"""

from __future__ import annotations

import mujoco
import numpy as np

#: the group of the ghost cylinder geoms (hidden in the default viewer groups 0–2)
GHOST_GROUP = 5
#: the ``inertia`` keyword of the envs that offer both: the authors' MuJoCo 2.0 capsule-as-cylinder bodies, or
#: MuJoCo 3's exact capsules
INERTIA_MODELS = ("cylinder", "mujoco3")


def check_inertia(inertia: str) -> str:
    """``inertia`` if it is one of :data:`INERTIA_MODELS`, else one clear ``ValueError``."""
    if inertia not in INERTIA_MODELS:
        raise ValueError(f"unknown inertia {inertia!r}; valid values are "
                         f"{', '.join(repr(m) for m in INERTIA_MODELS)}")
    return str(inertia)


def compile_for_env(spec: mujoco.MjSpec, width: int, height: int) -> tuple[mujoco.MjModel, mujoco.MjData]:
    """Compile an edited spec for a gymnasium ``MujocoEnv._initialize_simulation``: the model, with an offscreen
    buffer at least the env's render size, and its data."""
    model = spec.compile()
    model.vis.global_.offwidth = max(model.vis.global_.offwidth, width)
    model.vis.global_.offheight = max(model.vis.global_.offheight, height)
    return model, mujoco.MjData(model)


def _capsule_axis(geom) -> tuple[np.ndarray, np.ndarray, float]:
    """Centre, unit axis and segment length L of a capsule geom given by ``fromto`` or by ``pos``/``quat`` and
    its half-length ``size[1]`` (in its body's frame)."""
    fromto = np.asarray(geom.fromto, dtype=np.float64)
    if np.all(np.isfinite(fromto)):
        p1, p2 = fromto[:3], fromto[3:]
        length = float(np.linalg.norm(p2 - p1))
        if length == 0:
            raise ValueError(f"capsule geom {geom.name!r} has a zero-length 'fromto'")
        return (p1 + p2) / 2, (p2 - p1) / length, length
    rot = np.zeros(9)
    mujoco.mju_quat2Mat(rot, np.asarray(geom.quat, dtype=np.float64))
    return np.asarray(geom.pos, dtype=np.float64), rot.reshape(3, 3)[:, 2], 2.0 * float(geom.size[1])


def use_legacy_capsule_inertia(spec: mujoco.MjSpec) -> int:
    """Give every density-based capsule of ``spec`` MuJoCo 2.0's mass and inertia (module docstring), in place.

    Returns the number of capsules changed. Call before ``spec.compile()``.
    """
    if spec.compiler.inertiafromgeom == mujoco.mjtInertiaFromGeom.mjINERTIAFROMGEOM_FALSE:
        raise ValueError("the model sets inertiafromgeom='false': its bodies' inertials are explicit, so capsule "
                         "geoms do not set them (nothing to emulate)")
    changed = 0
    for body in spec.bodies:
        for geom in list(body.geoms):
            if geom.type != mujoco.mjtGeom.mjGEOM_CAPSULE or np.isfinite(geom.mass):
                continue
            centre, axis, length = _capsule_axis(geom)
            radius = float(geom.size[0])
            half = (length + radius) / 2  # the legacy cylinder: length L + r about the same centre
            body.add_geom(type=mujoco.mjtGeom.mjGEOM_CYLINDER, name=f"{geom.name}_mujoco2_mass" if geom.name else "",
                          fromto=np.concatenate([centre - half * axis, centre + half * axis]),
                          size=[radius, 0.0, 0.0], density=float(geom.density), contype=0, conaffinity=0,
                          group=GHOST_GROUP, rgba=[0.0, 0.0, 0.0, 0.0])
            geom.density = 0.0
            changed += 1
    return changed


__all__ = ["GHOST_GROUP", "INERTIA_MODELS", "check_inertia", "compile_for_env", "use_legacy_capsule_inertia"]

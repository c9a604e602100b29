"""Capture and restore the full state of a gymnasium environment, for exact checkpoint/resume.

Gymnasium environments pickle by re-running their constructor (``EzPickle``), which loses the simulator
state and the random generators. :func:`get_env_state` instead records, for every layer of the wrapper
chain, its plain attributes (step counters, flags, running statistics) and the generator state of any
space it holds; for MuJoCo environments the physics state from ``mujoco.mj_getState`` with
``mjSTATE_INTEGRATION`` (everything the integrator reads, warm-start included, so a restored simulation
continues bit-for-bit); and the environment's own ``np_random`` state. Environments of our own may
instead define ``get_state()`` / ``set_state(state)``.
"""

from __future__ import annotations

import copy
from typing import Any

import gymnasium as gym
import numpy as np

_PLAIN = (bool, int, float, str, type(None), np.ndarray, np.generic)


def make_env(env_id: str, **kwargs) -> gym.Env:
    """``gymnasium.make`` with a clear error listing close matches for an unknown id."""
    import mdrl_lib.envs.registration  # noqa: F401  (registers the mdrl/ ids)

    try:
        return gym.make(env_id, **kwargs)
    except gym.error.Error as err:
        if env_id not in gym.registry:
            import difflib

            close = difflib.get_close_matches(env_id, list(gym.registry), n=5, cutoff=0.5)
            mdrl = sorted(k for k in gym.registry if k.startswith("mdrl/"))
            raise ValueError(f"unknown environment {env_id!r}; close matches: {close or 'none'}; "
                             f"mdrl environments: {mdrl or 'none yet'}") from err
        raise


def _is_plain(v: Any) -> bool:
    if isinstance(v, _PLAIN):
        return True
    if isinstance(v, (list, tuple)):
        return all(_is_plain(x) for x in v)
    if isinstance(v, dict):
        return all(isinstance(k, str) and _is_plain(x) for k, x in v.items())
    return False


def _space_rng_states(obj) -> dict[str, Any]:
    out = {}
    for name, value in vars(obj).items():
        if isinstance(value, gym.Space) and value._np_random is not None:
            out[name] = copy.deepcopy(value.np_random.bit_generator.state)
    return out


def _layers(env: gym.Env) -> list:
    layers = [env]
    while hasattr(layers[-1], "env"):
        layers.append(layers[-1].env)
    return layers


def get_env_state(env: gym.Env) -> dict[str, Any]:
    """A deep-copied, picklable snapshot of ``env`` (every wrapper layer plus the base environment)."""
    layers = _layers(env)
    state: dict[str, Any] = {"layers": [], "base": {}}
    for layer in layers:
        plain = {k: copy.deepcopy(v) for k, v in vars(layer).items() if k != "env" and _is_plain(v)}
        state["layers"].append({"type": type(layer).__name__, "plain": plain,
                                "spaces": _space_rng_states(layer)})
    base = layers[-1]
    if hasattr(base, "get_state") and hasattr(base, "set_state") and not hasattr(base, "data"):
        state["base"]["custom"] = copy.deepcopy(base.get_state())
    elif hasattr(base, "model") and hasattr(base, "data"):
        import mujoco

        spec = mujoco.mjtState.mjSTATE_INTEGRATION
        buf = np.empty(mujoco.mj_stateSize(base.model, spec))
        mujoco.mj_getState(base.model, base.data, buf, spec)
        state["base"]["mujoco"] = buf
    if getattr(base, "_np_random", None) is not None:
        state["base"]["np_random"] = copy.deepcopy(base.np_random.bit_generator.state)
    return state


def set_env_state(env: gym.Env, state: dict[str, Any]) -> None:
    """Restore a snapshot from :func:`get_env_state` into an environment built the same way."""
    layers = _layers(env)
    base = layers[-1]
    if getattr(base, "_np_random", None) is None and "np_random" in state["base"]:
        env.reset()  # a never-reset env: create its generator first, everything is overwritten below
    types = [type(x).__name__ for x in layers]
    saved = [layer["type"] for layer in state["layers"]]
    if types != saved:
        raise ValueError(f"environment wrappers {types} do not match the saved state's {saved}")
    for layer, saved_layer in zip(layers, state["layers"], strict=True):
        for k, v in saved_layer["plain"].items():
            setattr(layer, k, copy.deepcopy(v))
        for name, rng_state in saved_layer["spaces"].items():
            getattr(layer, name).np_random.bit_generator.state = copy.deepcopy(rng_state)
    if "custom" in state["base"]:
        base.set_state(copy.deepcopy(state["base"]["custom"]))
    if "mujoco" in state["base"]:
        import mujoco

        mujoco.mj_setState(base.model, base.data, state["base"]["mujoco"], mujoco.mjtState.mjSTATE_INTEGRATION)
        mujoco.mj_forward(base.model, base.data)
    if "np_random" in state["base"]:
        base.np_random.bit_generator.state = copy.deepcopy(state["base"]["np_random"])

"""Gymnasium environments and helpers (ids registered under the ``mdrl/`` namespace)."""

from mdrl_lib.envs.state import get_env_state, make_env, set_env_state

__all__ = ["get_env_state", "set_env_state", "make_env"]

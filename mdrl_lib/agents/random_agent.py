"""Uniform-random agent: the reference 'random' score for normalisation, and the loop's test agent."""

from __future__ import annotations

import copy
from typing import Any

import gymnasium as gym
import numpy as np


class UniformRandomAgent:
    """Samples actions uniformly from a bounded ``Box`` action space with its own seeded generator."""

    def __init__(self, action_space: gym.spaces.Box, seed: int = 0):
        if not isinstance(action_space, gym.spaces.Box) or not action_space.is_bounded():
            raise ValueError(f"UniformRandomAgent needs a bounded Box action space, got {action_space}")
        self.low = action_space.low.astype(np.float64)
        self.high = action_space.high.astype(np.float64)
        self.dtype = action_space.dtype
        self.rng = np.random.default_rng(seed)
        self.n_observed = 0

    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        # A random policy has no deterministic mode: evaluation also samples.
        return self.rng.uniform(self.low, self.high).astype(self.dtype)

    def observe(self, obs, action, reward, next_obs, terminated, truncated) -> None:
        self.n_observed += 1

    def update(self) -> dict[str, float]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {"rng": copy.deepcopy(self.rng.bit_generator.state), "n_observed": self.n_observed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = copy.deepcopy(state["rng"])
        self.n_observed = state["n_observed"]

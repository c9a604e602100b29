"""A one-step task with a multimodal reward whose Boltzmann policy is known: ``mdrl/MultimodalBandit-v0``.

Every episode is one step. The observation is a constant ``[0.]``; the action ``a ∈ [-1, 1]²``; the reward

    r(a) = max( log Σ_i w_i N(a; μ_i, σ² I),  r_floor )

with four modes at ``(±0.5, ±0.5)`` of unequal weights ``w = (0.4, 0.3, 0.2, 0.1)``. Since ``Q(s, a) = r(a)``,
the MaxEnt-optimal policy at temperature α is the Boltzmann density ``π*(a) ∝ exp(r(a)/α)`` on the square;
at α = 1 it is (up to the negligible floor) the Gaussian mixture itself. :meth:`MultimodalBanditEnv.boltzmann`
evaluates it on a grid and :meth:`MultimodalBanditEnv.sample_boltzmann` draws exact samples from that grid,
so a policy's distance to the target can be measured (``mdrl_lib.experiments.diffusion_toy``).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

MODES = np.array([[0.5, 0.5], [-0.5, 0.5], [-0.5, -0.5], [0.5, -0.5]])
WEIGHTS = np.array([0.4, 0.3, 0.2, 0.1])


class MultimodalBanditEnv(gym.Env):
    """One-step bandit with a Gaussian-mixture log-density reward (see the module docstring)."""

    metadata = {"render_modes": []}

    def __init__(self, mode_std: float = 0.15, reward_floor: float = -10.0):
        if mode_std <= 0:
            raise ValueError(f"mode_std must be > 0, got {mode_std}")
        self.mode_std, self.reward_floor = float(mode_std), float(reward_floor)
        self.modes, self.weights = MODES.copy(), WEIGHTS.copy()
        self.observation_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)

    def reward(self, a: np.ndarray) -> np.ndarray:
        """``r(a)`` for actions of shape ``(..., 2)``; returns shape ``(...)``."""
        a = np.asarray(a, dtype=np.float64)
        sq = ((a[..., None, :] - self.modes) ** 2).sum(-1) / self.mode_std ** 2  # (..., 4)
        log_comp = np.log(self.weights) - 0.5 * sq - np.log(2 * np.pi * self.mode_std ** 2)
        m = log_comp.max(-1, keepdims=True)
        logp = (m + np.log(np.exp(log_comp - m).sum(-1, keepdims=True)))[..., 0]
        return np.maximum(logp, self.reward_floor)

    def boltzmann(self, alpha: float = 1.0, n_grid: int = 200) -> tuple[np.ndarray, np.ndarray]:
        """The target ``π*(a) ∝ exp(r(a)/α)`` on an ``n_grid²`` grid of cell centres.

        Returns ``(centres (n_grid, n_grid, 2), probabilities (n_grid, n_grid))`` summing to one.
        """
        if alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {alpha}")
        c = (np.arange(n_grid) + 0.5) / n_grid * 2 - 1
        grid = np.stack(np.meshgrid(c, c, indexing="ij"), -1)
        logits = self.reward(grid) / alpha
        p = np.exp(logits - logits.max())
        return grid, p / p.sum()

    def sample_boltzmann(self, n: int, rng: np.random.Generator, alpha: float = 1.0, n_grid: int = 200
                         ) -> np.ndarray:
        """``n`` samples of ``π*`` (grid cell drawn by probability, uniform within the cell): ``(n, 2)``."""
        grid, p = self.boltzmann(alpha, n_grid)
        idx = rng.choice(p.size, size=n, p=p.ravel())
        return grid.reshape(-1, 2)[idx] + rng.uniform(-1, 1, (n, 2)) / n_grid

    def mode_weights(self, actions: np.ndarray) -> np.ndarray:
        """Fraction of ``actions`` ``(n, 2)`` nearest to each mode: ``(4,)``."""
        nearest = ((np.asarray(actions)[:, None, :] - self.modes) ** 2).sum(-1).argmin(-1)
        return np.bincount(nearest, minlength=len(self.modes)) / len(nearest)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        return np.zeros(1, dtype=np.float32), {}

    def step(self, action):
        a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        return np.zeros(1, dtype=np.float32), float(self.reward(a)), True, False, {}

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        pass

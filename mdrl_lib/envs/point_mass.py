"""The MaxDiff paper's 2-D point mass with a tunable x-coupling β (docs/methods/maxdiff.md §3, "Point mass").

§ numbers refer to docs/methods/maxdiff.md.

State ``(x, y, v_x, v_y)``, action ``u = (u_x, u_y)``:

    ẋ = β·v_x,   ẏ = v_y,   v̇ = u

integrated with one RK4 step of ``dt = 0.1`` s per environment step (the action is held constant over the
step). Reward ``−(x² + y²)`` of the state reached (goal at the origin); the episode terminates when the
mass leaves the box ``|x| > 5`` or ``|y| > 5``; the registered ids add a 1000-step time limit. Episodes
start at ``(−1, −1, 0, 0)`` plus N(0, 0.01²) noise on all four states (the authors' ``one_corner`` start).

β is the controllability knob of the paper's Fig. 1–2: for small β the x-velocity barely moves x, so
random actions decorrelate x slowly (the finite-horizon Gramian's determinant scales with β², §7.1).

Actions: ``action_space`` is the box [−1, 1]² that bounded policies (SAC's tanh) use, but — as in the
authors' environment — the dynamics apply the action **unclipped** (``clip_actions=False``), since the
MPPI planners' actions are unbounded (§3, §10).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

BOX = 5.0
START = np.array([-1.0, -1.0, 0.0, 0.0])


class PointMassEnv(gym.Env):
    """2-D double integrator whose x-velocity couples to x with strength ``beta`` (see module docstring).

    Parameters
    ----------
    beta : coupling of x-velocity into x-position, > 0 (paper: 1, 0.1, 0.01, 0.001).
    dt : integration step in seconds (paper: 0.1).
    start_noise : std of the Gaussian noise on the start state (paper: 0.01).
    clip_actions : clip actions to [−1, 1] before integrating (paper: False).
    """

    metadata = {"render_modes": []}

    def __init__(self, beta: float = 1.0, dt: float = 0.1, start_noise: float = 0.01, clip_actions: bool = False):
        if not (np.isfinite(beta) and beta > 0):
            raise ValueError(f"beta must be a positive number, got {beta!r} (the paper uses 1, 0.1, 0.01, 0.001)")
        if not (np.isfinite(dt) and dt > 0):
            raise ValueError(f"dt must be a positive number of seconds, got {dt!r}")
        if start_noise < 0:
            raise ValueError(f"start_noise must be >= 0, got {start_noise!r}")
        self.beta, self.dt, self.start_noise = float(beta), float(dt), float(start_noise)
        self.clip_actions = bool(clip_actions)
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(4,), dtype=np.float64)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self._state = START.copy()

    def _deriv(self, s: np.ndarray, u: np.ndarray) -> np.ndarray:
        return np.array([self.beta * s[2], s[3], u[0], u[1]])

    def _rk4(self, s: np.ndarray, u: np.ndarray) -> np.ndarray:
        h = self.dt
        k1 = self._deriv(s, u)
        k2 = self._deriv(s + 0.5 * h * k1, u)
        k3 = self._deriv(s + 0.5 * h * k2, u)
        k4 = self._deriv(s + h * k3, u)
        return s + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._state = START + self.start_noise * self.np_random.standard_normal(4)
        return self._state.copy(), {}

    def step(self, action):
        u = np.asarray(action, dtype=np.float64).reshape(2)
        if self.clip_actions:
            u = np.clip(u, -1.0, 1.0)
        self._state = self._rk4(self._state, u)
        x, y = self._state[0], self._state[1]
        reward = -float(x * x + y * y)
        terminated = bool(abs(x) > BOX or abs(y) > BOX)
        return self._state.copy(), reward, terminated, False, {"distance": float(np.hypot(x, y))}

    # exact checkpoint/resume (mdrl_lib.envs.state): the generator is captured separately
    def get_state(self) -> dict[str, Any]:
        return {"state": self._state.copy()}

    def set_state(self, state: dict[str, Any]) -> None:
        self._state = np.array(state["state"], dtype=np.float64)

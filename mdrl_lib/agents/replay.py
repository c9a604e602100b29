"""The project's one replay buffer (preallocated, on the compute device), plus the small helpers every agent shares.

Transitions are rows of one float32 matrix ``(capacity, width)`` whose columns are named fields (e.g.
``obs | action | reward | next_obs | terminated``). Sampling is one ``randint`` and one row gather on the
device; on a CPU, :meth:`ReplayBuffer.add` writes through a numpy view of the same memory, so storing a
transition costs no torch dispatch at all. Two ways to draw a minibatch: :meth:`ReplayBuffer.sample` (uniform with
replacement, a torch generator: SAC, WPO, DIME and the Diff* agents) and :meth:`ReplayBuffer.sample_distinct`
(distinct rows chosen by a numpy generator: the MaxDiff/NN-MPPI model training, as the authors' optimizer samples).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
import torch


class ReplayBuffer:
    """Ring buffer of ``capacity`` transitions with float fields of the given widths.

    ``fields``: ``{"obs": 17, "action": 6, "reward": 1, ...}`` (order = column order).
    ``sample(n, generator)`` returns ``{name: (n, width)}`` tensors (uniform, with replacement).
    """

    def __init__(self, capacity: int, fields: Mapping[str, int], device: torch.device | str = "cpu"):
        if capacity < 1:
            raise ValueError(f"replay capacity must be >= 1, got {capacity}")
        self.capacity, self.device = int(capacity), torch.device(device)
        self.slices: dict[str, slice] = {}
        col = 0
        for name, width in fields.items():
            self.slices[name] = slice(col, col + int(width))
            col += int(width)
        self.width = col
        if self.device.type == "cpu":
            self._host = np.zeros((self.capacity, col), dtype=np.float32)
            self.storage = torch.from_numpy(self._host)
        else:
            self._host = None
            self.storage = torch.zeros(self.capacity, col, device=self.device)
        self.ptr, self.size = 0, 0

    def __len__(self) -> int:
        return self.size

    def add(self, **values: Any) -> None:
        """Store one transition; every field must be given (arrays or scalars of the field's width)."""
        if set(values) != set(self.slices):
            raise ValueError(f"replay fields {sorted(values)} do not match the buffer's {sorted(self.slices)}")
        row = self._host[self.ptr] if self._host is not None else np.empty(self.width, dtype=np.float32)
        for name, sl in self.slices.items():
            row[sl] = values[name]
        if self._host is None:
            self.storage[self.ptr].copy_(torch.from_numpy(row), non_blocking=False)
        self.ptr = (self.ptr + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, n: int, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """``n`` uniformly drawn transitions as ``{field: (n, width)}``."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        idx = torch.randint(self.size, (n,), generator=generator, device=self.device)
        rows = self.storage[idx]
        return {name: rows[:, sl] for name, sl in self.slices.items()}

    def sample_distinct(self, n: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        """``n`` distinct transitions (uniform without replacement, drawn by ``rng``) as ``{field: (n, width)}``."""
        if n > self.size:
            raise ValueError(f"cannot sample {n} transitions from a buffer holding {self.size}")
        idx = torch.from_numpy(rng.choice(self.size, size=n, replace=False)).to(self.device)
        rows = self.storage.index_select(0, idx)
        return {name: rows[:, sl] for name, sl in self.slices.items()}

    def field(self, name: str) -> torch.Tensor:
        """The stored rows of one field, ``(len(self), width)`` (a view)."""
        return self.storage[: self.size, self.slices[name]]

    def state_dict(self) -> dict[str, Any]:
        return {"storage": self.storage[: self.size].cpu().clone(), "ptr": self.ptr, "size": self.size,
                "capacity": self.capacity, "width": self.width}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if (state["capacity"], state["width"]) != (self.capacity, self.width):
            raise ValueError(f"replay state has capacity/width {(state['capacity'], state['width'])}, "
                             f"this buffer {(self.capacity, self.width)}")
        self.storage[: state["size"]].copy_(state["storage"])
        self.ptr, self.size = state["ptr"], state["size"]


class ActionScaler:
    """Maps policy actions in [-1, 1] to a bounded ``Box`` action space and back."""

    def __init__(self, space: gym.spaces.Box):
        if not isinstance(space, gym.spaces.Box) or not space.is_bounded():
            raise ValueError(f"agents need a bounded Box action space, got {space}")
        self.low, self.high = space.low.astype(np.float64), space.high.astype(np.float64)
        self.dtype = space.dtype

    def to_env(self, a: np.ndarray) -> np.ndarray:
        return (self.low + 0.5 * (np.asarray(a, dtype=np.float64) + 1.0) * (self.high - self.low)).astype(self.dtype)

    def from_env(self, a: np.ndarray) -> np.ndarray:
        return (2.0 * (np.asarray(a, dtype=np.float64) - self.low) / (self.high - self.low) - 1.0).astype(np.float32)


class AgentRNG:
    """An agent's own generators: a torch ``Generator`` on its device and a numpy ``Generator``."""

    def __init__(self, seed: int, device: torch.device):
        self.torch = torch.Generator(device=device)
        self.torch.manual_seed(int(seed))
        self.numpy = np.random.default_rng(int(seed) + 0x5EED)

    def state_dict(self) -> dict[str, Any]:
        return {"torch": self.torch.get_state(), "numpy": copy.deepcopy(self.numpy.bit_generator.state)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.torch.set_state(state["torch"])
        self.numpy.bit_generator.state = copy.deepcopy(state["numpy"])


def obs_dim_of(space: gym.Space) -> int:
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        raise ValueError(f"agents need a flat Box observation space, got {space}")
    return int(space.shape[0])

"""FIFO replay buffer with the next action stored, for SARSA-style value targets (spec §2.4).

Rows are ``(s, a, r, s', a', done)``. Storage is preallocated CPU tensors; minibatches are drawn
uniformly *without replacement* with the buffer's own ``numpy.random.Generator`` (captured by
``state_dict`` so a resumed run samples the same batches) and moved to the requested device.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

FIELDS = ("obs", "action", "reward", "next_obs", "next_action", "done")


class ReplayBuffer:
    """Ring buffer of ``capacity`` transitions; ``sample(batch_size)`` returns a dict of tensors."""

    def __init__(self, state_dim: int, action_dim: int, capacity: int, *, seed: int,
                 device: torch.device | str = "cpu"):
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity, self.device = int(capacity), torch.device(device)
        shapes = {"obs": (state_dim,), "action": (action_dim,), "reward": (), "next_obs": (state_dim,),
                  "next_action": (action_dim,), "done": ()}
        self.data = {k: torch.zeros((self.capacity, *s), dtype=torch.float32) for k, s in shapes.items()}
        self.size = 0
        self.ptr = 0
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.size

    def add(self, obs, action, reward: float, next_obs, next_action, done: bool) -> None:
        i = self.ptr
        for k, v in zip(FIELDS, (obs, action, reward, next_obs, next_action, float(done)), strict=True):
            self.data[k][i] = torch.as_tensor(np.asarray(v, dtype=np.float32))
        self.ptr = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int) -> dict[str, torch.Tensor]:
        if batch_size > self.size:
            raise ValueError(f"cannot sample {batch_size} transitions from a buffer holding {self.size}")
        idx = torch.from_numpy(self.rng.choice(self.size, size=batch_size, replace=False))
        return {k: v.index_select(0, idx).to(self.device, non_blocking=True) for k, v in self.data.items()}

    def state_dict(self) -> dict[str, Any]:
        return {"size": self.size, "ptr": self.ptr, "rng": self.rng.bit_generator.state,
                "data": {k: v[: self.size].clone() for k, v in self.data.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.size, self.ptr = int(state["size"]), int(state["ptr"])
        self.rng.bit_generator.state = state["rng"]
        for k, v in state["data"].items():
            self.data[k][: self.size] = v

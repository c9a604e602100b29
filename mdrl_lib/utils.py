"""Small helpers every module shares: device choice and seeding."""

from __future__ import annotations

import dataclasses
import json
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch


def get_device(prefer: str | None = None) -> torch.device:
    """The torch device to compute on: ``cuda`` when available, else ``cpu``.

    ``prefer`` (or the environment variable ``MDRL_DEVICE``) forces one: ``"cpu"``, ``"cuda"``, ``"cuda:1"``.
    """
    choice = prefer or os.environ.get("MDRL_DEVICE")
    if choice:
        dev = torch.device(choice)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {choice!r} requested but CUDA is not available; valid here: 'cpu'")
        if dev.type not in ("cpu", "cuda"):
            raise ValueError(f"unknown device {choice!r}; valid devices are 'cpu' and 'cuda[:N]'")
        return dev
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python's, numpy's and torch's global generators; return a fresh numpy ``Generator``.

    Environments and their action spaces are seeded separately (``env.reset(seed=...)``,
    ``env.action_space.seed(...)``) by the training loop.
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace variance: equal configs give equal strings.

    Tuples become lists and numpy scalars become Python numbers, so ``{"seeds": (0, 1)}`` and
    ``{"seeds": [0, 1]}`` are the same config.
    """

    def default(o):
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, Path):
            return str(o)
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return dataclasses.asdict(o)
        raise TypeError(f"config value {o!r} of type {type(o).__name__} is not JSON-serialisable")

    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=default)

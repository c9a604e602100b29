"""Small helpers every module shares: device choice and seeding."""

from __future__ import annotations

import dataclasses
import json
import os
import random
from collections.abc import Mapping
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
        source = "device" if prefer else "MDRL_DEVICE"
        kind, _, index = str(choice).partition(":")
        if kind not in ("cpu", "cuda") or (index and not index.isdigit()) or (kind == "cpu" and index):
            raise ValueError(f"unknown {source} {choice!r}; valid devices are 'cpu', 'cuda' and 'cuda:N'")
        if kind == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"{source} {choice!r} requested but CUDA is not available; valid here: 'cpu'")
        return torch.device(choice)
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


def replace_fields(config: Any, overrides: Mapping[str, Any], *, where: str = "config") -> Any:
    """``config`` (a frozen dataclass) with ``overrides`` applied, recursing into nested dataclass fields.

    ``replace_fields(DiffSACConfig(), {"sac": {"lr": 1e-3}, "updates_per_step": 1})``. Lists become tuples
    (recursively), so values read from JSON or YAML equal the dataclass defaults they replace. An unknown
    field raises one ``ValueError`` naming it and the valid fields.
    """
    if not overrides:
        return config
    if not (dataclasses.is_dataclass(config) and not isinstance(config, type)):
        raise ValueError(f"cannot override fields {sorted(overrides)} of {where}: it is not a dataclass")
    valid = [f.name for f in dataclasses.fields(config)]
    bad = sorted(set(overrides) - set(valid))
    if bad:
        raise ValueError(f"unknown field(s) {bad} of {where} ({type(config).__name__}); valid: {valid}")
    changes = {}
    for key, value in overrides.items():
        current = getattr(config, key)
        if dataclasses.is_dataclass(current) and isinstance(value, Mapping):
            changes[key] = replace_fields(current, value, where=f"{where}.{key}")
        else:
            changes[key] = _tuples(value)
    return dataclasses.replace(config, **changes)


def _tuples(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_tuples(v) for v in value)
    return value

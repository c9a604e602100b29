"""Small helpers every module shares: device choice, seeding and denormal flushing."""

from __future__ import annotations

import dataclasses
import json
import os
import random
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
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


def flushing_denormals() -> bool:
    """Whether this thread's float arithmetic treats subnormal numbers (|x| < 1.18e-38 in float32) as zero."""
    return bool((torch.tensor([1e-39]) * 1.0).item() == 0.0)  # 1e-39 is subnormal in float32: kept, or read as 0


@contextmanager
def flush_denormals() -> Iterator[bool]:
    """Treat subnormal floats as zero on this thread for the duration (``torch.set_flush_denormal``), then
    restore the caller's setting; yields whether the CPU supports it.

    Why: on x86 CPUs an arithmetic operation with a subnormal operand takes a microcode assist, and training makes
    them. The dynamics/value model's Adam has coupled L2 weight decay (docs/methods/maxdiff.md §2.4), which pulls a
    weight whose data gradient is zero (a dead ReLU unit) to zero geometrically, through the float32 subnormal range
    (below 1.18e-38). A cheetah_ant quick run (NN-MPPI, HalfCheetah, seed 213) had 111 subnormal weights in one
    200×200 layer at 5 k steps and slowed ~7× by 14 k; with a quarter of the hidden weights subnormal a
    HalfCheetah plan takes ~60× as long (``benchmarks/denormals.py``).

    Flushing changes only numbers below 1.2e-38, but it does change a run: that same run resumed from its 5 k
    checkpoint with the flush (and :func:`zero_subnormals`) leaves the unflushed run's trajectory after ~230 steps,
    while an unflushed resume from the checkpoint is bitwise identical to the uninterrupted run (model, buffer and
    observation compared at 7 k). A likely mechanism (not traced op by op): Adam divides by √v + ε, so an
    unflushed subnormal gradient of a decaying weight comes back as a ~1e-34 update, which a rounding tie somewhere
    in a 200×200 forward pass can carry into the plan; the closed loop amplifies it like any other last-bit
    difference (another CPU's BLAS kernels, another thread count). So runs trained before this guard (commit
    b6d2415) are samples of the same algorithm but are not reproduced bit for bit by the current code once their
    model weights reach the subnormal range; every run's git commit is recorded in its data file.

    It acts on the calling thread's floating-point control register only, and torch's worker threads keep the
    setting they started with: with one torch thread per run (the experiments' runs side by side) that is all the
    arithmetic; worker processes of the ``process`` executor flush from their start, so their thread pools inherit
    it (:mod:`mdrl_lib.sweep`); and the model trainer zeroes subnormal weights after every step whatever the thread
    count (:func:`zero_subnormals`).
    """
    before = flushing_denormals()
    supported = torch.set_flush_denormal(True)
    try:
        yield supported
    finally:
        torch.set_flush_denormal(before)


@torch.no_grad()
def zero_subnormals(params: Iterable[torch.Tensor]) -> None:
    """Set every subnormal entry of ``params`` (|x| below ``torch.finfo(dtype).tiny``, 1.18e-38 in float32) to zero,
    in place: what :func:`flush_denormals` does to numbers on its thread, for tensors that torch's worker threads
    also compute with (a run with more than one torch thread, where the flush covers the calling thread only)."""
    for p in params:
        p.masked_fill_(p.abs() < torch.finfo(p.dtype).tiny, 0.0)


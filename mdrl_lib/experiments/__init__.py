"""One module per paper experiment; each exposes ``CONFIGS`` (per scale) and ``run(scale, **overrides)``.

``get_experiment(name)`` imports one by name and gives a clear error listing the valid names. The
command line ``python -m mdrl_lib.experiments NAME --scale quick`` runs (or loads) one experiment.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import Any

from mdrl_lib.paths import check_scale

#: experiment name -> module under mdrl_lib.experiments (added as experiments land)
EXPERIMENTS = {
    "diffusion_maxent": "mdrl_lib.experiments.diffusion_maxent",
    "diffusion_toy": "mdrl_lib.experiments.diffusion_toy",
    "dime": "mdrl_lib.experiments.dime",
    "random_baseline": "mdrl_lib.experiments.random_baseline",
    "point_mass": "mdrl_lib.experiments.point_mass",
    "swimmer_alpha": "mdrl_lib.experiments.swimmer_alpha",
}


def get_experiment(name: str) -> ModuleType:
    """The module implementing experiment ``name``; ``ValueError`` naming the valid ones if unknown."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; valid experiments are {', '.join(sorted(EXPERIMENTS))}")
    return importlib.import_module(EXPERIMENTS[name])


def merge_config(name: str, configs: Mapping[str, Mapping[str, Any]], scale: str,
                 overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``configs[scale]`` with ``overrides`` applied; a clear error for a bad scale or an unknown key."""
    check_scale(scale)
    config = {**configs[scale], **overrides}
    unknown = set(config) - set(configs[scale])
    if unknown:
        raise ValueError(f"unknown config key(s) {sorted(unknown)} for {name}; valid: {sorted(configs[scale])}")
    return config


def check_choices(label: str, values: Iterable[Any], valid: Iterable[Any]) -> None:
    """Raise ``ValueError`` naming the ``values`` that are not in ``valid`` (e.g. unknown algorithms)."""
    valid = list(valid)
    bad = [v for v in values if v not in valid]
    if bad:
        raise ValueError(f"unknown {label}(s) {bad}; valid {label}s are {', '.join(map(str, valid))}")

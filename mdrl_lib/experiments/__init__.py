"""One module per paper experiment; each exposes ``CONFIGS`` (per scale) and ``run(scale, **overrides)``.

``get_experiment(name)`` imports one by name and gives a clear error listing the valid names. The
command line ``python -m mdrl_lib.experiments NAME --scale quick`` runs (or loads) one experiment.
"""

from __future__ import annotations

import importlib
from types import ModuleType

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

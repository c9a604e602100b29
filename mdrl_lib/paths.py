"""Where things live: the repository root, data/, figures/ and the git-ignored build/ folder.

Every path the library writes to is derived here, so a user can relocate outputs with two environment
variables: ``MDRL_ROOT`` (the repository root, default: the folder above this package) and
``MDRL_BUILD`` (scratch outputs, default ``<root>/build``).
"""

from __future__ import annotations

import os
from pathlib import Path

SCALES = ("smoke", "quick", "paper")


def root() -> Path:
    """The repository root (the folder holding ``pyproject.toml``)."""
    env = os.environ.get("MDRL_ROOT")
    return Path(env).resolve() if env else Path(__file__).resolve().parent.parent


def build_dir() -> Path:
    """Scratch folder for executed notebooks, smoke outputs and checkpoints (git-ignored)."""
    env = os.environ.get("MDRL_BUILD")
    return Path(env).resolve() if env else root() / "build"


def check_scale(scale: str) -> str:
    """Return ``scale`` if it is one of :data:`SCALES`, else raise one clear ``ValueError``."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; valid scales are {', '.join(SCALES)}")
    return scale


def data_dir(scale: str) -> Path:
    """Folder holding ``<experiment>/<scale>.nc``.

    ``quick`` and ``paper`` results live in the committed ``data/`` folder; ``smoke`` results are
    meaningless by design (DESIGN.md) and go to ``build/data`` so they can never be committed.
    """
    check_scale(scale)
    env = os.environ.get("MDRL_DATA")
    if env:
        return Path(env).resolve()
    return build_dir() / "data" if scale == "smoke" else root() / "data"


def figures_dir(scale: str) -> Path:
    """Folder a figure of the given scale is saved to.

    ``quick`` (what ``make figures`` draws) → ``figures/``; ``paper`` → ``figures/paper/``;
    ``smoke`` → ``build/figures/smoke/`` (never committed).
    """
    check_scale(scale)
    env = os.environ.get("MDRL_FIGURES")
    if env:
        return Path(env).resolve()
    if scale == "quick":
        return root() / "figures"
    if scale == "paper":
        return root() / "figures" / "paper"
    return build_dir() / "figures" / "smoke"

"""One look for every figure, and a byte-reproducible ``save_figure``.

Figures are written as PNG and PDF with fixed metadata (no creation date, no software version), so the
same data drawn twice gives byte-identical files and ``git diff`` only shows figures that really changed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import seaborn as sns
import xarray as xr

from mdrl_lib.paths import check_scale, figures_dir

#: One colour per algorithm, shared by every notebook so a method keeps its colour across figures.
ALGO_COLORS = {
    "MaxDiff": "#1b9e77",
    "NN-MPPI": "#d95f02",
    "MPPI": "#d95f02",
    "SAC": "#7570b3",
    "DiffSAC": "#e7298a",
    "PPO": "#66a61e",
    "DiffPPO": "#e6ab02",
    "WPO": "#a6761d",
    "DiffWPO": "#666666",
    "DIME": "#1f78b4",
    "published": "#999999",
    "random": "#bbbbbb",
}

# PNG: Software is the only key matplotlib adds by default; setting it to None drops it.
_PNG_METADATA = {"Software": None}
# PDF: a fixed creation date and no producer string make the file independent of when/where it is drawn.
_PDF_METADATA = {"Creator": None, "Producer": None, "CreationDate": None}


def set_theme() -> None:
    """Apply the project's single seaborn theme (call once per notebook; ``save_figure`` also calls it)."""
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    plt.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 150,
            "savefig.bbox": "tight",
            "axes.titlesize": "medium",
            "legend.frameon": False,
            # Fixed hash salt for SVG/PDF ids so output does not depend on the process.
            "svg.hashsalt": "mdrl",
            "pdf.fonttype": 42,
        }
    )


def save_figure(fig: plt.Figure, figure_id: str, scale: str = "quick", folder: str | Path | None = None
                ) -> dict[str, Path]:
    """Write ``<folder>/<figure_id>.png`` and ``.pdf`` atomically and reproducibly.

    Parameters
    ----------
    fig : the matplotlib figure.
    figure_id : file stem, as listed in FIGURES.md (letters, digits, ``_``, ``-``).
    scale : which scale drew it; decides the folder (``quick`` → ``figures/``, ``paper`` →
        ``figures/paper/``, ``smoke`` → ``build/figures/smoke/``), see :func:`mdrl_lib.paths.figures_dir`.
    folder : overrides the folder.

    Returns a dict ``{"png": path, "pdf": path}``.
    """
    if not figure_id or not all(c.isalnum() or c in "_-" for c in figure_id):
        raise ValueError(f"figure_id {figure_id!r} must be non-empty and use only letters, digits, '_' or '-'")
    check_scale(scale)
    out = Path(folder) if folder is not None else figures_dir(scale)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for ext, meta in (("png", _PNG_METADATA), ("pdf", _PDF_METADATA)):
        final = out / f"{figure_id}.{ext}"
        fd, tmp = tempfile.mkstemp(prefix=f".{figure_id}.", suffix=f".{ext}", dir=out)
        os.close(fd)
        try:
            fig.savefig(tmp, format=ext, metadata=meta)
            os.chmod(tmp, 0o644)  # mkstemp creates 0600
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        paths[ext] = final
    return paths


def published_band(ax: plt.Axes, curve: xr.DataArray, *, label: str = "published", color: str | None = None,
                   center: str = "median") -> None:
    """Draw the authors' released curve ``curve(seed, step)`` in grey: its ``center`` (median or mean over seeds)
    as a line and the min–max over seeds as a band, labelled ``"<label>, N seeds (line: median, band: min–max)"``.

    ``step`` is in environment steps, so our runs drawn on the same axes sit at their true x; the band runs to
    the curve's full length (draw :func:`budget_marker` where ours ends).
    """
    if center not in ("median", "mean"):
        raise ValueError(f"center must be 'median' or 'mean', got {center!r}")
    c = curve.dropna("step", how="all")
    n = int(c.notnull().any("step").sum())
    color = color or ALGO_COLORS["published"]
    mid = c.median("seed") if center == "median" else c.mean("seed")
    x = c.step.values
    ax.fill_between(x, c.min("seed"), c.max("seed"), color=color, alpha=0.25, lw=0)
    ax.plot(x, mid, color=color, lw=1.5, ls="--", label=f"{label}, {n} seeds ({center}; band min–max)")


def budget_marker(ax: plt.Axes, steps: float, *, label: str | None = "our budget") -> None:
    """A dotted vertical line at ``steps`` environment steps: where our runs end on a published curve's axis."""
    ax.axvline(float(steps), color="k", ls=":", lw=1, label=label)


def step_axis(ax: plt.Axes, log: bool = False) -> None:
    """x tick labels in thousands (k) or millions (M) of environment steps; ``log``: a log axis ticked at
    1, 3 × 10ⁿ."""
    if log:
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(mticker.LogLocator(subs=(1, 3)))
        ax.xaxis.set_minor_locator(mticker.NullLocator())
    ax.xaxis.set_major_formatter(mticker.FuncFormatter(
        lambda v, _: f"{v / 1e6:g} M" if abs(v) >= 1e6 else f"{v / 1000:g} k" if v else "0"))


def symlog_returns(ax: plt.Axes) -> None:
    """A symlog y axis for returns ≤ 0, ticked at −1, −2, −5 × 10ⁿ and labelled in plain numbers."""
    ax.set_yscale("symlog", linthresh=10)
    ax.yaxis.set_major_locator(mticker.SymmetricalLogLocator(base=10, linthresh=10, subs=(1, 2, 5)))
    ax.yaxis.set_minor_locator(mticker.NullLocator())
    ax.yaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:g}".replace("-", "−")))


def published_quantile(ours: np.ndarray | float, published: np.ndarray) -> np.ndarray:
    """Where each of ``ours`` falls among the published seeds at the same step: the fraction of published values
    below it (0 = below every published seed, 1 = above all; ties count half)."""
    pub = np.asarray(published, dtype=float)
    pub = pub[np.isfinite(pub)]
    if pub.size == 0:
        raise ValueError("no finite published values to compare with")
    o = np.atleast_1d(np.asarray(ours, dtype=float))
    return ((pub[None, :] < o[:, None]).sum(1) + 0.5 * (pub[None, :] == o[:, None]).sum(1)) / pub.size


set_theme()

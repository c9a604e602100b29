"""Read FIGURES.md (paper figure → notebook → data → figure file) and check it against the repository."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mdrl_lib.paths import SCALES, root

COLUMNS = ("paper_figure", "notebook", "data", "figure", "scale")


@dataclass(frozen=True)
class FigureRow:
    paper_figure: str
    notebook: str
    data: str
    figure: str
    scale: str

    def figure_files(self) -> list[Path]:
        folder = root() / "figures" / ("paper" if self.scale == "paper" else "")
        return [folder / f"{self.figure}.{ext}" for ext in ("png", "pdf")]


def read_figures_table(path: str | Path | None = None) -> list[FigureRow]:
    """Parse the markdown table of FIGURES.md into rows (header and separator skipped)."""
    path = Path(path) if path else root() / "FIGURES.md"
    rows = []
    for line in path.read_text().splitlines():
        if not line.startswith("|") or line.startswith("|---") or line.startswith("| Paper figure"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != len(COLUMNS):
            raise ValueError(f"FIGURES.md row has {len(cells)} columns, expected {len(COLUMNS)}: {line!r}")
        rows.append(FigureRow(*cells))
    return rows


def check_figures_table(rows: list[FigureRow] | None = None) -> list[str]:
    """Problems with the table: unknown notebooks or scales, figure ids their notebook never saves,
    notebooks missing from the table. Returns a list of messages (empty when consistent)."""
    rows = read_figures_table() if rows is None else rows
    nb_dir = root() / "notebooks"
    notebooks = {p.stem: p for p in nb_dir.glob("[0-9][0-9]_*.ipynb")}
    problems = []
    for r in rows:
        if r.scale not in SCALES:
            problems.append(f"{r.figure}: scale {r.scale!r} is not one of {SCALES}")
        if r.notebook not in notebooks:
            problems.append(f"{r.figure}: notebook {r.notebook!r} does not exist in notebooks/")
            continue
        source = "\n".join("".join(c["source"]) for c in json.loads(notebooks[r.notebook].read_text())["cells"])
        if f'"{r.figure}"' not in source and f"'{r.figure}'" not in source:
            problems.append(f"{r.figure}: notebook {r.notebook} never saves a figure with this id")
    listed = {r.notebook for r in rows}
    for stem in sorted(set(notebooks) - listed - {"00_index"}):
        problems.append(f"notebook {stem} is not listed in FIGURES.md")
    return problems

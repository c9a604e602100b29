"""Execute the notebooks in order with papermill; the one parameter that differs per scale is ``scale`` itself.

``python -m mdrl_lib.notebooks run --scale quick`` is what ``make figures`` calls; ``prepare --scale
smoke`` writes parameterised copies without executing them, which ``make test`` then executes under
``pytest --nbval-lax`` (one execution per notebook, with nbval's per-cell reporting).

Every size a notebook uses per scale lives with the code that uses it (an experiment's ``SIZES``, or a theory
notebook's own ``SIZES`` table), so a notebook is run with ``scale`` and nothing else. Extra parameters are
checked before anything runs: each must be a name assigned in the notebook's ``parameters`` cell — papermill
itself only warns about unknown names. A failing cell raises :class:`NotebookError` naming the notebook, the cell and
the exception.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import nbformat

from mdrl_lib.paths import SCALES, build_dir, check_scale, root


class NotebookError(RuntimeError):
    """A notebook failed to execute or was given bad parameters."""


def notebooks_dir() -> Path:
    return root() / "notebooks"


def list_notebooks(only: Sequence[str] | None = None) -> list[Path]:
    """The notebooks in execution order (``NN_topic.ipynb`` sorted by name), optionally filtered.

    ``only`` holds stems or number prefixes (``"01"``, ``"01_ergodicity"``); an entry matching nothing is
    an error listing the notebooks.
    """
    nbs = sorted(p for p in notebooks_dir().glob("[0-9][0-9]_*.ipynb"))
    if not only:
        return nbs
    chosen = []
    for key in only:
        match = [p for p in nbs if p.stem == key or p.stem.split("_")[0] == key]
        if not match:
            raise NotebookError(f"unknown notebook {key!r}; valid: {', '.join(p.stem for p in nbs)}")
        chosen.extend(m for m in match if m not in chosen)
    return sorted(chosen)


def notebook_parameters(path: str | Path) -> dict[str, Any]:
    """Names (and literal values) assigned in the cell tagged ``parameters``.

    Raises :class:`NotebookError` when the notebook has no such cell or the cell is not plain literals.
    """
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]
    if len(cells) != 1:
        raise NotebookError(f"{path.name}: expected exactly one code cell tagged 'parameters', found {len(cells)}")
    out: dict[str, Any] = {}
    try:
        tree = ast.parse(cells[0].source)
    except SyntaxError as err:
        raise NotebookError(f"{path.name}: parameters cell is not valid Python: {err}") from err
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if not isinstance(t, ast.Name):
                    raise NotebookError(f"{path.name}: parameters cell may only assign plain names")
                try:
                    out[t.id] = ast.literal_eval(node.value)
                except ValueError as err:
                    raise NotebookError(f"{path.name}: parameter {t.id!r} is not a plain literal") from err
        elif not isinstance(node, ast.Expr):  # docstrings/comments-as-strings are fine
            raise NotebookError(f"{path.name}: parameters cell may only hold assignments of literals")
    return out


def load_params(path: str | Path, scale: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Parameters for ``path`` at ``scale``: ``{"scale": scale}`` plus ``extra``, validated against the notebook."""
    params = {**(extra or {}), "scale": check_scale(scale)}
    if extra and "scale" in extra and extra["scale"] != scale:
        raise NotebookError(f"{Path(path).name}: extra parameters set scale={extra['scale']!r} but the run is at "
                            f"scale {scale!r}")
    validate_params(path, params)
    return params


def validate_params(path: str | Path, params: Mapping[str, Any]) -> None:
    """Raise :class:`NotebookError` if ``params`` has a name the notebook's parameters cell lacks."""
    known = notebook_parameters(path)
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise NotebookError(f"{Path(path).name}: unknown parameter(s) {', '.join(map(repr, unknown))}; "
                            f"valid parameters: {', '.join(sorted(known))}")


def output_path(path: Path, scale: str, out_dir: str | Path | None = None) -> Path:
    return (Path(out_dir) if out_dir else build_dir() / "notebooks" / scale) / path.name


def execute(path: str | Path, scale: str, *, out_dir: str | Path | None = None,
            extra: Mapping[str, Any] | None = None, prepare_only: bool = False, progress: bool = False) -> Path:
    """Execute one notebook at ``scale`` into ``build/notebooks/<scale>/`` (or ``out_dir``).

    The kernel starts in ``notebooks/`` (as in JupyterLab). Returns the output path.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    path = Path(path)
    params = load_params(path, scale, extra)
    out = output_path(path, scale, out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        pm.execute_notebook(str(path), str(out), parameters=params, kernel_name="python3",
                            prepare_only=prepare_only, progress_bar=progress, cwd=str(path.parent))
    except PapermillExecutionError as err:
        nb = nbformat.read(path, as_version=4)
        # papermill's index counts the injected-parameters cell; map back to the source notebook's cell
        raise NotebookError(
            f"{path.name} failed at cell {err.cell_index} (execution count {err.exec_count}) at scale {scale!r}: "
            f"{err.ename}: {err.evalue}\n--- cell source ---\n{err.source}\n--- see {out} for the full output "
            f"(source notebook has {len(nb.cells)} cells) ---"
        ) from None
    return out


def pending_experiments(nb: Path) -> set[str]:
    """The experiments notebook ``nb`` loads with :func:`mdrl_lib.experiments.run_or_pending` (``run_or_pending(
    "<name>"``): at quick and paper scale a missing data file of theirs is drawn as "not trained yet", never
    trained by running the notebook."""
    import re

    text = "".join("".join(cell.source) for cell in nbformat.read(nb, as_version=4).cells if cell.cell_type == "code")
    return set(re.findall(r"run_or_pending\(\s*[\"']([A-Za-z0-9_-]+)[\"']", text))


def _absent_data(scale: str, nbs: Sequence[Path], pending: bool) -> dict[str, list[str]]:
    if scale == "smoke":
        return {}
    from mdrl_lib.figures_index import read_figures_table
    from mdrl_lib.paths import data_dir

    by_stem = {nb.stem: nb for nb in nbs}
    waits = {stem: pending_experiments(nb) for stem, nb in by_stem.items()}
    absent: dict[str, list[str]] = {}
    for row in read_figures_table():
        if row.notebook not in by_stem or not row.data.startswith("data/") or row.data.startswith("data/published/"):
            continue  # data/published/ holds the authors' results: committed, never trained
        experiment = Path(row.data).parent.name
        if (experiment in waits[row.notebook]) != pending:
            continue
        path = data_dir(scale) / experiment / f"{scale}.nc"
        shown = f"data/{experiment}/{scale}.nc"
        if not path.exists() and shown not in absent.get(row.notebook, []):
            absent.setdefault(row.notebook, []).append(shown)
    return absent


def missing_data(scale: str, nbs: Sequence[Path]) -> dict[str, list[str]]:
    """``{stem: [data files]}`` for the notebooks among ``nbs`` that would train because a results file at
    ``scale`` is not on disk.

    The files come from the *Data* column of FIGURES.md (``data/<experiment>/quick.nc``, renamed to the
    scale). Such a notebook trains its experiment when it runs (see ``results.load_or_run``) — unless it loads the
    experiment with ``run_or_pending`` (:func:`pending_data`). ``smoke`` is never cached, so nothing is reported.
    """
    return _absent_data(scale, nbs, pending=False)


def pending_data(scale: str, nbs: Sequence[Path]) -> dict[str, list[str]]:
    """Like :func:`missing_data`, for the files the notebooks load with ``run_or_pending``: absent files that the
    notebook does not train (its section says so and draws the published part alone)."""
    return _absent_data(scale, nbs, pending=True)


def run_all(scale: str, *, only: Sequence[str] | None = None, out_dir: str | Path | None = None,
            extra: Mapping[str, Any] | None = None, prepare_only: bool = False) -> dict[str, float]:
    """Execute (or prepare) every notebook in order; return ``{stem: seconds}`` and write timings.json.

    All parameter files are validated before the first notebook runs, so a typo fails in a second, not
    after an hour of experiments.
    """
    check_scale(scale)
    nbs = list_notebooks(only)
    for nb in nbs:
        load_params(nb, scale, extra)
    if not prepare_only:
        for stem, files in missing_data(scale, nbs).items():
            print(f"[{scale}] note: {', '.join(files)} not on disk -> {stem} trains it now (can take hours on a "
                  "2-core CPU; runs checkpoint under build/checkpoints and resume when restarted)", flush=True)
        for stem, files in pending_data(scale, nbs).items():
            print(f"[{scale}] note: {', '.join(files)} not trained yet -> {stem} draws its published part only "
                  "(run_or_pending: train it with run_experiment or MDRL_RERUN=1)", flush=True)
    times: dict[str, float] = {}
    for nb in nbs:
        t0 = time.perf_counter()
        verb = "preparing" if prepare_only else "running"
        print(f"[{scale}] {verb} {nb.name} ...", flush=True)
        execute(nb, scale, out_dir=out_dir, extra=extra, prepare_only=prepare_only)
        times[nb.stem] = round(time.perf_counter() - t0, 2)
        if not prepare_only:
            print(f"[{scale}] {nb.name} done in {times[nb.stem]:.1f} s", flush=True)
    if not prepare_only:
        target = output_path(nbs[0], scale, out_dir).parent / "timings.json" if nbs else None
        if target:
            target.write_text(json.dumps(times, indent=1) + "\n")
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mdrl_lib.notebooks", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["run", "prepare", "list"])
    parser.add_argument("--scale", default="quick", help=f"one of: {', '.join(SCALES)}")
    parser.add_argument("--only", nargs="*", help="notebook stems or number prefixes (default: all)")
    parser.add_argument("--out", help="output folder (default build/notebooks/<scale>)")
    args = parser.parse_args(argv)
    try:
        check_scale(args.scale)
        if args.command == "list":
            for nb in list_notebooks(args.only):
                print(nb.relative_to(root()))
            return 0
        run_all(args.scale, only=args.only, out_dir=args.out, prepare_only=args.command == "prepare")
    except (NotebookError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

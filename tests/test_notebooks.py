"""The papermill runner: parameter validation and error reporting, on small notebooks made here."""

import shutil
from pathlib import Path

import nbformat
import pytest

from mdrl_lib import notebooks
from mdrl_lib.notebooks import NotebookError

ROOT = Path(__file__).resolve().parent.parent


def make_project(tmp_path, body="y = x * 2\nassert y == 2 * x", params_cell="scale = 'quick'\nx = 1"):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cell = nbformat.v4.new_code_cell(params_cell)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# demo"), cell, nbformat.v4.new_code_cell(body)]
    (tmp_path / "notebooks").mkdir()
    nbformat.write(nb, tmp_path / "notebooks" / "01_demo.ipynb")
    return tmp_path / "notebooks" / "01_demo.ipynb"


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.setenv("MDRL_ROOT", str(tmp_path))
    monkeypatch.setenv("MDRL_BUILD", str(tmp_path / "build"))
    return tmp_path


def test_parameters_are_read_from_the_tagged_cell(project):
    nb = make_project(project)
    assert notebooks.notebook_parameters(nb) == {"scale": "quick", "x": 1}
    assert notebooks.load_params(nb, "smoke") == {"scale": "smoke"}  # scale is the only per-scale parameter
    assert notebooks.load_params(nb, "paper", extra={"x": 3}) == {"scale": "paper", "x": 3}


def test_unknown_parameter_is_an_error(project):
    nb = make_project(project)
    with pytest.raises(NotebookError, match="01_demo.ipynb: unknown parameter\\(s\\) 'learning_rate'; "
                                            "valid parameters: scale, x"):
        notebooks.run_all("smoke", extra={"learning_rate": 0.1})
    assert not (project / "build").exists()  # validated before anything ran
    with pytest.raises(NotebookError, match="unknown parameter\\(s\\) 'y'"):
        notebooks.execute(nb, "quick", extra={"y": 1})


def test_bad_scale_and_notebook(project):
    nb = make_project(project)
    with pytest.raises(NotebookError, match="extra parameters set scale='quick' but the run is at scale 'paper'"):
        notebooks.load_params(nb, "paper", extra={"scale": "quick"})
    with pytest.raises(ValueError, match="unknown scale 'tiny'"):
        notebooks.load_params(nb, "tiny")
    with pytest.raises(NotebookError, match="unknown notebook '07'; valid: 01_demo"):
        notebooks.list_notebooks(["07"])


def test_parameters_cell_must_be_literals(project):
    nb = make_project(project, params_cell="import os\nx = os.getpid()")
    with pytest.raises(NotebookError, match="only hold assignments of literals"):
        notebooks.notebook_parameters(nb)


def test_executes_with_scale_parameters(project):
    make_project(project, body="assert scale == 'smoke' and x == 3\nprint('ran', x)")
    times = notebooks.run_all("smoke", extra={"x": 3})
    out = nbformat.read(project / "build" / "notebooks" / "smoke" / "01_demo.ipynb", as_version=4)
    assert "ran 3" in "".join(o.get("text", "") for c in out.cells for o in c.get("outputs", []))
    assert set(times) == {"01_demo"}


def test_failing_cell_names_notebook_and_cell(project):
    make_project(project, body="raise RuntimeError('boom in the demo')")
    with pytest.raises(NotebookError, match="01_demo.ipynb failed at cell .*RuntimeError: boom in the demo"):
        notebooks.run_all("smoke")


def test_repository_notebooks_have_valid_params():
    """Every real notebook has a parameters cell with ``scale = "quick"``; ``scale`` is its only per-scale parameter."""
    nbs = notebooks.list_notebooks()
    assert nbs, "no notebooks found"
    for nb in nbs:
        params = notebooks.notebook_parameters(nb)
        assert params.get("scale") == "quick", f"{nb.name}: default scale must be 'quick'"
        for scale in ("smoke", "quick", "paper"):
            notebooks.load_params(nb, scale)
        meta = nbformat.read(nb, as_version=4).metadata
        assert meta.get("kernelspec", {}).get("name") == "python3", f"{nb.name}: kernelspec missing"
    assert shutil.which("papermill") or (ROOT / ".venv" / "bin" / "papermill").exists()


def test_missing_data_names_the_results_files_a_run_would_train(isolated):
    """make figures warns up front about notebooks whose data/<experiment>/<scale>.nc is absent."""
    nbs = notebooks.list_notebooks(["90"])
    assert notebooks.missing_data("quick", nbs) == {"90_reference_scores": ["data/random_baseline/quick.nc"]}
    assert notebooks.missing_data("smoke", nbs) == {}
    target = isolated / "data" / "random_baseline" / "quick.nc"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"")
    assert notebooks.missing_data("quick", nbs) == {}
    assert notebooks.missing_data("paper", nbs) == {"90_reference_scores": ["data/random_baseline/paper.nc"]}


def test_missing_data_ignores_the_published_results_and_tells_pending_from_training(isolated):
    """The authors' released runs (data/published/) are never trained; a notebook section that loads its
    experiment with run_or_pending is reported as pending, not as training."""
    nbs = [nb for nb in notebooks.list_notebooks() if nb.stem.startswith(("12_", "13_", "14_"))]
    assert [nb.stem for nb in nbs] == ["12_swimmer_light_heavy_transfer", "13_single_shot", "14_halfcheetah_ant"]
    assert notebooks.pending_experiments(nbs[0]) == {"swimmer_light"}
    assert notebooks.pending_experiments(nbs[2]) == set()  # notebook 14 trains cheetah_ant (run_experiment)
    assert notebooks.missing_data("paper", nbs) == {"14_halfcheetah_ant": ["data/cheetah_ant/paper.nc"]}
    assert notebooks.pending_data("paper", nbs) == {"12_swimmer_light_heavy_transfer": ["data/swimmer_light/paper.nc"],
                                                    "13_single_shot": ["data/single_shot/paper.nc"]}
    assert notebooks.missing_data("smoke", nbs) == notebooks.pending_data("smoke", nbs) == {}

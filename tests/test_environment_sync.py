"""environment.yml (conda) must install exactly what pyproject.toml pins."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _pyproject_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project, set(project["dependencies"]) | set(project["optional-dependencies"]["dev"])


def test_every_requirement_is_pinned_exactly():
    _, pins = _pyproject_pins()
    loose = [p for p in pins if not re.fullmatch(r"[A-Za-z0-9_.\-]+(\[[a-z0-9,_\-]+\])?==[0-9][0-9A-Za-z.+]*", p)]
    assert not loose, f"requirements not pinned with ==: {loose}"


def test_environment_yml_mirrors_pyproject():
    project, pins = _pyproject_pins()
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    pip_lists = [d["pip"] for d in deps if isinstance(d, dict) and "pip" in d]
    assert len(pip_lists) == 1, "environment.yml needs exactly one pip: section"
    pip_pins = {p for p in pip_lists[0] if not p.startswith("-e")}
    assert pip_pins == pins, (f"only in pyproject.toml: {sorted(pins - pip_pins)}; "
                              f"only in environment.yml: {sorted(pip_pins - pins)}")
    pythons = [d for d in deps if isinstance(d, str) and d.startswith("python")]
    assert pythons == ["python=3.11"]
    assert project["requires-python"].startswith(">=3.11")
    assert "-e ." in pip_lists[0], "environment.yml must install the package itself"

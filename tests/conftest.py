import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Send data, figures and build outputs to a temporary folder."""
    monkeypatch.setenv("MDRL_BUILD", str(tmp_path / "build"))
    monkeypatch.setenv("MDRL_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("MDRL_FIGURES", str(tmp_path / "figures"))
    monkeypatch.delenv("MDRL_RERUN", raising=False)
    return tmp_path

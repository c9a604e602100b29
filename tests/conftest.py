import os

import pytest
import torch

os.environ.setdefault("MPLBACKEND", "Agg")
# The unit tests use tiny networks: one intra-op thread avoids thread start-up and oversubscription on 2 cores
# (the notebooks run in their own kernels and keep torch's default).
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def one_thread():
    """Every test runs at one torch thread, and whatever a test sets is undone after it."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Send data, figures and build outputs to a temporary folder."""
    monkeypatch.setenv("MDRL_BUILD", str(tmp_path / "build"))
    monkeypatch.setenv("MDRL_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("MDRL_FIGURES", str(tmp_path / "figures"))
    monkeypatch.delenv("MDRL_RERUN", raising=False)
    return tmp_path

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


class EnvCrash(Exception):
    """Raised by the training environment of :func:`crash_run_env` after its step budget."""


@pytest.fixture
def crash_run_env(monkeypatch):
    """``install(after)``: ``single_shot.make_run_env`` (the run environment of single_shot and cheetah_ant) then
    builds environments whose ``after + 1``-th step raises :class:`EnvCrash`; returns a function that restores it."""
    from mdrl_lib.experiments import single_shot

    real = single_shot.make_run_env

    def install(after):
        def crashing(run):
            env, count = real(run), [0]
            step = env.step

            def step_or_crash(action):
                count[0] += 1
                if count[0] > after:
                    raise EnvCrash
                return step(action)

            env.step = step_or_crash
            return env

        monkeypatch.setattr(single_shot, "make_run_env", crashing)
        return lambda: monkeypatch.setattr(single_shot, "make_run_env", real)

    return install

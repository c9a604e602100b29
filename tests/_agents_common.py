"""Shared helpers of the agent tests (not a test module): tiny configs, a crash-and-resume check."""

from __future__ import annotations

import math

import numpy as np
import torch
import xarray as xr

from mdrl_lib.envs import make_env
from mdrl_lib.train import TrainConfig, train

# Tiny networks: one thread avoids OpenMP spin-waiting on the shared 2-core machine (30x slower under load).
torch.set_num_threads(1)


def make_pendulum():
    return make_env("Pendulum-v1", max_episode_steps=50)


class Crash(Exception):
    pass


def crashing(agent, at: int):
    """Make ``agent.observe`` raise on its ``at``-th call (an in-process stand-in for SIGKILL)."""
    original, calls = agent.observe, [0]

    def observe(*args):
        calls[0] += 1
        if calls[0] == at:
            raise Crash
        original(*args)

    agent.observe = observe
    return agent


def check_run_and_resume(build, tmp_path, steps=240, every=80, learning_starts=0):
    """Train ``build()`` uninterrupted, and again crashed mid-way and resumed: the Datasets must be identical."""
    cfg = TrainConfig(total_steps=steps, eval_every=every, eval_episodes=1, seed=3, learning_starts=learning_starts,
                      eval_deterministic=False)
    reference = train(make_pendulum, build(), cfg, progress=False)
    try:
        train(make_pendulum, crashing(build(), every + every // 2), cfg, checkpoint_dir=tmp_path, progress=False)
        raise AssertionError("the crashing run did not crash")
    except Crash:
        pass
    resumed = train(make_pendulum, build(), cfg, checkpoint_dir=tmp_path, progress=False)
    xr.testing.assert_identical(resumed, reference)
    metrics = [v for v in reference.data_vars if v.endswith("loss")]
    assert metrics, f"no losses were logged: {list(reference.data_vars)}"
    for m in metrics:
        vals = reference[m].values
        assert np.isfinite(vals[~np.isnan(vals)]).all() and (~np.isnan(vals)).any(), m
    return reference


def finite(x) -> bool:
    return math.isfinite(float(x))

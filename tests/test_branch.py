"""Branching a run from another run's checkpoint (train.branch_checkpoint, experiments.branch_job): the branched run
is the run trained from scratch, bit for bit, and every mismatch is refused with one clear error."""

import dataclasses
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

import mdrl_lib.train as train_module
from mdrl_lib.agents.random_agent import UniformRandomAgent
from mdrl_lib.experiments import (
    _checkpoint_dir,
    _Execute,
    branch_job,
    experiment_config,
    jobs_of,
    swimmer_alpha,
    swimmer_light,
)
from mdrl_lib.train import TrainConfig, branch_checkpoint, config_key, log_rows, train

sys.path.insert(0, str(Path(__file__).parent))
from _train_child import make  # noqa: E402

SMALL = {"seeds": [3], "max_episode_steps": 20, "checkpoint_every": 10, "planner": {"samples": 16, "horizon": 8},
         "batch_size": 16, "inertia": "cylinder"}
# the source evaluates (1 episode at step 0) and runs past the branch step; the target stops there, evaluates
# nothing while training, and runs its final models on both bodies afterwards
SOURCE = {**SMALL, "alphas": [100.0], "total_steps": 60, "eval_every": 60, "eval_episodes": 1, "curve_points": 3}
TARGET = {**SMALL, "alphas": [100.0], "train_bodies": ["heavy"], "eval_bodies": ["heavy", "light"],
          "total_steps": 40, "eval_episodes": 1, "curve_points": 2}
BRANCH_STEP = 40


def test_log_rows_follow_the_loop():
    cfg = TrainConfig(total_steps=50, eval_every=20)
    assert log_rows(cfg, 50) == [0, 20, 40, 50]
    assert log_rows(cfg, 39) == [0, 20]
    assert log_rows(TrainConfig(total_steps=40, eval_every=40), 40) == [0, 40]


def run_with_store(tmp_path, monkeypatch, algo):
    """(source job, target job) of one algorithm at the small sizes, with the source trained to its end and its
    checkpoint at BRANCH_STEP kept as ``step40.pt`` in its checkpoint folder."""
    monkeypatch.setenv("MDRL_BUILD", str(tmp_path / "build"))
    monkeypatch.setitem(swimmer_alpha.SIZES, "quick", {**swimmer_alpha.SIZES["quick"], **SOURCE})
    monkeypatch.setitem(swimmer_light.SIZES, "quick", {**swimmer_light.SIZES["quick"], **TARGET})
    src_jobs, src_runs = jobs_of(swimmer_alpha, experiment_config(swimmer_alpha, "quick"))
    dst_jobs, dst_runs = jobs_of(swimmer_light, experiment_config(swimmer_light, "quick"))
    si = next(i for i, j in enumerate(src_jobs) if j.setting["algo"] == algo)
    di = next(i for i, j in enumerate(dst_jobs) if j.setting["algo"] == algo)
    save = train_module.save_checkpoint

    def keep(obj, path):
        save(obj, path)
        if obj["step"] == BRANCH_STEP:
            shutil.copy(path, Path(path).parent / f"step{BRANCH_STEP}.pt")

    monkeypatch.setattr(train_module, "save_checkpoint", keep)
    job = src_jobs[si]
    src_dir = _checkpoint_dir("swimmer_alpha", "quick", job)
    _Execute(swimmer_alpha.__name__, 1, False)((src_runs[job.label], job.seed, src_dir, job.label))
    monkeypatch.setattr(train_module, "save_checkpoint", save)
    return (si, Path(src_dir)), (di, dst_jobs[di], dst_runs[dst_jobs[di].label])


@pytest.mark.parametrize("algo", ["MaxDiff", "NN-MPPI", "SAC"])
def test_branched_run_equals_the_run_trained_from_scratch(tmp_path, monkeypatch, algo):
    (si, src_dir), (di, job, run) = run_with_store(tmp_path, monkeypatch, algo)
    direct, _ = _Execute(swimmer_light.__name__, 1, False)((run, job.seed, str(tmp_path / "direct"), job.label))

    path = branch_job("swimmer_alpha", si, "swimmer_light", di, "quick", src_dir / f"step{BRANCH_STEP}.pt")
    assert path == Path(_checkpoint_dir("swimmer_light", "quick", job)) / "last.pt"
    branched, measured = _Execute(swimmer_light.__name__, 1, False)((run, job.seed, str(path.parent), job.label))
    # learning curves and the final models' episodes on both bodies, value for value
    xr.testing.assert_identical(branched, direct)
    assert measured["branched_from"] == {"experiment": "swimmer_alpha", "scale": "quick",
                                         "job": f"algo={algo} alpha={100 if algo == 'MaxDiff' else 0}",
                                         "seed": 3, "config": jobs_of(swimmer_alpha, experiment_config(
                                             swimmer_alpha, "quick"))[0][si].sha, "step": BRANCH_STEP}
    with pytest.raises(ValueError, match="already has a checkpoint"):
        branch_job("swimmer_alpha", si, "swimmer_light", di, "quick", src_dir / f"step{BRANCH_STEP}.pt")


def test_the_evaluation_state_is_what_makes_a_maxdiff_branch_exact(tmp_path, monkeypatch):
    """Without resetting the evaluation planner (advanced by the source's evaluation at step 0), the final-model
    episodes of the branched run differ from the direct run's: the substitution is needed, not decoration."""
    (si, src_dir), (di, job, run) = run_with_store(tmp_path, monkeypatch, "MaxDiff")
    direct, _ = _Execute(swimmer_light.__name__, 1, False)((run, job.seed, str(tmp_path / "direct"), job.label))
    real = train_module.branch_checkpoint
    monkeypatch.setattr(train_module, "branch_checkpoint", lambda ckpt, cfg, eval_only_state=None: real(
        ckpt, cfg, eval_only_state={k: ckpt["agent"][k] for k in eval_only_state}))
    path = branch_job("swimmer_alpha", si, "swimmer_light", di, "quick", src_dir / f"step{BRANCH_STEP}.pt")
    branched, _ = _Execute(swimmer_light.__name__, 1, False)((run, job.seed, str(path.parent), job.label))
    xr.testing.assert_identical(branched.best_return, direct.best_return)  # training is the same either way
    assert not np.array_equal(branched.eval_return.values, direct.eval_return.values)


def test_branch_refuses_what_does_not_match(tmp_path, monkeypatch):
    (si, src_dir), (di, job, run) = run_with_store(tmp_path, monkeypatch, "SAC")
    ckpt = src_dir / f"step{BRANCH_STEP}.pt"
    light = next(i for i, j in enumerate(jobs_of(swimmer_light, experiment_config(swimmer_light, "quick", {
        "train_bodies": ["light"]}))[0]) if j.setting["algo"] == "SAC")
    with pytest.raises(ValueError, match=r"differ in \['env'\]"):
        branch_job("swimmer_alpha", si, "swimmer_light", light, "quick", ckpt,
                   target_overrides={"train_bodies": ["light"]})
    with pytest.raises(ValueError, match="cannot branch seed 4 from seed 3"):
        branch_job("swimmer_alpha", si, "swimmer_light", di, "quick", ckpt, target_overrides={"seeds": [4]})
    with pytest.raises(ValueError, match="differ in \\['agent'\\]"):
        branch_job("swimmer_alpha", si, "swimmer_light", di, "quick", ckpt, target_overrides={"batch_size": 8})
    elsewhere = tmp_path / "elsewhere.pt"
    shutil.copy(ckpt, elsewhere)
    with pytest.raises(ValueError, match="is not in the checkpoint folder"):
        branch_job("swimmer_alpha", si, "swimmer_light", di, "quick", elsewhere)
    with pytest.raises(ValueError, match="stops at total_steps 30"):  # the checkpoint is past the target's end
        branch_job("swimmer_alpha", si, "swimmer_light", di, "quick", ckpt, target_overrides={"total_steps": 30})
    with pytest.raises(ValueError, match="smoke runs keep no checkpoints"):
        branch_job("swimmer_alpha", si, "swimmer_light", di, "smoke", ckpt)
    assert not Path(_checkpoint_dir("swimmer_light", "quick", job)).exists()  # nothing half-written


def plain(config, ckpt_dir=None):
    return train(make, UniformRandomAgent(make().action_space, seed=config.seed), config, progress=False,
                 checkpoint_dir=ckpt_dir)


def test_a_longer_run_continues_a_shorter_one(tmp_path):
    """Extending a finished run: same evaluations up to its end, then on to the longer budget."""
    short = TrainConfig(total_steps=400, eval_every=200, eval_episodes=1, checkpoint_every=200, seed=5)
    long = dataclasses.replace(short, total_steps=1000)
    plain(short, tmp_path / "short")
    ckpt = torch.load(tmp_path / "short" / "last.pt", weights_only=False)
    (tmp_path / "long").mkdir()
    train_module.save_checkpoint(branch_checkpoint(ckpt, long), tmp_path / "long" / "last.pt")
    extended = plain(long, tmp_path / "long")
    assert json.loads(extended.attrs.pop("branched_from")) == {"config": config_key(short), "step": 400}
    xr.testing.assert_identical(extended, plain(long))


def test_branch_checkpoint_refuses_schedules_it_cannot_replay(tmp_path):
    cfg = TrainConfig(total_steps=400, eval_every=200, eval_episodes=1, checkpoint_every=200, seed=5)
    plain(cfg, tmp_path)
    ckpt = torch.load(tmp_path / "last.pt", weights_only=False)
    with pytest.raises(ValueError, match=r"differ in \['seed'\]"):
        branch_checkpoint(ckpt, dataclasses.replace(cfg, seed=6))
    with pytest.raises(ValueError, match=r"evaluated at steps \[0, 200, 400\], the target would at \[0, 400\]"):
        branch_checkpoint(ckpt, dataclasses.replace(cfg, eval_every=400))
    with pytest.raises(ValueError, match="with 1 evaluation episodes to one with 2"):
        branch_checkpoint(ckpt, dataclasses.replace(cfg, eval_episodes=2))
    with pytest.raises(ValueError, match="without the agent's evaluation-only state"):
        branch_checkpoint(ckpt, dataclasses.replace(cfg, eval_episodes=0))
    with pytest.raises(ValueError, match="acts stochastically"):
        stochastic = dataclasses.replace(cfg, eval_deterministic=False)
        plain(stochastic, tmp_path / "s")
        branch_checkpoint(torch.load(tmp_path / "s" / "last.pt", weights_only=False),
                          dataclasses.replace(stochastic, eval_episodes=0), eval_only_state={})

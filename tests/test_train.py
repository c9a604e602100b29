import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from mdrl_lib.agents.random_agent import UniformRandomAgent
from mdrl_lib.envs import get_env_state, make_env, set_env_state
from mdrl_lib.train import TrainConfig, evaluate, train
from mdrl_lib.utils import flush_denormals, flushing_denormals

sys.path.insert(0, str(Path(__file__).parent))
from _train_child import CONFIG, make  # noqa: E402


def run_plain(config=CONFIG, seed=7, **kw):
    return train(make, UniformRandomAgent(make().action_space, seed=seed), config, progress=False, **kw)


def kill_after_checkpoint(child: subprocess.Popen, ckpt_dir: Path, min_step: int) -> int:
    """SIGKILL the training ``child`` once its checkpoint has reached ``min_step``; the step it was killed at."""
    ckpt = ckpt_dir / "last.pt"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if ckpt.exists() and torch.load(ckpt, weights_only=False)["step"] >= min_step:
            break
        assert child.poll() is None, "child finished before it could be killed"
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    return torch.load(ckpt, weights_only=False)["step"]


def test_same_seed_identical_dataset():
    a, b = run_plain(), run_plain()
    xr.testing.assert_identical(a, b)
    assert a.sizes["step"] == 7 and a.sizes["eval_episode"] == 2
    assert int(a.train_episodes[-1]) == a.sizes["episode"] > 10
    c = run_plain(TrainConfig(**{**CONFIG.__dict__, "seed": 8}), seed=8)
    assert not np.array_equal(a.eval_return.values, c.eval_return.values)


class FlushRecorder(UniformRandomAgent):
    """Records, at every action, whether subnormal floats are flushed to zero on this thread."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.flushing = []

    def act(self, obs, deterministic=False):
        self.flushing.append(flushing_denormals())
        return super().act(obs, deterministic)


def test_training_flushes_denormals_and_restores_the_callers_setting():
    assert not flushing_denormals()  # the process default: IEEE subnormals
    with flush_denormals() as supported:
        assert supported and flushing_denormals()
        with flush_denormals():
            pass
        assert flushing_denormals()  # a nested use keeps the outer setting
    assert not flushing_denormals()
    agent = FlushRecorder(make().action_space, seed=7)
    train(make, agent, TrainConfig(total_steps=300, eval_every=300, eval_episodes=1, seed=7), progress=False)
    assert len(agent.flushing) > 300 and all(agent.flushing)  # training and its evaluation episodes
    assert not flushing_denormals()
    agent.flushing.clear()
    evaluate(agent, make(), 1, seed=7, step=0)
    assert agent.flushing and all(agent.flushing) and not flushing_denormals()


def test_sigkill_and_resume_gives_identical_dataset(tmp_path):
    reference = run_plain()
    ckpt_dir = tmp_path / "ckpt"
    child = subprocess.Popen([sys.executable, str(Path(__file__).parent / "_train_child.py"), str(ckpt_dir)])
    killed_at = kill_after_checkpoint(child, ckpt_dir, 750)
    assert 750 <= killed_at < CONFIG.total_steps, killed_at
    resumed = run_plain(checkpoint_dir=ckpt_dir)
    xr.testing.assert_identical(resumed, reference)


def test_resume_refuses_other_config(tmp_path):
    short = TrainConfig(total_steps=300, eval_every=100, eval_episodes=1, seed=7)
    run_plain(short, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="written by a run with config"):
        run_plain(TrainConfig(total_steps=300, eval_every=100, eval_episodes=1, seed=8), checkpoint_dir=tmp_path)


def test_env_state_round_trip_continues_bit_for_bit():
    env = make_env("Hopper-v5")
    env.reset(seed=1)
    rng = np.random.default_rng(0)
    for _ in range(20):
        env.step(rng.uniform(-1, 1, 3))
    state = get_env_state(env)
    other = make_env("Hopper-v5")  # never reset: restoring must not depend on it
    set_env_state(other, state)
    for _ in range(100):
        a = rng.uniform(-1, 1, 3)
        o1, r1, term1, *_ = env.step(a)
        o2, r2, term2, *_ = other.step(a)
        assert np.array_equal(o1, o2) and r1 == r2 and term1 == term2
        if term1:
            np.testing.assert_array_equal(env.reset()[0], other.reset()[0])
    assert env.unwrapped.np_random.random() == other.unwrapped.np_random.random()


def test_bad_config_and_agent():
    with pytest.raises(ValueError, match="total_steps must be >= 1"):
        TrainConfig(total_steps=0, eval_every=1)
    with pytest.raises(TypeError, match="missing \\['act', 'observe'"):
        train(make, object(), CONFIG)
    with pytest.raises(ValueError, match="unknown environment 'Hoper-v5'; close matches: \\['Hopper-v5'"):
        make_env("Hoper-v5")


# --- single-shot mode: the SIGKILL/resume test above, for one deployment without resets -------------------------

SINGLE_SHOT = TrainConfig(total_steps=3000, eval_every=500, eval_episodes=0, checkpoint_every=250, seed=7,
                          single_shot=True, chunk=200)
_SINGLE_SHOT_CHILD = """
import dataclasses, json, sys, time
from mdrl_lib.agents.random_agent import UniformRandomAgent
from mdrl_lib.envs import make_env
from mdrl_lib.train import TrainConfig, train

class SlowAgent(UniformRandomAgent):
    def observe(self, *args):
        time.sleep(0.002)
        super().observe(*args)

def make():
    return make_env("mdrl/SwimmerLight-v0", max_episode_steps=-1)

train(make, SlowAgent(make().action_space, seed=7), TrainConfig(**json.loads(sys.argv[2])),
      checkpoint_dir=sys.argv[1], progress=False)
"""


def make_unlimited():
    return make_env("mdrl/SwimmerLight-v0", max_episode_steps=-1)


def test_single_shot_sigkill_and_resume_gives_identical_dataset(tmp_path):
    import dataclasses
    import json

    def run(**kw):
        return train(make_unlimited, UniformRandomAgent(make_unlimited().action_space, seed=7), SINGLE_SHOT,
                     progress=False, **kw)

    reference = run()
    assert reference.sizes["episode"] == 15 and reference.sizes["eval_episode"] == 0
    ckpt_dir = tmp_path / "ckpt"
    child = subprocess.Popen([sys.executable, "-c", _SINGLE_SHOT_CHILD, str(ckpt_dir),
                              json.dumps(dataclasses.asdict(SINGLE_SHOT))])
    killed_at = kill_after_checkpoint(child, ckpt_dir, 750)
    assert 750 <= killed_at < SINGLE_SHOT.total_steps, killed_at
    resumed = run(checkpoint_dir=ckpt_dir)
    xr.testing.assert_identical(resumed, reference)
    # the deployment's end state is the resumed run's too (restored from the checkpoint, never reset)
    assert resumed.final_qpos.shape == (5,) and resumed.final_obs.values[0] == resumed.final_qpos.values[0]

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mdrl_lib.agents.ppo import PPOAgent, PPOConfig, RunningMeanStd, clipped_surrogate, gae

sys.path.insert(0, str(Path(__file__).parent))
from _agents_common import check_run_and_resume, make_pendulum  # noqa: E402

TINY = PPOConfig(n_steps=64, n_epochs=2, n_minibatches=4, hidden=(16, 16))


def test_ppo_runs_and_resumes_bit_identically(tmp_path):
    env = make_pendulum()
    check_run_and_resume(lambda: PPOAgent(env.observation_space, env.action_space, TINY, seed=1, device="cpu"),
                         tmp_path)


def test_first_minibatch_ratios_are_one():
    env = make_pendulum()
    agent = PPOAgent(env.observation_space, env.action_space, TINY, seed=0, device="cpu")
    obs, _ = env.reset(seed=0)
    metrics = {}
    while not metrics:
        a = agent.act(obs)
        nxt, r, term, trunc, _ = env.step(a)
        agent.observe(obs, a, r, nxt, term, trunc)
        metrics = agent.update()
        obs = env.reset()[0] if term or trunc else nxt
    torch.testing.assert_close(agent.first_minibatch_ratio, torch.ones_like(agent.first_minibatch_ratio),
                               atol=1e-6, rtol=0)
    assert metrics["clip_fraction"] >= 0 and np.isfinite(metrics["value_loss"])


def test_gae_limits():
    r = torch.tensor([1.0, 2.0, 3.0])
    v = torch.tensor([0.5, 0.2, 0.1])
    nv = torch.tensor([0.2, 0.1, 9.0])
    disc = torch.tensor([0.9, 0.9, 0.0])  # last step terminates: its next value is ignored
    td = r + disc * nv - v
    adv0, _ = gae(r, v, nv, disc, torch.zeros(3))
    torch.testing.assert_close(adv0, td)
    adv1, ret1 = gae(r, v, nv, disc, torch.ones(3))
    mc = torch.tensor([1 + 0.9 * 2 + 0.81 * 3, 2 + 0.9 * 3, 3.0])
    torch.testing.assert_close(ret1, mc)


def test_clipped_surrogate_clips():
    adv = torch.tensor([1.0, -1.0])
    loss, ratio = clipped_surrogate(torch.log(torch.tensor([2.0, 0.5])), torch.zeros(2), adv, 0.2)
    torch.testing.assert_close(ratio, torch.tensor([2.0, 0.5]))
    torch.testing.assert_close(loss, -torch.tensor([1.2, -0.8]).mean())


def test_running_mean_std_and_bad_config():
    rms = RunningMeanStd((2,))
    x = np.random.default_rng(0).normal(3.0, 2.0, (1000, 2))
    for chunk in np.split(x, 10):
        rms.update(chunk)
    np.testing.assert_allclose(rms.mean, x.mean(0), atol=1e-3)
    np.testing.assert_allclose(rms.var, x.var(0), rtol=1e-3)
    with pytest.raises(ValueError, match="n_steps \\(8\\) must be >= n_minibatches \\(32\\)"):
        PPOConfig(n_steps=8)

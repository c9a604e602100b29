import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mdrl_lib.agents.sac import SACAgent, SACConfig, soft_q_target, temperature_loss

sys.path.insert(0, str(Path(__file__).parent))
from _agents_common import check_run_and_resume, make_pendulum  # noqa: E402

TINY = dict(hidden=(32, 32), batch_size=32, random_steps=50)


def build(config):
    env = make_pendulum()
    return lambda: SACAgent(env.observation_space, env.action_space, config, seed=1, device="cpu")


@pytest.mark.parametrize("config", [SACConfig(**TINY), SACConfig.maxdiff("HalfCheetah-v5", **TINY)],
                         ids=["v2", "v1"])
def test_sac_runs_and_resumes_bit_identically(config, tmp_path):
    check_run_and_resume(build(config), tmp_path)


def test_soft_q_target_matches_the_equation():
    r, nd = torch.tensor([1.0, 2.0]), torch.tensor([1.0, 0.0])
    q_next = torch.tensor([[3.0, 5.0], [4.0, 1.0]])  # (critics, B): min = [3, 1]
    logp = torch.tensor([0.5, -1.0])
    y = soft_q_target(r, nd, 0.9, q_next, logp, torch.tensor(0.2))
    torch.testing.assert_close(y, torch.tensor([1.0 + 0.9 * (3.0 - 0.1), 2.0]))


def test_temperature_moves_towards_the_target_entropy():
    log_alpha = torch.zeros((), requires_grad=True)
    high_entropy_logp = torch.full((8,), -5.0)  # entropy 5 > target -1: α must shrink
    temperature_loss(log_alpha, high_entropy_logp, -1.0).backward()
    assert log_alpha.grad > 0
    env = make_pendulum()
    agent = SACAgent(env.observation_space, env.action_space, SACConfig(**TINY, alpha_lr=1e-2), seed=0, device="cpu")
    obs, _ = env.reset(seed=0)
    for _ in range(200):
        a = agent.act(obs)
        nxt, r, term, trunc, _ = env.step(a)
        agent.observe(obs, a, r, nxt, term, trunc)
        m = agent.update()
        obs = env.reset()[0] if term or trunc else nxt
    # a fresh tanh-Gaussian with σ≈1 has entropy far above -|A| = -1
    assert m["entropy"] > -1 and float(agent.alpha) < 0.5 * SACConfig().alpha  # from α₀ it shrinks


def test_maxdiff_settings_and_bad_input():
    cfg = SACConfig.maxdiff("HalfCheetah-v5")
    assert (cfg.variant, cfg.reward_scale, cfg.alpha, cfg.autotune, cfg.batch_size) == ("v1", 5.0, 1.0, False, 256)
    assert SACConfig.maxdiff("Ant-v5").hidden == (512, 512, 512)
    assert SACConfig.maxdiff("mdrl/SwimmerLight-v0").reward_scale == 100.0
    with pytest.raises(ValueError, match="no MaxDiff SAC settings for environment 'Hopper-v5'; valid"):
        SACConfig.maxdiff("Hopper-v5")
    with pytest.raises(ValueError, match="unknown SAC variant 'v3'; valid variants are v2, v1"):
        SACConfig(variant="v3")
    with pytest.raises(ValueError, match="fixed temperature"):
        SACConfig(variant="v1")


def test_act_respects_the_action_bounds():
    env = make_pendulum()  # bounds ±2
    agent = SACAgent(env.observation_space, env.action_space, SACConfig(**{**TINY, "random_steps": 0}), device="cpu")
    acts = np.stack([agent.act(env.observation_space.sample() * 0) for _ in range(50)])
    assert np.all(np.abs(acts) <= 2.0) and acts.std() > 0.1

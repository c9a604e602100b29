import sys
from pathlib import Path

import torch

from mdrl_lib.agents.sac import TanhGaussianActor
from mdrl_lib.agents.wpo import TrustRegionConfig, WPOAgent, WPOConfig, wpo_loss

sys.path.insert(0, str(Path(__file__).parent))
from _agents_common import check_run_and_resume, make_pendulum  # noqa: E402


def test_wpo_runs_and_resumes_bit_identically(tmp_path):
    env = make_pendulum()
    cfg = WPOConfig(hidden=(32, 32), batch_size=32, random_steps=50, trust_region=TrustRegionConfig(period=7))
    check_run_and_resume(lambda: WPOAgent(env.observation_space, env.action_space, cfg, seed=1, device="cpu"),
                         tmp_path)


def test_wpo_mean_update_follows_grad_q_with_zero_variance():
    """Gaussian policy, linear Q (constant ∇Q = g), α = 0: every sample gives d loss/dμ = −g/σ² exactly."""
    torch.manual_seed(0)
    mean = torch.zeros(64, 2, requires_grad=True)
    log_std = torch.full((64, 2), -0.5)
    u = (mean + log_std.exp() * torch.randn(64, 2)).detach().requires_grad_(True)
    log_pi = (-0.5 * ((u - mean) / log_std.exp()) ** 2).sum(-1)
    score = torch.autograd.grad(log_pi.sum(), u, create_graph=True)[0]
    g = torch.tensor([1.0, -2.0]).expand(64, 2)
    wpo_loss(score, g, torch.tensor(0.0)).backward()
    expected = -g / log_std.exp() ** 2 / 64
    torch.testing.assert_close(mean.grad, expected)


def test_wpo_entropy_term_widens_a_narrow_policy():
    """With ∇Q = 0 the velocity is −α ∇ log π: the flow spreads the policy, so descent raises log σ."""
    torch.manual_seed(0)
    actor = TanhGaussianActor(1, 1, (8,), -20, 2)
    obs = torch.zeros(4096, 1)
    s = actor.sample(obs)
    u = s.u.detach().requires_grad_(True)
    score = torch.autograd.grad(actor.log_prob(u, s.mean, s.log_std).sum(), u, create_graph=True)[0]
    loss = wpo_loss(score, torch.zeros_like(u), torch.tensor(1.0))
    loss.backward()
    # bias of the log-std output: negative gradient = descent increases log σ
    assert actor.net[-1].bias.grad[1] < 0

"""DiffSAC, DiffPPO, DiffWPO: run + exact resume, per-step ratios of 1, and K = 1 reducing to the bases."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mdrl_lib.agents.diff_ppo import DiffPPOAgent, DiffPPOConfig
from mdrl_lib.agents.diff_sac import DiffSACAgent, DiffSACConfig
from mdrl_lib.agents.diff_wpo import DiffWPOAgent, DiffWPOConfig
from mdrl_lib.agents.diffusion_policy import DiffusionPolicyConfig
from mdrl_lib.agents.ppo import PPOAgent, PPOConfig
from mdrl_lib.agents.sac import SACConfig
from mdrl_lib.agents.wpo import TrustRegionConfig, gaussian_kl, wpo_loss

sys.path.insert(0, str(Path(__file__).parent))
from _agents_common import check_run_and_resume, make_pendulum  # noqa: E402

SAC_TINY = SACConfig(hidden=(32, 32), batch_size=32, random_steps=0)
PPO_TINY = PPOConfig(n_steps=64, n_epochs=2, n_minibatches=4, hidden=(16, 16), entropy_coef=0.01)


def diff(K, **kw):
    return DiffusionPolicyConfig(n_steps=K, hidden=(16, 16), **kw)


def rollout(agent, env, n, seed=0):
    obs, _ = env.reset(seed=seed)
    for _ in range(n):
        a = agent.act(obs)
        nxt, r, term, trunc, _ = env.step(a)
        agent.observe(obs, a, r, nxt, term, trunc)
        obs = env.reset()[0] if term or trunc else nxt


@pytest.mark.parametrize("name", ["DiffSAC", "DiffWPO", "DiffPPO"])
def test_diff_agents_run_and_resume_bit_identically(name, tmp_path):
    env = make_pendulum()
    if name == "DiffPPO":
        def build():
            return DiffPPOAgent(env.observation_space, env.action_space, DiffPPOConfig(ppo=PPO_TINY, diffusion=diff(3)),
                                seed=1, device="cpu")
    else:
        cls, cfg_cls = (DiffSACAgent, DiffSACConfig) if name == "DiffSAC" else (DiffWPOAgent, DiffWPOConfig)
        extra = {} if name == "DiffSAC" else {"trust_region": TrustRegionConfig(period=7)}  # refreshed mid-run

        def build():
            return cls(env.observation_space, env.action_space,
                       cfg_cls(sac=SAC_TINY, diffusion=diff(3), updates_per_step=1, **extra), seed=1, device="cpu")
    check_run_and_resume(build, tmp_path, steps=160, every=80)


def test_diffppo_first_minibatch_has_per_step_ratios_of_one():
    env = make_pendulum()
    agent = DiffPPOAgent(env.observation_space, env.action_space, DiffPPOConfig(ppo=PPO_TINY, diffusion=diff(4)),
                         seed=0, device="cpu")
    rollout(agent, env, PPO_TINY.n_steps)
    before = [p.detach().clone() for p in agent.policy.parameters()]
    metrics = agent.update()
    r = agent.first_minibatch_ratio
    assert r.shape == (PPO_TINY.n_steps * 4 // (PPO_TINY.n_minibatches * 4),)
    torch.testing.assert_close(r, torch.ones_like(r), atol=1e-6, rtol=0)
    assert np.isfinite(metrics["policy_loss"])
    assert any(not torch.equal(a, b) for a, b in zip(before, agent.policy.parameters(), strict=True))


def test_diffppo_k1_advantages_equal_ppo_gae_with_ell_as_log_pi():
    env = make_pendulum()
    agent = DiffPPOAgent(env.observation_space, env.action_space, DiffPPOConfig(ppo=PPO_TINY, diffusion=diff(1)),
                         seed=0, device="cpu")
    rollout(agent, env, PPO_TINY.n_steps)
    R = agent.rollout
    R[-1]["end"] = True
    for s in R:  # make every episode end a termination: bootstrap values come from different networks
        if s["end"]:
            s["discount"] = 0.0
    ours = agent.prepare(R)
    base = PPOAgent(env.observation_space, env.action_space, PPO_TINY, device="cpu")
    as_ppo = [{"obs": s["obs"], "action": s["path"][1], "log_prob": s["ell"][0], "value": s["value"][0],
               "reward": s["reward"], "discount": s["discount"], "end": s["end"], "next_obs": s["next_obs"]}
              for s in R]
    ref = base.prepare(as_ppo)
    torch.testing.assert_close(ours["adv"], ref["adv"])
    torch.testing.assert_close(ours["returns"], ref["returns"])
    assert torch.all(ours["k"] == 0)


def sac_batch(agent, n=16):
    g = torch.Generator().manual_seed(0)
    d, o, K = agent.act_dim, agent.obs_dim, agent.K
    return {"obs": torch.randn(n, o, generator=g), "path": torch.randn(n, (K + 1) * d, generator=g),
            "reward": torch.randn(n, 1, generator=g), "next_obs": torch.randn(n, o, generator=g),
            "not_done": (torch.rand(n, 1, generator=g) > 0.3).float()}


def test_diffsac_k1_is_sac_on_the_gaussian_kernel():
    env = make_pendulum()
    agent = DiffSACAgent(env.observation_space, env.action_space, DiffSACConfig(sac=SAC_TINY, diffusion=diff(1)),
                         device="cpu")
    b = sac_batch(agent)
    z = agent.augmented_batch(b)
    # K = 1: every transition is an env transition with SAC's reward, discount and next state
    assert torch.all(z["k"] == 0) and torch.all(z["next_k"] == 0)
    torch.testing.assert_close(z["reward"], b["reward"][:, 0])
    torch.testing.assert_close(z["discount"], SAC_TINY.gamma * b["not_done"][:, 0])
    torch.testing.assert_close(z["next_obs"], b["next_obs"])
    # the per-step log-ratio is log N(x_1; kernel mean, 2η) − log N(x_0; reference mean, 2η)
    pol = agent.policy
    x1 = pol.step(z["obs"], z["x"], z["k"], generator=torch.Generator().manual_seed(1))[0].detach()
    eta = pol.etas()[0].detach()
    mean = z["x"] + eta * (-z["x"] / pol.prior_var + pol.control(z["obs"], z["x"], z["k"]).detach())
    std = (2 * eta).sqrt()
    ell_direct = (torch.distributions.Normal(mean, std).log_prob(x1).sum(-1)
                  - torch.distributions.Normal(x1 - eta * x1 / pol.prior_var, std).log_prob(z["x"]).sum(-1))
    lq, lp = pol.step_log_probs(z["obs"], z["x"], z["k"], x1)
    torch.testing.assert_close(lq - lp, ell_direct, atol=1e-5, rtol=1e-5)
    # the actor loss is SAC's equation with log π → ℓ, written out: mean(α ℓ − min_j Q_j)
    alpha = torch.tensor(0.3)
    q = agent.critics(agent.q_input(z["obs"], z["x"], z["k"], x1)).squeeze(-1)
    torch.testing.assert_close(agent.policy_loss(z, x1, lq - lp, alpha),
                               (alpha * ell_direct - torch.minimum(q[0], q[1])).mean(), atol=1e-5, rtol=1e-5)


def test_diffwpo_k1_loss_is_wpo_with_the_kernel_score():
    env = make_pendulum()
    agent = DiffWPOAgent(env.observation_space, env.action_space, DiffWPOConfig(sac=SAC_TINY, diffusion=diff(1)),
                         device="cpu")
    z = agent.augmented_batch(sac_batch(agent))
    pol = agent.policy
    x1 = pol.step(z["obs"], z["x"], z["k"], generator=torch.Generator().manual_seed(1))[0].detach()
    alpha = torch.tensor(0.5)
    ours = agent.policy_loss(z, x1, None, alpha)
    # direct: analytic scores of the Gaussian kernel and of the OU reference w.r.t. x_1
    eta = pol.etas()[0]
    c = 1 - eta / pol.prior_var
    mean, var = pol.kernel(z["obs"], z["x"], z["k"])
    score = -(x1 - mean) / var - c * (z["x"] - c * x1) / var  # ∇ log q − ∇ log p
    xg = x1.clone().requires_grad_(True)
    gq = torch.autograd.grad(agent.critics(agent.q_input(z["obs"], z["x"], z["k"], xg)).squeeze(-1).min(0).values.sum(),
                             xg)[0]
    torch.testing.assert_close(ours, wpo_loss(score, gq, alpha), atol=1e-5, rtol=1e-5)
    ours.backward()
    assert pol.control_net[0].weight.grad.abs().sum() > 0


def test_experiments_name_bad_input():
    from mdrl_lib.experiments import run_experiment

    with pytest.raises(ValueError, match="unknown algorithm\\(s\\) \\['DiffTD3'\\]; valid algorithms are SAC, DiffSAC"):
        run_experiment("diffusion_maxent", "smoke", overrides={"algos": ["DiffTD3"]})
    with pytest.raises(ValueError, match="unknown config key\\(s\\) \\['stepz'\\]"):
        run_experiment("diffusion_toy", "smoke", overrides={"stepz": 3})
    with pytest.raises(ValueError, match="unknown environment 'HalfCheeta-v5'"):
        run_experiment("diffusion_maxent", "smoke", overrides={"envs": ["HalfCheeta-v5"]})
    with pytest.raises(ValueError, match="unknown scale 'fast'"):
        run_experiment("diffusion_toy", "fast")
    with pytest.raises(ValueError, match="DiffSAC builds on SAC variant 'v2'"):
        DiffSACConfig(sac=SACConfig.maxdiff("HalfCheetah-v5"))


def test_diffwpo_trust_region_uses_K_times_the_kernel_kl():
    """Once the policy has moved from its frozen copy, samples whose K·KL(kernel_old ‖ kernel) ≥ bound contribute
    λ·K·KL, the others the WPO surrogate (docs/methods/diffmaxent.md §3.2 item 6)."""
    env = make_pendulum()
    K, bound = 3, 0.02
    agent = DiffWPOAgent(env.observation_space, env.action_space,
                         DiffWPOConfig(sac=SAC_TINY, diffusion=diff(K), trust_region=TrustRegionConfig(bound=bound)),
                         device="cpu")
    z = agent.augmented_batch(sac_batch(agent))
    x1 = agent.policy.step(z["obs"], z["x"], z["k"], generator=torch.Generator().manual_seed(1))[0].detach()
    agent.policy_loss(z, x1, None, torch.tensor(0.5))  # first call: the frozen copy is taken (KL = 0)
    with torch.no_grad():
        for p in agent.policy.control_net.parameters():
            p.add_(0.2 * torch.randn_like(p))
    mean_old, var_old = agent.trust.old.kernel(z["obs"], z["x"], z["k"])
    mean, var = agent.policy.kernel(z["obs"], z["x"], z["k"])
    kl = K * gaussian_kl(mean_old, var_old, mean, var).detach()
    assert (kl >= bound).any() and (kl < bound).any(), kl
    lam = agent.trust.lam.clone()
    no_tr = DiffWPOAgent(env.observation_space, env.action_space,
                         DiffWPOConfig(sac=SAC_TINY, diffusion=diff(K), trust_region=TrustRegionConfig(bound=None)),
                         device="cpu")
    no_tr.policy.load_state_dict(agent.policy.state_dict())
    no_tr.critics.load_state_dict(agent.critics.state_dict())
    # per-sample surrogate: the mean over a one-row batch is that row's value
    surrogate = torch.stack([no_tr.policy_loss({k: v[i:i + 1] for k, v in z.items()}, x1[i:i + 1], None,
                                               torch.tensor(0.5)) for i in range(len(x1))])
    ours = agent.policy_loss(z, x1, None, torch.tensor(0.5))
    expected = torch.where(kl < bound, surrogate, lam * kl).mean()
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-5)
    assert bool(agent.trust.lam > lam) == bool(kl.mean() > bound)  # λ rises while the mean KL exceeds the bound

import math

import pytest
import torch

from mdrl_lib.agents.diffusion_policy import DiffusionPolicy, DiffusionPolicyConfig, schedule_values


def zero_control(policy):
    with torch.no_grad():
        policy.control_net[-1].weight.zero_()
        policy.control_net[-1].bias.zero_()
    return policy


def linear_chain_variances(policy):
    """Exact marginal variances of x_0..x_K of the f = 0 chain (a linear-Gaussian recursion)."""
    eta = policy.etas().detach()[:, 0].double()
    v = [torch.tensor(policy.prior_var, dtype=torch.float64)]
    for e in eta:
        v.append((1 - e / policy.prior_var) ** 2 * v[-1] + 2 * e)
    return torch.stack(v), eta


@pytest.mark.parametrize("K", [1, 8, 16])
def test_zero_control_keeps_the_prior_marginal(K):
    torch.manual_seed(0)
    policy = zero_control(DiffusionPolicy(3, 2, DiffusionPolicyConfig(n_steps=K, hidden=(16,))))
    obs = torch.randn(8000, 3)
    with torch.no_grad():
        s = policy.sample(obs, generator=torch.Generator().manual_seed(1))
    var, eta = linear_chain_variances(policy)
    # Euler-Maruyama keeps N(0, σ²) up to η²/σ² per step; the exact recursion says how much.
    assert abs(var[-1] - policy.prior_var) <= (eta ** 2).sum() / policy.prior_var + 1e-9
    assert abs(var[-1] / policy.prior_var - 1) < 0.05
    emp = s.x.var(0)
    assert torch.all((emp / var[-1].float() - 1).abs() < 0.08), (emp, var[-1])
    assert torch.all(s.x.mean(0).abs() < 0.1)


@pytest.mark.parametrize("K", [1, 4])
def test_path_log_prob_equals_joint_gaussian_of_linear_chain(K):
    """With f = 0 and d = 1 the path x_{0:K} is jointly Gaussian: x = L z with z ~ N(0, I)."""
    torch.manual_seed(0)
    cfg = DiffusionPolicyConfig(n_steps=K, prior_std=2.5, friction=1.0, hidden=(16,))
    policy = zero_control(DiffusionPolicy(2, 1, cfg))
    eta = policy.etas().detach()[:, 0].double()
    L = torch.zeros(K + 1, K + 1, dtype=torch.float64)
    L[0, 0] = policy.config.prior_std
    for k in range(K):
        L[k + 1] = (1 - eta[k] / policy.prior_var) * L[k]
        L[k + 1, k + 1] = (2 * eta[k]).sqrt()
    joint = torch.distributions.MultivariateNormal(torch.zeros(K + 1, dtype=torch.float64),
                                                   scale_tril=L)
    obs = torch.randn(64, 2)
    with torch.no_grad():
        s = policy.sample(obs, generator=torch.Generator().manual_seed(2))
        ours = policy.path_log_prob(obs, s.path)
    direct = joint.log_prob(s.path[:, :, 0].T.double())
    torch.testing.assert_close(ours.double(), direct, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(ours, s.log_prior + s.log_q.sum(0), atol=1e-4, rtol=1e-5)


def test_batched_path_evaluation_matches_the_sampler_with_a_nonzero_control():
    torch.manual_seed(0)
    policy = DiffusionPolicy(5, 3, DiffusionPolicyConfig(n_steps=6, out_scale=1.0, hidden=(32, 32)))
    obs = torch.randn(17, 5)
    s = policy.sample(obs, generator=torch.Generator().manual_seed(3))
    lq, lp = policy.path_log_probs(obs, s.path.detach())
    torch.testing.assert_close(lq, s.log_q, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(lp, s.log_p, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(policy.reference_path_log_prob(s.path), s.log_p.sum(0), atol=1e-4, rtol=1e-4)
    # direct Gaussian evaluation of one step with torch.distributions
    k = torch.full((17,), 2)
    mean, var = policy.kernel(obs, s.path[2], k)
    direct = torch.distributions.Normal(mean, var.sqrt()).log_prob(s.path[3]).sum(-1)
    torch.testing.assert_close(direct, s.log_q[2], atol=1e-4, rtol=1e-4)
    # a minibatch mixing diffusion steps equals the steps evaluated one by one
    ks = torch.randint(0, 6, (17,))
    idx = torch.arange(17)
    lq_mixed, lp_mixed = policy.step_log_probs(obs, s.path[ks, idx], ks, s.path[ks + 1, idx])
    torch.testing.assert_close(lq_mixed, s.log_q[ks, idx], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(lp_mixed, s.log_p[ks, idx], atol=1e-4, rtol=1e-4)
    # reparameterised: the action carries gradients to the control network
    s.x.sum().backward()
    assert policy.control_net[0].weight.grad.abs().sum() > 0 and policy.raw_dt.grad is not None


def test_entropy_lower_bound_holds_for_the_linear_chain():
    torch.manual_seed(0)
    policy = zero_control(DiffusionPolicy(2, 1, DiffusionPolicyConfig(n_steps=8, hidden=(16,))))
    obs = torch.zeros(20000, 2)
    with torch.no_grad():
        s = policy.sample(obs, generator=torch.Generator().manual_seed(4))
    var, _ = linear_chain_variances(policy)
    exact = 0.5 * math.log(2 * math.pi * math.e * float(var[-1]))
    bound = float(policy.entropy_lower_bound(s).mean())
    se = float(s.log_ratio.std()) / math.sqrt(len(obs))
    assert bound <= exact + 4 * se
    assert exact - bound < 0.5  # a loose bound would be suspicious for a near-stationary chain


def test_schedules_match_the_spec_values():
    lin = 0.125 * schedule_values("linear", 8, 0.17)
    assert lin[0] == pytest.approx(0.125) and lin[-1] == pytest.approx(0.125 * 0.27375, rel=1e-4)
    cos = schedule_values("cosine", 16)
    assert cos[0] == pytest.approx(1.0, abs=1e-3) and cos[-1] == pytest.approx(0.0104, abs=1e-3)
    p = DiffusionPolicy(2, 3, DiffusionPolicyConfig(n_steps=8))
    torch.testing.assert_close(p.etas()[:, 0], lin / 0.25)
    # DIME's parametrisation: one learned Δt scale times the fixed cosine shape, friction 1
    q = DiffusionPolicy(2, 3, DiffusionPolicyConfig(n_steps=16, schedule="cosine", dt=0.1, friction=1.0,
                                                    per_step_dt=False))
    assert q.raw_dt.shape == (1,)
    torch.testing.assert_close(q.etas()[:, 1], 0.1 * cos)
    assert float(q.etas().detach().sum(0)[0]) == pytest.approx(0.844, abs=2e-3)  # docs/methods/dime.md §1.2


def test_deterministic_sampling_and_action_range():
    p = DiffusionPolicy(2, 3, DiffusionPolicyConfig(n_steps=4, out_scale=1.0, hidden=(16,)))
    obs = torch.randn(5, 2)
    a1, a2 = p.sample(obs, deterministic=True).action, p.sample(obs, deterministic=True).action
    torch.testing.assert_close(a1, a2)
    s = p.sample(obs * 100)
    assert s.action.abs().max() <= 0.999 and s.path.shape == (5, 5, 3) and s.ell.shape == (4, 5)


def test_bad_config_is_named():
    with pytest.raises(ValueError, match="n_steps \\(K\\) must be an integer >= 1, got 0"):
        DiffusionPolicyConfig(n_steps=0)
    with pytest.raises(ValueError, match="unknown schedule 'quadratic'; valid schedules are linear"):
        DiffusionPolicyConfig(schedule="quadratic")
    p = DiffusionPolicy(2, 1, DiffusionPolicyConfig(n_steps=3))
    with pytest.raises(ValueError, match="path has 2 steps but the policy has K=3"):
        p.path_log_probs(torch.zeros(4, 2), torch.zeros(3, 4, 1))

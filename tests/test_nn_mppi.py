"""Batched MPPI planner: invariances, equality with a plain per-sample reference, closed-form log-det bonus."""

import math

import numpy as np
import pytest
import torch

from mdrl_lib.agents.maxdiff import MaxDiffAgent, maxdiff_config
from mdrl_lib.agents.nn_mppi import MPPIAgent, mppi_config
from mdrl_lib.models import DynamicsValueModel
from mdrl_lib.planners import MPPIPlanner, PlannerConfig, control_log_prior, filter_matrix, mppi_weights, path_entropy
from mdrl_lib.planners.mppi import window_length


def model_and_planner(alpha=0.0, control_variance=False, seed=0, **kw):
    torch.manual_seed(seed)
    model = DynamicsValueModel(4, 2, (32, 32))
    for p in model.parameters():  # a model that predicts non-trivial dynamics and values
        torch.nn.init.normal_(p, std=0.3)
    cfg = PlannerConfig(horizon=7, samples=64, lam=0.5, alpha=alpha, control_variance=control_variance,
                        explr_weights=(1, 1, 0.01, 0.01), **kw)
    return model, MPPIPlanner(model, cfg, seed=seed)


@torch.no_grad()
def reference_scores(model, state, nominal, eta, alpha, cfg, entropy_fn=None):
    """Plain per-sample, per-step loop: the planner's scores as docs/methods/maxdiff.md §2.2 reads."""
    scores = []
    for k in range(eta.shape[1]):
        s = torch.as_tensor(state, dtype=torch.float32)
        states, total = [], 0.0
        for t in range(eta.shape[0]):
            v = nominal[t] + eta[t, k]
            states.append(s)
            nxt, _, val = model(s[None], v[None])
            total += float(val)
            s = nxt[0].clamp(-1e10, 1e10)
        if cfg.control_variance:
            total += cfg.lam * sum(float(torch.distributions.Normal(0, cfg.sigma).log_prob(eta[t, k]).sum())
                                   for t in range(eta.shape[0]))
        scores.append(total)
    return torch.tensor(scores, dtype=torch.float64)


@pytest.mark.parametrize("control_variance", [False, True])
def test_batched_scores_equal_per_sample_reference(control_variance):
    model, planner = model_and_planner(control_variance=control_variance)
    planner.nominal.normal_(generator=torch.Generator().manual_seed(1))
    eta = torch.randn(7, 64, 2, generator=torch.Generator().manual_seed(2)) * 0.3
    state = np.array([0.5, -0.3, 0.2, 0.1])
    got = planner.scores(state, eta).double()
    want = reference_scores(model, state, planner.nominal, eta, 0.0, planner.config)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_constant_added_to_every_score_leaves_the_update_unchanged():
    scores = torch.randn(100, generator=torch.Generator().manual_seed(0)) * 5
    torch.testing.assert_close(mppi_weights(scores + 123.4, 0.1), mppi_weights(scores, 0.1))
    # in the planner: a value head shifted by c adds H·c to every sample's score
    s = np.array([0.1, 0.2, 0.3, 0.4])
    _, p1 = model_and_planner(alpha=1.0)
    m2, p2 = model_and_planner(alpha=1.0)
    with torch.no_grad():
        m2.value[-1].bias += 10.0
    for _ in range(3):
        torch.testing.assert_close(p1.plan(s), p2.plan(s), rtol=1e-5, atol=1e-5)


def test_weights_floor_and_temperature():
    w = mppi_weights(torch.tensor([0.0, -1000.0]), 1.0, floor=1e-5)
    assert w[1] == pytest.approx(1e-5 / (1 + 2e-5), rel=1e-4)
    sharp, flat = mppi_weights(torch.tensor([1.0, 0.0]), 0.01), mppi_weights(torch.tensor([1.0, 0.0]), 100.0)
    assert sharp[0] > 0.99 and abs(flat[0] - 0.5) < 0.01


def test_maxdiff_at_alpha_zero_without_control_term_is_mppi():
    from dataclasses import replace

    small = {"samples": 32, "horizon": 6}
    md_cfg = maxdiff_config("point_mass", beta=0.1, **small)
    md_cfg = replace(md_cfg, planner=replace(md_cfg.planner, alpha=0.0), alpha_schedule=())
    md = MaxDiffAgent(4, 2, md_cfg, seed=7, device="cpu")
    mp = MPPIAgent(4, 2, mppi_config("point_mass", beta=0.1, control_variance=False, **small), seed=7,
                   device="cpu")
    obs = np.array([-1.0, -1.0, 0.0, 0.0])
    for _ in range(5):
        a, b = md.act(obs), mp.act(obs)
        np.testing.assert_array_equal(a, b)
        obs = obs + 0.1 * np.concatenate([obs[2:], a])
    # ...while the entropy bonus or the control prior change the plan
    md2 = MaxDiffAgent(4, 2, maxdiff_config("point_mass", beta=0.1, **small), seed=7, device="cpu")
    mp2 = MPPIAgent(4, 2, mppi_config("point_mass", beta=0.1, **small), seed=7, device="cpu")
    first = MPPIAgent(4, 2, mppi_config("point_mass", beta=0.1, control_variance=False, **small), seed=7,
                      device="cpu").act(np.array([-1.0, -1.0, 0.0, 0.0]))
    assert not np.array_equal(md2.act(np.array([-1.0, -1.0, 0.0, 0.0])), first)
    assert not np.array_equal(mp2.act(np.array([-1.0, -1.0, 0.0, 0.0])), first)


def test_log_det_bonus_equals_gaussian_closed_form():
    g = torch.Generator().manual_seed(0)
    K, T, d = 5, 40, 3
    A = torch.randn(K, d, d, generator=g, dtype=torch.float64)
    # exact: whitened rollouts (sample covariance exactly I) mapped by A have sample covariance A·Aᵀ
    z = torch.randn(K, T, d, generator=g, dtype=torch.float64)
    z = z - z.mean(1, keepdim=True)
    chol = torch.linalg.cholesky(z.transpose(1, 2) @ z / (T - 1))
    white = z @ torch.linalg.inv(chol).transpose(1, 2)
    y = white @ A.transpose(1, 2) + 3.0
    w = torch.tensor([1.0, 0.5, 0.05], dtype=torch.float64)
    want = 0.5 * torch.logdet(w[:, None] * (A @ A.transpose(1, 2)) * w[None, :])
    torch.testing.assert_close(path_entropy(y, w), want)
    # the weights only shift every sample by the same constant 2·Σ log w (cancels in the softmax)
    torch.testing.assert_close(path_entropy(y, w) - path_entropy(y), torch.full((K,), float(w.log().sum()),
                                                                                  dtype=torch.float64))
    # statistically: long Gaussian paths with covariance Σ give ½ log det Σ
    sigma = torch.tensor([[2.0, 0.3], [0.3, 0.5]], dtype=torch.float64)
    long = torch.randn(200, 4000, 2, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(sigma).T
    assert float(path_entropy(long).mean()) == pytest.approx(0.5 * math.log(float(torch.det(sigma))), abs=0.01)
    # windowed: every window of a stationary path has the same covariance → mean of the window bonuses
    assert window_length(40, 4) == (10, 3)
    wnd = path_entropy(long[:, :400], window=True)
    assert float(wnd.mean()) == pytest.approx(0.5 * math.log(float(torch.det(sigma))), abs=0.1)


def test_jitter_keeps_degenerate_paths_finite():
    y = torch.zeros(4, 10, 3)  # a path that does not move: covariance 0
    out = path_entropy(y, jitter=1e-8, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(out).all() and (out < -20).all()


def test_filter_and_control_prior():
    L = filter_matrix(6, 0.5, dtype=torch.float64)
    eps = torch.randn(6, 3, dtype=torch.float64)
    eta, prev = torch.zeros_like(eps), torch.zeros(3, dtype=torch.float64)
    for t in range(6):
        prev = 0.5 * prev + 0.5 * eps[t]
        eta[t] = prev
    torch.testing.assert_close(L @ eps, eta)
    e = torch.randn(5, 7, 2, dtype=torch.float64)
    want = torch.distributions.Normal(0.0, 0.3).log_prob(e).sum(dim=(0, 2))
    torch.testing.assert_close(control_log_prior(e, 0.3), want)


def test_planner_state_round_trip_and_reset():
    _, p = model_and_planner(alpha=1.0)
    s = np.zeros(4)
    p.plan(s)
    state = p.state_dict()
    a = [p.plan(s) for _ in range(3)]
    p.load_state_dict(state)
    b = [p.plan(s) for _ in range(3)]
    for x, y in zip(a, b, strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=0)
    p.reset()
    assert float(p.nominal.abs().sum()) == 0.0


def test_bad_planner_settings():
    with pytest.raises(ValueError, match="horizon and samples must be >= 2"):
        PlannerConfig(horizon=1)
    with pytest.raises(ValueError, match=r"explr_dims \(0, 9\) out of range.*valid dims are 0..3"):
        MPPIPlanner(DynamicsValueModel(4, 2, (8,)), PlannerConfig(explr_dims=(0, 9), horizon=4, samples=4), seed=0)
    with pytest.raises(ValueError, match="one weight per explr_dims"):
        PlannerConfig(explr_dims=(0, 1), explr_weights=(1.0,))

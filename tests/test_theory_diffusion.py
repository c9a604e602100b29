"""Gaussian mixtures, the diffusion-policy chain, its entropy bound and its grid marginal."""

import numpy as np
import pytest
import scipy.stats

from mdrl_lib.theory.diffusion import (
    DiffusionChain,
    GaussianMixture,
    chain_marginal_on_grid,
    entropy_lower_bound,
    expected_log_ratio,
    fit_gaussian_reverse_kl,
    mixture_entropy,
    power_steps,
    sample_chain,
    score_control,
)
from mdrl_lib.theory.entropy import density_entropy_on_grid, gaussian_entropy

MIX2 = GaussianMixture([0.3, 0.7], [[-1.0, 0.5], [1.2, -0.3]],
                       [[[0.3, 0.1], [0.1, 0.2]], [[0.5, -0.2], [-0.2, 0.4]]])


def zero_control(x, k):
    return np.zeros_like(x)


def test_mixture_density_score_sample():
    x = np.random.default_rng(0).normal(size=(50, 2))
    ref = sum(w * scipy.stats.multivariate_normal(m, S).pdf(x)
              for w, m, S in zip(MIX2.weights, MIX2.means, MIX2.covs, strict=True))
    assert np.allclose(np.exp(MIX2.logpdf(x)), ref, rtol=1e-12)
    eps = 1e-6
    fd = np.stack([(MIX2.logpdf(x + eps * e) - MIX2.logpdf(x - eps * e)) / (2 * eps) for e in np.eye(2)], -1)
    assert np.allclose(MIX2.score(x), fd, atol=1e-7)
    s = MIX2.sample(200000, np.random.default_rng(1))
    assert np.allclose(s.mean(0), MIX2.weights @ MIX2.means, atol=0.01)
    one_d = GaussianMixture([0.5, 0.5], [-1.0, 2.0], [0.2, 0.3])
    assert one_d.dim == 1 and one_d.means.shape == (2, 1)
    with pytest.raises(ValueError):
        GaussianMixture([0.5, 0.6], [[0.0], [1.0]], [[[1.0]], [[1.0]]])


def test_noised_mixture():
    assert np.allclose(MIX2.noised(0.0, 1.5).covs, MIX2.covs)
    far = MIX2.noised(60.0, 1.5)
    assert np.allclose(far.means, 0, atol=1e-9) and np.allclose(far.covs, 1.5**2 * np.eye(2), atol=1e-9)
    # the OU transition applied to samples reproduces the closed-form noised law's moments
    rng = np.random.default_rng(2)
    y0 = MIX2.sample(200000, rng)
    s, sp = 0.7, 1.5
    a = np.exp(-s / sp**2)
    ys = a * y0 + sp * np.sqrt(1 - a**2) * rng.standard_normal(y0.shape)
    law = MIX2.noised(s, sp)
    mean = law.weights @ law.means
    cov = sum(w * (S + np.outer(m - mean, m - mean)) for w, m, S in zip(law.weights, law.means, law.covs,
                                                                        strict=True))
    assert np.allclose(ys.mean(0), mean, atol=0.01) and np.allclose(np.cov(ys.T), cov, atol=0.02)


def test_mixture_entropy_quadrature():
    g1 = GaussianMixture([1.0], [0.3], [0.7])
    assert mixture_entropy(g1) == pytest.approx(gaussian_entropy(0.7), abs=1e-10)
    g2 = GaussianMixture([1.0], [[0.3, -0.2]], [MIX2.covs[1]])
    assert mixture_entropy(g2, n_grid=401) == pytest.approx(gaussian_entropy(MIX2.covs[1]), abs=1e-8)
    # two far-apart equal components: H = H(component) + log 2
    far = GaussianMixture([0.5, 0.5], [-30.0, 30.0], [1.0, 1.0])
    assert mixture_entropy(far) == pytest.approx(gaussian_entropy(1.0) + np.log(2), abs=1e-8)


def test_reverse_kl_gaussian_fit():
    single = GaussianMixture([1.0], [[0.3, -0.2]], [MIX2.covs[1]])
    mu, cov, kl = fit_gaussian_reverse_kl(single)
    assert np.allclose(mu, [0.3, -0.2], atol=1e-5) and np.allclose(cov, MIX2.covs[1], atol=1e-5)
    assert kl == pytest.approx(0.0, abs=1e-8)
    bimodal = GaussianMixture([0.3, 0.7], [-3.0, 3.0], [0.5, 0.5])
    mu, cov, kl = fit_gaussian_reverse_kl(bimodal)  # mode-seeking: the heavier mode
    assert mu[0] == pytest.approx(3.0, abs=0.01) and kl == pytest.approx(-np.log(0.7), abs=1e-3)


def test_power_steps():
    assert np.allclose(power_steps(3.0, 4, power=1), 0.75)
    e = power_steps(3.0, 16, power=2)
    assert e.sum() == pytest.approx(3.0) and np.all(np.diff(e) < 0)
    with pytest.raises(ValueError):
        power_steps(0.0, 4)


def linear_chain_bound(chain, d):
    """Closed form of the bound for f ≡ 0: x_{k+1} = a x_k + √(2η) ξ, a = 1 − η/σ_p², all Gaussian."""
    v, total = chain.prior_std**2, 0.0
    for eta in chain.etas:
        a = 1 - eta / chain.prior_std**2
        total += d * ((1 - a**2) ** 2 * v / (4 * eta) + (a**2 - 1) / 2)
        v = a**2 * v + 2 * eta
    return chain.prior_entropy() - total, gaussian_entropy(v * np.eye(d))


@pytest.mark.parametrize("d", [1, 2])
def test_linear_chain_bound_and_marginal_are_exact(d):
    chain = DiffusionChain(1.0, power_steps(2.0, 8), zero_control, d)
    bound, h_exact = linear_chain_bound(chain, d)
    axes = [np.linspace(-7, 7, 281 if d == 1 else 71)] * d
    q, cell, grid_bound = chain_marginal_on_grid(chain, axes, return_bound=True)
    assert q.sum() * cell == pytest.approx(1.0, abs=1e-6)
    assert density_entropy_on_grid(q, cell) == pytest.approx(h_exact, abs=1e-6)
    assert grid_bound == pytest.approx(bound, abs=1e-6)
    assert bound < h_exact
    mc, se, actions = entropy_lower_bound(chain, 40000, np.random.default_rng(3))
    assert actions.shape == (40000, d)
    assert abs(mc - bound) < 4 * se


def test_expected_log_ratio_is_the_conditional_mean():
    chain = DiffusionChain(1.0, power_steps(2.0, 4), score_control(MIX2, power_steps(2.0, 4), 1.0), 2)
    x0 = np.tile([[0.4, -0.3]], (200000, 1))
    rng = np.random.default_rng(4)
    mean = chain.forward_mean(x0, 1)
    x1 = mean + np.sqrt(2 * chain.etas[1]) * rng.standard_normal(x0.shape)
    ell = (-0.5 * np.sum((x1 - mean) ** 2, -1) + 0.5 * np.sum((x0 - chain.reference_mean(x1, 1)) ** 2, -1)) \
        / (2 * chain.etas[1])
    assert ell.mean() == pytest.approx(expected_log_ratio(chain, x0[:1], 1)[0], abs=4 * ell.std() / 450)


def test_score_chain_bound_holds_and_gap_shrinks():
    target = GaussianMixture([0.4, 0.6], [-1.2, 1.0], [0.2, 0.3])
    axes = [np.linspace(-6, 6, 481)]
    gaps = []
    for K in (4, 16, 64):
        etas = power_steps(3.0, K)
        chain = DiffusionChain(1.0, etas, score_control(target, etas, 1.0), 1)
        q, cell, bound = chain_marginal_on_grid(chain, axes, return_bound=True)
        gaps.append(density_entropy_on_grid(q, cell) - bound)
    assert all(g > 0 for g in gaps)
    assert gaps[0] > 2 * gaps[1] > 4 * gaps[2]
    paths, ell = sample_chain(chain, 5, np.random.default_rng(5))
    assert paths.shape == (5, 65, 1) and ell.shape == (5, 64)


def test_bad_chain_input():
    with pytest.raises(ValueError):
        DiffusionChain(1.0, [0.1, -0.1], zero_control, 1)
    chain = DiffusionChain(1.0, [0.1], zero_control, 2)
    with pytest.raises(ValueError):
        chain_marginal_on_grid(chain, [np.linspace(-1, 1, 5)])

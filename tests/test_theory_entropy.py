"""Gaussian, path and increment-law entropies; the sample-covariance log-det."""

import numpy as np
import pytest
import scipy.integrate
import scipy.stats

from mdrl_lib.theory.entropy import (
    density_entropy_on_grid,
    diffusion_step_entropy,
    gaussian_entropy,
    gaussian_path_entropy,
    generalized_normal_entropy,
    logdet_cov,
    logdet_cov_bias,
    logdet_cov_variance,
    maxent_density_on_grid,
    path_covariance,
    student_t_entropy,
)

C2 = np.array([[2.0, 0.6], [0.6, 0.5]])


def test_gaussian_entropy_matches_scipy_and_batches():
    assert gaussian_entropy(C2) == pytest.approx(scipy.stats.multivariate_normal(cov=C2).entropy(), rel=1e-12)
    assert gaussian_entropy(2.0) == pytest.approx(scipy.stats.norm(scale=np.sqrt(2)).entropy(), rel=1e-12)
    batch = gaussian_entropy(np.stack([C2, 2 * C2]))
    assert batch.shape == (2,) and batch[1] - batch[0] == pytest.approx(np.log(2), rel=1e-12)
    with pytest.raises(ValueError, match="positive definite"):
        gaussian_entropy(np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError):
        gaussian_entropy(np.ones((2, 3)))


def test_logdet_cov():
    rng = np.random.default_rng(0)
    x = rng.multivariate_normal([0, 0], C2, size=500)
    assert logdet_cov(x) == pytest.approx(np.linalg.slogdet(np.cov(x.T))[1], rel=1e-12)
    batch = logdet_cov(np.stack([x, 3 * x]))
    assert batch[1] - batch[0] == pytest.approx(2 * np.log(9), rel=1e-10)
    assert logdet_cov(np.c_[x[:, 0], 2 * x[:, 0]]) == -np.inf  # samples on a line
    assert logdet_cov(x[:2]) == -np.inf  # n ≤ d
    with pytest.raises(ValueError):
        logdet_cov(x[:1])


def test_logdet_cov_bias_matches_monte_carlo():
    rng = np.random.default_rng(1)
    n, d = 10, 3
    samples = rng.standard_normal((20000, n, d))
    mc = logdet_cov(samples)
    assert mc.mean() == pytest.approx(logdet_cov_bias(n, d), abs=4 * mc.std() / np.sqrt(mc.size))
    assert mc.var() == pytest.approx(logdet_cov_variance(n, d), rel=0.05)
    assert logdet_cov_bias(10**6, 2) == pytest.approx(0.0, abs=1e-5)


def test_path_entropy_closed_form_is_entropy_of_path_covariance():
    dt, n = 0.1, 7
    closed = gaussian_path_entropy(C2, dt, n)
    assert closed == pytest.approx(gaussian_entropy(path_covariance(C2, dt, n)), rel=1e-10)
    assert closed == pytest.approx(n * diffusion_step_entropy(C2, dt), rel=1e-14)
    # the rate: only ½ log det C depends on C
    assert diffusion_step_entropy(4 * C2, dt) - diffusion_step_entropy(C2, dt) == pytest.approx(np.log(4))


def test_generalized_normal_family():
    g = 0.5 * np.log(2 * np.pi * np.e * 3.0)
    assert generalized_normal_entropy(2.0, 3.0) == pytest.approx(g, rel=1e-12)
    b = np.sqrt(3.0 / 2)  # Laplace with variance 2b²
    assert generalized_normal_entropy(1.0, 3.0) == pytest.approx(1 + np.log(2 * b), rel=1e-12)
    assert generalized_normal_entropy(1e4, 3.0) == pytest.approx(np.log(np.sqrt(12 * 3.0)), rel=1e-3)
    # against numerical integration for a shape with no special name
    p, var = 1.5, 3.0
    a = np.sqrt(var * np.exp(scipy.special.gammaln(1 / p) - scipy.special.gammaln(3 / p)))
    z = 2 * a * scipy.special.gamma(1 + 1 / p)
    f = lambda x: np.exp(-np.abs(x / a) ** p) / z
    h, _ = scipy.integrate.quad(lambda x: -f(x) * np.log(f(x)) if f(x) > 0 else 0.0, -60, 60, limit=200)
    assert generalized_normal_entropy(p, var) == pytest.approx(h, rel=1e-8)


def test_student_t_entropy():
    for nu in (3.0, 7.5):
        expect = scipy.stats.t(nu, scale=np.sqrt(2.0 * (nu - 2) / nu)).entropy()
        assert student_t_entropy(nu, 2.0) == pytest.approx(expect, rel=1e-10)
    assert student_t_entropy(1e7, 2.0) == pytest.approx(gaussian_entropy(2.0), abs=1e-6)
    with pytest.raises(ValueError):
        student_t_entropy(2.0)


def test_grid_entropy_and_maxent_density():
    x = np.linspace(-8, 8, 801)
    p = scipy.stats.norm(0.5, 1.3).pdf(x)
    assert density_entropy_on_grid(p, x[1] - x[0]) == pytest.approx(gaussian_entropy(1.3**2), rel=1e-7)
    grid = np.linspace(-6, 6, 61)
    q = maxent_density_on_grid(grid, mean=0.3, variance=1.2)
    gauss = scipy.stats.norm(0.3, np.sqrt(1.2)).pdf(grid)
    assert np.max(np.abs(q - gauss / (gauss.sum() * 0.2))) < 1e-4
    with pytest.raises(ValueError):
        maxent_density_on_grid(grid, mean=10.0)

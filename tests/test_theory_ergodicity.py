"""Autocorrelation, integrated autocorrelation time, ESS, OU / absorbing processes, SGD order."""

import numpy as np
import pytest

from mdrl_lib.theory.ergodicity import (
    ar1_mean_variance,
    autocorrelation,
    effective_sample_size,
    integrated_autocorrelation_time,
    ou_autocorrelation,
    ou_integrated_autocorrelation_time,
    rbf_features,
    running_mean,
    sgd_least_squares,
    simulate_absorbing_ou,
    simulate_ou,
)


def test_autocorrelation_of_white_noise():
    x = np.random.default_rng(0).standard_normal(20000)
    rho = autocorrelation(x, max_lag=20)
    assert rho[0] == pytest.approx(1.0)
    assert np.all(np.abs(rho[1:]) < 4 / np.sqrt(x.size))
    assert effective_sample_size(x) == pytest.approx(x.size, rel=0.1)
    assert integrated_autocorrelation_time(x) == pytest.approx(1.0, abs=0.1)


@pytest.mark.parametrize("theta", [0.5, 0.1, 0.02])
def test_ou_autocorrelation_time(theta):
    rng = np.random.default_rng(1)
    x = simulate_ou(theta, 1.0, 1.0, 20000, n_paths=8, rng=rng)
    tau = ou_integrated_autocorrelation_time(theta, 1.0)
    assert integrated_autocorrelation_time(x) == pytest.approx(tau, rel=0.1)
    assert effective_sample_size(x) == pytest.approx(x.size / tau, rel=0.1)
    rho = autocorrelation(x, max_lag=5)
    assert np.allclose(rho, ou_autocorrelation(theta, np.arange(6)), atol=0.03)
    # stationary variance σ²/(2θ)
    assert x.var() == pytest.approx(1 / (2 * theta), rel=0.1)


def test_ar1_mean_variance_matches_double_sum():
    phi, var, n = 0.8, 2.0, 37
    i = np.arange(n)
    brute = var * np.sum(phi ** np.abs(i[:, None] - i[None, :])) / n**2
    assert ar1_mean_variance(phi, var, n) == pytest.approx(brute, rel=1e-12)
    assert ar1_mean_variance(phi, var, 10**7) * 10**7 == pytest.approx(var * (1 + phi) / (1 - phi), rel=1e-5)


def test_running_mean():
    x = np.array([[1.0, 3.0, 5.0], [2.0, 2.0, 8.0]])
    assert np.allclose(running_mean(x), [[1, 2, 3], [2, 2, 4]])


def test_absorbing_process_freezes_at_the_barrier():
    rng = np.random.default_rng(2)
    x = simulate_absorbing_ou(0.05, np.sqrt(0.1), 1.0, 3000, 200, barrier=1.5, rng=rng)
    assert np.all(np.abs(x) <= 1.5 + 1e-12)
    hit = np.abs(x) == 1.5
    first = np.argmax(hit, axis=1)
    absorbed = hit.any(axis=1)
    assert absorbed.mean() > 0.95
    for row, t0, a in zip(x, first, absorbed, strict=True):
        if a:
            assert np.all(row[t0:] == row[t0])


def test_bad_series_raise():
    with pytest.raises(ValueError):
        integrated_autocorrelation_time(np.ones(100))
    with pytest.raises(ValueError):
        autocorrelation(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError):
        simulate_ou(-1.0, 1.0, 1.0, 10)


def test_sgd_recovers_least_squares_on_iid_data():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 20000))
    phi = rbf_features(x, np.linspace(-2, 2, 5), 0.7)
    y = phi @ np.array([0.5, -1.0, 2.0, 0.3, -0.7, 0.1])
    for order in ("sequential", "shuffled"):
        w = sgd_least_squares(phi, y, lr=0.2, batch_size=10, order=order, rng=rng)
        assert w.shape == (2, 6)
        residual = np.einsum("bnp,bp->bn", phi, w) - y
        assert np.mean(residual**2) < 1e-3 * y.var()
    with pytest.raises(ValueError, match="order"):
        sgd_least_squares(phi, y, lr=0.1, order="backwards")


def test_sgd_order_matters_only_for_slow_processes():
    # Sequential SGD on a slowly drifting input ends up fitting only the recent region; shuffling the very
    # same samples does not. For a fast process the order does not matter (notebook 01 draws the curve).
    rng = np.random.default_rng(4)
    centers = np.linspace(-3, 3, 13)
    xt = rng.standard_normal(2000)
    phit = rbf_features(xt, centers, 0.5)
    gap = {}
    for theta in (1e-3, 1.0):
        x = simulate_ou(theta, np.sqrt(2 * theta), 1.0, 20000, n_paths=16, rng=rng)
        phi = rbf_features(x, centers, 0.5)
        err = {}
        for order in ("sequential", "shuffled"):
            w = sgd_least_squares(phi, np.sin(2 * x), lr=0.1, batch_size=32, order=order, rng=rng)
            err[order] = np.mean((phit @ w.T - np.sin(2 * xt)[:, None]) ** 2, axis=0)
        gap[theta] = np.mean(err["sequential"] - err["shuffled"])
    assert gap[1e-3] > 0.003
    assert gap[1e-3] > 100 * abs(gap[1.0])

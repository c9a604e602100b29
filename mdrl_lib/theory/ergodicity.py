"""Ergodicity, autocorrelation and why temporally correlated experience biases learning.

Conventions: a time series is a numpy array whose last axis is time; a leading axis, when present, indexes
independent chains (paths). Times are in steps unless a ``dt`` is given.

References: Sokal's automatic window for the integrated autocorrelation time (A. Sokal, "Monte Carlo
methods in statistical mechanics", 1997, §3); docs/methods/maxdiff.md §7.1 and §7.3 for the role of these
quantities in MaxDiff RL.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "autocorrelation",
    "integrated_autocorrelation_time",
    "effective_sample_size",
    "running_mean",
    "simulate_ou",
    "ou_autocorrelation",
    "ou_integrated_autocorrelation_time",
    "ar1_mean_variance",
    "simulate_absorbing_ou",
    "rbf_features",
    "sgd_least_squares",
]


def _as_chains(x) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValueError(f"x must be a series of shape (n,) or (n_chains, n) with n ≥ 2, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("x must be finite")
    return x


def autocorrelation(x, max_lag: int | None = None) -> np.ndarray:
    """Normalised autocorrelation ρ(k), k = 0..max_lag, of a series (or averaged over chains).

    ``x``: (n,) or (n_chains, n). Uses the FFT and the usual biased estimator
    ρ(k) = Σ_t (x_t − x̄)(x_{t+k} − x̄) / Σ_t (x_t − x̄)², averaged over chains, so ρ(0) = 1.
    Returns (max_lag + 1,) with max_lag defaulting to n − 1.
    """
    x = _as_chains(x)
    n = x.shape[1]
    max_lag = n - 1 if max_lag is None else int(max_lag)
    if not 0 <= max_lag < n:
        raise ValueError(f"max_lag must be in [0, {n - 1}], got {max_lag}")
    xc = x - x.mean(axis=1, keepdims=True)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    f = np.fft.rfft(xc, n=size, axis=1)
    acov = np.fft.irfft(f * np.conj(f), n=size, axis=1)[:, :n].mean(axis=0)
    if acov[0] <= 0:
        raise ValueError("x is constant; its autocorrelation is undefined")
    return acov[: max_lag + 1] / acov[0]


def integrated_autocorrelation_time(x, c: float = 5.0) -> float:
    """Integrated autocorrelation time τ = 1 + 2 Σ_{k≥1} ρ(k), in steps.

    The sum is cut at Sokal's automatic window: the smallest M with M ≥ c·τ(M) (c = 5 is the usual choice;
    it trades a bias of order e^{−c} for a variance of order 2(2M+1)/n). Var(sample mean) ≈ τ·Var(x)/n, so
    τ = 1 for i.i.d. samples and τ = (1+φ)/(1−φ) for an AR(1) process with coefficient φ.
    ``x``: (n,) or (n_chains, n) (autocorrelations averaged over chains).
    """
    rho = autocorrelation(x)
    taus = 2.0 * np.cumsum(rho) - 1.0  # τ(M) for M = 0, 1, ...
    m = np.arange(len(taus))
    ok = m >= c * taus
    M = int(np.argmax(ok)) if ok.any() else len(taus) - 1
    return float(taus[M])


def effective_sample_size(x, c: float = 5.0) -> float:
    """Number of independent samples worth of information in x: n_total / τ (see
    :func:`integrated_autocorrelation_time`); ``x``: (n,) or (n_chains, n), n_total = all entries."""
    x = _as_chains(x)
    return float(x.size / integrated_autocorrelation_time(x, c=c))


def running_mean(x) -> np.ndarray:
    """Time average (1/t) Σ_{s≤t} x_s along the last axis, same shape as x."""
    x = np.asarray(x, dtype=float)
    return np.cumsum(x, axis=-1) / np.arange(1, x.shape[-1] + 1)


def _check_ou(theta, sigma, dt, n_steps, n_paths):
    if not (theta > 0 and sigma > 0 and dt > 0):
        raise ValueError(f"theta, sigma and dt must be > 0, got theta={theta}, sigma={sigma}, dt={dt}")
    if int(n_steps) < 1 or int(n_paths) < 1:
        raise ValueError(f"n_steps and n_paths must be ≥ 1, got {n_steps}, {n_paths}")


def simulate_ou(theta: float, sigma: float, dt: float, n_steps: int, n_paths: int = 1,
                rng: np.random.Generator | None = None, x0=None) -> np.ndarray:
    """Ornstein–Uhlenbeck paths dx = −θ x dt + σ dW, sampled exactly every ``dt``.

    x_{k+1} = φ x_k + s ξ_k with φ = e^{−θ dt}, s² = σ²(1 − φ²)/(2θ), ξ ~ N(0, 1). The stationary law is
    N(0, σ²/(2θ)); ``x0=None`` starts there (so the paths are stationary). Returns (n_paths, n_steps).
    """
    _check_ou(theta, sigma, dt, n_steps, n_paths)
    rng = np.random.default_rng() if rng is None else rng
    phi = np.exp(-theta * dt)
    std = sigma / np.sqrt(2 * theta)
    s = std * np.sqrt(1 - phi**2)
    x = np.empty((n_paths, n_steps))
    x[:, 0] = std * rng.standard_normal(n_paths) if x0 is None else x0
    noise = s * rng.standard_normal((n_paths, n_steps - 1))
    for k in range(1, n_steps):
        x[:, k] = phi * x[:, k - 1] + noise[:, k - 1]
    return x


def ou_autocorrelation(theta: float, lag_time) -> np.ndarray:
    """Exact autocorrelation of a stationary OU process, e^{−θ|lag|} (lag in time units)."""
    return np.exp(-theta * np.abs(np.asarray(lag_time, dtype=float)))


def ou_integrated_autocorrelation_time(theta: float, dt: float) -> float:
    """Exact τ (in steps) of an OU process sampled every dt: (1+φ)/(1−φ), φ = e^{−θ dt}."""
    phi = np.exp(-theta * dt)
    return float((1 + phi) / (1 - phi))


def ar1_mean_variance(phi: float, variance: float, n: int) -> float:
    """Exact variance of the sample mean of n consecutive values of a stationary AR(1) process.

    Var(x̄_n) = (σ²/n)[(1+φ)/(1−φ) − 2φ(1 − φⁿ)/(n(1−φ)²)] with σ² the stationary variance; it tends to
    σ²τ/n with τ = (1+φ)/(1−φ), the integrated autocorrelation time.
    """
    if not -1 < phi < 1 or not variance > 0 or int(n) < 1:
        raise ValueError(f"need |phi| < 1, variance > 0, n ≥ 1; got {phi}, {variance}, {n}")
    n = int(n)
    return float(variance / n * ((1 + phi) / (1 - phi) - 2 * phi * (1 - phi**n) / (n * (1 - phi) ** 2)))


def simulate_absorbing_ou(theta: float, sigma: float, dt: float, n_steps: int, n_paths: int, barrier: float,
                          rng: np.random.Generator | None = None, x0: float = 0.0) -> np.ndarray:
    """A non-ergodic process: OU paths that are absorbed for ever once |x| reaches ``barrier``.

    A toy for an irreversible failure (an Ant that flips over and cannot right itself, docs/methods/maxdiff.md
    §7.3): while |x| < barrier the path is the OU process of :func:`simulate_ou`; at the first step with
    |x| ≥ barrier it is frozen at sign(x)·barrier. The law is symmetric, so the ensemble mean is 0 at every
    time, yet every path's time average tends to +barrier or −barrier. Returns (n_paths, n_steps).
    """
    _check_ou(theta, sigma, dt, n_steps, n_paths)
    if not barrier > 0:
        raise ValueError(f"barrier must be > 0, got {barrier}")
    x = simulate_ou(theta, sigma, dt, n_steps, n_paths, rng=rng, x0=x0)
    hit = np.abs(x) >= barrier
    first = np.where(hit.any(axis=1), np.argmax(hit, axis=1), n_steps)
    t = np.arange(n_steps)[None, :]
    frozen = t >= first[:, None]
    side = np.sign(x[np.arange(n_paths), np.minimum(first, n_steps - 1)])[:, None]
    return np.where(frozen, side * barrier, x)


def rbf_features(x, centers, width: float) -> np.ndarray:
    """Radial-basis features exp(−(x − c)²/(2·width²)) and a constant; shape x.shape + (len(c) + 1,)."""
    x = np.asarray(x, dtype=float)[..., None]
    centers = np.asarray(centers, dtype=float)
    phi = np.exp(-0.5 * ((x - centers) / width) ** 2)
    return np.concatenate([phi, np.ones_like(x)], axis=-1)


def sgd_least_squares(features, targets, lr: float, batch_size: int = 1, order: str = "sequential",
                      rng: np.random.Generator | None = None) -> np.ndarray:
    """One pass of minibatch SGD on the squared loss ½(wᵀφ − y)², from w = 0; returns the final weights.

    ``features``: (..., n, p); ``targets``: (..., n); leading axes are independent problems run in parallel.
    ``order="sequential"`` visits the samples in the order given (a trajectory, as an online learner without
    replay would); ``"shuffled"`` visits a random permutation of the same samples (i.i.d.-like, as uniform
    replay over the whole trajectory would). Returns (..., p).
    """
    phi = np.asarray(features, dtype=float)
    y = np.asarray(targets, dtype=float)
    if phi.shape[:-1] != y.shape:
        raise ValueError(f"features (..., n, p) and targets (..., n) disagree: {phi.shape} vs {y.shape}")
    if order not in ("sequential", "shuffled"):
        raise ValueError(f"unknown order {order!r}; valid orders are 'sequential' and 'shuffled'")
    n = y.shape[-1]
    if not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must be in [1, {n}], got {batch_size}")
    if order == "shuffled":
        rng = np.random.default_rng() if rng is None else rng
        perm = rng.permuted(np.broadcast_to(np.arange(n), y.shape), axis=-1)
        phi = np.take_along_axis(phi, perm[..., None], axis=-2)
        y = np.take_along_axis(y, perm, axis=-1)
    w = np.zeros(phi.shape[:-2] + phi.shape[-1:])
    for start in range(0, n - batch_size + 1, batch_size):
        pb = phi[..., start:start + batch_size, :]
        err = np.einsum("...bp,...p->...b", pb, w) - y[..., start:start + batch_size]
        w -= lr * np.einsum("...b,...bp->...p", err, pb) / batch_size
    return w

"""Diffusion policies on toy targets: Gaussian mixtures, their OU-noised laws and scores, a
DIME/DiffMaxEnt-style Euler–Maruyama chain, its entropy lower bound, and its exact marginal on a grid.

Conventions follow docs/methods/dime.md §1.2–1.3 and docs/methods/diffmaxent.md §1.1–1.4, §1.10: the chain runs
from the prior (index 0, x_0 ~ N(0, σ_p² I)) to the action (index K); step k has size η_k and

* generative kernel  q(x_{k+1} | x_k) = N(x_k + η_k(−x_k/σ_p² + f(x_k, k)), 2η_k I)   (f: the "control")
* reference kernel   p(x_k | x_{k+1}) = N(x_{k+1} − η_k x_{k+1}/σ_p², 2η_k I)      (an OU noising step)
* log-ratio          ℓ_k = log q(x_{k+1} | x_k) − log p(x_k | x_{k+1})

and H(q(x_K)) ≥ H(N(0, σ_p² I)) − E[Σ_k ℓ_k] (the bound both papers use; gap = E_{x_K} KL between the
chain's and the reference's backward path laws given x_K). There is no tanh squashing here (DIME adds the
tanh log-Jacobian to the cost; DiffMaxEnt leaves it out): the toy actions live in R^d.

The reference kernels are Euler–Maruyama steps of the noising SDE dY = −Y/σ_p² ds + √2 dW, whose law started
from a target π at s = 0 is known in closed form when π is a Gaussian mixture
(:meth:`GaussianMixture.noised`).
Its time reversal has drift x/σ_p² + 2∇log p_s(x), i.e. control f(x, s) = 2x/σ_p² + 2∇log p_s(x)
(:func:`score_control`): the control a perfectly trained diffusion policy would learn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.integrate
import scipy.optimize
import scipy.special

from mdrl_lib.theory.entropy import density_entropy_on_grid, gaussian_entropy

__all__ = [
    "GaussianMixture",
    "mixture_entropy",
    "fit_gaussian_reverse_kl",
    "DiffusionChain",
    "power_steps",
    "score_control",
    "sample_chain",
    "expected_log_ratio",
    "entropy_lower_bound",
    "chain_marginal_on_grid",
]

_LOG_2PI = float(np.log(2 * np.pi))


@dataclass(frozen=True)
class GaussianMixture:
    """Σ_c w_c N(m_c, Σ_c). weights (C,), means (C, d), covs (C, d, d)."""

    weights: np.ndarray
    means: np.ndarray
    covs: np.ndarray

    def __post_init__(self):
        w = np.asarray(self.weights, dtype=float)
        m = np.atleast_2d(np.asarray(self.means, dtype=float))
        S = np.asarray(self.covs, dtype=float)
        if m.shape[0] != w.shape[0] and m.shape[1] == w.shape[0] and m.shape[0] == 1:
            m = m.T  # 1-D means given as a flat list
        if S.ndim == 1:
            S = S[:, None, None]
        if w.ndim != 1 or m.shape[0] != w.size or S.shape != (w.size, m.shape[1], m.shape[1]):
            raise ValueError(
                f"weights (C,), means (C, d), covs (C, d, d) disagree: {w.shape}, {m.shape}, {S.shape}")
        if np.any(w <= 0) or not np.isclose(w.sum(), 1.0):
            raise ValueError("weights must be positive and sum to 1")
        if np.any(np.linalg.eigvalsh(S) <= 0):
            raise ValueError("every component covariance must be positive definite")
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "means", m)
        object.__setattr__(self, "covs", S)

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def _component_terms(self, x):
        """log(w_c N(x; m_c, Σ_c)) (..., C) and the precision-times-residual P_c(x − m_c) (..., C, d)."""
        x = np.asarray(x, dtype=float)
        if x.shape[-1] != self.dim:
            raise ValueError(f"x must have last axis of size d={self.dim}, got shape {x.shape}")
        prec = np.linalg.inv(self.covs)
        _, logdet = np.linalg.slogdet(self.covs)
        r = x[..., None, :] - self.means  # (..., C, d)
        pr = np.einsum("cij,...cj->...ci", prec, r)
        quad = np.einsum("...ci,...ci->...c", r, pr)
        logc = np.log(self.weights) - 0.5 * (self.dim * _LOG_2PI + logdet + quad)
        return logc, pr

    def logpdf(self, x) -> np.ndarray:
        """log π(x) for x of shape (..., d); returns (...)."""
        logc, _ = self._component_terms(x)
        return scipy.special.logsumexp(logc, axis=-1)

    def score(self, x) -> np.ndarray:
        """∇_x log π(x) = −Σ_c r_c(x) Σ_c⁻¹(x − m_c) with responsibilities r_c; shape (..., d)."""
        logc, pr = self._component_terms(x)
        r = np.exp(logc - scipy.special.logsumexp(logc, axis=-1, keepdims=True))
        return -np.einsum("...c,...ci->...i", r, pr)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n samples, shape (n, d)."""
        c = rng.choice(self.weights.size, size=n, p=self.weights)
        L = np.linalg.cholesky(self.covs)
        z = rng.standard_normal((n, self.dim))
        return self.means[c] + np.einsum("nij,nj->ni", L[c], z)

    def noised(self, s: float, prior_std: float) -> GaussianMixture:
        """Law at time s ≥ 0 of dY = −Y/σ_p² ds + √2 dW with Y_0 ~ this mixture (stationary law N(0, σ_p² I)).

        Y_s | Y_0 ~ N(Y_0 e^{−s/σ_p²}, σ_p²(1 − e^{−2s/σ_p²}) I), so each component maps to
        N(m e^{−s/σ_p²}, Σ e^{−2s/σ_p²} + σ_p²(1 − e^{−2s/σ_p²}) I).
        """
        a = np.exp(-s / prior_std**2)
        add = prior_std**2 * (1 - a**2) * np.eye(self.dim)
        return GaussianMixture(self.weights, self.means * a, self.covs * a**2 + add)


def mixture_entropy(mixture: GaussianMixture, half_width: float = 8.0, n_grid: int = 801) -> float:
    """Entropy of a Gaussian mixture by quadrature (no closed form exists).

    d = 1: adaptive quadrature (``scipy.integrate.quad``) of −π log π over the real line.
    d = 2: rectangle rule on an n_grid² grid over the box mean ± half_width·(largest component std).
    """
    spread = np.sqrt(np.max(np.linalg.eigvalsh(mixture.covs)))
    lo = mixture.means.min(axis=0) - half_width * spread
    hi = mixture.means.max(axis=0) + half_width * spread
    if mixture.dim == 1:
        def integrand(t):
            lp = mixture.logpdf(np.array([[t]]))[0]
            return -np.exp(lp) * lp
        breaks = np.sort(mixture.means[:, 0])
        val, _ = scipy.integrate.quad(integrand, lo[0], hi[0], points=breaks, limit=500, epsabs=1e-13,
                                      epsrel=1e-12)
        return float(val)
    if mixture.dim == 2:
        axes = [np.linspace(lo[i], hi[i], n_grid) for i in range(2)]
        X, Y = np.meshgrid(*axes, indexing="ij")
        p = np.exp(mixture.logpdf(np.stack([X, Y], axis=-1)))
        cell = (axes[0][1] - axes[0][0]) * (axes[1][1] - axes[1][0])
        return density_entropy_on_grid(p, cell)
    raise ValueError(f"mixture_entropy supports d = 1 or 2, got d = {mixture.dim}")


def fit_gaussian_reverse_kl(mixture: GaussianMixture, n_nodes: int = 32):
    """The Gaussian N(μ, Σ) closest to the mixture in reverse KL, KL(N ‖ π), as SAC's policy step finds.

    KL(N‖π) = −H(N) − E_N[log π], the expectation by Gauss–Hermite quadrature (n_nodes per dimension).
    Minimised with L-BFGS from each component (reverse KL is mode-seeking: it has one local optimum per
    well-separated mode). Returns (mean (d,), cov (d, d), kl).
    """
    d = mixture.dim
    t, wq = np.polynomial.hermite_e.hermegauss(n_nodes)  # probabilists' Hermite: weight e^{−t²/2}
    wq = wq / wq.sum()
    grids = np.meshgrid(*([t] * d), indexing="ij")
    nodes = np.stack([g.ravel() for g in grids], axis=-1)  # (n^d, d)
    weights = np.prod(np.meshgrid(*([wq] * d), indexing="ij"), axis=0).ravel()
    tril = np.tril_indices(d)

    def unpack(theta):
        mu = theta[:d]
        L = np.zeros((d, d))
        L[tril] = theta[d:]
        L[np.diag_indices(d)] = np.exp(L[np.diag_indices(d)])
        return mu, L

    def kl(theta):
        mu, L = unpack(theta)
        x = mu + nodes @ L.T
        return -gaussian_entropy(L @ L.T) - weights @ mixture.logpdf(x)

    best = None
    for c in range(mixture.weights.size):
        L0 = np.linalg.cholesky(mixture.covs[c])
        L0[np.diag_indices(d)] = np.log(np.diag(L0))
        res = scipy.optimize.minimize(kl, np.concatenate([mixture.means[c], L0[tril]]), method="L-BFGS-B")
        if best is None or res.fun < best.fun:
            best = res
    mu, L = unpack(best.x)
    return mu, L @ L.T, float(best.fun)


@dataclass
class DiffusionChain:
    """A K-step diffusion policy: prior N(0, prior_std² I), step sizes ``etas`` (K,), control f(x, k).

    ``control(x, k)`` takes x of shape (..., d) and the integer step k, and returns (..., d).
    """

    prior_std: float
    etas: np.ndarray
    control: Callable[[np.ndarray, int], np.ndarray]
    dim: int

    def __post_init__(self):
        self.etas = np.asarray(self.etas, dtype=float)
        if self.etas.ndim != 1 or self.etas.size < 1 or np.any(self.etas <= 0):
            raise ValueError(f"etas must be a non-empty 1-D array of positive step sizes, got {self.etas}")
        if not self.prior_std > 0:
            raise ValueError(f"prior_std must be > 0, got {self.prior_std}")

    @property
    def n_steps(self) -> int:
        return self.etas.size

    def forward_mean(self, x, k: int) -> np.ndarray:
        """Mean of the generative kernel: x + η_k(−x/σ_p² + f(x, k))."""
        return x + self.etas[k] * (-x / self.prior_std**2 + self.control(x, k))

    def reference_mean(self, x_next, k: int) -> np.ndarray:
        """Mean of the reference (noising) kernel p(x_k | x_{k+1}): x_{k+1} − η_k x_{k+1}/σ_p²."""
        return x_next - self.etas[k] * x_next / self.prior_std**2

    def prior_entropy(self) -> float:
        return gaussian_entropy(self.prior_std**2 * np.eye(self.dim))


def power_steps(total_time: float, n_steps: int, power: float = 2.0) -> np.ndarray:
    """Step sizes η_k = s_k − s_{k+1} with noising times s_k = total_time·(1 − k/K)^power, k = 0..K.

    power = 1 gives K equal steps; power > 1 makes the steps shrink towards the action end (k = K), where
    the target's score varies fastest. (DIME uses a cosine shape with the same intent, docs/methods/dime.md
    §1.2; DiffMaxEnt a linear one, docs/methods/diffmaxent.md §1.6.) Returns (K,), summing to total_time.
    """
    if not total_time > 0 or int(n_steps) < 1 or not power > 0:
        raise ValueError(f"need total_time > 0, n_steps ≥ 1, power > 0; got {total_time}, {n_steps}, {power}")
    K = int(n_steps)
    s = total_time * (1 - np.arange(K + 1) / K) ** power
    return -np.diff(s)


def score_control(target: GaussianMixture, etas, prior_std: float) -> Callable[[np.ndarray, int], np.ndarray]:
    """The control of the time-reversed noising SDE: f(x, k) = 2x/σ_p² + 2∇log p_{s_k}(x).

    p_s is the target noised for time s (:meth:`GaussianMixture.noised`) and s_k = Σ_{j≥k} η_j is the noising
    time still to undo at step k (s_0 = total time, s_K = 0). With this control the chain is the
    Euler–Maruyama discretisation of the exact reverse diffusion, so its marginal tends to the target as
    K → ∞ (up to the prior mismatch between p_{s_0} and N(0, σ_p² I)).
    """
    etas = np.asarray(etas, dtype=float)
    remaining = np.cumsum(etas[::-1])[::-1]
    laws = [target.noised(float(s), prior_std) for s in remaining]

    def control(x, k):
        return 2 * x / prior_std**2 + 2 * laws[k].score(x)

    return control


def expected_log_ratio(chain: DiffusionChain, x, k: int, mean=None) -> np.ndarray:
    """E[ℓ_k | x_k = x], in closed form (both kernels are Gaussian with variance 2η_k).

    With a = 1 − η_k/σ_p² and μ = the generative mean, x_{k+1} = μ + √(2η_k) ξ gives
    E[ℓ_k | x_k] = ‖x − aμ‖²/(4η_k) + d(a² − 1)/2. Averaging this instead of ℓ_k removes the noise ξ from the
    estimator without changing its expectation. ``mean``: the generative mean at x, if already computed.
    """
    eta = chain.etas[k]
    a = 1 - eta / chain.prior_std**2
    mu = chain.forward_mean(x, k) if mean is None else mean
    d = np.shape(x)[-1]
    return np.sum((x - a * mu) ** 2, axis=-1) / (4 * eta) + d * (a**2 - 1) / 2


def _gauss_logpdf_iso(x, mean, var):
    d = x.shape[-1]
    return -0.5 * (d * (_LOG_2PI + np.log(var)) + np.sum((x - mean) ** 2, axis=-1) / var)


def sample_chain(chain: DiffusionChain, n: int, rng: np.random.Generator):
    """Run the chain n times. Returns (paths (n, K+1, d), log_ratios (n, K)) with ℓ_k as in the module doc."""
    d, K = chain.dim, chain.n_steps
    paths = np.empty((n, K + 1, d))
    paths[:, 0] = chain.prior_std * rng.standard_normal((n, d))
    ell = np.empty((n, K))
    for k in range(K):
        var = 2 * chain.etas[k]
        x = paths[:, k]
        mean = chain.forward_mean(x, k)
        x_next = mean + np.sqrt(var) * rng.standard_normal((n, d))
        paths[:, k + 1] = x_next
        log_q = _gauss_logpdf_iso(x_next, mean, var)
        ell[:, k] = log_q - _gauss_logpdf_iso(x, chain.reference_mean(x_next, k), var)
    return paths, ell


def entropy_lower_bound(chain: DiffusionChain, n: int, rng: np.random.Generator):
    """Monte Carlo estimate of the bound H(prior) − E[Σ_k ℓ_k] ≤ H(q(x_K)), with its standard error.

    Averages the sampled Σ_k ℓ_k of n independent chains: the single-sample estimate DIME's and DiffMaxEnt's
    losses use, averaged. Returns (bound, standard_error, final_actions (n, d)).
    """
    paths, ell = sample_chain(chain, n, rng)
    total = ell.sum(axis=1)
    return (chain.prior_entropy() - float(total.mean()), float(total.std(ddof=1) / np.sqrt(n)), paths[:, -1])


def chain_marginal_on_grid(chain: DiffusionChain, axes, return_bound: bool = False):
    """Density of the chain's output x_K on a grid, by propagating densities through the Gaussian kernels.

    q_{k+1}(y) = ∫ q_k(x) N(y; μ_k(x), 2η_k I) dx with the integral by the rectangle rule over the grid
    (a deterministic quadrature, no sampling). The isotropic Gaussian kernel factorises over coordinates,
    so in 2-D one step is q_{k+1}[a, b] = Σ_j c_j g_1(y_a − μ_1(x_j)) g_2(y_b − μ_2(x_j)): two matrix
    products.
    Accurate when every kernel width √(2η_k) and every density feature spans a few grid cells, and the grid
    holds all the mass. ``axes``: a list of d (= 1 or 2) increasing, evenly spaced 1-D arrays.
    Returns (density on the grid (shape = lengths of axes), cell volume), and with ``return_bound`` also the
    entropy lower bound H(prior) − Σ_k ∫ q_k(x) E[ℓ_k | x] dx evaluated by the same quadrature (no sampling).
    """
    axes = [np.asarray(a, dtype=float) for a in axes]
    if len(axes) != chain.dim or chain.dim not in (1, 2):
        raise ValueError(f"need one axis per dimension, d = {chain.dim} ∈ {{1, 2}}; got {len(axes)} axes")
    hs = [float(a[1] - a[0]) for a in axes]
    cell = float(np.prod(hs))
    grids = np.meshgrid(*axes, indexing="ij")
    pts = np.stack([g.ravel() for g in grids], axis=-1)  # (N, d)
    q = np.exp(_gauss_logpdf_iso(pts, 0.0, chain.prior_std**2))
    expected_ell = 0.0
    for k in range(chain.n_steps):
        var = 2 * chain.etas[k]
        mu = chain.forward_mean(pts, k)  # (N, d)
        c = q * cell
        if return_bound:
            expected_ell += float(c @ expected_log_ratio(chain, pts, k, mean=mu))
        g = []
        for i in range(chain.dim):
            z = 0.5 * (axes[i][:, None] - mu[None, :, i]) ** 2 / var  # (n_i, N)
            # kernel values below e^-100 and weights below 1e-100 of the largest are set to 0: negligible, and
            # products of them underflow to subnormal numbers, which make the matrix products ~30x slower
            g.append(np.where(z < 100.0, np.exp(-np.minimum(z, 100.0)), 0.0) / np.sqrt(2 * np.pi * var))
        c = np.where(c > 1e-100 * c.max(), c, 0.0)
        if chain.dim == 1:
            q = g[0] @ c
        else:
            q = ((g[0] * c[None, :]) @ g[1].T).ravel()
    shape = tuple(a.size for a in axes)
    if return_bound:
        return q.reshape(shape), cell, chain.prior_entropy() - expected_ell
    return q.reshape(shape), cell

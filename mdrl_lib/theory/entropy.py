"""Differential entropies: Gaussians, sample covariances, discretised diffusion paths, increment laws.

All entropies are in nats. ``cov`` arguments are covariance matrices (d, d) or batches (..., d, d); a scalar
or a 0-d array is read as the variance of a one-dimensional Gaussian.

References: docs/methods/maxdiff.md §7.2 (path entropy of a diffusion, ½ log det C per step), §7.5 (reduction
to the Gaussian policy entropy of MaxEnt RL); Cover & Thomas, *Elements of Information Theory*, 2nd ed.,
Thm 8.6.5 (the Gaussian maximises entropy at a given covariance). § numbers refer to docs/methods/maxdiff.md.
"""

from __future__ import annotations

import numpy as np
import scipy.optimize
import scipy.special

__all__ = [
    "gaussian_entropy",
    "logdet_cov",
    "logdet_cov_bias",
    "logdet_cov_variance",
    "diffusion_step_entropy",
    "gaussian_path_entropy",
    "path_covariance",
    "generalized_normal_entropy",
    "student_t_entropy",
    "density_entropy_on_grid",
    "maxent_density_on_grid",
]

LOG_2PIE = float(np.log(2 * np.pi * np.e))


def _as_cov(cov) -> np.ndarray:
    cov = np.asarray(cov, dtype=float)
    if cov.ndim == 0:
        cov = cov[None, None]
    if cov.ndim < 2 or cov.shape[-1] != cov.shape[-2]:
        raise ValueError(f"cov must be a variance or a (..., d, d) covariance matrix, got shape {cov.shape}")
    return cov


def gaussian_entropy(cov) -> float | np.ndarray:
    """Entropy of N(μ, Σ): ½ log det(2πe Σ) = ½ (d log(2πe) + log det Σ).

    ``cov``: variance, (d, d) or (..., d, d). Raises ``ValueError`` when Σ is not positive definite.
    Returns a float (or an array of the batch shape).
    """
    cov = _as_cov(cov)
    sign, logdet = np.linalg.slogdet(cov)
    if np.any(sign <= 0):
        raise ValueError("cov must be positive definite (its determinant is ≤ 0)")
    h = 0.5 * (cov.shape[-1] * LOG_2PIE + logdet)
    return float(h) if np.ndim(h) == 0 else h


def logdet_cov(samples, ddof: int = 1) -> float | np.ndarray:
    """log det of the sample covariance of ``samples`` (..., n, d): rows are samples, columns dimensions.

    This is the estimator behind MaxDiff's bonus ½ log det C (§2.2 step 4; there the "samples" are the
    H states of one predicted trajectory). Returns −inf where the covariance is singular (n ≤ d, or samples
    confined to a subspace). ``ddof=1`` gives the unbiased covariance.
    """
    x = np.asarray(samples, dtype=float)
    if x.ndim < 2:
        raise ValueError(f"samples must have shape (..., n, d), got shape {x.shape}")
    n = x.shape[-2]
    if n - ddof <= 0:
        raise ValueError(f"need more than ddof={ddof} samples, got n={n}")
    xc = x - x.mean(axis=-2, keepdims=True)
    cov = np.einsum("...ni,...nj->...ij", xc, xc) / (n - ddof)
    sign, ld = np.linalg.slogdet(cov)
    ld = np.where(sign > 0, ld, -np.inf)
    return float(ld) if np.ndim(ld) == 0 else ld


def logdet_cov_bias(n_samples: int, dim: int, ddof: int = 1) -> float:
    """E[log det Ĉ] − log det C for the sample covariance Ĉ of n i.i.d. Gaussian samples in d = ``dim``.

    (n − 1)Ĉ·(n − ddof)/(n − 1) is Wishart with ν = n − 1 degrees of freedom, and
    E[log det Wishart_ν(C)] = log det C + d log 2 + Σ_{i<d} ψ((ν − i)/2), so the bias is
    Σ_{i<d} ψ((ν − i)/2) + d log 2 − d log(n − ddof). It is negative (log det of a sample covariance
    underestimates) and of order −d(d+1)/(2n). Correlated samples, such as the states of one trajectory,
    carry fewer effective samples and a larger bias.
    """
    n, d = int(n_samples), int(dim)
    if n - 1 < d:
        raise ValueError(f"need n_samples - 1 ≥ dim for a non-singular sample covariance, got {n}, {d}")
    nu = n - 1
    psi = scipy.special.digamma((nu - np.arange(d)) / 2)
    return float(np.sum(psi) + d * np.log(2) - d * np.log(n - ddof))


def logdet_cov_variance(n_samples: int, dim: int) -> float:
    """Var[log det Ĉ] for the sample covariance of n i.i.d. Gaussian samples in d = ``dim``: Σ_{i<d} ψ'((ν−i)/2),
    ν = n − 1 (ψ' the trigamma function; the variance does not depend on C or on the divisor)."""
    n, d = int(n_samples), int(dim)
    if n - 1 < d:
        raise ValueError(f"need n_samples - 1 ≥ dim for a non-singular sample covariance, got {n}, {d}")
    return float(np.sum(scipy.special.polygamma(1, (n - 1 - np.arange(d)) / 2)))


def diffusion_step_entropy(C, dt: float) -> float | np.ndarray:
    """Entropy of one step of the maximum-entropy path kernel N(x, C·dt) (§7.2, cf. the paper's Eq. 28).

    ½ log det(2πe C dt) = ½ log det C + (d/2) log(2πe dt): the only part the agent can change is ½ log det C.
    """
    if not dt > 0:
        raise ValueError(f"dt must be > 0, got {dt}")
    return gaussian_entropy(_as_cov(C) * dt)


def gaussian_path_entropy(C, dt: float, n_steps: int) -> float:
    """Closed-form entropy of the path (x_1, ..., x_n) of x_{k+1} = x_k + √(dt)·C^{½} ξ_k with x_0 fixed.

    The map from increments to the path is unit lower-triangular (det 1), so the path entropy is the sum of
    the increments' entropies: n·½ log det(2πe C dt).
    """
    if int(n_steps) < 1:
        raise ValueError(f"n_steps must be ≥ 1, got {n_steps}")
    return float(n_steps * diffusion_step_entropy(C, dt))


def path_covariance(C, dt: float, n_steps: int) -> np.ndarray:
    """Covariance of the stacked path (x_1, ..., x_n) ∈ R^{n·d} of the diffusion above: Cov(x_i, x_j) =
    min(i, j)·C·dt. Shape (n·d, n·d), ordered time-major."""
    C = _as_cov(C)
    steps = np.arange(1, int(n_steps) + 1)
    return np.kron(np.minimum.outer(steps, steps).astype(float), C * dt)


def generalized_normal_entropy(shape, variance: float = 1.0):
    """Entropy of the generalised normal law p(x) ∝ exp(−|x/a|^p) with shape p and the given variance.

    h = 1/p + log(2aΓ(1+1/p)), with the scale a chosen so that a²Γ(3/p)/Γ(1/p) = variance.
    p = 1: Laplace; p = 2: Gaussian; p → ∞: uniform. ``shape`` may be an array.
    """
    p = np.asarray(shape, dtype=float)
    if np.any(p <= 0) or not variance > 0:
        raise ValueError(f"shape must be > 0 and variance > 0, got shape={shape}, variance={variance}")
    log_a = 0.5 * (np.log(variance) + scipy.special.gammaln(1 / p) - scipy.special.gammaln(3 / p))
    return 1 / p + np.log(2) + log_a + scipy.special.gammaln(1 + 1 / p)


def student_t_entropy(nu, variance: float = 1.0):
    """Entropy of a Student-t law with ν > 2 degrees of freedom, rescaled to the given variance.

    Standard t: h = ((ν+1)/2)[ψ((ν+1)/2) − ψ(ν/2)] + log(√ν B(ν/2, ½)); its variance is ν/(ν−2).
    """
    nu = np.asarray(nu, dtype=float)
    if np.any(nu <= 2) or not variance > 0:
        raise ValueError(f"nu must be > 2 and variance > 0, got nu={nu}, variance={variance}")
    h_std = (0.5 * (nu + 1) * (scipy.special.digamma(0.5 * (nu + 1)) - scipy.special.digamma(0.5 * nu))
             + 0.5 * np.log(nu) + scipy.special.betaln(0.5 * nu, 0.5))
    return h_std + 0.5 * np.log(variance * (nu - 2) / nu)


def density_entropy_on_grid(density, cell_volume: float) -> float:
    """Differential entropy −∫ p log p by the rectangle rule on a regular grid (any number of dimensions).

    ``density``: values of p at the grid nodes; ``cell_volume``: product of the grid spacings. Nodes with
    p = 0 contribute 0. The result is accurate when p is smooth on the grid scale and negligible at the
    grid's edges.
    """
    p = np.asarray(density, dtype=float)
    if np.any(p < 0):
        raise ValueError("density must be non-negative")
    pos = p > 0
    return float(-np.sum(p[pos] * np.log(p[pos])) * cell_volume)


def maxent_density_on_grid(grid, mean: float = 0.0, variance: float = 1.0) -> np.ndarray:
    """Numerically maximise the entropy of a density on a 1-D grid subject to a mean and a variance.

    The unknowns are the probabilities p_i of the grid cells (no parametric family is assumed); the problem
    max −Σ p_i log(p_i/h) s.t. Σp_i = 1, Σp_i x_i = mean, Σp_i (x_i − mean)² = variance is solved with SLSQP
    from a uniform start. Returns the density p_i/h on the grid. Theory says the answer is the discretised
    Gaussian N(mean, variance) (Cover & Thomas Thm 12.1.1 / 8.6.5); the notebook checks that it is.
    """
    x = np.asarray(grid, dtype=float)
    if x.ndim != 1 or x.size < 5 or np.any(np.diff(x) <= 0):
        raise ValueError("grid must be an increasing 1-D array of at least 5 points")
    h = float(np.mean(np.diff(x)))
    if not (x[0] < mean < x[-1]) or not variance > 0:
        raise ValueError(f"need grid[0] < mean < grid[-1] and variance > 0; got mean={mean}, var={variance}")
    z = (x - mean) ** 2

    # p = softmax(θ) keeps p on the simplex without bounds; any grid density is a softmax, so this is still a
    # search over all densities on the grid, not over a parametric family.
    def probs(theta):
        e = np.exp(theta - theta.max())
        return e / e.sum()

    def neg_entropy(theta):
        p = probs(theta)
        logp = theta - theta.max() - np.log(np.sum(np.exp(theta - theta.max())))
        g = p * (logp - np.log(h))
        return float(g.sum()), p * (logp - np.log(h)) - p * g.sum()

    def moment(f):
        def fun(theta):
            return probs(theta) @ f

        def jac(theta):
            p = probs(theta)
            return p * (f - p @ f)
        return fun, jac

    (m1, j1), (m2, j2) = moment(x), moment(z)
    cons = [{"type": "eq", "fun": lambda t: m1(t) - mean, "jac": j1},
            {"type": "eq", "fun": lambda t: m2(t) - variance, "jac": j2}]
    res = scipy.optimize.minimize(neg_entropy, np.zeros(x.size), jac=True, constraints=cons, method="SLSQP",
                                  options={"maxiter": 2000, "ftol": 1e-14})
    if not res.success:
        raise RuntimeError(f"max-entropy optimisation did not converge: {res.message}")
    return probs(res.x) / h

"""Controllability Gramians: continuous and discrete time, closed forms, and empirical (MuJoCo) ones.

The finite-horizon controllability Gramian of ``x' = A x + B u`` is the covariance that white-noise actions
build up in the state over a window (docs/methods/maxdiff.md §7.1; § numbers refer to
docs/methods/maxdiff.md):

* continuous time, ``T`` a duration:  W(T) = ∫_0^T e^{At} B Bᵀ e^{Aᵀt} dt
* discrete time, ``T`` a number of steps:  W_T = Σ_{k<T} A^k B Bᵀ (Aᵀ)^k

Numerics. The continuous Gramian uses Van Loan's block-matrix exponential on a short interval h = T/2^k
(so ‖A‖h ≤ 1/2) followed by k exact doublings W(2h) = W(h) + e^{Ah} W(h) e^{Aᵀh}; every term is a sum of
positive semi-definite matrices, so nothing cancels and long horizons of stable or unstable systems stay
accurate. Before that, the state coordinates are rescaled by a first estimate of sqrt(diag W), which makes
Gramians whose entries span many orders of magnitude (the MaxDiff point mass with β = 1e-3) accurate
entry by entry, not only relative to the largest entry.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import scipy.linalg

__all__ = [
    "controllability_gramian",
    "controllability_matrix",
    "numerical_rank",
    "gramian_logdet",
    "point_mass_system",
    "point_mass_gramian",
    "zoh_discretise",
    "time_varying_gramian",
    "EmpiricalGramian",
    "empirical_gramian",
    "rollout_states",
]

# Diagonal entries of W below this fraction of the largest are treated as uncontrollable (not rescaled).
_UNCONTROLLABLE_RTOL = 1e-13


def _check_system(A, B) -> tuple[np.ndarray, np.ndarray]:
    A = np.asarray(A, dtype=float)
    B = np.asarray(B, dtype=float)
    if B.ndim == 1:
        B = B[:, None]
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"A must be a square (n, n) matrix, got shape {A.shape}")
    if B.ndim != 2 or B.shape[0] != A.shape[0]:
        raise ValueError(f"B must have shape (n, m) with n = {A.shape[0]} rows, got shape {B.shape}")
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(B))):
        raise ValueError("A and B must be finite")
    return A, B


def _continuous_raw(A: np.ndarray, Q: np.ndarray, T: float) -> np.ndarray:
    """∫_0^T e^{At} Q e^{Aᵀt} dt by Van Loan on [0, h] and repeated doubling."""
    n = A.shape[0]
    norm = np.linalg.norm(A, 1) * T
    k = int(max(0, np.ceil(np.log2(norm / 0.5)))) if norm > 0.5 else 0
    h = T / 2.0**k
    M = np.zeros((2 * n, 2 * n))
    M[:n, :n] = -A
    M[:n, n:] = Q
    M[n:, n:] = A.T
    E = scipy.linalg.expm(M * h)
    Phi = E[n:, n:].T  # e^{Ah}
    W = Phi @ E[:n, n:]
    W = 0.5 * (W + W.T)
    for _ in range(k):
        W = W + Phi @ W @ Phi.T
        Phi = Phi @ Phi
    return 0.5 * (W + W.T)


def _discrete_raw(A: np.ndarray, Q: np.ndarray, T: int) -> np.ndarray:
    """Σ_{k<T} A^k Q (Aᵀ)^k by binary doubling (W_{2m} = W_m + A^m W_m A^mᵀ, W_{m+1} = Q + A W_m Aᵀ)."""
    n = A.shape[0]
    W = np.zeros((n, n))
    P = np.eye(n)  # A^m
    for bit in bin(T)[2:]:
        W = W + P @ W @ P.T
        P = P @ P
        if bit == "1":
            W = Q + A @ W @ A.T
            P = A @ P
    return 0.5 * (W + W.T)


def _equilibrated(raw, A: np.ndarray, B: np.ndarray, horizon) -> np.ndarray:
    """Evaluate ``raw`` in coordinates z = D⁻¹x with D = diag(sqrt(diag W)) and map the result back."""
    W0 = raw(A, B @ B.T, horizon)
    diag = np.diag(W0).copy()
    top = diag.max(initial=0.0)
    if top <= 0:
        return W0
    d = np.where(diag > _UNCONTROLLABLE_RTOL * top, np.sqrt(np.maximum(diag, 0.0)), np.sqrt(top))
    As = A * d[None, :] / d[:, None]
    Bs = B / d[:, None]
    Ws = raw(As, Bs @ Bs.T, horizon)
    return Ws * d[:, None] * d[None, :]


def controllability_gramian(A, B, T, discrete: bool = False) -> np.ndarray:
    """Finite-horizon controllability Gramian.

    Parameters
    ----------
    A : (n, n) state matrix.
    B : (n, m) input matrix (a vector is read as one input column).
    T : continuous time (``discrete=False``): a duration ≥ 0 in the system's time unit;
        discrete time (``discrete=True``): a number of steps, a non-negative integer.
    discrete : which definition (see the module docstring).

    Returns
    -------
    (n, n) symmetric positive semi-definite numpy array W. In continuous time it is the covariance of x(T)
    for x(0) = 0 and unit-intensity white-noise actions (E[u(t)u(s)ᵀ] = I δ(t−s)); in discrete time the
    covariance of x_T for x_0 = 0 and u_k ~ N(0, I) i.i.d.
    """
    A, B = _check_system(A, B)
    if discrete:
        if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 0:
            raise ValueError(f"discrete-time horizon T must be a non-negative integer (steps), got {T!r}")
        return _equilibrated(_discrete_raw, A, B, int(T))
    T = float(T)
    if not np.isfinite(T) or T < 0:
        raise ValueError(f"continuous-time horizon T must be a finite duration ≥ 0, got {T!r}")
    if T == 0:
        return np.zeros((A.shape[0], A.shape[0]))
    return _equilibrated(_continuous_raw, A, B, T)


def controllability_matrix(A, B) -> np.ndarray:
    """Kalman's controllability matrix [B, AB, ..., A^{n-1}B], shape (n, n·m).

    Its rank equals the rank of W(T) for every T > 0 (continuous time) and of W_T for T ≥ n (discrete time).
    """
    A, B = _check_system(A, B)
    blocks = [B]
    for _ in range(A.shape[0] - 1):
        blocks.append(A @ blocks[-1])
    return np.hstack(blocks)


def numerical_rank(W, rtol: float = 1e-10) -> int:
    """Rank of a symmetric PSD matrix: eigenvalues above ``rtol`` × the largest (after equilibration).

    The matrix is first rescaled to unit diagonal, so a direction that is weakly but genuinely controllable
    (a tiny diagonal entry) is not mistaken for an uncontrollable one.
    """
    W = np.asarray(W, dtype=float)
    diag = np.diag(W)
    top = diag.max(initial=0.0)
    if top <= 0:
        return 0
    d = np.where(diag > _UNCONTROLLABLE_RTOL * top, np.sqrt(np.maximum(diag, 0.0)), np.inf)
    Ws = W / d[:, None] / d[None, :]
    ev = np.linalg.eigvalsh(0.5 * (Ws + Ws.T))
    return int(np.sum(ev > rtol * ev.max()))


def gramian_logdet(W) -> float:
    """log det W of a symmetric positive semi-definite matrix, −inf when singular.

    Computed as log det(D⁻¹WD⁻¹) + 2 Σ log d_i with D = diag(sqrt(diag W)), which stays accurate when the
    diagonal spans many orders of magnitude.
    """
    W = np.asarray(W, dtype=float)
    diag = np.diag(W)
    if np.any(diag <= 0):
        return -np.inf
    d = np.sqrt(diag)
    sign, ld = np.linalg.slogdet(W / d[:, None] / d[None, :])
    if sign <= 0:
        return -np.inf
    return float(ld + 2.0 * np.log(d).sum())


def point_mass_system(beta: float, axes: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """The MaxDiff point mass (§3): ẋ = β·v_x, ẏ = v_y, v̇ = u.

    ``axes=1``: the x axis alone, state (x, v_x), A = [[0, β], [0, 0]], B = [0, 1]ᵀ.
    ``axes=2``: state (x, y, v_x, v_y) as in the environment's observation, inputs (u_x, u_y).
    """
    if not np.isfinite(beta) or beta < 0:
        raise ValueError(f"beta must be a finite number ≥ 0, got {beta!r}")
    if axes == 1:
        return np.array([[0.0, beta], [0.0, 0.0]]), np.array([[0.0], [1.0]])
    if axes == 2:
        A = np.zeros((4, 4))
        A[0, 2] = beta
        A[1, 3] = 1.0
        B = np.zeros((4, 2))
        B[2, 0] = B[3, 1] = 1.0
        return A, B
    raise ValueError(f"axes must be 1 or 2, got {axes!r}")


def point_mass_gramian(beta: float, T: float) -> np.ndarray:
    """Closed form of one point-mass axis' Gramian (§7.1, [derived]).

    W(T) = [[β²T³/3, βT²/2], [βT²/2, T]], so det W = β²T⁴/12.
    """
    return np.array([[beta**2 * T**3 / 3.0, beta * T**2 / 2.0], [beta * T**2 / 2.0, T]])


def zoh_discretise(A, B, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact discretisation of x' = Ax + Bu with u held constant over steps of length dt (zero-order hold).

    Returns (A_d, B_d) = (e^{A dt}, ∫_0^dt e^{As} ds B), from one matrix exponential of [[A, B], [0, 0]]·dt.
    The MaxDiff point mass integrates its (linear) dynamics with RK4 at dt = 0.1 (§3); for a linear
    system with piecewise-constant actions this map is what RK4 approximates to O(dt⁵) per step.
    """
    A, B = _check_system(A, B)
    if not dt > 0:
        raise ValueError(f"dt must be > 0, got {dt}")
    n, m = B.shape
    M = np.zeros((n + m, n + m))
    M[:n, :n] = A
    M[:n, n:] = B
    E = scipy.linalg.expm(M * dt)
    return E[:n, :n], E[:n, n:]


def time_varying_gramian(As, Bs) -> np.ndarray:
    """Discrete time-varying Gramian of x_{k+1} = A_k x_k + B_k u_k over k = 0..T-1.

    W = Σ_k Φ(T, k+1) B_k B_kᵀ Φ(T, k+1)ᵀ with Φ(T, j) = A_{T-1} ··· A_j: the covariance of x_T when
    x_0 = 0 and u_k ~ N(0, I). ``As``: (T, n, n), ``Bs``: (T, n, m).
    """
    As = np.asarray(As, dtype=float)
    Bs = np.asarray(Bs, dtype=float)
    if As.ndim != 3 or Bs.ndim != 3 or As.shape[0] != Bs.shape[0] or As.shape[1:] != (As.shape[1],) * 2:
        raise ValueError(f"As must be (T, n, n) and Bs (T, n, m) with the same T; got {As.shape}, {Bs.shape}")
    n = As.shape[1]
    W = np.zeros((n, n))
    for A, B in zip(As, Bs, strict=True):
        W = A @ W @ A.T + B @ B.T
    return 0.5 * (W + W.T)


@dataclass
class EmpiricalGramian:
    """Result of :func:`empirical_gramian`.

    gramian : (nx, nx) Gramian of the linearised env-step map, nx = 2·nv + na (MuJoCo's tangent state:
        position differences, velocities, actuator activations), per unit action variance.
    A : (T, nx, nx) env-step state Jacobians along the trajectory.
    B : (T, nx, nu) env-step control Jacobians.
    qpos : (T+1, nq) positions visited; qvel : (T+1, nv) velocities visited.
    dt : duration of one env step (timestep × frame_skip).
    """

    gramian: np.ndarray
    A: np.ndarray
    B: np.ndarray
    qpos: np.ndarray
    qvel: np.ndarray
    dt: float


def _tangent_state(model, d, qpos_ref) -> np.ndarray:
    """[mj_differentiatePos(qpos_ref → d.qpos), d.qvel, d.act]: MuJoCo's tangent-space state vector."""
    import mujoco

    dq = np.empty(model.nv)
    mujoco.mj_differentiatePos(model, dq, 1.0, qpos_ref, d.qpos)
    return np.concatenate([dq, d.qvel, d.act])


def _env_step(model, d, u, frame_skip: int) -> None:
    import mujoco

    d.ctrl[:] = u
    for _ in range(frame_skip):
        mujoco.mj_step(model, d)


def _fd_env_step(model, data, u, frame_skip: int, eps: float, centered: bool):
    """Finite-difference Jacobians (A, B) of one env step (``frame_skip`` simulator steps with control u).

    Works with every integrator (``mjd_transitionFD`` does not support RK4, which gymnasium's Swimmer uses).
    State perturbations live in the tangent space (``mj_integratePos``), like ``mjd_transitionFD``'s.
    """
    import mujoco

    nv, na, nu = model.nv, model.na, model.nu
    nx = 2 * nv + na
    nominal = copy.copy(data)
    _env_step(model, nominal, u, frame_skip)
    ref = nominal.qpos.copy()
    x_nom = _tangent_state(model, nominal, ref)

    def perturbed(dx, du):
        d = copy.copy(data)
        mujoco.mj_integratePos(model, d.qpos, dx[:nv], 1.0)
        d.qvel[:] += dx[nv:2 * nv]
        if na:
            d.act[:] += dx[2 * nv:]
        _env_step(model, d, u + du, frame_skip)
        return _tangent_state(model, d, ref)

    def column(dx, du):
        plus = perturbed(eps * dx, eps * du)
        if centered:
            return (plus - perturbed(-eps * dx, -eps * du)) / (2 * eps)
        return (plus - x_nom) / eps

    eye_x, eye_u = np.eye(nx), np.eye(nu)
    A = np.stack([column(eye_x[i], np.zeros(nu)) for i in range(nx)], axis=1)
    B = np.stack([column(np.zeros(nx), eye_u[j]) for j in range(nu)], axis=1)
    return A, B, nominal


def empirical_gramian(model, data, controls, frame_skip: int = 1, eps: float = 1e-6,
                      centered: bool = True, method: str = "auto") -> EmpiricalGramian:
    """Gramian of a MuJoCo model linearised along the trajectory driven by ``controls`` from ``data``'s state.

    Along the nominal trajectory, a finite-difference linearisation of each env step gives
    δx' = A_k δx + B_k δu (x in MuJoCo's tangent coordinates: position differences, velocities, actuator
    activations). The Gramian of that time-varying system (:func:`time_varying_gramian`) is, to first order,
    the covariance the final state acquires when the controls are perturbed by i.i.d. N(0, I) noise;
    multiply by σ² for noise of std σ.

    Parameters
    ----------
    model, data : ``mujoco.MjModel`` and ``mujoco.MjData``; ``data`` is copied, not modified.
    controls : (T, nu) nominal controls, one row per env step.
    frame_skip : simulator steps per env step (gymnasium's Swimmer: 4), with the control held.
    eps, centered : finite-difference step and scheme.
    method : ``"mjd"`` uses ``mujoco.mjd_transitionFD`` per simulator step and chains the Jacobians
        (A_env = A_f ··· A_1, B_env = Σ_j A_f ··· A_{j+1} B_j); it does not support the RK4 integrator.
        ``"rollout"`` differences whole env steps by re-simulating perturbed copies (any integrator).
        ``"auto"``: ``"mjd"`` unless the model uses RK4.
    """
    import mujoco

    controls = np.asarray(controls, dtype=float)
    if controls.ndim != 2 or controls.shape[1] != model.nu:
        raise ValueError(f"controls must have shape (T, nu={model.nu}), got {controls.shape}")
    if not isinstance(frame_skip, (int, np.integer)) or frame_skip < 1:
        raise ValueError(f"frame_skip must be a positive integer, got {frame_skip!r}")
    rk4 = model.opt.integrator == mujoco.mjtIntegrator.mjINT_RK4
    if method == "auto":
        method = "rollout" if rk4 else "mjd"
    if method not in ("mjd", "rollout"):
        raise ValueError(f"unknown method {method!r}; valid methods are 'auto', 'mjd', 'rollout'")
    if method == "mjd" and rk4:
        raise ValueError("method 'mjd' needs a non-RK4 integrator (mjd_transitionFD does not support RK4); "
                         "use method 'rollout' or 'auto'")
    d = copy.copy(data)
    nx = 2 * model.nv + model.na
    a = np.zeros((nx, nx))
    b = np.zeros((nx, model.nu))
    As, Bs = [], []
    qpos, qvel = [d.qpos.copy()], [d.qvel.copy()]
    for u in controls:
        if method == "rollout":
            A_env, B_env, d = _fd_env_step(model, d, u, frame_skip, eps, centered)
        else:
            A_env = np.eye(nx)
            B_env = np.zeros((nx, model.nu))
            d.ctrl[:] = u
            for _ in range(frame_skip):
                mujoco.mjd_transitionFD(model, d, eps, int(centered), a, b, None, None)
                A_env = a @ A_env
                B_env = a @ B_env + b
                mujoco.mj_step(model, d)
        As.append(A_env)
        Bs.append(B_env)
        qpos.append(d.qpos.copy())
        qvel.append(d.qvel.copy())
    As, Bs = np.array(As), np.array(Bs)
    return EmpiricalGramian(time_varying_gramian(As, Bs), As, Bs, np.array(qpos), np.array(qvel),
                            float(model.opt.timestep * frame_skip))


def rollout_states(model, data, controls, frame_skip: int = 1) -> np.ndarray:
    """Final tangent-space state differences of open-loop rollouts, relative to the first rollout's start.

    ``controls``: (N, T, nu), one control per env step for each of N rollouts, all from ``data``'s state.
    Returns (N, 2·nv) final states as [mj_differentiatePos(start qpos → final qpos), final qvel] so that they
    live in the same coordinates as :class:`EmpiricalGramian`. Uses ``mujoco.rollout`` (native loop).
    """
    import mujoco
    from mujoco import rollout

    controls = np.asarray(controls, dtype=float)
    if controls.ndim != 3 or controls.shape[2] != model.nu:
        raise ValueError(f"controls must have shape (N, T, nu={model.nu}), got {controls.shape}")
    n, T, _ = controls.shape
    spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
    state0 = np.empty(mujoco.mj_stateSize(model, spec))
    mujoco.mj_getState(model, data, state0, spec)
    ctrl = np.repeat(controls, frame_skip, axis=1)
    d = mujoco.MjData(model)
    states, _ = rollout.rollout(model, d, state0[None, :], ctrl)
    final = states[:, -1, :]
    # FULLPHYSICS layout: time, qpos, qvel, act, ...
    qpos = final[:, 1:1 + model.nq]
    qvel = final[:, 1 + model.nq:1 + model.nq + model.nv]
    out = np.empty((n, 2 * model.nv))
    dq = np.empty(model.nv)
    for i in range(n):
        mujoco.mj_differentiatePos(model, dq, 1.0, data.qpos, qpos[i])
        out[i, :model.nv] = dq
    out[:, model.nv:] = qvel
    return out

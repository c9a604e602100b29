"""Controllability Gramians: closed forms, Lyapunov equations, quadrature, MuJoCo linearisations."""

import math

import mujoco
import numpy as np
import pytest
import scipy.integrate
import scipy.linalg

from mdrl_lib.theory.gramian import (
    controllability_gramian,
    controllability_matrix,
    empirical_gramian,
    gramian_logdet,
    numerical_rank,
    point_mass_gramian,
    point_mass_system,
    rollout_states,
    time_varying_gramian,
    zoh_discretise,
)


def rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def random_system(rng, n, m, shift=None):
    A = rng.normal(size=(n, n))
    if shift is not None:  # make it stable with spectral abscissa -shift
        A -= (np.max(np.linalg.eigvals(A).real) + shift) * np.eye(n)
    return A, rng.normal(size=(n, m))


def quad_gramian(A, B, T):
    Q = B @ B.T
    W, _ = scipy.integrate.quad_vec(lambda t: (lambda E: E @ Q @ E.T)(scipy.linalg.expm(A * t)), 0, T,
                                    epsrel=1e-13, epsabs=0)
    return W


@pytest.mark.parametrize("beta", [1.0, 0.1, 0.01, 0.001])
@pytest.mark.parametrize("T", [0.5, 1.0, 10.0])
def test_point_mass_closed_form(beta, T):
    A, B = point_mass_system(beta, axes=1)
    W = controllability_gramian(A, B, T)
    Wc = point_mass_gramian(beta, T)
    assert np.max(np.abs(W - Wc) / np.abs(Wc)) <= 1e-10
    det = beta**2 * T**4 / 12
    assert abs(np.linalg.det(W) / det - 1) <= 1e-10
    assert abs(math.expm1(gramian_logdet(W) - math.log(det))) <= 1e-10


def test_point_mass_two_axes_is_block_diagonal():
    beta, T = 0.01, 3.0
    A, B = point_mass_system(beta, axes=2)
    W = controllability_gramian(A, B, T)
    Wx, Wy = point_mass_gramian(beta, T), point_mass_gramian(1.0, T)
    assert np.allclose(W[np.ix_([0, 2], [0, 2])], Wx, rtol=1e-12, atol=0)
    assert np.allclose(W[np.ix_([1, 3], [1, 3])], Wy, rtol=1e-12, atol=0)
    assert np.all(W[np.ix_([0, 2], [1, 3])] == 0)
    assert abs(gramian_logdet(W) - math.log(beta**2 * T**8 / 144)) <= 1e-10


@pytest.mark.parametrize("n,m", [(2, 1), (5, 3)])
def test_continuous_matches_lyapunov_and_quadrature(n, m):
    rng = np.random.default_rng(n)
    A, B = random_system(rng, n, m, shift=0.3)
    W_inf = scipy.linalg.solve_continuous_lyapunov(A, -B @ B.T)
    assert rel(controllability_gramian(A, B, 400.0), W_inf) <= 1e-8
    T = 1.7
    E = scipy.linalg.expm(A * T)
    assert rel(controllability_gramian(A, B, T), W_inf - E @ W_inf @ E.T) <= 1e-8
    assert rel(controllability_gramian(A, B, T), quad_gramian(A, B, T)) <= 1e-8
    # unstable systems have no infinite-horizon Gramian, but the finite one is still exact
    Au, Bu = random_system(rng, n, m)
    assert rel(controllability_gramian(Au, Bu, T), quad_gramian(Au, Bu, T)) <= 1e-8


@pytest.mark.parametrize("n,m", [(2, 1), (5, 2)])
def test_discrete_matches_lyapunov_and_sum(n, m):
    rng = np.random.default_rng(10 + n)
    A, B = random_system(rng, n, m)
    A *= 0.9 / np.max(np.abs(np.linalg.eigvals(A)))
    W_inf = scipy.linalg.solve_discrete_lyapunov(A, B @ B.T)
    assert rel(controllability_gramian(A, B, 3000, discrete=True), W_inf) <= 1e-8
    for T in [0, 1, 2, 13, 64]:
        direct = sum((np.linalg.matrix_power(A, k) @ B @ B.T @ np.linalg.matrix_power(A, k).T
                      for k in range(T)), np.zeros((n, n)))
        W = controllability_gramian(A, B, T, discrete=True)
        assert (np.all(W == 0) if T == 0 else rel(W, direct) <= 1e-10)


def test_chain_of_integrators_nilpotent():
    """x1' = x2, ..., xn' = u: W_ij = T^(2n-i-j+1) / ((n-i)! (n-j)! (2n-i-j+1)), 1-based indices."""
    n, T = 4, 2.5
    A = np.diag(np.ones(n - 1), 1)
    B = np.zeros((n, 1))
    B[-1] = 1
    i, j = np.meshgrid(np.arange(1, n + 1), np.arange(1, n + 1), indexing="ij")
    fact = np.vectorize(math.factorial)
    Wc = T ** (2 * n - i - j + 1) / (fact(n - i) * fact(n - j) * (2 * n - i - j + 1))
    W = controllability_gramian(A, B, T)
    assert np.max(np.abs(W - Wc) / Wc) <= 1e-10
    assert numerical_rank(W) == n == np.linalg.matrix_rank(controllability_matrix(A, B))


def test_rank_deficient_system():
    # the third state is neither driven nor coupled: W has an exact zero row and column
    A = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, -1.0]])
    B = np.array([[0.0], [1.0], [0.0]])
    for W in (controllability_gramian(A, B, 2.0), controllability_gramian(np.eye(3) + 0.1 * A, B, 7, True)):
        assert numerical_rank(W) == 2 == np.linalg.matrix_rank(controllability_matrix(A, B))
        assert np.all(W[2] == 0) and np.all(W[:, 2] == 0)
        assert gramian_logdet(W) == -np.inf
    # a weak but genuine direction is not mistaken for an uncontrollable one
    Aw, Bw = point_mass_system(1e-6, axes=1)
    assert numerical_rank(controllability_gramian(Aw, Bw, 1.0)) == 2


def test_time_varying_reduces_to_discrete():
    rng = np.random.default_rng(3)
    A, B = random_system(rng, 3, 2)
    A *= 0.8 / np.max(np.abs(np.linalg.eigvals(A)))
    T = 9
    W = time_varying_gramian(np.repeat(A[None], T, 0), np.repeat(B[None], T, 0))
    assert rel(W, controllability_gramian(A, B, T, discrete=True)) <= 1e-12


def test_zoh_discretisation_of_point_mass():
    beta, dt = 0.1, 0.1
    Ad, Bd = zoh_discretise(*point_mass_system(beta, axes=1), dt)
    assert np.allclose(Ad, [[1, beta * dt], [0, 1]], rtol=1e-14, atol=0)
    assert np.allclose(Bd, [[beta * dt**2 / 2], [dt]], rtol=1e-14, atol=0)


def test_gramian_is_white_noise_state_covariance():
    rng = np.random.default_rng(4)
    A = np.array([[0.9, 0.2], [0.0, 0.7]])
    B = np.array([[0.0], [1.0]])
    T, N = 12, 40000
    x = np.zeros((N, 2))
    for _ in range(T):
        x = x @ A.T + rng.standard_normal((N, 1)) @ B.T
    W = controllability_gramian(A, B, T, discrete=True)
    se = np.sqrt((np.outer(np.diag(W), np.diag(W)) + W**2) / N)
    assert np.all(np.abs(np.cov(x.T) - W) <= 5 * se)


@pytest.mark.parametrize("bad", [
    dict(A=np.ones((2, 3)), B=np.ones((2, 1)), T=1.0),
    dict(A=np.eye(2), B=np.ones((3, 1)), T=1.0),
    dict(A=np.eye(2), B=np.ones((2, 1)), T=-1.0),
    dict(A=np.eye(2), B=np.ones((2, 1)), T=2.5, discrete=True),
    dict(A=np.eye(2), B=np.ones((2, 1)), T=np.nan),
])
def test_bad_input_raises(bad):
    with pytest.raises(ValueError):
        controllability_gramian(**bad)


SLIDER = """
<mujoco>
  <option timestep="0.01" integrator="{integrator}" gravity="0 0 -9.81"/>
  <worldbody>
    <body>
      <joint name="j" type="{joint}" axis="0 1 0"/>
      <geom type="capsule" fromto="0 0 0 0 0 -0.5" size="0.05" mass="1"/>
    </body>
  </worldbody>
  <actuator><motor joint="j" gear="1"/></actuator>
</mujoco>
"""


def test_empirical_gramian_of_linear_slider_is_exact():
    # a frictionless slider along y (orthogonal to gravity) under semi-implicit Euler is linear:
    # v' = v + h u / M, x' = x + h v'  (M = 1)
    model = mujoco.MjModel.from_xml_string(SLIDER.format(integrator="Euler", joint="slide"))
    data = mujoco.MjData(model)
    h, skip, T = model.opt.timestep, 3, 8
    A = np.array([[1.0, h], [0.0, 1.0]])
    B = np.array([[h * h], [h]])
    A_env = np.linalg.matrix_power(A, skip)
    B_env = sum(np.linalg.matrix_power(A, k) for k in range(skip)) @ B
    controls = np.random.default_rng(0).uniform(-1, 1, size=(T, 1))
    for method in ("mjd", "rollout"):
        eg = empirical_gramian(model, data, controls, frame_skip=skip, method=method)
        assert np.allclose(eg.A, A_env, atol=1e-7) and np.allclose(eg.B, B_env, atol=1e-9)
        assert rel(eg.gramian, controllability_gramian(A_env, B_env, T, discrete=True)) <= 1e-6
        assert eg.qpos.shape == (T + 1, 1) and eg.dt == pytest.approx(h * skip)
    assert np.all(data.qpos == 0) and data.time == 0  # the caller's data is untouched


def test_empirical_gramian_methods_agree_and_predict_noise():
    model = mujoco.MjModel.from_xml_string(SLIDER.format(integrator="Euler", joint="hinge"))
    data = mujoco.MjData(model)
    data.qpos[0] = 0.3
    controls = np.full((6, 1), 0.2)
    a = empirical_gramian(model, data, controls, frame_skip=2, method="mjd")
    b = empirical_gramian(model, data, controls, frame_skip=2, method="rollout")
    assert rel(b.gramian, a.gramian) <= 1e-5
    sigma, N = 1e-3, 3000
    rng = np.random.default_rng(1)
    X = rollout_states(model, data, controls[None] + sigma * rng.standard_normal((N, 6, 1)), frame_skip=2)
    C = np.cov(X.T) / sigma**2
    se = np.sqrt((np.outer(np.diag(a.gramian), np.diag(a.gramian)) + a.gramian**2) / N)
    assert np.all(np.abs(C - a.gramian) <= 5 * se)


def test_empirical_gramian_rejects_mjd_with_rk4():
    model = mujoco.MjModel.from_xml_string(SLIDER.format(integrator="RK4", joint="hinge"))
    data = mujoco.MjData(model)
    with pytest.raises(ValueError, match="RK4"):
        empirical_gramian(model, data, np.zeros((2, 1)), method="mjd")
    assert empirical_gramian(model, data, np.zeros((2, 1))).gramian.shape == (2, 2)  # auto → rollout
    with pytest.raises(ValueError, match="controls"):
        empirical_gramian(model, data, np.zeros((2, 3)))

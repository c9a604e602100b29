"""DIME (agents/dime.py): the checklist items of docs/methods/dime.md §6 that can be tested, plus resume and bad
input. § numbers refer to docs/methods/dime.md."""

import math

import numpy as np
import pytest
import torch
import xarray as xr
from scipy import integrate

from mdrl_lib.agents.dime import (
    DIMEActor,
    DIMEAgent,
    DIMEConfig,
    categorical_projection,
    cosine_step_shape,
    critic_loss,
    distributional_target,
    temperature_loss,
)
from mdrl_lib.envs import make_env
from mdrl_lib.train import TrainConfig, train


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny networks: one thread is faster, and robust to a loaded machine (OpenMP spin-waits)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


TINY = dict(score_hidden=(32, 32, 32), n_freq=16, time_hidden=16, critic_hidden=(32, 32), batch_size=16,
            learning_starts=60, buffer_size=2000)


def make():
    return make_env("Pendulum-v1", max_episode_steps=50)


def tiny_agent(seed=0, **kw):
    env = make()
    return DIMEAgent(env.observation_space, env.action_space, DIMEConfig(**{**TINY, **kw}), seed=seed,
                     device="cpu")


# ----- the step-size schedule (§1.2) -------------------------------------------------------------------------

def test_cosine_shape_and_initial_step_sizes_match_the_spec():
    g = cosine_step_shape(16)
    spec = [1.000, .988, .958, .910, .847, .771, .684, .591, .494, .398, .305, .220, .145, .084, .038, .010]
    np.testing.assert_allclose(g.numpy(), spec, atol=6e-4)
    actor = DIMEActor(3, 2, DIMEConfig(**TINY))
    eta = actor.etas().detach()
    assert eta.shape == (16, 2)
    assert math.isclose(float(eta[:, 0].sum()), 0.844, abs_tol=1e-3)
    assert math.isclose(float(eta[0, 0]), 0.1, rel_tol=1e-3) and math.isclose(float(eta[-1, 0]), 0.00104, rel_tol=0.01)


# ----- the chain: prior marginal with zero control, entropy bound ---------------------------------------------

def _gaussian_chain_moments(actor, bias):
    """Exact mean/variance of x_N for a constant control f = bias (a linear-Gaussian chain): (d,), (d,)."""
    eta = actor.etas().detach().double()
    m, v = torch.zeros(actor.act_dim, dtype=torch.float64), torch.full((actor.act_dim,), actor.prior_var).double()
    for e in eta:
        m = m * (1 - e / actor.prior_var) + e * bias
        v = v * (1 - e / actor.prior_var) ** 2 + 2 * e
    return m, v


def _actor_with_constant_control(bias, friction=(1.0, 0.5, 2.0)):
    actor = DIMEActor(4, 3, DIMEConfig(**TINY))
    with torch.no_grad():
        actor.out.weight.zero_()
        actor.out.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
        actor.raw_friction.copy_(torch.log(torch.expm1(torch.tensor(friction))))  # softplus^-1
    return actor


def test_zero_control_keeps_the_prior_marginal():
    actor = _actor_with_constant_control([0.0, 0.0, 0.0])
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        s = actor.sample(torch.randn(1, 4).expand(40_000, 4), generator=g)
    x = s.path[-1].double()
    _, v_exact = _gaussian_chain_moments(actor, 0.0)
    # Euler–Maruyama keeps N(0, σ₀²) up to O(η²/σ₀²) per step: the exact recursion stays within 0.5 % of 6.25
    assert torch.all((v_exact / 6.25 - 1).abs() < 0.005), v_exact
    se = math.sqrt(2 / x.shape[0]) * 6.25
    assert torch.all((x.var(0) - v_exact).abs() < 4 * se), (x.var(0), v_exact)
    assert torch.all(x.mean(0).abs() < 4 * 2.5 / math.sqrt(x.shape[0]))
    # every intermediate step too: the marginal is the prior's all along the chain
    assert torch.all((s.path.double().var(1) / 6.25 - 1).abs() < 0.03)


def _true_squashed_entropy(mean, var):
    """Entropy (nats) of tanh(x), x ~ N(mean, diag var): Σ_d [H(x_d) + E log(1 − tanh² x_d)] by quadrature."""
    total = 0.0
    for m, v in zip(mean.tolist(), var.tolist(), strict=True):
        sd = math.sqrt(v)

        def f(z, m=m, sd=sd):
            x = m + sd * z
            log_jac = 2 * (math.log(2) - x - math.log1p(math.exp(-2 * x)))
            return math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi) * log_jac

        total += 0.5 * math.log(2 * math.pi * math.e * v) + integrate.quad(f, -12, 12, limit=200)[0]
    return total


@pytest.mark.parametrize("bias", [[0.0, 0.0, 0.0], [1.5, -2.0, 0.5]])
def test_entropy_bound_is_below_the_true_entropy(bias):
    actor = _actor_with_constant_control(bias)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        s = actor.sample(torch.zeros(40_000, 4), generator=g)
    m, v = _gaussian_chain_moments(actor, torch.tensor(bias, dtype=torch.float64))
    true_h = _true_squashed_entropy(m, v)
    bound = s.entropy_bound.double()
    est, se = float(bound.mean()), float(bound.std() / math.sqrt(bound.numel()))
    assert est <= true_h + 3 * se, (est, true_h, se)
    if any(bias):  # the reference ignores the drift: the bound is strictly loose
        assert est < true_h - 0.05, (est, true_h)
    else:  # the OU reference is nearly the exact reverse of a zero-control chain: nearly tight
        assert true_h - est < 0.05, (est, true_h)


def test_actor_gradients_reach_step_size_friction_and_score_net():
    actor = DIMEActor(4, 3, DIMEConfig(**TINY))
    s = actor.sample(torch.randn(32, 4), generator=torch.Generator().manual_seed(0))
    loss = (s.cost + s.action.sum(-1)).mean()
    params = dict(actor.named_parameters())
    grads = dict(zip(params, torch.autograd.grad(loss, list(params.values())), strict=True))
    for name in ("raw_dt", "raw_friction", "out.weight", "out.bias", "layers.0.weight", "time_embedding.phase"):
        assert grads[name].abs().sum() > 0, name
    assert params["raw_dt"].shape == ()  # one learned scalar δ, not one per step


# ----- the distributional critic (§1.4) ----------------------------------------------------------------------

def test_projection_conserves_mass_and_matches_the_linear_split():
    support = torch.linspace(-10, 10, 11, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    probs = torch.softmax(torch.randn(2, 64, 11, generator=g, dtype=torch.float64), -1)
    atoms = torch.randn(2, 64, 11, generator=g, dtype=torch.float64) * 12  # many fall outside [-10, 10]
    atoms[0, 0] = support  # exactly on the grid
    atoms[0, 1] = support + 0.5 * 2.0  # exactly half-way
    out = categorical_projection(probs, atoms, support)
    torch.testing.assert_close(out.sum(-1), torch.ones(2, 64, dtype=torch.float64))
    assert torch.all(out >= 0)
    # reference: hat-function form of the same split, Σ_i p_i max(0, 1 − |clip(T z_i) − z_j| / Δz)
    hat = (1 - (atoms.clamp(-10, 10).unsqueeze(-1) - support).abs() / 2.0).clamp(min=0)
    torch.testing.assert_close(out, (probs.unsqueeze(-1) * hat).sum(-2))
    torch.testing.assert_close(out[0, 0], probs[0, 0])
    torch.testing.assert_close(out[0, 1, 1:], 0.5 * (probs[0, 1, :-1] + probs[0, 1, 1:]) + torch.cat(
        [torch.zeros(9, dtype=torch.float64), 0.5 * probs[0, 1, -1:]]))
    # expectation is preserved when nothing is clipped
    inside = atoms.clamp(-9.9, 9.9)
    torch.testing.assert_close((categorical_projection(probs, inside, support) * support).sum(-1),
                               (probs * inside).sum(-1))


def test_target_averages_the_two_projections_and_uses_alpha_and_done():
    support = torch.linspace(-4, 4, 9)
    p = torch.zeros(2, 1, 9)
    p[0, 0, 4], p[1, 0, 6] = 1.0, 1.0  # critic 0: all mass at 0; critic 1: all mass at 2
    y = distributional_target(p, torch.tensor([1.0]), torch.tensor([1.0]), torch.tensor([2.0]),
                              torch.tensor(0.5), 1.0, support)
    # atoms shift to 1 + (z − 0.5·2) = z: critic 0 → 0, critic 1 → 2; average 0.5/0.5
    expect = torch.zeros(9)
    expect[4], expect[6] = 0.5, 0.5
    torch.testing.assert_close(y[0], expect)
    y_done = distributional_target(p, torch.tensor([1.0]), torch.tensor([0.0]), torch.tensor([2.0]),
                                   torch.tensor(0.5), 1.0, support)
    expect = torch.zeros(9)
    expect[5] = 1.0  # terminal: everything at r = 1
    torch.testing.assert_close(y_done[0], expect)


def test_critic_loss_rewards_entropy_of_the_prediction():
    target = torch.full((1, 4, 5), 0.2)
    sharp, flat = torch.zeros(2, 4, 5), torch.zeros(2, 4, 5)
    sharp[..., 0] = 3.0
    # with a uniform target, CE is minimised by the flat prediction and the entropy term agrees
    assert critic_loss(flat, target[0], 0.005) < critic_loss(sharp, target[0], 0.005)
    torch.testing.assert_close(critic_loss(flat, target[0], 0.005),
                               torch.tensor(2 * (math.log(5) - 0.005 * math.log(5))))


# ----- the agent ---------------------------------------------------------------------------------------------

def _filled(agent, n=80, seed=0):
    env = make()
    obs, _ = env.reset(seed=seed)
    for _ in range(n):
        a = agent.act(obs)
        nxt, r, term, trunc, _ = env.step(a)
        agent.observe(obs, a, r, nxt, term, trunc)
        obs = env.reset()[0] if term or trunc else nxt
    return obs


def test_temperature_rises_when_the_running_cost_exceeds_4_per_dim():
    log_alpha = torch.tensor(0.0, requires_grad=True)
    temperature_loss(log_alpha, torch.full((8,), 10.0), 4.0).backward()
    assert log_alpha.grad < 0  # gradient descent increases log α
    agent = tiny_agent()
    assert agent.target_cost == 4.0 * 1  # T = 4|A| (Pendulum: |A| = 1), not the config's unused 6.0


def test_schedule_utd_policy_delay_renorm_calls_and_elementwise_clip():
    agent = tiny_agent()
    _filled(agent, 59)
    assert agent.update() == {}  # still in the 60-step warm-up
    _filled(agent, 10)
    seen = []
    step = agent.actor_opt.step

    def spy():
        seen.append(torch.cat([p.grad.flatten() for p in agent.actor_params]).clone())
        step()

    agent.actor_opt.step = spy
    for _ in range(5):
        m = agent.update()
    assert agent.n_critic_updates == 10
    assert agent.n_actor_updates == 4  # critic updates 0, 3, 6, 9
    assert int(agent.critics.input_norm.steps) == 10  # one train-mode pass per critic update (joint s, s')
    assert {"critic_loss", "q"} <= set(m)
    assert all(g.abs().max() <= 1.0 for g in seen)
    assert math.isclose(agent.alpha.item(), 1.0, rel_tol=0.05) and agent.alpha.item() != 1.0
    assert agent.actor_opt.param_groups[0]["betas"] == (0.5, 0.999)
    assert agent.critic_opt.param_groups[0]["betas"] == (0.5, 0.999)
    assert agent.alpha_opt.param_groups[0]["lr"] == 1e-3


def test_clip_is_elementwise_not_by_norm():
    agent = tiny_agent(alpha_init=1e4)  # huge α·c: large gradients
    _filled(agent, 70)
    grads = []
    step = agent.actor_opt.step
    agent.actor_opt.step = lambda: (grads.append([p.grad.clone() for p in agent.actor_params]), step())
    agent.update()
    flat = torch.cat([g.flatten() for g in grads[0]])
    assert (flat.abs() == 1.0).sum() > 10  # many elements clipped to exactly ±1 ...
    assert ((flat.abs() > 0) & (flat.abs() < 1.0)).sum() > 10  # ... others untouched (norm clipping scales all)


def test_warmup_acts_randomly_and_evaluation_samples_the_diffusion_policy():
    agent = tiny_agent()
    env = make()
    obs, _ = env.reset(seed=0)
    a1, a2 = agent.act(obs), agent.act(obs)
    assert a1.shape == (1,) and np.all(np.abs(a1) <= 2.0) and a1 != a2
    # evaluation: a fresh stochastic sample (no deterministic mode); at init ≈ tanh of N(0, 2.5²): saturated
    ev = np.array([agent.act(obs, deterministic=True) for _ in range(200)])
    assert len(np.unique(ev)) > 150 and np.mean(np.abs(ev) > 1.6) > 0.5
    samples = agent.sample_actions(np.stack([obs, obs]), 64, torch.Generator().manual_seed(0))
    assert samples.shape == (2, 64, 1) and np.all(np.abs(samples) <= 1.0)


class _Crash(RuntimeError):
    pass


class _CrashingAgent(DIMEAgent):
    """Raises after a given number of updates: an in-process stand-in for a killed run."""

    crash_after = None

    def update(self):
        if self.crash_after is not None and self.n_critic_updates >= self.crash_after:
            raise _Crash
        return super().update()


def test_checkpoint_resume_is_bit_identical(tmp_path):
    cfg = TrainConfig(total_steps=100, eval_every=25, eval_episodes=1, checkpoint_every=25, seed=3,
                      eval_deterministic=True)
    env = make()
    small = DIMEConfig(**{**TINY, "n_steps": 4, "learning_starts": 40})  # resume machinery, not the chain

    def agent(crash=None):
        a = _CrashingAgent(env.observation_space, env.action_space, small, seed=3, device="cpu")
        a.crash_after = crash
        return a

    reference = train(make, agent(), cfg, progress=False)
    with pytest.raises(_Crash):
        train(make, agent(crash=2 * 30), cfg, checkpoint_dir=tmp_path, progress=False)  # dies at step 71
    saved = torch.load(tmp_path / "last.pt", weights_only=False)
    assert saved["step"] == 50 and saved["agent"]["buffer"]["size"] == 50
    assert saved["agent"]["n_critic_updates"] == 2 * 10  # updates after steps 41..50
    resumed = train(make, agent(), cfg, checkpoint_dir=tmp_path, progress=False)
    xr.testing.assert_identical(resumed, reference)
    assert {"entropy_bound", "alpha", "c_run", "critic_loss"} <= set(reference.data_vars)


def test_bad_input():
    with pytest.raises(ValueError, match="n_atoms must be an integer >= 2, got 1"):
        DIMEConfig(n_atoms=1)
    with pytest.raises(ValueError, match="need v_min < v_max, got v_min=5.0, v_max=-5.0"):
        DIMEConfig(v_min=5.0, v_max=-5.0)
    assert DIMEConfig.for_env("Ant-v5").v_max == 1600.0 and DIMEConfig.for_env("dm_control/dog-run").v_max == 200.0
    assert DIMEConfig.for_env("Ant-v5").is_published and not DIMEConfig(critic_hidden=(256, 256)).is_published
    agent = tiny_agent()
    state = agent.state_dict()
    with pytest.raises(ValueError, match="DIME state was saved with config"):
        tiny_agent(batch_size=8).load_state_dict(state)


def test_experiment_bad_input_and_labels():
    from mdrl_lib.experiments import dime as exp
    from mdrl_lib.experiments import run_experiment

    with pytest.raises(ValueError, match="env 'Hopper-v5' has no released DIME curves to compare with; valid envs "
                                         "are Ant-v5, Humanoid-v5"):
        run_experiment("dime", "smoke", overrides={"env": "Hopper-v5"})
    with pytest.raises(ValueError, match="unknown config key\\(s\\) \\['seed'\\] for dime"):
        run_experiment("dime", "smoke", overrides={"seed": 1})
    with pytest.raises(ValueError, match="unknown field\\(s\\) \\['critic_width'\\] of DIME config"):
        exp.resolve({}, {**exp.SIZES["smoke"], "agent": {"critic_width": 256}})
    quick = exp.resolve({}, exp.SIZES["quick"]).agent
    assert exp.critic_label(quick) == "narrow critic 2x256 (published: 2x2048)" and not quick.is_published
    paper = exp.resolve({}, exp.SIZES["paper"]).agent
    assert exp.critic_label(paper) == "published critic 2x2048" and paper.is_published and paper.v_max == 1600

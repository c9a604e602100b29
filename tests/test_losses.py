"""Every RL loss of ``mdrl_lib.agents`` pinned to a value computed by hand (issue 14, "losses pinned").

Each test builds a tiny batch whose terms all matter (two critics that disagree, a nonzero temperature, entropy
terms of both signs, k < K−1 and k = K−1 rows, ...), so that a flipped sign or a min/mean swap changes the number.
The expected values are explicit arithmetic here, never a call of the library function under test. Where a loss
lives inside an agent method it is checked through the agent's public entry point (``update()``,
``gradient_step()``, ``policy_loss()``, ``prepare()``): the test records the minibatch and the policy samples the
method drew, recomputes the losses by hand from copies of the networks taken before the call, and compares them
with the metrics the method returns and with the temperature gradient it applies. The last tests are behaviour
tests on a 1-D problem with a known optimum. ``tools/mutations.py`` applies sign and min/mean mutations to the
agents one at a time and shows that each fails at least one test.
"""

from __future__ import annotations

import copy
import math
import sys
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from mdrl_lib.agents import diff_ppo, dime, ppo, sac, wpo
from mdrl_lib.agents.diff_ppo import DiffPPOAgent, DiffPPOConfig
from mdrl_lib.agents.diff_sac import DiffSACAgent, DiffSACConfig
from mdrl_lib.agents.diffusion_policy import DiffusionPolicyConfig
from mdrl_lib.agents.dime import DIMEAgent, DIMEConfig
from mdrl_lib.agents.ppo import PPOAgent, PPOConfig
from mdrl_lib.agents.sac import SACAgent, SACConfig
from mdrl_lib.agents.wpo import WPOAgent, WPOConfig

sys.path.insert(0, str(Path(__file__).parent))
from _agents_common import make_pendulum  # noqa: E402

LOG_2PI = math.log(2 * math.pi)


def close(actual, expected, atol=1e-5):
    torch.testing.assert_close(torch.as_tensor(actual, dtype=torch.float64),
                               torch.as_tensor(expected, dtype=torch.float64), atol=atol, rtol=1e-5)


def spy(obj, name: str) -> list:
    """Wrap ``obj.name`` so that every call's return value is appended to the returned list."""
    calls, original = [], getattr(obj, name)

    def wrapper(*args, **kwargs):
        out = original(*args, **kwargs)
        calls.append(out)
        return out

    setattr(obj, name, wrapper)
    return calls


def grad_at_step(opt: torch.optim.Optimizer, tensor: torch.Tensor) -> list:
    """Record ``tensor.grad`` each time ``opt.step()`` is called (the gradient the update applies)."""
    grads, step = [], opt.step

    def wrapper(*args, **kwargs):
        grads.append(tensor.grad.detach().clone())
        return step(*args, **kwargs)

    opt.step = wrapper
    return grads


def perturb_(module: torch.nn.Module, seed: int = 0, scale: float = 0.1) -> None:
    """Move a target network away from its online copy, so that using one for the other changes the loss."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g))


def fill(agent, n: int, seed: int = 0) -> None:
    """``n`` random Pendulum transitions (actions in ±2, rewards in [-8, 0], some terminations)."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        obs, nxt = rng.normal(size=3).astype(np.float32), rng.normal(size=3).astype(np.float32)
        agent.observe(obs, rng.uniform(-2, 2, 1).astype(np.float32), float(rng.uniform(-8, 0)), nxt,
                      i % 3 == 2, False)


# ----- SAC (2018b eqs. 5, 7, 18; 2018a for v1) ----------------------------------------------------------------

def test_sac_actor_loss_by_hand():
    q = torch.tensor([[1.0, -2.0, 0.5], [3.0, -1.0, 0.0]])  # (critics, B): min [1, -2, 0], mean [2, -1.5, .25]
    log_pi = torch.tensor([-1.0, 0.5, 2.0])
    # mean_b(α log π − min_j Q_j) = ((0.3·-1 − 1) + (0.3·0.5 + 2) + (0.3·2 − 0)) / 3
    close(sac.actor_loss(q, log_pi, torch.tensor(0.3)), ((-0.3 - 1.0) + (0.15 + 2.0) + (0.6 - 0.0)) / 3)


def test_sac_temperature_loss_by_hand():
    log_alpha = torch.tensor(math.log(0.5), requires_grad=True)
    log_pi = torch.tensor([-1.0, 0.5, 2.0], requires_grad=True)
    loss = sac.temperature_loss(log_alpha, log_pi, -1.0)
    # −α mean(log π + H̄) = −0.5 · mean(−2, −0.5, 1) = 0.25; d/d log α of α·x is α·x again
    close(loss, -0.5 * (-2.0 - 0.5 + 1.0) / 3)
    loss.backward()
    close(log_alpha.grad, -0.5 * (-2.0 - 0.5 + 1.0) / 3)
    assert log_pi.grad is None  # the policy does not learn from the temperature loss


def test_sac_v2_update_by_hand():
    """One ``SACAgent.update()``: critic loss, actor loss and the temperature gradient, recomputed by hand."""
    env = make_pendulum()
    cfg = SACConfig(hidden=(8, 8), batch_size=4, random_steps=0, gamma=0.9)
    agent = SACAgent(env.observation_space, env.action_space, cfg, seed=0, device="cpu")
    fill(agent, 6)
    perturb_(agent.critic_target)
    critics, target, alpha = copy.deepcopy(agent.critics), copy.deepcopy(agent.critic_target), float(agent.alpha)
    batches, samples = spy(agent.buffer, "sample"), spy(agent.actor, "sample")
    grads = grad_at_step(agent.actor_opt, agent.log_alpha)
    m = agent.update()
    b, s, B = batches[0], samples[0], 4
    r, nd = b["reward"][:, 0], b["not_done"][:, 0]
    with torch.no_grad():
        qn = target(torch.cat([b["next_obs"], s.a[B:]], -1))[..., 0]  # (2, B)
        y = r + 0.9 * nd * (torch.minimum(qn[0], qn[1]) - alpha * s.log_prob[B:])
        q = critics(torch.cat([b["obs"], b["action"]], -1))[..., 0]
        close(m["critic_loss"], ((q[0] - y) ** 2).mean() + ((q[1] - y) ** 2).mean())
        q_pi = agent.critics(torch.cat([b["obs"], s.a[:B]], -1))[..., 0]  # the critics after their step
        log_pi = s.log_prob[:B]
        close(m["actor_loss"], (alpha * log_pi - torch.minimum(q_pi[0], q_pi[1])).mean())
    close(grads[0], -alpha * (log_pi + (-1.0)).mean())  # target entropy −|A| = −1
    close(m["entropy"], -log_pi.mean())


def test_sac_v1_update_by_hand():
    """SAC v1 (MaxDiff's): V and twin-Q losses to their two targets, likelihood-ratio actor loss with penalties."""
    env = make_pendulum()
    # default last-layer init (not v1's ±3e-3): μ, log σ, V and Q of order 1, so that every term shows
    cfg = SACConfig.maxdiff("HalfCheetah-v5", hidden=(8, 8), batch_size=4, alpha=0.5, gamma=0.9, last_layer_init=None,
                            policy_reg=0.1, reward_scale=0.1)
    agent = SACAgent(env.observation_space, env.action_space, cfg, seed=0, device="cpu")
    fill(agent, 6)
    perturb_(agent.value_target)
    critics, value, value_target = (copy.deepcopy(n) for n in (agent.critics, agent.value, agent.value_target))
    batches, samples = spy(agent.buffer, "sample"), spy(agent.actor, "sample")
    m = agent.update()
    b, s = batches[0], samples[0]
    with torch.no_grad():
        y_q = b["reward"][:, 0] + 0.9 * b["not_done"][:, 0] * value_target(b["next_obs"])[0, :, 0]
        q_new = critics(torch.cat([b["obs"], s.a], -1))[..., 0]
        q_new = torch.minimum(q_new[0], q_new[1])
        y_v = q_new - 0.5 * s.log_prob
        q = critics(torch.cat([b["obs"], b["action"]], -1))[..., 0]
        v = value(b["obs"])[0, :, 0]
        close(m["critic_loss"], ((q[0] - y_q) ** 2).mean() + ((q[1] - y_q) ** 2).mean() + 0.5 * ((v - y_v) ** 2).mean())
        weight = 0.5 * s.log_prob - (q_new - v)
        reg = 0.1 * ((s.mean ** 2).mean() + (s.log_std ** 2).mean())
        close(m["actor_loss"], (s.log_prob * weight).mean() + reg)


# ----- PPO (Schulman et al. 2017) ------------------------------------------------------------------------------

def test_ppo_clipped_surrogate_by_hand():
    log_old = torch.zeros(4)
    ratio = torch.tensor([1.5, 0.5, 1.1, 0.7])
    adv = torch.tensor([2.0, -1.0, -3.0, 1.0])
    loss, _ = ppo.clipped_surrogate(ratio.log(), log_old, adv, 0.2)
    # min(ρA, clip(ρ)A): [min(3, 2.4), min(−0.5, −0.8), min(−3.3, −3.3), min(0.7, 0.8)]
    close(loss, -(2.4 - 0.8 - 3.3 + 0.7) / 4)


def test_ppo_value_loss_by_hand():
    v, v_old, ret = torch.tensor([1.0, 0.0, 2.0]), torch.tensor([0.5, 0.5, 0.5]), torch.tensor([2.0, -1.0, 0.0])
    close(ppo.value_loss(v, v_old, ret, None), 0.5 * (1.0 + 1.0 + 4.0) / 3)
    # clipped: v_old + clip(v − v_old, ±0.2) = [0.7, 0.3, 0.7]; squared errors [1.69, 1.69, 0.49]; max with [1, 1, 4]
    close(ppo.value_loss(v, v_old, ret, 0.2), 0.5 * (1.69 + 1.69 + 4.0) / 3)


def test_ppo_soft_reward_and_gae_by_hand():
    """``PPOAgent.prepare`` with ``entropy_coef`` c: GAE on r − c log π (the MaxEnt form DiffPPO builds on)."""
    env = make_pendulum()
    cfg = PPOConfig(n_steps=3, n_minibatches=1, gamma=0.9, gae_lambda=0.5, entropy_coef=0.1, hidden=(4,))
    agent = PPOAgent(env.observation_space, env.action_space, cfg, seed=0, device="cpu")
    rows = [(1.0, -1.0, 0.5), (0.0, 2.0, 1.0), (2.0, 0.5, -0.5)]  # (reward, log π, V); the last step terminates
    R = [{"obs": torch.zeros(3), "action": torch.zeros(1), "log_prob": torch.tensor(lp), "value": torch.tensor(v),
          "reward": r, "discount": 0.0 if t == 2 else 0.9, "end": t == 2, "next_obs": np.zeros(3)}
         for t, (r, lp, v) in enumerate(rows)]
    d = agent.prepare(R)
    # soft rewards 1.1, −0.2, 1.95; TD errors with γ = 0.9; A_t = δ_t + γλ A_{t+1} with γλ = 0.45
    d0, d1, d2 = 1.1 + 0.9 * 1.0 - 0.5, -0.2 + 0.9 * -0.5 - 1.0, 1.95 + 0.0 + 0.5
    a2 = d2
    a1 = d1 + 0.45 * a2
    a0 = d0 + 0.45 * a1
    close(d["adv"], [a0, a1, a2])
    close(d["returns"], [a0 + 0.5, a1 + 1.0, a2 - 0.5])


# ----- WPO (Pfau et al. 2025) -----------------------------------------------------------------------------------

def test_wpo_loss_by_hand():
    score = torch.tensor([[1.0, -2.0], [0.5, 0.0]], requires_grad=True)
    grad_q = torch.tensor([[0.5, 1.0], [-1.0, 2.0]])
    loss = wpo.wpo_loss(score, grad_q, torch.tensor(0.5))
    # velocity ∇Q − α ∇log π = [[0, 2], [−1.25, 2]]; per sample v·score = [−4, −0.625]; loss = −mean
    close(loss, -(-4.0 - 0.625) / 2)
    loss.backward()
    close(score.grad, -torch.tensor([[0.0, 2.0], [-1.25, 2.0]]) / 2)  # the velocity is held fixed


def test_wpo_agent_policy_loss_by_hand():
    """``WPOAgent.policy_loss`` with the analytic tanh-Gaussian score and the min of the twin critics' ∇Q."""
    env = make_pendulum()
    agent = WPOAgent(env.observation_space, env.action_space, WPOConfig(hidden=(8, 8)), seed=0, device="cpu")
    obs = torch.randn(6, 3, generator=torch.Generator().manual_seed(0))
    pi = agent.actor.sample(obs, torch.Generator().manual_seed(1))
    alpha = torch.tensor(0.7)
    ours = agent.policy_loss(obs, pi, alpha)
    u = pi.u.detach().requires_grad_(True)
    q = agent.critics(torch.cat([obs, torch.tanh(u)], -1))[..., 0]
    grad_q = torch.autograd.grad(torch.minimum(q[0], q[1]).sum(), u)[0]
    mean, var = pi.mean.detach(), (2 * pi.log_std.detach()).exp()
    score = -(u.detach() - mean) / var + 2 * torch.tanh(u.detach())  # ∂/∂u [log N(u; μ, σ²) − log(1 − tanh² u)]
    close(ours, -((grad_q - 0.7 * score) * score).sum(-1).mean())


def test_gaussian_kl_is_the_forward_kl():
    g = torch.Generator().manual_seed(3)
    m0, m1 = torch.randn(5, 2, generator=g), torch.randn(5, 2, generator=g)
    v0, v1 = torch.rand(5, 2, generator=g) + 0.1, torch.rand(5, 2, generator=g) + 0.1
    # KL(N(0, 1) ‖ N(1, 4)) = ½ (log 4 + (1 + 1)/4 − 1) per dimension
    close(wpo.gaussian_kl(torch.zeros(1, 1), torch.ones(1, 1), torch.ones(1, 1), torch.full((1, 1), 4.0)),
          torch.tensor([0.5 * (math.log(4.0) + 0.5 - 1.0)]))
    expected = torch.distributions.kl_divergence(torch.distributions.Normal(m0, v0.sqrt()),
                                                 torch.distributions.Normal(m1, v1.sqrt())).sum(-1)
    close(wpo.gaussian_kl(m0, v0, m1, v1), expected)


def test_trust_region_clipped_loss_and_multiplier_by_hand():
    surrogate = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    kl = torch.tensor([0.01, 0.05, 0.02], requires_grad=True)
    lam = torch.tensor(0.3)
    loss = wpo.clipped_trust_region_loss(surrogate, kl, 0.02, lam)
    close(loss, (1.0 + 0.3 * 0.05 + 0.3 * 0.02) / 3)  # a KL at the bound is clipped
    loss.backward()
    close(surrogate.grad, torch.tensor([1.0, 0.0, 0.0]) / 3)
    close(kl.grad, torch.tensor([0.0, 0.3, 0.3]) / 3)
    log_lam = torch.tensor(math.log(0.3), requires_grad=True)
    ll = wpo.lagrange_loss(log_lam, kl, 0.02)  # mean KL 0.08/3 > 0.02
    close(ll, -0.3 * (0.08 / 3 - 0.02))
    ll.backward()
    assert log_lam.grad < 0  # descent raises λ while the KL exceeds the bound


def test_wpo_agent_trust_region_by_hand():
    """After the actor moves away from its frozen copy, rows over the bound give λ·KL(N_old ‖ N) in u."""
    env = make_pendulum()
    bound = 0.05
    agent = WPOAgent(env.observation_space, env.action_space,
                     WPOConfig(hidden=(8, 8), trust_region=wpo.TrustRegionConfig(bound=bound)), seed=0, device="cpu")
    obs = torch.randn(8, 3, generator=torch.Generator().manual_seed(0))
    pi = agent.actor.sample(obs, torch.Generator().manual_seed(1))
    agent.policy_loss(obs, pi, torch.tensor(0.7))  # first call: frozen copy taken
    with torch.no_grad():
        for p in agent.actor.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    pi = agent.actor.sample(obs, torch.Generator().manual_seed(1))
    m0, ls0 = (t.detach() for t in agent.trust.old(obs))
    m1, ls1 = pi.mean.detach(), pi.log_std.detach()
    kl = (ls1 - ls0 + ((2 * ls0).exp() + (m0 - m1) ** 2) / (2 * (2 * ls1).exp()) - 0.5).sum(-1)
    assert (kl >= bound).any() and (kl < bound).any(), kl
    u = pi.u.detach().requires_grad_(True)
    q = agent.critics(torch.cat([obs, torch.tanh(u)], -1))[..., 0]
    grad_q = torch.autograd.grad(torch.minimum(q[0], q[1]).sum(), u)[0]
    score = -(u.detach() - m1) / (2 * ls1).exp() + 2 * torch.tanh(u.detach())
    surrogate = -((grad_q - 0.7 * score) * score).sum(-1)
    lam = agent.trust.lam.clone()
    close(agent.policy_loss(obs, pi, torch.tensor(0.7)), torch.where(kl < bound, surrogate, lam * kl).mean())


# ----- DiffSAC (docs/methods/diffmaxent.md §3.3) -------------------------------------------------------------

def diffsac_agent(K=3, **sac):
    env = make_pendulum()
    cfg = DiffSACConfig(sac=SACConfig(hidden=(8, 8), batch_size=8, random_steps=0, gamma=0.9, **sac),
                        diffusion=DiffusionPolicyConfig(n_steps=K, hidden=(8, 8), out_scale=1.0),
                        updates_per_step=1)
    return DiffSACAgent(env.observation_space, env.action_space, cfg, seed=0, device="cpu")


def env_batch(agent, n, seed=0):
    g = torch.Generator().manual_seed(seed)
    d, o, K = agent.act_dim, agent.obs_dim, agent.K
    return {"obs": torch.randn(n, o, generator=g), "path": torch.randn(n, (K + 1) * d, generator=g),
            "reward": torch.randn(n, 1, generator=g), "next_obs": torch.randn(n, o, generator=g),
            "not_done": torch.tensor([[1.0], [0.0]]).repeat(n // 2, 1)}


def test_diffsac_augmented_batch_by_hand():
    """Reward and discount only at k = K−1: no discounting inside the denoising chain."""
    agent = diffsac_agent(K=3)
    b = env_batch(agent, 32)
    z = agent.augmented_batch(b)
    path, k = b["path"].view(32, 4, 1), z["k"]
    assert set(k.tolist()) == {0, 1, 2}
    for i in range(32):
        last = int(k[i]) == 2
        close(z["x"][i], path[i, k[i]])
        close(z["x_next"][i], path[i, k[i] + 1])
        close(z["reward"][i], b["reward"][i, 0] if last else 0.0)
        close(z["discount"][i], 0.9 * b["not_done"][i, 0] if last else 1.0)
        close(z["next_obs"][i], b["next_obs"][i] if last else b["obs"][i])
        assert int(z["next_k"][i]) == (0 if last else int(k[i]) + 1)
        if not last:
            close(z["next_x"][i], path[i, k[i] + 1])


def test_diffsac_gradient_step_by_hand():
    """``DiffSACAgent.gradient_step``: the soft target with −αℓ, the actor loss αℓ − min Q and the temperature
    gradient on the bound H(prior) − K ℓ, each recomputed by hand."""
    K, B, d = 3, 8, 1
    agent = diffsac_agent(K=K, alpha=0.5)
    b = env_batch(agent, B, seed=1)
    z = agent.augmented_batch(b)
    assert 0 < int((z["k"] == K - 1).sum()) < B  # both kinds of rows
    perturb_(agent.critic_target)
    critics, target, alpha = copy.deepcopy(agent.critics), copy.deepcopy(agent.critic_target), float(agent.alpha)
    steps = spy(agent.policy, "step")
    grads = grad_at_step(agent.actor_opt, agent.log_alpha)
    m = agent.gradient_step(z)
    x_new, log_q, log_p = steps[0]
    ell = (log_q - log_p).detach()

    def q_in(obs, x, k, x_next):
        return torch.cat([obs, x, F.one_hot(k, K).float(), x_next], -1)

    last = z["k"] == K - 1
    reward = torch.where(last, b["reward"][:, 0], 0.0)
    discount = torch.where(last, 0.9 * b["not_done"][:, 0], 1.0)
    with torch.no_grad():
        qn = target(q_in(z["next_obs"], z["next_x"], z["next_k"], x_new[B:]))[..., 0]
        y = reward + discount * (torch.minimum(qn[0], qn[1]) - alpha * ell[B:])
        q = critics(q_in(z["obs"], z["x"], z["k"], z["x_next"]))[..., 0]
        close(m["critic_loss"], ((q[0] - y) ** 2).mean() + ((q[1] - y) ** 2).mean())
        q_pi = agent.critics(q_in(z["obs"], z["x"], z["k"], x_new[:B]))[..., 0]
        close(m["actor_loss"], (alpha * ell[:B] - torch.minimum(q_pi[0], q_pi[1])).mean())
    h_prior = 0.5 * d * math.log(2 * math.pi * math.e * 3.0 ** 2)
    log_pi_est = K * ell[:B] - h_prior  # −(entropy lower bound)
    close(grads[0], -alpha * (log_pi_est + (-1.0 * d)).mean())
    close(m["entropy_bound"], h_prior - K * ell[:B].mean())


# ----- DiffPPO (docs/methods/diffmaxent.md §3.1) -------------------------------------------------------------

def _diffppo_inputs():
    log_q = torch.tensor([-1.0, 0.5, 0.2], requires_grad=True)
    log_p = torch.tensor([-0.5, 0.3, -1.0], requires_grad=True)
    return log_q, log_p, torch.tensor([-1.2, 0.5, 0.6]), torch.tensor([1.0, -0.5, 2.0]), torch.tensor([0.0, 1.0, -2.0])


def _diffppo_by_hand(norm_adv):
    """(surrogate, reference term, d surrogate/d log q, d reference/d log p) in numpy, c = 0.5, ε = 0.2."""
    log_q, log_p, log_q_old = np.array([-1.0, 0.5, 0.2]), np.array([-0.5, 0.3, -1.0]), np.array([-1.2, 0.5, 0.6])
    adv, ell_old, c = np.array([1.0, -0.5, 2.0]), np.array([0.0, 1.0, -2.0]), 0.5
    a = adv + c * (ell_old - (log_q - log_p))  # Â = A + c (ℓ_old − ℓ_θ) = [1.25, −0.1, 0.4]
    std = a.std(ddof=1) + 1e-8 if norm_adv else 1.0
    if norm_adv:
        a = (a - a.mean()) / std
    rho = np.exp(log_q - log_q_old)
    unclipped, clipped = rho * a, np.clip(rho, 0.8, 1.2) * a
    surrogate = -np.minimum(unclipped, clipped).mean()
    d_log_q = np.where(unclipped <= clipped, -rho * a / 3, 0.0)  # only the unclipped branch carries ρ's gradient
    return surrogate, -(c * rho * log_p).mean() / std, d_log_q, -c * rho / 3 / std


def test_diffppo_actor_loss_by_hand():
    """Advantage correction A + c(ℓ_old − ℓ_θ), per-step clipped ratio, reference term −c ρ log p / std."""
    for norm_adv in (False, True):
        log_q, log_p, log_q_old, adv, ell_old = _diffppo_inputs()
        pl, ref, ratio, ell_now = diff_ppo.actor_loss(log_q, log_p, log_q_old, adv, ell_old, 0.5, 0.2, norm_adv)
        surrogate, reference, d_log_q, d_log_p = _diffppo_by_hand(norm_adv)
        close(pl, surrogate)
        close(ref, reference)
        close(ratio, np.exp([0.2, 0.0, -0.4]))
        close(ell_now, [-0.5, 0.2, 1.2])
        (pl + ref).backward()
        close(log_q.grad, d_log_q)
        close(log_p.grad, d_log_p)  # log p enters only through the reference term: ℓ_θ and ρ are held fixed


def test_diffppo_prepare_by_hand():
    """GAE over the augmented time axis on r̃ = r·[k = K−1] − cℓ, with γ and λ at env steps only."""
    env = make_pendulum()
    cfg = DiffPPOConfig(ppo=PPOConfig(n_steps=2, n_minibatches=1, gamma=0.9, gae_lambda=0.5, entropy_coef=0.1,
                                      hidden=(4,)),
                        diffusion=DiffusionPolicyConfig(n_steps=2, hidden=(4,)))
    agent = DiffPPOAgent(env.observation_space, env.action_space, cfg, seed=0, device="cpu")
    R = [{"obs": torch.zeros(3), "path": torch.zeros(3, 1), "log_q": torch.zeros(2), "ell": torch.tensor(ell),
          "value": torch.tensor(v), "reward": r, "discount": 0.0 if t == 1 else 0.9, "end": t == 1,
          "next_obs": np.zeros(3)}
         for t, (r, ell, v) in enumerate([(1.0, [0.5, -1.0], [0.2, 0.4]), (2.0, [2.0, 0.0], [-0.3, 0.1])])]
    d = agent.prepare(R)
    # soft rewards (t, k): (0,0) −0.05, (0,1) 1 + 0.1, (1,0) −0.2, (1,1) 2 − 0; the episode ends at (1,1)
    d00 = -0.05 + 1.0 * 0.4 - 0.2  # inside the chain: no discount
    d01 = 1.1 + 0.9 * -0.3 - 0.4  # env step: γ, next state (s_1, x_0 of step 1, k=0)
    d10 = -0.2 + 1.0 * 0.1 - -0.3
    d11 = 2.0 + 0.0 - 0.1  # terminated
    a11 = d11
    a10 = d10 + 1.0 * a11  # λ = 1 inside the chain
    a01 = d01 + 0.9 * 0.5 * a10
    a00 = d00 + 1.0 * a01
    close(d["adv"], [a00, a01, a10, a11])
    close(d["returns"], [a00 + 0.2, a01 + 0.4, a10 - 0.3, a11 + 0.1])
    assert d["k"].tolist() == [0, 1, 0, 1]


# ----- DIME (docs/methods/dime.md §1.4) ----------------------------------------------------------------------

def test_dime_actor_loss_by_hand():
    q = torch.tensor([[1.0, -2.0, 0.5], [3.0, -1.0, 0.0]])  # (critics, B): mean [2, −1.5, 0.25], min [1, −2, 0]
    cost = torch.tensor([-1.0, 0.5, 2.0])
    # mean_b(α c − mean_j Q_j) = ((−0.3 − 2) + (0.15 + 1.5) + (0.6 − 0.25)) / 3
    close(dime.actor_loss(q, cost, torch.tensor(0.3)), ((-0.3 - 2.0) + (0.15 + 1.5) + (0.6 - 0.25)) / 3)


def test_dime_temperature_loss_by_hand():
    log_alpha = torch.tensor(math.log(0.5), requires_grad=True)
    c_run = torch.tensor([10.0, 2.0, 3.0], requires_grad=True)
    loss = dime.temperature_loss(log_alpha, c_run, 4.0)
    close(loss, -0.5 * ((10.0 + 2.0 + 3.0) / 3 - 4.0))  # −α (mean c_run − T)
    loss.backward()
    close(log_alpha.grad, -0.5 * (5.0 - 4.0))
    assert c_run.grad is None


def test_dime_critic_loss_by_hand():
    logits = torch.tensor([[[0.0, 1.0, 2.0], [1.0, 0.0, 0.0]], [[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]]])  # (2, B=2, 3)
    target = torch.tensor([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    p = np.exp(logits.numpy()) / np.exp(logits.numpy()).sum(-1, keepdims=True)
    ce = -(target.numpy() * np.log(p)).sum(-1)  # (2, B)
    neg_entropy = (p * np.log(p)).sum(-1)
    close(dime.critic_loss(logits, target, 0.1), (ce + 0.1 * neg_entropy).mean(-1).sum())


def test_dime_update_by_hand():
    """One ``DIMEAgent.update()`` (UTD 1, actor every update): the critic loss against the mean of both critics'
    projected targets with −αc', the actor loss α c − mean Q, and the temperature gradient on c_run only."""
    env = make_pendulum()
    cfg = DIMEConfig(n_steps=4, score_hidden=(16, 16), n_freq=8, time_hidden=8, critic_hidden=(16, 16), n_atoms=11,
                     v_min=-20.0, v_max=20.0, batch_size=8, learning_starts=10, buffer_size=100, utd=1,
                     policy_delay=1, alpha_init=0.5)
    agent = DIMEAgent(env.observation_space, env.action_space, cfg, seed=0, device="cpu")
    fill(agent, 12)
    critics, alpha, B = copy.deepcopy(agent.critics), float(agent.alpha), 8
    batches, samples = spy(agent.buffer, "sample"), spy(agent.actor, "sample")
    grads = grad_at_step(agent.alpha_opt, agent.log_alpha)
    m = agent.update()
    b, nxt, s = batches[0], samples[0], samples[1]
    z = torch.linspace(-20.0, 20.0, 11)
    with torch.no_grad():
        logits = critics.train()(torch.cat([torch.cat([b["obs"], b["action"]], -1),
                                            torch.cat([b["next_obs"], nxt.action], -1)]))
        p_next = torch.softmax(logits[:, B:], -1)  # (2, B, 11)
        atoms = b["reward"] + 0.99 * b["not_done"] * (z - alpha * (nxt.c_run + nxt.c_term)[:, None])  # (B, 11)
        hat = (1 - (atoms.clamp(-20, 20)[:, :, None] - z).abs() / 4.0).clamp(min=0)  # (B, from atom, to atom)
        proj = (p_next[..., None] * hat).sum(-2)  # each critic's projection, (2, B, 11)
        tgt = 0.5 * (proj[0] + proj[1])
        log_p = logits[:, :B] - logits[:, :B].logsumexp(-1, keepdim=True)
        per_critic = (-(tgt * log_p).sum(-1) + 0.005 * (log_p.exp() * log_p).sum(-1)).mean(-1)
        close(m["critic_loss"], per_critic[0] + per_critic[1])
        agent.critics.eval()  # the actor sees the critics in eval mode
        q = torch.softmax(agent.critics(torch.cat([b["obs"], s.action], -1)), -1) @ z
        agent.critics.train()
        close(m["actor_loss"], (alpha * (s.c_run + s.c_term) - 0.5 * (q[0] + q[1])).mean())
    close(grads[0], -alpha * (s.c_run.detach().mean() - 4.0 * 1))  # T = 4|A|, running cost only


# ----- behaviour: the MaxEnt optimum of a 1-D quadratic Q is N(m, α) ----------------------------------------

M, ALPHA = 0.7, 0.25  # Q(a) = −(a − M)²/2, so π*(a) ∝ exp(Q(a)/α) is N(M, α): σ = 0.5


def fit_gaussian(loss_fn, steps=600, n=256, learn_std=True):
    """Adam on (μ, log σ) of N(μ, σ²) from N(0, 1); returns (μ, σ²) averaged over the last 100 steps."""
    g = torch.Generator().manual_seed(0)
    mu, log_std = torch.zeros((), requires_grad=True), torch.zeros((), requires_grad=learn_std)
    opt = torch.optim.Adam([mu, log_std] if learn_std else [mu], lr=0.03)
    trace = []
    for i in range(steps):
        loss = loss_fn(mu, log_std, torch.randn(n, generator=g))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= steps - 100:
            trace.append((mu.item(), (2 * log_std.detach()).exp().item()))
    return np.mean(trace, 0)


def quadratic_q(a):
    return -0.5 * (a - M) ** 2


def test_sac_and_dime_actor_losses_reach_the_maxent_optimum():
    def sample(mu, log_std, eps):
        a = mu + log_std.exp() * eps  # reparameterised
        return a, -0.5 * eps ** 2 - log_std - 0.5 * LOG_2PI  # log N(a; μ, σ²)

    def sac_loss(mu, log_std, eps):
        a, log_pi = sample(mu, log_std, eps)
        return sac.actor_loss(torch.stack([quadratic_q(a), quadratic_q(a) + 1.0]), log_pi, torch.tensor(ALPHA))

    def dime_loss(mu, log_std, eps):
        a, log_pi = sample(mu, log_std, eps)
        return dime.actor_loss(torch.stack([quadratic_q(a), quadratic_q(a) + 1.0]), log_pi, torch.tensor(ALPHA))

    for loss in (sac_loss, dime_loss):
        mu, var = fit_gaussian(loss)
        assert abs(mu - M) < 0.05 and abs(var / ALPHA - 1) < 0.15, (loss.__name__, mu, var)


def test_wpo_flow_reaches_the_maxent_optimum():
    """WPO's fixed point without preconditioning is the same: E[∂_θ∂_a log π · (∇Q − α ∇log π)] = 0 at N(M, α)."""
    def wpo_loss(mu, log_std, eps):
        a = (mu + log_std.exp() * eps).detach()  # sampled, then held fixed
        score = -(a - mu) / (2 * log_std).exp()  # ∇_a log N(a; μ, σ²), differentiable in θ
        return wpo.wpo_loss(score[:, None], (-(a - M))[:, None], torch.tensor(ALPHA))

    mu, var = fit_gaussian(wpo_loss)
    assert abs(mu - M) < 0.05 and abs(var / ALPHA - 1) < 0.15, (mu, var)


def test_ppo_surrogate_moves_the_mean_to_the_optimum():
    def ppo_loss(mu, log_std, eps):
        a = (mu + log_std.exp() * eps).detach()  # the "rollout" of the current policy
        adv = quadratic_q(a) - quadratic_q(a).mean()
        log_prob = -0.5 * ((a - mu) / log_std.exp()) ** 2
        return ppo.clipped_surrogate(log_prob, log_prob.detach(), adv, 0.2)[0]

    mu, _ = fit_gaussian(ppo_loss, steps=300, learn_std=False)
    assert abs(mu - M) < 0.05, mu

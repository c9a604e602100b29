"""DIME: diffusion-based maximum-entropy RL (Celik et al., ICML 2025, arXiv 2502.02316), top to bottom.

Written from the method note ``docs/methods/dime.md`` (the authors' JAX code at commit 7082bb7, described, not
ported). § numbers refer to docs/methods/dime.md.

* **Actor** (§1.2): a 16-step Euler–Maruyama chain from the fixed prior ``x_0 ~ N(0, σ₀² I)``, σ₀ = 2.5::

      x_{n+1} = x_n + η_n (−x_n/σ₀² + f_θ(x_n, s, n)) + sqrt(2 η_n) ε_n,      a = tanh(x_N)
      η_n = softplus(δ) · g(n) / softplus(φ)      (one learned scalar δ, learned per-dimension friction φ,
                                                   fixed cosine shape g)

  The reference (noising) kernel is the same OU step run backwards with no learned part:
  ``B(x_n | x_{n+1}) = N(x_{n+1} − η_n x_{n+1}/σ₀², 2 η_n)``.
* **Entropy bound** (§1.3): per sample, ``c_term = log N(x_0; 0, σ₀²)`` and
  ``c_run = Σ_n [log F(x_{n+1}|x_n) − log B(x_n|x_{n+1})] − Σ_d log(1 − tanh²(x_{N,d}))``; then
  ``E[c_run + c_term] ≥ E[log π(a|s)]``, so ``−E[c]`` is a lower bound on the policy's entropy.
* **Actor loss** (§1.4): ``E[−Q̄(s, a) + α (c_run + c_term)]`` with ``Q̄`` the *mean* of the two critics'
  expected values (critics in eval mode), backpropagated through all 16 steps, δ and φ included.
* **Critics** (§1.4): two C51-style categorical critics (101 atoms on [v_min, v_max]) with batch
  renormalisation and *no target network* (CrossQ): one train-mode forward over ``[(s, a); (s', a')]``;
  each critic's next-state distribution is shifted to ``r + γ(1−d)(z − α c')`` and projected, the two
  projections are averaged, and each critic minimises ``CE(target, p) + 0.005 Σ p log p``.
* **Temperature** (§1.4): ``−α (mean(c_run) − 4|A|)`` on log α — the running cost only, target +4|A|.
* **Schedule** (§1.4): 5,000 random steps, then per env step 2 critic updates on two fresh minibatches;
  actor and α every 3rd critic update (counted globally, from update 0). Adam β₁ = 0.5; the actor's
  gradients have NaNs zeroed and are clipped element-wise to ±1.

Why not :class:`mdrl_lib.agents.diffusion_policy.DiffusionPolicy`: its step size is a learned *vector*
``softplus(raw_dt_k)`` (one free parameter per step), where DIME learns one scalar δ that scales a fixed
cosine shape (``per_step_dt`` False in the authors' config); its time embedding has a fixed 32-unit hidden
layer where DIME's is 256 → 256; and it clips actions to ±0.999. Bending it to DIME would change that
algorithm's parametrisation, so DIME's actor is written here from the same building blocks
(:mod:`mdrl_lib.nets`).

Evaluation (§1.4): the diffusion policy has no deterministic mode; the authors' ``predict`` ignores its
``deterministic`` flag. :meth:`DIMEAgent.act` does the same for the policy: ``deterministic=True`` only
marks a call as *not* an exploration step (so the random warm-up does not apply), and the action is a
fresh diffusion sample. Train DIME with ``TrainConfig(eval_deterministic=True)``: evaluation is then the
authors' stochastic protocol, and the loop's training calls (``deterministic=False``) get the warm-up.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from mdrl_lib.agents.replay import ActionScaler, AgentRNG, ReplayBuffer, obs_dim_of
from mdrl_lib.nets import (
    BatchRenorm,
    EnsembleLinear,
    FourierTimeEmbedding,
    gaussian_log_prob,
    lecun_normal_,
    make_adam,
    soft_plus_inverse,
    tanh_log_det_jacobian,
)
from mdrl_lib.utils import get_device

#: v_min/v_max of the categorical critics: DMC default, and the gym Humanoid/Ant override (§1.4, issue #2)
SUPPORT_DMC = (-200.0, 200.0)
SUPPORT_GYM = (-1600.0, 1600.0)


@dataclass(frozen=True)
class DIMEConfig:
    """DIME hyperparameters; defaults are the authors' ICML (DMC) config at commit 7082bb7 (§2)."""

    # diffusion actor (§1.2)
    n_steps: int = 16  # N
    prior_std: float = 2.5  # σ₀ (`sampler.init_std`; fixed prior)
    dt: float = 0.1  # initial softplus(δ) (`dt`, learn_dt True, per_step_dt False)
    friction: float = 1.0  # initial softplus(φ_d) (per_dim_friction, learn_friction True)
    schedule_min: float = 0.001  # cosine shape g(n): min 0.001, s 0.008, pow 2
    schedule_s: float = 0.008
    score_hidden: tuple[int, ...] = (256, 256, 256)  # PISGRADNet trunk: 3 x [Dense(256) -> GELU]
    n_freq: int = 256  # Fourier frequencies in [0.1, 100] of the raw step index
    time_hidden: int = 256  # time coder Dense(256) -> GELU -> Dense(256)
    out_init: float = 1e-8  # last-layer weights are this constant, bias 0
    control_clip: float = 1e4  # |f_θ| clip
    # critics (§1.4)
    critic_hidden: tuple[int, ...] = (2048, 2048)
    n_atoms: int = 101
    v_min: float = SUPPORT_DMC[0]
    v_max: float = SUPPORT_DMC[1]
    critic_entropy_coef: float = 0.005  # `critic.entr_coeff`: + coef · Σ p log p in the critic loss
    bn_momentum: float = 0.99  # BatchRenorm (CrossQ): Flax momentum convention
    bn_eps: float = 1e-3
    bn_r_max: float = 3.0
    bn_d_max: float = 5.0
    bn_warmup: int = 100_000  # train-mode calls (= critic updates) of plain batch norm
    # RL (§2)
    gamma: float = 0.99
    batch_size: int = 256  # the critic sees 2 x 256 rows (current + next)
    utd: int = 2  # critic updates per env step
    policy_delay: int = 3  # actor and α every 3rd critic update
    buffer_size: int = 1_000_000
    learning_starts: int = 5000  # uniform random actions, no updates
    # optimisers (§1.4)
    critic_lr: float = 3e-4
    actor_lr: float = 3e-4
    beta1: float = 0.5  # Adam β₁ of actor and critic
    actor_grad_clip: float = 1.0  # element-wise clip of the actor's gradients
    alpha_init: float = 1.0
    alpha_lr: float = 1e-3  # Adam with default betas
    target_per_dim: float = 4.0  # temperature target T = 4|A| on c_run (hard-coded in the authors' code)

    def __post_init__(self):
        for name in ("n_steps", "n_atoms", "batch_size", "utd", "policy_delay", "buffer_size"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1 or (name == "n_atoms" and v < 2):
                raise ValueError(f"{name} must be an integer >= {2 if name == 'n_atoms' else 1}, got {v!r}")
        for name in ("prior_std", "dt", "friction", "alpha_init"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not self.v_min < self.v_max:
            raise ValueError(f"need v_min < v_max, got v_min={self.v_min}, v_max={self.v_max}")

    @classmethod
    def for_env(cls, env_id: str, **overrides) -> DIMEConfig:
        """The authors' settings for ``env_id``: critic support ±1600 for gym Humanoid/Ant, else ±200."""
        name = env_id.split("/")[-1].lower()
        gym_task = any(name.startswith(k) for k in ("humanoid-v", "ant-v"))
        v_min, v_max = SUPPORT_GYM if gym_task else SUPPORT_DMC
        return replace(cls(v_min=v_min, v_max=v_max), **overrides)

    @property
    def is_published(self) -> bool:
        """True when the networks and schedule are the authors' (support and budget may differ per task)."""
        base = DIMEConfig()
        keep = {"v_min", "v_max", "buffer_size"}
        return all(getattr(self, k) == getattr(base, k) for k in asdict(base) if k not in keep)


# ----- the diffusion actor (§1.2, §1.3) ---------------------------------------------------------------------

def cosine_step_shape(n_steps: int, minimum: float = 0.001, s: float = 0.008) -> torch.Tensor:
    """``g(n) = (1−m) cos²(½π (1+s−t)/(1+s)) + m`` with ``t = (N−n)/N``, ``n = 0..N−1``: ``(N,)``.

    For N = 16: 0.9998, 0.988, ... , 0.038, 0.0104 (big steps at the noise end, §1.2).
    """
    n = torch.arange(n_steps, dtype=torch.float64)
    t = (n_steps - n) / n_steps
    return ((1 - minimum) * torch.cos(0.5 * math.pi * (1 + s - t) / (1 + s)) ** 2 + minimum).float()


@dataclass
class DIMESample:
    """One batch of DIME chains. ``path``: ``(N+1, B, d)`` (``path[0]`` prior, ``path[N]`` pre-squash);
    ``action = tanh(path[N])``: ``(B, d)``; ``c_run``, ``c_term``: ``(B,)`` (§1.3)."""

    path: torch.Tensor
    action: torch.Tensor
    c_run: torch.Tensor
    c_term: torch.Tensor

    @property
    def cost(self) -> torch.Tensor:
        """``c = c_run + c_term``: ``(B,)``; ``E[c] ≥ E[log π(a|s)]``."""
        return self.c_run + self.c_term

    @property
    def entropy_bound(self) -> torch.Tensor:
        """Single-sample estimates ``−c`` of the entropy lower bound: ``(B,)``."""
        return -self.cost


class DIMEActor(nn.Module):
    """The DIME diffusion policy for observations of size ``obs_dim`` and ``act_dim`` actions."""

    def __init__(self, obs_dim: int, act_dim: int, config: DIMEConfig | None = None):
        super().__init__()
        cfg = self.config = config or DIMEConfig()
        self.obs_dim, self.act_dim, self.N = obs_dim, act_dim, cfg.n_steps
        self.prior_var = cfg.prior_std ** 2
        self.raw_dt = nn.Parameter(soft_plus_inverse(cfg.dt))  # δ, a scalar
        self.raw_friction = nn.Parameter(soft_plus_inverse(torch.full((act_dim,), cfg.friction)))  # φ
        self.register_buffer("step_shape", cosine_step_shape(cfg.n_steps, cfg.schedule_min, cfg.schedule_s))
        self.register_buffer("step_index", torch.arange(cfg.n_steps, dtype=torch.float32))  # raw n, not /N
        # Score network f_θ ("PISGRADNet"), Flax initialisation (LeCun normal, zero bias) throughout.
        self.time_embedding = FourierTimeEmbedding(cfg.n_freq, cfg.time_hidden, cfg.time_hidden, 0.1, 100.0)
        self.time_embedding.mlp[1] = nn.GELU(approximate="tanh")  # Flax's gelu is the tanh approximation
        widths = [act_dim + obs_dim + cfg.time_hidden, *cfg.score_hidden]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True))
        self.out = nn.Linear(widths[-1], act_dim)
        for lin in [*self.layers, self.time_embedding.mlp[0], self.time_embedding.mlp[2]]:
            lecun_normal_(lin.weight)
            nn.init.zeros_(lin.bias)
        nn.init.constant_(self.out.weight, cfg.out_init)  # f_θ ≈ 0 at init: a pure OU walk (§1.2)
        nn.init.zeros_(self.out.bias)
        self.act = nn.GELU(approximate="tanh")

    def etas(self) -> torch.Tensor:
        """Step sizes ``η_n = softplus(δ) g(n) / softplus(φ)``: ``(N, d)``."""
        return F.softplus(self.raw_dt) * self.step_shape.unsqueeze(-1) / F.softplus(self.raw_friction)

    def _context(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The state and time parts of the first layer, computed once per chain: ``(B, H)``, ``(N, H)``.

        ``Dense(concat(x, s, t))`` = ``W_x x + W_s s + W_t t + b``; only ``W_x x`` changes along the chain.
        """
        first, d, o = self.layers[0], self.act_dim, self.obs_dim
        h_obs = F.linear(obs, first.weight[:, d:d + o], first.bias)
        h_time = F.linear(self.time_embedding(self.step_index), first.weight[:, d + o:])
        return h_obs, h_time

    def control(self, x: torch.Tensor, h_obs: torch.Tensor, h_time_n: torch.Tensor) -> torch.Tensor:
        """``f_θ(x_n, s, n)`` clipped to ±control_clip: ``(B, d)``."""
        h = self.act(F.linear(x, self.layers[0].weight[:, :self.act_dim]) + h_obs + h_time_n)
        for lin in self.layers[1:]:
            h = self.act(lin(h))
        c = self.config.control_clip
        return self.out(h).clamp(-c, c)

    def prior_log_prob(self, x0: torch.Tensor) -> torch.Tensor:
        """``c_term = log N(x_0; 0, σ₀² I)``: ``(B, d) -> (B,)``."""
        return gaussian_log_prob(x0, torch.zeros_like(x0), torch.full_like(x0, self.prior_var))

    def sample(self, obs: torch.Tensor, *, generator: torch.Generator | None = None,
               noise: torch.Tensor | None = None) -> DIMESample:
        """Run the chain for every state of ``obs`` ``(B, obs_dim)``; reparameterised and differentiable.

        ``noise`` ``(N+1, B, d)`` of standard normals fixes the draws (``noise[0]`` → ``x_0``).
        """
        B, d, N = obs.shape[0], self.act_dim, self.N
        if noise is None:
            noise = torch.randn(N + 1, B, d, generator=generator, device=obs.device)
        x = self.config.prior_std * noise[0]  # the prior sample carries no gradient (§1.2)
        c_term = self.prior_log_prob(x)
        eta = self.etas()
        var = 2.0 * eta
        log_norm = 0.5 * torch.log(2 * math.pi * var).sum(-1)  # (N,)
        h_obs, h_time = self._context(obs)
        path, c_run = [x], torch.zeros(B, device=obs.device)
        for n in range(N):
            e = eta[n]
            mean = x + e * (-x / self.prior_var + self.control(x, h_obs, h_time[n]))
            x_next = mean + var[n].sqrt() * noise[n + 1]
            # log F(x_{n+1}|x_n) of the reparameterised sample is −½|ε|² − ½ Σ log(2π·2η): it depends on θ
            # only through η (§6 item 6); writing it so is exact and saves the cancelling difference.
            log_f = -0.5 * (noise[n + 1] ** 2).sum(-1) - log_norm[n]
            log_b = gaussian_log_prob(x, x_next - e * x_next / self.prior_var, var[n])
            c_run = c_run + (log_f - log_b)
            path.append(x_next)
            x = x_next
        c_run = c_run - tanh_log_det_jacobian(x)
        return DIMESample(torch.stack(path), torch.tanh(x), c_run, c_term)


# ----- the distributional critics (§1.4) --------------------------------------------------------------------

class DistributionalCritics(nn.Module):
    """``n`` categorical critics evaluated together (one batched matmul per layer).

    Each: ``BatchRenorm(in) → [Linear(w) → ReLU → BatchRenorm] × L → Linear(n_atoms)`` (logits).
    Input ``(B, in)`` → logits ``(n, B, n_atoms)``. Flax initialisation (LeCun normal, zero bias).
    """

    def __init__(self, in_dim: int, hidden: tuple[int, ...], n_atoms: int, n: int = 2, **renorm: Any):
        super().__init__()
        self.n = n
        self.input_norm = BatchRenorm(in_dim, n_members=n, **renorm)
        dims = [in_dim, *hidden]
        self.layers = nn.ModuleList(EnsembleLinear(n, a, b) for a, b in zip(dims[:-1], dims[1:], strict=True))
        self.norms = nn.ModuleList(BatchRenorm(b, n_members=n, **renorm) for b in hidden)
        self.out = EnsembleLinear(n, dims[-1], n_atoms)
        for lin in [*self.layers, self.out]:
            lecun_normal_(lin.weight)  # (n, in, out): fan_in = in
            nn.init.zeros_(lin.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.input_norm(x.unsqueeze(0).expand(self.n, *x.shape))
        for lin, norm in zip(self.layers, self.norms, strict=True):
            h = norm(F.relu(lin(h)))
        return self.out(h)


# ----- losses (§1.4) ----------------------------------------------------------------------------------------

def categorical_projection(probs: torch.Tensor, atoms: torch.Tensor, support: torch.Tensor) -> torch.Tensor:
    """Project the distribution with mass ``probs`` at positions ``atoms`` onto the fixed ``support``.

    C51's linear split: each mass moves to its two neighbouring support points in proportion to closeness,
    after clipping its position to ``[v_min, v_max]``. ``probs``, ``atoms``: ``(..., K)``; ``support``:
    uniform ``(K,)``. Returns ``(..., K)``; total mass is conserved exactly.
    """
    K = support.shape[0]
    v_min, v_max = support[0], support[-1]
    b = (atoms.clamp(v_min, v_max) - v_min) / ((v_max - v_min) / (K - 1))
    lower = b.floor().clamp(0, K - 1)
    w_upper = b - lower  # 0 when b falls on a support point (also at v_max)
    upper = (lower + 1).clamp(max=K - 1)
    out = torch.zeros_like(probs)
    out.scatter_add_(-1, lower.long(), probs * (1 - w_upper))
    out.scatter_add_(-1, upper.long(), probs * w_upper)
    return out


def distributional_target(next_probs: torch.Tensor, reward: torch.Tensor, not_done: torch.Tensor,
                          next_cost: torch.Tensor, alpha: torch.Tensor, gamma: float, support: torch.Tensor
                          ) -> torch.Tensor:
    """The shared critic target: mean over critics of the projection of ``r + γ(1−d)(z − α c')``.

    ``next_probs``: ``(n, B, K)`` each critic's distribution at ``(s', a')``; ``reward``, ``not_done``,
    ``next_cost`` (``c'`` = c_run + c_term of a fresh ``a' ~ π(·|s')``): ``(B,)``. Returns ``(B, K)``.
    """
    atoms = reward.unsqueeze(-1) + gamma * not_done.unsqueeze(-1) * (support - alpha * next_cost.unsqueeze(-1))
    return categorical_projection(next_probs, atoms.expand_as(next_probs), support).mean(0)


def critic_loss(logits: torch.Tensor, target: torch.Tensor, entropy_coef: float) -> torch.Tensor:
    """``Σ_critics mean_batch [ −Σ_k target_k log p_k + coef Σ_k p_k log p_k ]``; ``logits`` ``(n, B, K)``."""
    log_p = F.log_softmax(logits, -1)
    ce = -(target * log_p).sum(-1)
    neg_entropy = (log_p.exp() * log_p).sum(-1)
    return (ce + entropy_coef * neg_entropy).mean(-1).sum()


def expected_q(logits: torch.Tensor, support: torch.Tensor) -> torch.Tensor:
    """``Σ_k p_k z_k`` per critic: ``(n, B, K) -> (n, B)``."""
    return F.softmax(logits, -1) @ support


def actor_loss(q: torch.Tensor, cost: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """``mean[−Q̄(s, a) + α (c_run + c_term)]`` with ``Q̄`` the mean over critics: ``q`` ``(n, B)``."""
    return (alpha * cost - q.mean(0)).mean()


def temperature_loss(log_alpha: torch.Tensor, c_run: torch.Tensor, target: float) -> torch.Tensor:
    """``−α (mean(c_run) − T)``: α grows while the batch-mean running cost exceeds ``T = 4|A|``."""
    return -log_alpha.exp() * (c_run.detach().mean() - target)


# ----- the agent --------------------------------------------------------------------------------------------

class DIMEAgent:
    """DIME on a ``Box`` environment: the :class:`mdrl_lib.train.Agent` protocol (see the module docstring)."""

    def __init__(self, observation_space: gym.Space, action_space: gym.spaces.Box,
                 config: DIMEConfig | None = None, *, seed: int = 0, device: str | torch.device | None = None):
        self.config = cfg = config or DIMEConfig()
        self.device = device if isinstance(device, torch.device) else get_device(device)
        self.obs_dim, self.act_dim = obs_dim_of(observation_space), int(np.prod(action_space.shape))
        self.scaler = ActionScaler(action_space)
        self.rng = AgentRNG(seed, self.device)
        torch.manual_seed(seed)  # network initialisation
        o, d, dev = self.obs_dim, self.act_dim, self.device
        self.actor = DIMEActor(o, d, cfg).to(dev)
        renorm = dict(momentum=cfg.bn_momentum, eps=cfg.bn_eps, r_max=cfg.bn_r_max, d_max=cfg.bn_d_max,
                      warmup_steps=cfg.bn_warmup)
        self.critics = DistributionalCritics(o + d, cfg.critic_hidden, cfg.n_atoms, 2, **renorm).to(dev)
        self.support = torch.linspace(cfg.v_min, cfg.v_max, cfg.n_atoms, device=dev)
        self.log_alpha = torch.tensor(math.log(cfg.alpha_init), device=dev, requires_grad=True)
        self.target_cost = cfg.target_per_dim * d
        betas = (cfg.beta1, 0.999)
        self.actor_params = list(self.actor.parameters())
        self.actor_opt = make_adam(self.actor_params, cfg.actor_lr, betas)
        self.critic_opt = make_adam(self.critics.parameters(), cfg.critic_lr, betas)
        self.alpha_opt = make_adam([self.log_alpha], cfg.alpha_lr)
        self.buffer = ReplayBuffer(cfg.buffer_size, {"obs": o, "action": d, "reward": 1, "next_obs": o,
                                                     "not_done": 1}, dev)
        self.n_observed = 0
        self.n_critic_updates = 0
        self.n_actor_updates = 0

    # --- acting -------------------------------------------------------------------------------------------

    @torch.inference_mode()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Action for one observation. Training calls (``deterministic=False``) are uniform random during
        the warm-up; otherwise — evaluation included — a fresh diffusion sample (no deterministic mode)."""
        if not deterministic and self.n_observed < self.config.learning_starts:
            return self.scaler.to_env(self.rng.numpy.uniform(-1.0, 1.0, self.act_dim))
        o = torch.as_tensor(obs, dtype=torch.float32, device=self.device).unsqueeze(0)
        return self.scaler.to_env(self.actor.sample(o, generator=self.rng.torch).action[0].cpu().numpy())

    @torch.inference_mode()
    def sample_actions(self, obs: np.ndarray, n: int, generator: torch.Generator | None = None) -> np.ndarray:
        """``n`` policy actions in [-1, 1] at each of the states ``obs`` ``(S, obs_dim)``: ``(S, n, d)``."""
        o = torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=self.device)
        S = o.shape[0]
        a = self.actor.sample(o.repeat_interleave(n, 0), generator=generator).action
        return a.view(S, n, self.act_dim).cpu().numpy()

    def observe(self, obs, action, reward, next_obs, terminated, truncated) -> None:
        # Only true terminations stop bootstrapping; time-limit truncation does not (§1.4).
        self.buffer.add(obs=obs, action=self.scaler.from_env(action), reward=reward, next_obs=next_obs,
                        not_done=0.0 if terminated else 1.0)
        self.n_observed += 1

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.exp().detach()

    # --- learning -----------------------------------------------------------------------------------------

    def update(self) -> dict[str, float]:
        """``utd`` critic updates on fresh minibatches; actor and α on every ``policy_delay``-th one."""
        cfg, B = self.config, self.config.batch_size
        if self.n_observed <= cfg.learning_starts or len(self.buffer) == 0:  # SB3: train once t > starts
            return {}
        batch = self.buffer.sample(cfg.utd * B, self.rng.torch)  # all minibatches drawn at once (SB3/sbx)
        metrics: dict[str, list[torch.Tensor]] = {}
        for i in range(cfg.utd):
            b = {k: v[i * B:(i + 1) * B] for k, v in batch.items()}
            out = self._update_critics(b)
            if self.n_critic_updates % cfg.policy_delay == 0:
                out.update(self._update_actor_and_alpha(b["obs"]))
            self.n_critic_updates += 1
            for k, v in out.items():
                metrics.setdefault(k, []).append(v)
        names = list(metrics)
        values = torch.stack([torch.stack(metrics[k]).mean() for k in names]).tolist()  # one device sync
        return dict(zip(names, values, strict=True))

    def _update_critics(self, b: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        cfg, B = self.config, b["obs"].shape[0]
        alpha = self.alpha
        with torch.no_grad():
            nxt = self.actor.sample(b["next_obs"], generator=self.rng.torch)  # the "target actor" = actor
        # CrossQ: one train-mode pass over [(s, a); (s', a')] so both halves share the batch statistics.
        x = torch.cat([torch.cat([b["obs"], b["action"]], -1), torch.cat([b["next_obs"], nxt.action], -1)])
        self.critics.train()
        logits = self.critics(x)
        with torch.no_grad():
            target = distributional_target(F.softmax(logits[:, B:], -1), b["reward"].squeeze(-1),
                                           b["not_done"].squeeze(-1), nxt.cost, alpha, cfg.gamma, self.support)
        loss = critic_loss(logits[:, :B], target, cfg.critic_entropy_coef)
        self.critic_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.critic_opt.step()
        return {"critic_loss": loss.detach(), "q": expected_q(logits[:, :B].detach(), self.support).mean()}

    def _update_actor_and_alpha(self, obs: torch.Tensor) -> dict[str, torch.Tensor]:
        cfg = self.config
        alpha = self.alpha
        self.critics.eval()  # running statistics, no updates of them
        sample = self.actor.sample(obs, generator=self.rng.torch)
        q = expected_q(self.critics(torch.cat([obs, sample.action], -1)), self.support)
        loss = actor_loss(q, sample.cost, alpha)
        grads = torch.autograd.grad(loss, self.actor_params)  # no critic weight gradients are formed
        for p, g in zip(self.actor_params, grads, strict=True):
            p.grad = torch.nan_to_num(g, nan=0.0).clamp_(-cfg.actor_grad_clip, cfg.actor_grad_clip)
        self.actor_opt.step()
        self.critics.train()
        t_loss = temperature_loss(self.log_alpha, sample.c_run, self.target_cost)
        self.alpha_opt.zero_grad(set_to_none=True)
        t_loss.backward()
        self.alpha_opt.step()
        self.n_actor_updates += 1
        c_run, c_term = sample.c_run.detach().mean(), sample.c_term.detach().mean()
        return {"actor_loss": loss.detach(), "alpha": alpha, "c_run": c_run, "c_term": c_term,
                "entropy_bound": -(c_run + c_term), "dt": F.softplus(self.actor.raw_dt).detach(),
                "friction": F.softplus(self.actor.raw_friction).detach().mean()}

    # --- checkpointing ------------------------------------------------------------------------------------

    def _modules(self) -> dict[str, Any]:
        return {"actor": self.actor, "critics": self.critics, "actor_opt": self.actor_opt,
                "critic_opt": self.critic_opt, "alpha_opt": self.alpha_opt, "buffer": self.buffer,
                "rng": self.rng}

    def state_dict(self) -> dict[str, Any]:
        return {"config": asdict(self.config), **{k: m.state_dict() for k, m in self._modules().items()},
                "log_alpha": self.log_alpha.detach().clone(), "n_observed": self.n_observed,
                "n_critic_updates": self.n_critic_updates, "n_actor_updates": self.n_actor_updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["config"] != asdict(self.config):
            raise ValueError(f"DIME state was saved with config {state['config']}, not {asdict(self.config)}")
        for k, m in self._modules().items():
            m.load_state_dict(state[k])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        self.n_observed = state["n_observed"]
        self.n_critic_updates, self.n_actor_updates = state["n_critic_updates"], state["n_actor_updates"]

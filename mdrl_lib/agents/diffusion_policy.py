"""A diffusion policy: K Euler–Maruyama steps of a controlled Langevin/OU chain from a Gaussian prior.

Notation follows ``docs/methods/diffmaxent.md`` §1 (the authors' code counts forward): ``x_0`` is prior noise,
``x_K`` the pre-squash action, the env receives ``a = clip(tanh(x_K), ±action_clip)``. § numbers refer to
docs/methods/diffmaxent.md.

* Prior: ``x_0 ~ N(0, σ_p² I)`` (fixed).
* Step size per diffusion step ``k`` and action dimension: ``η_k = Δt_k / γ`` with softplus-parametrised
  ``Δt_k = dt · schedule(k)`` (learned per step when ``learn_dt``) and friction ``γ`` (learned per
  dimension when ``learn_friction``).
* Generative (denoising) kernel, §1.3::

      q_θ(x_{k+1} | x_k, s) = N( x_k + η_k (−x_k/σ_p² + f_θ(x_k, s, k)),  2 η_k I )

  ``f_θ`` is an MLP of ``(x_k, s, FourierTime(k))`` whose last layer starts at 1e-8 × its init, so a
  fresh policy is the pure OU chain towards the prior.
* Reference (noising) kernel, §1.4, the OU step evaluated at ``x_{k+1}`` with the same ``η_k``::

      p(x_k | x_{k+1}) = N( x_{k+1} − η_k x_{k+1}/σ_p²,  2 η_k I )

* Per-step log-ratio ``ℓ_k = log q_θ(x_{k+1}|x_k,s) − log p(x_k|x_{k+1})``. For every reference,
  ``E[log q(x_K|s)] ≤ E[log N(x_0; 0, σ_p²)] + E[Σ_k ℓ_k]`` (marginalising the path, data-processing
  inequality), i.e. the entropy bound of notebook 04::

      H(q_θ(x_K | s)) ≥ H(prior) − E[Σ_k ℓ_k].

  By default the tanh Jacobian is *not* part of ``ℓ`` (§1.9), so entropies live in the pre-squash
  x-space; ``squash_correction=True`` subtracts ``log|det ∂tanh(x_K)/∂x_K|`` from the last step's
  ``log q`` so that they live in action space (DIME; the bandit toy, whose Boltzmann target is a density
  on the action square and would be improper in x-space).

Everything is batched: states ``(B, obs_dim)``, chains ``(K+1, B, d)``, and per-sample step indices
``k`` of shape ``(B,)`` so transitions of different diffusion steps can share one minibatch (the
augmented-MDP algorithms). ``K`` is any integer ≥ 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from mdrl_lib.nets import MLP, FourierTimeEmbedding, gaussian_log_prob, soft_plus_inverse, tanh_log_det_jacobian

SCHEDULES = ("linear", "cosine", "constant")


@dataclass(frozen=True)
class DiffusionPolicyConfig:
    """Diffusion-policy hyperparameters; defaults are the final v3 configs of §4.3 unless noted."""

    n_steps: int = 8  # K, §1.7 (8 everywhere by default; sweeps use 4 and 16)
    prior_std: float = 3.0  # σ_p, §1.2 (3.0 final configs; 2.5 early defaults)
    dt: float = 0.125  # base Δt, §1.3
    schedule: str = "linear"  # §1.6: linear (final), cosine (early), constant
    schedule_min: float = 0.17  # linear schedule's minimum m, §1.6
    friction: float = 0.25  # initial γ, §1.5 (0.25 final, 1.0 early)
    learn_dt: bool = True  # learned Δt, §1.5
    per_step_dt: bool = True  # one learned Δt per step (§1.5); False: one learned scale × schedule (DIME)
    learn_friction: bool = True  # per-dimension learned friction, §1.5
    hidden: tuple[int, ...] = (256, 256, 256)  # 4 linear layers, width 256, §1.8
    act: str = "gelu"  # §1.8
    n_freq: int = 32  # Fourier features of k, §1.8
    time_hidden: int = 32  # width of the time embedding's hidden layer, §1.8 (DIME: 256)
    time_dim: int = 16  # embedding size after Linear(64→32)→GELU→Linear(32→16), §1.8
    out_scale: float = 1e-8  # last-layer init scale: f_θ ≈ 0 at init, §1.8
    control_clip: float = 1e4  # |f_θ| clip, §1.8
    action_clip: float = 0.999  # a = clip(tanh(x_K), ±0.999), §1.9
    squash_correction: bool = False  # add the tanh Jacobian to the last step's log q (off: §1.9; DIME: on)

    def __post_init__(self):
        if not isinstance(self.n_steps, int) or self.n_steps < 1:
            raise ValueError(f"n_steps (K) must be an integer >= 1, got {self.n_steps!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; "
                             f"valid schedules are {', '.join(SCHEDULES)}")
        for name in ("prior_std", "dt", "friction"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")


def schedule_values(name: str, n_steps: int, minimum: float = 0.17) -> torch.Tensor:
    """The step-size shape ``schedule(k)`` for ``k = 0..K-1`` with ``t = (K-k)/K`` (§1.6): ``(K,)``."""
    k = torch.arange(n_steps, dtype=torch.float64)
    t = (n_steps - k) / n_steps
    if name == "linear":
        out = t + (1 - t) * minimum
    elif name == "cosine":
        m, s = 0.001, 0.008
        out = (1 - m) * torch.cos(0.5 * math.pi * (1 + s - t) / (1 + s)) ** 2 + m
    elif name == "constant":
        out = torch.ones(n_steps, dtype=torch.float64)
    else:
        raise ValueError(f"unknown schedule {name!r}; valid schedules are {', '.join(SCHEDULES)}")
    return out.to(torch.get_default_dtype())


@dataclass
class DiffusionSample:
    """One batch of sampled denoising chains.

    ``path``: ``(K+1, B, d)`` with ``path[0]`` the prior sample and ``path[K]`` the pre-squash action;
    ``log_q``, ``log_p``: ``(K, B)`` per-step log-densities of the generative kernel and of the reference
    kernel; ``log_prior``: ``(B,)`` = ``log N(x_0; 0, σ_p²)``.
    """

    path: torch.Tensor
    log_q: torch.Tensor
    log_p: torch.Tensor
    log_prior: torch.Tensor
    action_clip: float

    @property
    def x(self) -> torch.Tensor:
        """Pre-squash action ``x_K``: ``(B, d)``."""
        return self.path[-1]

    @property
    def action(self) -> torch.Tensor:
        """Squashed action ``clip(tanh(x_K), ±action_clip)`` in [-1, 1]: ``(B, d)``."""
        return torch.tanh(self.path[-1]).clamp(-self.action_clip, self.action_clip)

    @property
    def ell(self) -> torch.Tensor:
        """Per-step log-ratios ``ℓ_k``: ``(K, B)``."""
        return self.log_q - self.log_p

    @property
    def log_ratio(self) -> torch.Tensor:
        """``Σ_k ℓ_k``: ``(B,)``; ``E[log q(x_K)] − E[log prior] ≤ E[Σ_k ℓ_k]``."""
        return self.ell.sum(0)


class DiffusionPolicy(nn.Module):
    """The K-step diffusion policy of the module docstring for observations of size ``obs_dim``."""

    def __init__(self, obs_dim: int, act_dim: int, config: DiffusionPolicyConfig | None = None):
        super().__init__()
        cfg = config or DiffusionPolicyConfig()
        self.config, self.obs_dim, self.act_dim, self.K = cfg, obs_dim, act_dim, cfg.n_steps
        shape = schedule_values(cfg.schedule, cfg.n_steps, cfg.schedule_min)
        if cfg.per_step_dt:
            raw_dt = soft_plus_inverse(cfg.dt * shape)
            self.register_buffer("dt_shape", torch.ones(cfg.n_steps))
        else:
            raw_dt = soft_plus_inverse(torch.tensor([cfg.dt]))
            self.register_buffer("dt_shape", shape)
        raw_friction = soft_plus_inverse(torch.full((act_dim,), cfg.friction))
        if cfg.learn_dt:
            self.raw_dt = nn.Parameter(raw_dt)
        else:
            self.register_buffer("raw_dt", raw_dt)
        if cfg.learn_friction:
            self.raw_friction = nn.Parameter(raw_friction)
        else:
            self.register_buffer("raw_friction", raw_friction)
        self.time_embedding = FourierTimeEmbedding(cfg.n_freq, cfg.time_hidden, cfg.time_dim)
        self.control_net = MLP(act_dim + obs_dim + cfg.time_dim, cfg.hidden, act_dim, cfg.act,
                               out_scale=cfg.out_scale, init="lecun")
        self.prior_var = cfg.prior_std ** 2

    # ----- the pieces of the kernels -----------------------------------------------------------------

    def etas(self) -> torch.Tensor:
        """Step sizes ``η_k = Δt_k / γ``: ``(K, d)``."""
        dt = F.softplus(self.raw_dt) * self.dt_shape  # per step, or one learned scale times the schedule
        return dt.unsqueeze(-1) / F.softplus(self.raw_friction)

    def control(self, obs: torch.Tensor, x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """``f_θ(x_k, s, k)``, clipped to ±control_clip: ``(B, obs_dim), (B, d), (B,) -> (B, d)``."""
        h = torch.cat([x, obs, self.time_embedding(k)], dim=-1)
        c = self.config.control_clip
        return self.control_net(h).clamp(-c, c)

    def kernel(self, obs: torch.Tensor, x: torch.Tensor, k: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance of ``q_θ(x_{k+1} | x_k, s)``, each ``(B, d)`` (§1.3)."""
        eta = self.etas()[k]
        mean = x + eta * (-x / self.prior_var + self.control(obs, x, k))
        return mean, 2 * eta

    def reference(self, x_next: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance of the reference ``p(x_k | x_{k+1})``, each ``(B, d)`` (§1.4)."""
        eta = self.etas()[k]
        return x_next - eta * x_next / self.prior_var, 2 * eta

    def _log_q(self, x_next: torch.Tensor, mean: torch.Tensor, var: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        log_q = gaussian_log_prob(x_next, mean, var)
        if self.config.squash_correction:
            log_q = log_q - torch.where(k == self.K - 1, tanh_log_det_jacobian(x_next), 0.0)
        return log_q

    def step_log_probs(self, obs: torch.Tensor, x: torch.Tensor, k: torch.Tensor, x_next: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(log q_θ(x_{k+1}|x_k,s), log p(x_k|x_{k+1}))``, each ``(B,)``; ``ℓ_k`` is their difference."""
        mean, var = self.kernel(obs, x, k)
        ref_mean, ref_var = self.reference(x_next, k)
        return self._log_q(x_next, mean, var, k), gaussian_log_prob(x, ref_mean, ref_var)

    def step(self, obs: torch.Tensor, x: torch.Tensor, k: torch.Tensor, *,
             generator: torch.Generator | None = None, noise: torch.Tensor | None = None
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One reparameterised denoising step: ``(x_{k+1}, log q, log p)`` with shapes ``(B, d), (B,), (B,)``.

        ``noise`` (standard normal, ``(B, d)``) overrides the draw; zeros give the noise-free step.
        """
        mean, var = self.kernel(obs, x, k)
        if noise is None:
            noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        x_next = mean + var.sqrt() * noise
        ref_mean, ref_var = self.reference(x_next, k)
        return x_next, self._log_q(x_next, mean, var, k), gaussian_log_prob(x, ref_mean, ref_var)

    # ----- whole chains ------------------------------------------------------------------------------

    def prior_log_prob(self, x0: torch.Tensor) -> torch.Tensor:
        """``log N(x_0; 0, σ_p² I)``: ``(..., d) -> (...)``."""
        return gaussian_log_prob(x0, torch.zeros_like(x0), torch.full_like(x0, self.prior_var))

    def prior_entropy(self) -> float:
        """Entropy of the prior in nats: ``d/2 · log(2πe σ_p²)``."""
        return 0.5 * self.act_dim * math.log(2 * math.pi * math.e * self.prior_var)

    def sample_prior(self, batch: int, *, generator: torch.Generator | None = None,
                     device: torch.device | None = None) -> torch.Tensor:
        """``x_0 ~ N(0, σ_p² I)``: ``(batch, d)``."""
        device = device or self.raw_friction.device
        return self.config.prior_std * torch.randn(batch, self.act_dim, generator=generator, device=device)

    def sample(self, obs: torch.Tensor, *, generator: torch.Generator | None = None,
               deterministic: bool = False, x0: torch.Tensor | None = None) -> DiffusionSample:
        """Run the whole chain for every state of ``obs`` ``(B, obs_dim)``; differentiable (reparameterised).

        ``deterministic``: start at ``x_0 = 0`` and drop the noise (the noise-free "mean path"; evaluation
        of diffusion agents in this library is stochastic, as in the authors' protocol). ``x0`` fixes the
        prior sample.
        """
        B = obs.shape[0]
        if x0 is None:
            x0 = (torch.zeros(B, self.act_dim, device=obs.device) if deterministic
                  else self.sample_prior(B, generator=generator, device=obs.device))
        xs, log_q, log_p = [x0], [], []
        for k in range(self.K):
            kk = torch.full((B,), k, device=obs.device, dtype=torch.long)
            noise = torch.zeros_like(x0) if deterministic else None
            x_next, lq, lp = self.step(obs, xs[-1], kk, generator=generator, noise=noise)
            xs.append(x_next)
            log_q.append(lq)
            log_p.append(lp)
        return DiffusionSample(torch.stack(xs), torch.stack(log_q), torch.stack(log_p),
                               self.prior_log_prob(x0), self.config.action_clip)

    def path_log_probs(self, obs: torch.Tensor, path: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-step ``(log q, log p)`` of given chains ``path`` ``(K+1, B, d)``, each ``(K, B)``.

        All K steps are evaluated in one batched network call (used for importance ratios).
        """
        K1, B, d = path.shape
        if K1 != self.K + 1:
            raise ValueError(f"path has {K1 - 1} steps but the policy has K={self.K}")
        k = torch.arange(self.K, device=path.device).repeat_interleave(B)
        obs_rep = obs.unsqueeze(0).expand(self.K, B, obs.shape[-1]).reshape(self.K * B, -1)
        lq, lp = self.step_log_probs(obs_rep, path[:-1].reshape(-1, d), k, path[1:].reshape(-1, d))
        return lq.view(self.K, B), lp.view(self.K, B)

    def path_log_prob(self, obs: torch.Tensor, path: torch.Tensor) -> torch.Tensor:
        """Log-density of the whole denoising path ``log q_θ(x_{0:K}|s)``: ``(B,)`` (§1.10)."""
        lq, _ = self.path_log_probs(obs, path)
        return self.prior_log_prob(path[0]) + lq.sum(0)

    def reference_path_log_prob(self, path: torch.Tensor) -> torch.Tensor:
        """Log-density of the fixed noising path ``log Π_k p(x_k | x_{k+1})`` given ``x_K``: ``(B,)``."""
        k = torch.arange(self.K, device=path.device)
        eta = self.etas()[k].unsqueeze(1)  # (K, 1, d)
        x_next = path[1:]
        return gaussian_log_prob(path[:-1], x_next - eta * x_next / self.prior_var, 2 * eta).sum(0)

    def entropy_lower_bound(self, sample: DiffusionSample) -> torch.Tensor:
        """Monte-Carlo ``H(prior) − Σ_k ℓ_k`` per state, ``(B,)``; its mean bounds ``H(q(x_K|s))`` below."""
        return self.prior_entropy() - sample.log_ratio

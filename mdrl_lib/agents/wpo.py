"""Wasserstein Policy Optimization (Pfau et al., ICML 2025, arXiv 2505.00663), with entropy regularisation.

WPO moves the policy along the Wasserstein gradient flow of ``E_π[Q]`` projected onto the parameters:

    Δθ ∝ E_{s, a~π} [ (∇_θ ∇_a log π_θ(a|s))ᵀ v(s, a) ],      v = ∇_a Q(s, a) − α ∇_a log π(a|s),

where ``v`` is the velocity field of the entropy-regularised objective (``docs/methods/diffmaxent.md`` §3.2).
The action is sampled and then held fixed (no reparameterisation): only the *score* ``∇_a log π_θ`` carries
θ. As a loss to minimise, per sample: ``stopgrad(α ∇_a log π − ∇_a Q) · ∇_a log π_θ``, summed over
action dimensions. For the tanh-Gaussian policy the flow is taken in the pre-squash coordinates ``u``
(``a = tanh u``) with ``log π`` the density of the squashed action, so the entropy is SAC's.

Where each choice comes from (``docs/methods/diffmaxent.md`` §3.2; notebook 20 says the same):

* the surrogate and its entropy term — WPO (Pfau et al. 2025) and the authors' ``actor_WPO_loss_fn`` (items 1–4);
* no Fisher preconditioning — the authors' final DiffWPO config (``remove_fisher_precond``, item 5);
* **KL trust region** — the authors' code (item 6): a frozen copy of the policy, the forward KL
  ``KL(π_old ‖ π_θ)`` per state, "clipped" mode (a sample whose KL is below the bound contributes the WPO loss,
  one above it ``λ·KL``), ``λ`` learned from ``−λ·stopgrad(KL − bound)``; bound 0.02, initial λ 0.3, λ-lr 6e-4
  (:class:`TrustRegionConfig`). Two choices are ours: the KL is computed in closed form (both policies are
  Gaussian in ``u``, and per diffusion step for DiffWPO) where the authors estimate it from 16 samples; and the
  frozen copy is refreshed every ``period`` = 100 gradient steps — the authors copy it at the start of each
  on-policy update phase, which an off-policy learner with one gradient step per env step does not have (a copy
  refreshed every step would make the KL zero and the region void); 100 is MPO's target-policy period
  (Abdolmaleki et al. 2018; acme's default);
* everything else is SAC v2 (:mod:`mdrl_lib.agents.sac`): replay, twin critics with Polyak targets and the
  soft Bellman target, automatic temperature — instead of the authors' REPPO-style on-policy critics (item 8).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from mdrl_lib.agents.sac import ActorSample, SACAgent, SACConfig
from mdrl_lib.nets import make_adam


@dataclass(frozen=True)
class TrustRegionConfig:
    """WPO's KL trust region (docs/methods/diffmaxent.md §3.2 item 6); ``bound=None`` switches it off."""

    bound: float | None = 0.02  # per-state forward KL bound (authors' DA_MDP_WPO config)
    lambda_init: float = 0.3  # initial Lagrange multiplier λ (authors)
    lambda_lr: float = 6e-4  # Adam learning rate of log λ (authors)
    period: int = 100  # gradient steps between refreshes of the frozen policy (ours; MPO's target period)

    def __post_init__(self):
        if self.bound is not None and self.bound <= 0:
            raise ValueError(f"trust_region.bound must be > 0 or None, got {self.bound}")
        if self.lambda_init <= 0:
            raise ValueError(f"trust_region.lambda_init must be > 0, got {self.lambda_init}")
        if self.period < 1:
            raise ValueError(f"trust_region.period must be >= 1, got {self.period}")


@dataclass(frozen=True)
class WPOConfig(SACConfig):
    """WPO = SAC v2's settings (:class:`~mdrl_lib.agents.sac.SACConfig`) + the KL trust region."""

    trust_region: TrustRegionConfig = field(default_factory=TrustRegionConfig)

    def __post_init__(self):
        super().__post_init__()
        if self.variant != "v2":
            raise ValueError(f"WPO builds on SAC variant 'v2', got {self.variant!r}")


def wpo_surrogate(score: torch.Tensor, grad_q: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Per-sample WPO surrogate ``stopgrad(α ∇_a log π − ∇_a Q) · ∇_a log π_θ``: ``(B,)``.

    ``score``: ``∇_a log π_θ(a|s)`` ``(B, d)``, differentiable in θ; ``grad_q``: ``∇_a Q(s, a)`` ``(B, d)``.
    Its θ-gradient is minus the entropy-regularised WPO direction (docs/methods/diffmaxent.md §3.2 item 4).
    """
    velocity = (grad_q - alpha * score).detach()
    return -(velocity * score).sum(-1)


def wpo_loss(score: torch.Tensor, grad_q: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """The batch mean of :func:`wpo_surrogate` (the loss without a trust region)."""
    return wpo_surrogate(score, grad_q, alpha).mean()


def gaussian_kl(mean_old: torch.Tensor, var_old: torch.Tensor, mean: torch.Tensor, var: torch.Tensor
                ) -> torch.Tensor:
    """``KL(N(mean_old, var_old) ‖ N(mean, var))`` for diagonal Gaussians, summed over the last dim: ``(B,)``."""
    return 0.5 * (torch.log(var / var_old) + (var_old + (mean_old - mean) ** 2) / var - 1.0).sum(-1)


def clipped_trust_region_loss(surrogate: torch.Tensor, kl: torch.Tensor, bound: float, lam: torch.Tensor
                              ) -> torch.Tensor:
    """The authors' "clipped" mode (§3.2 item 6): ``mean_i [surrogate_i if KL_i < bound else λ·KL_i]``."""
    return torch.where(kl.detach() < bound, surrogate, lam.detach() * kl).mean()


def lagrange_loss(log_lambda: torch.Tensor, kl: torch.Tensor, bound: float) -> torch.Tensor:
    """``−λ · stopgrad(mean KL − bound)``: descending it raises λ while the KL exceeds the bound (§3.2 item 6)."""
    return -(log_lambda.exp() * (kl.detach().mean() - bound))


class KLTrustRegion(nn.Module):
    """A frozen copy of a policy, the multiplier λ and its optimiser (shared by WPO and DiffWPO)."""

    def __init__(self, config: TrustRegionConfig, policy: nn.Module):
        super().__init__()
        self.config = config
        self.old = copy.deepcopy(policy).requires_grad_(False)
        self.log_lambda = nn.Parameter(torch.tensor(math.log(config.lambda_init),
                                                    device=next(policy.parameters()).device))
        self.register_buffer("n_steps", torch.zeros((), dtype=torch.long, device=self.log_lambda.device))
        self.opt = make_adam([self.log_lambda], config.lambda_lr)

    @property
    def lam(self) -> torch.Tensor:
        return self.log_lambda.exp().detach()

    def refresh_if_due(self, policy: nn.Module) -> None:
        """Copy ``policy`` into the frozen one every ``period`` calls (the first call included)."""
        if int(self.n_steps) % self.config.period == 0:
            self.old.load_state_dict(policy.state_dict())
        self.n_steps += 1

    def loss(self, surrogate: torch.Tensor, kl: torch.Tensor) -> torch.Tensor:
        """The clipped loss for the policy; takes one Adam step on log λ as a side effect."""
        bound = self.config.bound
        self.opt.zero_grad(set_to_none=True)
        lagrange_loss(self.log_lambda, kl, bound).backward()
        self.opt.step()
        return clipped_trust_region_loss(surrogate, kl, bound, self.lam)

    def full_state_dict(self) -> dict:
        return {"module": self.state_dict(), "opt": self.opt.state_dict()}

    def load_full_state_dict(self, state: dict) -> None:
        self.load_state_dict(state["module"])
        self.opt.load_state_dict(state["opt"])


class TrustRegionState:
    """Mixin: an agent's checkpoint also holds its :class:`KLTrustRegion` (``self.trust``, None when switched off)."""

    trust: KLTrustRegion | None

    def state_dict(self):
        state = super().state_dict()
        if self.trust is not None:
            state["trust_region"] = self.trust.full_state_dict()
        return state

    def load_state_dict(self, state):
        super().load_state_dict(state)
        if self.trust is not None:
            self.trust.load_full_state_dict(state["trust_region"])

    def trust_region_loss(self, surrogate: torch.Tensor, policy: nn.Module,
                          kl_to: Callable[[nn.Module], torch.Tensor]) -> torch.Tensor:
        """The batch loss of a per-sample ``surrogate``: its mean without a trust region; else the frozen copy is
        refreshed from ``policy`` when due and ``kl_to(frozen copy)`` gives the per-sample KL of the clipped loss."""
        if self.trust is None:
            return surrogate.mean()
        self.trust.refresh_if_due(policy)
        return self.trust.loss(surrogate, kl_to(self.trust.old))


class WPOAgent(TrustRegionState, SACAgent):
    """WPO with entropy on SAC's off-policy machinery; only :meth:`policy_loss` differs from SAC."""

    def __init__(self, observation_space, action_space, config: WPOConfig | None = None, **kwargs):
        config = config or WPOConfig()
        if not isinstance(config, WPOConfig):
            raise ValueError(f"WPOAgent needs a WPOConfig (SAC's settings + trust_region), got "
                             f"{type(config).__name__}")
        super().__init__(observation_space, action_space, config, **kwargs)
        tr = config.trust_region
        self.trust = KLTrustRegion(tr, self.actor) if tr.bound is not None else None

    def policy_loss(self, obs: torch.Tensor, pi: ActorSample, alpha: torch.Tensor) -> torch.Tensor:
        u = pi.u.detach().requires_grad_(True)
        q = self.critics(torch.cat([obs, torch.tanh(u)], -1)).squeeze(-1).min(0).values
        grad_q = torch.autograd.grad(q.sum(), u)[0]
        log_pi = self.actor.log_prob(u, pi.mean, pi.log_std)  # θ enters through mean and log_std
        score = torch.autograd.grad(log_pi.sum(), u, create_graph=True)[0]

        def kl_to(old: nn.Module) -> torch.Tensor:  # tanh is a bijection: the KL of the Gaussians in u
            mean_old, log_std_old = old(obs)
            return gaussian_kl(mean_old, (2 * log_std_old).exp(), pi.mean, (2 * pi.log_std).exp())

        return self.trust_region_loss(wpo_surrogate(score, grad_q, alpha), self.actor, kl_to)

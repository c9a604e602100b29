"""Wasserstein Policy Optimization (Pfau et al., ICML 2025, arXiv 2505.00663), with entropy regularisation.

WPO moves the policy along the Wasserstein gradient flow of ``E_π[Q]`` projected onto the parameters:

    Δθ ∝ E_{s, a~π} [ (∇_θ ∇_a log π_θ(a|s))ᵀ v(s, a) ],      v = ∇_a Q(s, a) − α ∇_a log π(a|s),

where ``v`` is the velocity field of the entropy-regularised objective (``docs/methods/diffmaxent.md`` §3.2).
The action is sampled and then held fixed (no reparameterisation): only the *score* ``∇_a log π_θ`` carries
θ. As a loss to minimise, per sample: ``stopgrad(α ∇_a log π − ∇_a Q) · ∇_a log π_θ``, summed over
action dimensions. For the tanh-Gaussian policy the flow is taken in the pre-squash coordinates ``u``
(``a = tanh u``) with ``log π`` the density of the squashed action, so the entropy is SAC's.

Everything else is SAC v2 (:mod:`mdrl_lib.agents.sac`): replay, twin critics with Polyak targets and the
soft Bellman target, automatic temperature. Choices this library makes (documented in notebook 20): no
Fisher preconditioning (the authors' final DiffWPO config removes it, docs/methods/diffmaxent.md §3.2 item 5)
and no KL trust region (not implemented).
"""

from __future__ import annotations

import torch

from mdrl_lib.agents.sac import ActorSample, SACAgent, SACConfig


def wpo_loss(score: torch.Tensor, grad_q: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """WPO surrogate ``E[ stopgrad(α ∇_a log π − ∇_a Q) · ∇_a log π_θ ]``.

    ``score``: ``∇_a log π_θ(a|s)`` ``(B, d)``, differentiable in θ; ``grad_q``: ``∇_a Q(s, a)`` ``(B, d)``.
    Its θ-gradient is minus the entropy-regularised WPO direction (docs/methods/diffmaxent.md §3.2).
    """
    velocity = (grad_q - alpha * score).detach()
    return -(velocity * score).sum(-1).mean()


class WPOAgent(SACAgent):
    """WPO with entropy on SAC's off-policy machinery; only :meth:`policy_loss` differs from SAC."""

    def __init__(self, observation_space, action_space, config: SACConfig | None = None, **kwargs):
        config = config or SACConfig()
        if config.variant != "v2":
            raise ValueError(f"WPO builds on SAC variant 'v2', got {config.variant!r}")
        super().__init__(observation_space, action_space, config, **kwargs)

    def policy_loss(self, obs: torch.Tensor, pi: ActorSample, alpha: torch.Tensor) -> torch.Tensor:
        u = pi.u.detach().requires_grad_(True)
        q = self.critics(torch.cat([obs, torch.tanh(u)], -1)).squeeze(-1).min(0).values
        grad_q = torch.autograd.grad(q.sum(), u)[0]
        log_pi = self.actor.log_prob(u, pi.mean, pi.log_std)  # θ enters through mean and log_std
        score = torch.autograd.grad(log_pi.sum(), u, create_graph=True)[0]
        return wpo_loss(score, grad_q, alpha)

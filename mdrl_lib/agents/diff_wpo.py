"""DiffWPO: WPO on the diffusion-augmented MDP (``docs/methods/diffmaxent.md`` §3.2, off-policy variant).

Each diffusion step is one action of the augmented MDP (see :mod:`mdrl_lib.agents.diff_sac`). For a
transition from ``z = (s, x_k, k)``:

1. sample ``x' = x_{k+1} ~ q_θ(·|x_k, s)`` and stop its gradient;
2. ``g_Q = ∇_{x'} min_j Q_j(z, x')`` with the current critics;
3. ``g_ℓ = ∇_{x'} ℓ_θ(x'; z)``, the action-gradient of ``log q_θ(x'|x_k,s) − log p(x_k|x')``;
4. loss ``stopgrad(α g_ℓ − g_Q) · g_ℓ(θ)`` summed over action dimensions —
   :func:`mdrl_lib.agents.wpo.wpo_loss` with the per-step log-ratio as the "log π".

As in the authors' final config, no Fisher preconditioning. Differences from the authors' code, chosen to
share DiffSAC's machinery (documented in notebook 20): replay with Polyak-target twin critics instead of
REPPO-style on-policy TD(λ) critics with HL-Gauss heads; no KL trust region. With K = 1 the loss is WPO's
for the Gaussian kernel ``q_θ(x_1|x_0, s)`` with ``log π`` replaced by ``ℓ_0``.
"""

from __future__ import annotations

import torch

from mdrl_lib.agents.diff_sac import DiffSACAgent
from mdrl_lib.agents.wpo import wpo_loss


class DiffWPOAgent(DiffSACAgent):
    """DiffWPO; only :meth:`policy_loss` differs from DiffSAC."""

    def policy_loss(self, z: dict[str, torch.Tensor], x_next: torch.Tensor, ell: torch.Tensor,
                    alpha: torch.Tensor) -> torch.Tensor:
        x = x_next.detach().requires_grad_(True)
        q = self.critics(self.q_input(z["obs"], z["x"], z["k"], x)).squeeze(-1).min(0).values
        grad_q = torch.autograd.grad(q.sum(), x)[0]
        log_q, log_p = self.policy.step_log_probs(z["obs"], z["x"], z["k"], x)
        score = torch.autograd.grad((log_q - log_p).sum(), x, create_graph=True)[0]
        return wpo_loss(score, grad_q, alpha)

"""DiffWPO: WPO on the diffusion-augmented MDP (``docs/methods/diffmaxent.md`` §3.2, off-policy variant).

Each diffusion step is one action of the augmented MDP (see :mod:`mdrl_lib.agents.diff_sac`). For a
transition from ``z = (s, x_k, k)``:

1. sample ``x' = x_{k+1} ~ q_θ(·|x_k, s)`` and stop its gradient;
2. ``g_Q = ∇_{x'} min_j Q_j(z, x')`` with the current critics;
3. ``g_ℓ = ∇_{x'} ℓ_θ(x'; z)``, the action-gradient of ``log q_θ(x'|x_k,s) − log p(x_k|x')``;
4. per-sample surrogate ``stopgrad(α g_ℓ − g_Q) · g_ℓ(θ)`` summed over action dimensions —
   :func:`mdrl_lib.agents.wpo.wpo_surrogate` with the per-step log-ratio as the "log π";
5. no Fisher preconditioning (the authors' final config);
6. the authors' KL trust region (:class:`~mdrl_lib.agents.wpo.TrustRegionConfig`, bound 0.02): ``KL = K ·`` the
   forward KL of one denoising kernel between the frozen copy of the policy and the current one, at the
   sample's ``(s, x_k, k)``, in closed form (both kernels are Gaussian); "clipped" mode, learned λ.

Differences from the authors' code, chosen to share DiffSAC's machinery (documented in notebook 20): replay with
Polyak-target twin critics instead of REPPO-style on-policy TD(λ) critics with HL-Gauss heads; DiffSAC's
temperature; the frozen copy refreshed every ``period`` gradient steps (see :mod:`mdrl_lib.agents.wpo`). With
K = 1 and no trust region the loss is WPO's for the Gaussian kernel ``q_θ(x_1|x_0, s)`` with ``log π`` replaced by
``ℓ_0``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from mdrl_lib.agents.diff_sac import DiffSACAgent, DiffSACConfig
from mdrl_lib.agents.wpo import KLTrustRegion, TrustRegionConfig, TrustRegionState, gaussian_kl, wpo_surrogate


@dataclass(frozen=True)
class DiffWPOConfig(DiffSACConfig):
    """DiffWPO = DiffSAC's settings + WPO's KL trust region."""

    trust_region: TrustRegionConfig = field(default_factory=TrustRegionConfig)


class DiffWPOAgent(TrustRegionState, DiffSACAgent):
    """DiffWPO; only :meth:`policy_loss` (and the trust region's state) differ from DiffSAC."""

    def __init__(self, observation_space, action_space, config: DiffWPOConfig | None = None, **kwargs):
        config = config or DiffWPOConfig()
        if not isinstance(config, DiffWPOConfig):
            raise ValueError(f"DiffWPOAgent needs a DiffWPOConfig (DiffSAC's settings + trust_region), got "
                             f"{type(config).__name__}")
        super().__init__(observation_space, action_space, config, **kwargs)
        tr = config.trust_region
        self.trust = KLTrustRegion(tr, self.policy) if tr.bound is not None else None

    def policy_loss(self, z: dict[str, torch.Tensor], x_next: torch.Tensor, ell: torch.Tensor,
                    alpha: torch.Tensor) -> torch.Tensor:
        x = x_next.detach().requires_grad_(True)
        q = self.critics(self.q_input(z["obs"], z["x"], z["k"], x)).squeeze(-1).min(0).values
        grad_q = torch.autograd.grad(q.sum(), x)[0]
        log_q, log_p = self.policy.step_log_probs(z["obs"], z["x"], z["k"], x)
        score = torch.autograd.grad((log_q - log_p).sum(), x, create_graph=True)[0]

        def kl_to(old) -> torch.Tensor:  # K × the KL of one denoising kernel at (s, x_k, k)
            return self.K * gaussian_kl(*old.kernel(z["obs"], z["x"], z["k"]),
                                        *self.policy.kernel(z["obs"], z["x"], z["k"]))

        return self.trust_region_loss(wpo_surrogate(score, grad_q, alpha), self.policy, kl_to)

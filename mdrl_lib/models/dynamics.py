"""Learned dynamics + value model of MaxDiff RL and NN-MPPI (docs/methods/maxdiff.md §2.3–2.4).

§ numbers refer to docs/methods/maxdiff.md.

One module holds two MLPs that read ``concat(s, a)``:

* **dynamics head** ``f_θ``: predicts the state increment, ``ŝ' = s + f_θ(s, a)`` (a residual model), with
  one learned, state-independent log-std vector (clamped to [−10, 2]) used only by the training NLL;
  planning rolls out the mean;
* **value head** ``R_ψ``: a scalar trained SARSA-style toward ``r + 0.95·(1 − done)·R_ψ(s', a')`` with ``a'``
  the action the planner actually took next. The authors call it the reward model; the planner sums it
  over the horizon, so it is really a bootstrapped, Q-like value.

Both heads are ``Linear → ReLU → … → Linear`` with the last layer initialised U(−3e-3, 3e-3). Training is
Adam with weight decay 1e-4 on ``NLL + 0.5·L_R`` (§2.4), ``model_iter`` minibatches per environment step.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from mdrl_lib.utils import zero_subnormals

LOG_STD_MIN, LOG_STD_MAX = -10.0, 2.0
LAST_LAYER_INIT = 3e-3


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int) -> nn.Sequential:
    """``Linear → ReLU → … → Linear``; the last layer's weight and bias start U(−3e-3, 3e-3) (§2.3)."""
    layers: list[nn.Module] = []
    dims = [in_dim, *hidden]
    for a, b in zip(dims[:-1], dims[1:], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU()]
    last = nn.Linear(dims[-1], out_dim)
    nn.init.uniform_(last.weight, -LAST_LAYER_INIT, LAST_LAYER_INIT)
    nn.init.uniform_(last.bias, -LAST_LAYER_INIT, LAST_LAYER_INIT)
    layers.append(last)
    return nn.Sequential(*layers)


class DynamicsValueModel(nn.Module):
    """Residual Gaussian dynamics model plus a value head on ``(s, a)``.

    ``forward(s, a)`` with ``s: (B, d_s)``, ``a: (B, d_a)`` returns ``(next_mean (B, d_s), log_std (d_s,),
    value (B,))``. ``linear_layers(head)`` gives the ``nn.Linear`` layers of ``"dynamics"`` or ``"value"``,
    which the planner reads directly to run its fused rollout.
    """

    def __init__(self, state_dim: int, action_dim: int, hidden: Sequence[int] = (200, 200)):
        super().__init__()
        if state_dim < 1 or action_dim < 1 or not hidden or min(hidden) < 1:
            raise ValueError(f"state_dim, action_dim and every hidden size must be >= 1 and hidden non-empty; "
                             f"got state_dim={state_dim}, action_dim={action_dim}, hidden={list(hidden)}")
        self.state_dim, self.action_dim, self.hidden = state_dim, action_dim, tuple(int(h) for h in hidden)
        self.dynamics = mlp(state_dim + action_dim, self.hidden, state_dim)
        self.value = mlp(state_dim + action_dim, self.hidden, 1)
        self.log_std = nn.Parameter(torch.zeros(state_dim))

    def forward(self, s: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = torch.cat([s, a], dim=-1)
        next_mean = s + self.dynamics(x)
        log_std = self.log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)
        return next_mean, log_std, self.value(x).squeeze(-1)

    def predict_value(self, s: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return self.value(torch.cat([s, a], dim=-1)).squeeze(-1)

    def linear_layers(self, head: str) -> list[nn.Linear]:
        if head not in ("dynamics", "value"):
            raise ValueError(f"unknown head {head!r}; valid heads are 'dynamics' and 'value'")
        return [m for m in getattr(self, head) if isinstance(m, nn.Linear)]


def gaussian_nll(target: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """``−mean log N(target; mean, diag exp(2·log_std))``, averaged over batch and state dimensions."""
    z = (target - mean) * torch.exp(-log_std)
    return (0.5 * z.square() + log_std + 0.5 * math.log(2 * math.pi)).mean()


def model_loss(model: DynamicsValueModel, batch: Mapping[str, torch.Tensor], *, gamma: float = 0.95,
               value_coef: float = 0.5) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """§2.4: ``NLL(s' | s + f(s,a), σ) + value_coef · mean(R(s,a) − sg[r + γ(1−d) R(s',a')])²``.

    ``batch`` holds ``obs (B, d_s)``, ``action (B, d_a)``, ``reward (B,)``, ``next_obs (B, d_s)``,
    ``next_action (B, d_a)`` and ``done (B,)`` (1.0 where the episode terminated).
    Returns the scalar loss and its parts (detached).
    """
    next_mean, log_std, value = model(batch["obs"], batch["action"])
    nll = gaussian_nll(batch["next_obs"], next_mean, log_std)
    with torch.no_grad():
        target = batch["reward"] + gamma * (1.0 - batch["done"]) * model.predict_value(batch["next_obs"],
                                                                                         batch["next_action"])
    value_loss = (value - target).square().mean()
    return nll + value_coef * value_loss, {"nll": nll.detach(), "value_loss": value_loss.detach()}


@dataclass(frozen=True)
class ModelConfig:
    """Model and model-training settings (§2.3–2.4, §4.1–4.2).

    Defaults are the Swimmer values; the point mass uses hidden (128, 128) and lr 5e-4.
    """

    hidden: tuple[int, ...] = (200, 200)  # §2.3: 128×2 point mass, 200×2 Swimmer/HalfCheetah, 512×3 Ant
    lr: float = 3e-4  # §2.4: 5e-4 for the point mass
    weight_decay: float = 1e-4  # §2.4 (class default, not in the YAML)
    batch_size: int = 128  # §4.2: 256 for HalfCheetah and Ant
    model_iter: int = 5  # §2.4: gradient steps per env step (10 for single-shot Swimmer)
    value_gamma: float = 0.95  # §2.4: bootstrap discount of the value head
    value_coef: float = 0.5  # §2.4: weight of the value loss

    def __post_init__(self):
        if self.batch_size < 1 or self.model_iter < 0:
            raise ValueError(f"batch_size must be >= 1 and model_iter >= 0; got {self.batch_size}, {self.model_iter}")
        if not 0 <= self.value_gamma < 1:
            raise ValueError(f"value_gamma must be in [0, 1), got {self.value_gamma}")


class ModelTrainer:
    """Adam on :func:`model_loss`; ``step(batch)`` is one gradient step and returns the loss parts."""

    def __init__(self, model: DynamicsValueModel, config: ModelConfig):
        self.model, self.config = model, config
        kwargs = {"fused": True} if _fused_adam_ok(model) else {}
        self.optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                                          **kwargs)

    def step(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        loss, parts = model_loss(self.model, batch, gamma=self.config.value_gamma,
                                 value_coef=self.config.value_coef)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        # coupled weight decay pulls a weight with no data gradient (a dead ReLU unit) to zero through the subnormal
        # range, where CPU matmuls slow ~60x (mdrl_lib.utils.flush_denormals); zero them whatever the thread count
        zero_subnormals(self.model.parameters())
        return parts


def _fused_adam_ok(model: nn.Module) -> bool:
    """Fused Adam (one kernel for all parameters) exists for CPU and CUDA float tensors in torch >= 2.4."""
    try:
        torch.optim.Adam([torch.zeros(1, device=next(model.parameters()).device, requires_grad=True)], fused=True)
    except (RuntimeError, TypeError, ValueError):
        return False
    return True

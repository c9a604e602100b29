"""Shared torch building blocks: MLPs, a fused ensemble of MLPs, Fourier time embeddings, Polyak averaging.

Everything here is small and generic; algorithm modules (``mdrl_lib.agents.*``) build their networks from
it. Initialisation is explicit (PyTorch's defaults differ from Flax's, which the reference codes use).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import torch
from torch import nn
from torch.nn import functional as F

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "silu": nn.SiLU, "elu": nn.ELU}


def activation(name: str) -> nn.Module:
    """The activation module called ``name`` (one of :data:`ACTIVATIONS`)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; valid activations are {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def lecun_normal_(weight: torch.Tensor) -> torch.Tensor:
    """Flax's default kernel init: truncated normal with variance 1/fan_in (in place)."""
    fan_in = weight.shape[-1] if weight.dim() == 2 else weight.shape[-2]
    std = math.sqrt(1.0 / fan_in) / 0.87962566103423978  # std of a unit normal truncated to [-2, 2]
    with torch.no_grad():
        return nn.init.trunc_normal_(weight, 0.0, std, -2 * std, 2 * std)


class MLP(nn.Sequential):
    """``Linear -> act -> ... -> Linear``: ``in_dim -> hidden[0] -> ... -> out_dim``.

    ``out_scale`` multiplies the last layer's initial weights (and zeroes its bias) — e.g. 1e-8 for a
    diffusion control network that must start at f ≈ 0, 1e-2 for a policy mean. ``init="lecun"`` uses Flax's
    default kernel init with zero biases; ``"torch"`` keeps PyTorch's.

    Input ``(..., in_dim)`` → output ``(..., out_dim)``.
    """

    def __init__(self, in_dim: int, hidden: Sequence[int], out_dim: int, act: str = "relu", *,
                 out_scale: float | None = None, init: str = "torch"):
        if init not in ("torch", "lecun"):
            raise ValueError(f"unknown init {init!r}; valid: 'torch', 'lecun'")
        dims = [in_dim, *hidden, out_dim]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
            lin = nn.Linear(a, b)
            if init == "lecun":
                lecun_normal_(lin.weight)
                nn.init.zeros_(lin.bias)
            layers.append(lin)
            if i < len(dims) - 2:
                layers.append(activation(act))
        super().__init__(*layers)
        if out_scale is not None:
            with torch.no_grad():
                layers[-1].weight.mul_(out_scale)
                layers[-1].bias.zero_()


class EnsembleLinear(nn.Module):
    """``n`` independent linear layers applied with one batched matmul.

    Input ``(n, B, in)`` (or ``(B, in)``, broadcast to every member) → ``(n, B, out)``. Each member is
    initialised like ``nn.Linear`` (uniform ±1/sqrt(in)).
    """

    def __init__(self, n: int, in_dim: int, out_dim: int):
        super().__init__()
        bound = 1.0 / math.sqrt(in_dim)
        self.weight = nn.Parameter(torch.empty(n, in_dim, out_dim).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n, 1, out_dim).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            return torch.matmul(x, self.weight) + self.bias  # broadcast (B, in) @ (n, in, out)
        return torch.baddbmm(self.bias, x, self.weight)


class EnsembleMLP(nn.Module):
    """``n`` independent MLPs of the same shape evaluated together (e.g. SAC's twin critics).

    One batched matmul per layer instead of ``n`` small ones: on a CPU this halves the Python and
    dispatch overhead of twin critics. Input ``(B, in)`` or ``(n, B, in)`` → output ``(n, B, out)``.
    ``out_scale`` rescales the last layer's initial weights and zeroes its bias, like :class:`MLP`;
    ``last_init`` instead draws the last layer uniformly in ±``last_init`` (the SAC-v1 convention).
    """

    def __init__(self, n: int, in_dim: int, hidden: Sequence[int], out_dim: int, act: str = "relu", *,
                 out_scale: float | None = None, last_init: float | None = None):
        super().__init__()
        dims = [in_dim, *hidden, out_dim]
        self.n = n
        self.layers = nn.ModuleList(EnsembleLinear(n, a, b) for a, b in zip(dims[:-1], dims[1:], strict=True))
        self.act = activation(act)
        with torch.no_grad():
            last = self.layers[-1]
            if out_scale is not None:
                last.weight.mul_(out_scale)
                last.bias.zero_()
            if last_init is not None:
                last.weight.uniform_(-last_init, last_init)
                last.bias.uniform_(-last_init, last_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = self.act(x)
        return x


class FourierTimeEmbedding(nn.Module):
    """Embedding of a (diffusion) step index ``k``: Fourier features, then a small MLP.

    ``phi(k) = [sin(c_i k + b_i), cos(c_i k + b_i)]_{i=1..n_freq}`` with frequencies ``c`` spaced linearly in
    ``[f_min, f_max]`` (fixed) and a learned phase ``b`` (init 0), followed by ``Linear(2 n_freq -> hidden)
    -> GELU -> Linear(hidden -> out_dim)``. ``k`` is the raw step index (not normalised), as in the
    reference codes. Input ``(B,)`` (int or float) → ``(B, out_dim)``.
    """

    def __init__(self, n_freq: int = 32, hidden: int = 32, out_dim: int = 16, f_min: float = 0.1,
                 f_max: float = 100.0):
        super().__init__()
        self.register_buffer("freq", torch.linspace(f_min, f_max, n_freq))
        self.phase = nn.Parameter(torch.zeros(n_freq))
        self.mlp = MLP(2 * n_freq, [hidden], out_dim, act="gelu")
        self.out_dim = out_dim

    def forward(self, k: torch.Tensor) -> torch.Tensor:
        arg = k.to(self.freq.dtype).unsqueeze(-1) * self.freq + self.phase
        return self.mlp(torch.cat([torch.sin(arg), torch.cos(arg)], dim=-1))


def soft_plus_inverse(y: float | torch.Tensor) -> torch.Tensor:
    """``x`` with ``softplus(x) = y`` (y > 0): the raw value initialising a softplus-parametrised scale."""
    y = torch.as_tensor(y, dtype=torch.get_default_dtype())
    if torch.any(y <= 0):
        raise ValueError(f"softplus inverse needs positive values, got {y}")
    return y + torch.log(-torch.expm1(-y))


@torch.no_grad()
def polyak_update_(target: Iterable[torch.Tensor], source: Iterable[torch.Tensor], tau: float) -> None:
    """``target <- (1 - tau) target + tau source`` for all tensors at once (one foreach kernel)."""
    torch._foreach_lerp_(list(target), list(source), tau)


def gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    """Log-density of a diagonal Gaussian, summed over the last axis: ``(..., d) -> (...)``."""
    return -0.5 * (((x - mean) ** 2) / var + torch.log(2 * math.pi * var)).sum(-1)


def tanh_log_det_jacobian(x: torch.Tensor) -> torch.Tensor:
    """``sum_d log(1 - tanh(x_d)^2)``, stably ``2 (log 2 - x - softplus(-2x))``: ``(..., d) -> (...)``."""
    return (2.0 * (math.log(2.0) - x - F.softplus(-2.0 * x))).sum(-1)


def make_adam(params: Iterable[torch.Tensor], lr: float, betas: tuple[float, float] = (0.9, 0.999),
              eps: float = 1e-8) -> torch.optim.Adam:
    """Adam with fused kernels (one call per step for all parameters; multi-tensor ``foreach`` as fallback)."""
    params = list(params)
    if all(p.device.type in ("cpu", "cuda") and p.dtype in (torch.float32, torch.float64) for p in params):
        return torch.optim.Adam(params, lr=lr, betas=betas, eps=eps, fused=True)
    return torch.optim.Adam(params, lr=lr, betas=betas, eps=eps, foreach=True)


# ----- batch renormalisation (Ioffe 2017), as CrossQ and DIME use it -----------------------------------------

class BatchRenorm(nn.Module):
    """Batch renormalisation (Ioffe 2017) with CrossQ's schedule: plain batch norm during a warm-up.

    Train mode, with batch statistics ``μ_B``, ``σ_B = sqrt(var_B + ε)`` (biased variance, as Flax) and
    running statistics ``μ``, ``σ = sqrt(var + ε)``::

        warm-up (first ``warmup_steps`` train-mode calls):  x̂ = (x − μ_B) / σ_B          (batch norm)
        afterwards:   x̂ = r (x − μ_B) / σ_B + d,   r = clip(σ_B/σ, 1/r_max, r_max),
                                                   d = clip((μ_B − μ)/σ, −d_max, d_max)

    with ``r`` and ``d`` treated as constants (no gradient). Output ``γ x̂ + β`` (learned, init 1 and 0).
    Every train-mode call updates ``μ ← m μ + (1−m) μ_B`` and ``var ← m var + (1−m) var_B`` (Flax's
    momentum convention: ``momentum=0.99`` is PyTorch's ``momentum=0.01``; the *biased* batch variance,
    where PyTorch's BatchNorm stores the unbiased one). Eval mode normalises with ``μ, σ`` only.
    Defaults are CrossQ's (momentum 0.99, ε 1e-3, r_max 3, d_max 5, warm-up 100k calls).

    Input ``(B, F)``; with ``n_members=n``, ``(n, B, F)`` where each of the ``n`` members (e.g. fused twin
    critics) has its own statistics and affine parameters. The batch axis is always ``-2``.
    """

    def __init__(self, num_features: int, *, n_members: int | None = None, momentum: float = 0.99,
                 eps: float = 1e-3, r_max: float = 3.0, d_max: float = 5.0, warmup_steps: int = 100_000):
        super().__init__()
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1) (Flax convention, e.g. 0.99), got {momentum}")
        if r_max < 1.0 or d_max < 0.0 or eps <= 0.0 or warmup_steps < 0:
            raise ValueError(f"need r_max >= 1, d_max >= 0, eps > 0, warmup_steps >= 0; got r_max={r_max}, "
                             f"d_max={d_max}, eps={eps}, warmup_steps={warmup_steps}")
        shape = (num_features,) if n_members is None else (n_members, 1, num_features)
        self.num_features, self.n_members = num_features, n_members
        self.momentum, self.eps, self.r_max, self.d_max = momentum, eps, r_max, d_max
        self.warmup_steps = warmup_steps
        self.weight = nn.Parameter(torch.ones(shape))
        self.bias = nn.Parameter(torch.zeros(shape))
        self.register_buffer("running_mean", torch.zeros(shape))
        self.register_buffer("running_var", torch.ones(shape))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    def extra_repr(self) -> str:
        return (f"{self.num_features}, n_members={self.n_members}, momentum={self.momentum}, eps={self.eps}, "
                f"r_max={self.r_max}, d_max={self.d_max}, warmup_steps={self.warmup_steps}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        want = 2 if self.n_members is None else 3
        if x.dim() != want or x.shape[-1] != self.num_features:
            raise ValueError(f"BatchRenorm({self.num_features}, n_members={self.n_members}) expects input of "
                             f"{want} dims ending in {self.num_features}, got shape {tuple(x.shape)}")
        if not self.training:
            return (x - self.running_mean) * torch.rsqrt(self.running_var + self.eps) * self.weight + self.bias
        keep = self.n_members is not None
        mean_b = x.mean(-2, keepdim=keep)
        var_b = x.var(-2, unbiased=False, keepdim=keep)
        std_b = torch.sqrt(var_b + self.eps)
        x_hat = (x - mean_b) / std_b
        with torch.no_grad():
            std = torch.sqrt(self.running_var + self.eps)
            r = (std_b / std).clamp(1.0 / self.r_max, self.r_max)
            d = ((mean_b - self.running_mean) / std).clamp(-self.d_max, self.d_max)
            # r = 1, d = 0 during warm-up (exactly batch norm); torch.where avoids a GPU->CPU sync
            active = self.steps >= self.warmup_steps
            r = torch.where(active, r, torch.ones_like(r))
            d = torch.where(active, d, torch.zeros_like(d))
            self.running_mean.lerp_(mean_b, 1.0 - self.momentum)
            self.running_var.lerp_(var_b, 1.0 - self.momentum)
            self.steps += 1
        return (x_hat * r + d) * self.weight + self.bias

"""Batched MPPI on a learned model, with MaxDiff's path-entropy bonus and NN-MPPI's control prior.

One call of :meth:`MPPIPlanner.plan` is one environment step of the authors' planner (docs/methods/maxdiff.md §2.2;
§ numbers refer to docs/methods/maxdiff.md):

1. shift the warm-started nominal sequence ``ā ∈ R^{H×m}`` one step, last entry 0;
2. draw ``ε_t ~ N(0, σ²I)`` for all ``K`` samples and low-pass filter them, ``η_t = ½η_{t−1} + ½ε_t``;
   the sampled actions are ``v_t = ā_t + η_t`` (never clipped);
3. roll the model's mean dynamics out for all samples at once, ``s_{t+1} = s_t + f_θ(s_t, v_t)`` (clamped to
   ±1e10), from the real state ``s_0``; the value head scores every ``(s_t, v_t)``, ``t = 0..H−1``;
4. score ``J_k = Σ_t R(s_t, v_t) + α·S_k + [λ·Σ_t log N(η_t; 0, σ²I)]``, where ``S_k`` is
   ½·log|det Ĉ_k| of the sample covariance of rollout k's states ``s_0..s_{H−1}`` in the exploration
   dimensions (:func:`path_entropy`, Eq. 6 of the paper) and the bracket is NN-MPPI's control prior
   (:func:`control_log_prior`);
5. weight the samples ``ω_k ∝ exp((J_k − max J)/λ) + 1e-5`` (:func:`mppi_weights`) and update
   ``ā ← ā + Σ_k ω_k η^{(k)}``; return ``ā_0``.

Speed: all K samples go through each layer as one matmul into preallocated buffers, and no tensor is
allocated inside the horizon loop. Each step's input ``(s_t, v_t, 1)`` lives in one ``(H, K, d_s+m+1)``
buffer: the sampled actions are written once, each predicted state straight into the next step's row,
and the ones column carries both heads' first-layer biases, so the stacked first layers of the two
heads (they read the same input) are one plain ``mm``. Activations are ``(K, h)`` blocks that stay in
cache; two layouts measured slower and were dropped: one value pass over all ``H·K`` pairs after the
loop, and the first layers' action half precomputed for all steps (both stream tens of MB through
memory). The last predicted state ``s_H`` is never used, so it is not computed. See
``benchmarks/planner.py`` for the plan time against its roofline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from mdrl_lib.models.dynamics import DynamicsValueModel


@dataclass(frozen=True)
class PlannerConfig:
    """MPPI settings; defaults are the heavy-Swimmer values of §4.1–4.2."""

    horizon: int = 40  # H: 30 point mass, 40 Swimmer, 10 HalfCheetah, 20 Ant
    samples: int = 500  # K (N in docs/methods/maxdiff.md): 500, 1000 for single-shot and Ant
    lam: float = 0.1  # λ, softmax temperature: 0.5 point mass/HalfCheetah/Ant, 0.1 Swimmer
    sigma: float = 0.3  # perturbation std: the class default every run used (YAML's 0.5 never applied, §2.2)
    filter_coef: float = 0.5  # η_t = c·η_{t−1} + (1−c)·ε_t (§2.2 step 2)
    alpha: float = 0.0  # weight of the path-entropy bonus (MaxDiff); 0 = off
    explr_dims: tuple[int, ...] | None = None  # state dims of the entropy term; None = all
    explr_weights: tuple[float, ...] | None = None  # "quad" weights W of Ĉ = W·cov·W (cancel in the softmax)
    window: bool = False  # windowed entropy (single-shot Swimmer only)
    control_variance: bool = False  # NN-MPPI's λ·Σ log N(η; 0, σ²I) term
    jitter: float = 1e-8  # std of the i.i.d. noise added to every entry of Ĉ before slogdet
    weight_floor: float = 1e-5  # added to every softmax weight before normalising
    state_clamp: float = 1e10  # predicted states are clamped to ±this

    def __post_init__(self):
        bad = {k: getattr(self, k) for k in ("horizon", "samples") if getattr(self, k) < 2}
        if bad:
            raise ValueError(f"horizon and samples must be >= 2, got {bad}")
        if self.lam <= 0 or self.sigma <= 0:
            raise ValueError(f"lam and sigma must be > 0, got lam={self.lam}, sigma={self.sigma}")
        if not 0 <= self.filter_coef < 1:
            raise ValueError(f"filter_coef must be in [0, 1), got {self.filter_coef}")
        if (self.explr_weights is not None and self.explr_dims is not None
                and len(self.explr_weights) != len(self.explr_dims)):
            raise ValueError(f"explr_weights {self.explr_weights} must have one weight per explr_dims entry "
                             f"{self.explr_dims}")


def filter_matrix(horizon: int, coef: float, *, dtype=torch.float32, device=None) -> torch.Tensor:
    """Lower-triangular ``L (H, H)`` with ``η = L·ε`` for ``η_t = c·η_{t−1} + (1−c)·ε_t``, ``η_{−1} = 0``."""
    t = torch.arange(horizon, dtype=torch.float64)
    lag = t[:, None] - t[None, :]
    L = torch.where(lag >= 0, (1 - coef) * coef ** lag.clamp(min=0), torch.zeros(()))
    return L.to(dtype=dtype, device=device)


def state_covariance(y: torch.Tensor) -> torch.Tensor:
    """Unbiased sample covariance over time: ``y (K, T, d)`` → ``(K, d, d)``."""
    yc = y - y.mean(dim=1, keepdim=True)
    return yc.transpose(1, 2) @ yc / (y.shape[1] - 1)


def window_length(horizon: int, dims: int) -> tuple[int, int]:
    """Window length and stride of the windowed entropy: ``w = max(⌊H/4⌋, 2·d)``, stride ``⌊w/3⌋`` (§2.2)."""
    w = max(horizon // 4, 2 * dims)
    if w > horizon:
        raise ValueError(f"windowed entropy needs horizon >= 2·dims = {2 * dims}, got horizon {horizon}")
    return w, max(w // 3, 1)


def path_entropy(y: torch.Tensor, weights: torch.Tensor | None = None, *, jitter: float = 0.0,
                 generator: torch.Generator | None = None, window: bool = False) -> torch.Tensor:
    """MaxDiff's bonus ``S_k = ½·log|det(W·cov(y_k)·W + E)|`` per rollout (paper Eq. 6; §2.2 step 4).

    ``y (K, T, d)``: each rollout's T states in the exploration dimensions. ``weights (d,)``: the diagonal
    of W (None = identity). ``E`` has i.i.d. N(0, jitter²) entries (not symmetrised, as the authors do).
    With ``window`` the path is cut into windows (:func:`window_length`) and ``S_k`` is the mean over
    windows. Returns ``(K,)``.
    """
    if window:
        w, stride = window_length(y.shape[1], y.shape[2])
        # (K, n_windows, d, w) -> (K·n_windows, w, d)
        y_win = y.unfold(1, w, stride)
        k, n = y_win.shape[:2]
        return path_entropy(y_win.transpose(2, 3).reshape(k * n, w, -1), weights, jitter=jitter,
                            generator=generator).view(k, n).mean(dim=1)
    c = state_covariance(y)
    if weights is not None:
        c = c * (weights[:, None] * weights[None, :])
    if jitter:
        c = c + jitter * torch.randn(c.shape, generator=generator, device=c.device, dtype=c.dtype)
    return 0.5 * torch.linalg.slogdet(c).logabsdet


def control_log_prior(eta: torch.Tensor, sigma: float) -> torch.Tensor:
    """NN-MPPI's control term ``Σ_t log N(η_t; 0, σ²I)`` per sample: ``eta (H, K, m)`` → ``(K,)``."""
    h, _, m = eta.shape
    return -eta.square().sum(dim=(0, 2)) / (2 * sigma**2) - h * m * 0.5 * math.log(2 * math.pi * sigma**2)


def mppi_weights(scores: torch.Tensor, lam: float, floor: float = 1e-5) -> torch.Tensor:
    """Softmax weights ``ω_k ∝ exp((J_k − max J)/λ) + floor``, normalised; ``scores (K,)`` → ``(K,)``."""
    w = torch.exp((scores - scores.max()) / lam) + floor
    return w / w.sum()


@dataclass
class _Buffers:
    """Everything :meth:`MPPIPlanner.plan` writes, allocated once."""

    eps: torch.Tensor  # (H, K·m)
    eta: torch.Tensor  # (H, K, m)
    inputs: torch.Tensor  # (H, K, d_s + m + 1): (s_t, v_t, 1) of every step; the ones column carries the bias
    w_first: torch.Tensor  # (d_s + m + 1, 2·h_1): both heads' first layers [W | b]ᵀ, stacked
    first: torch.Tensor  # (K, 2·h_1): both heads' first hidden layer at one step
    hidden: list[list[torch.Tensor]]  # per head: (K, h_i), i >= 2
    values: torch.Tensor  # (H, K, 1)


class MPPIPlanner:
    """Warm-started MPPI over a :class:`~mdrl_lib.models.dynamics.DynamicsValueModel` (module docstring).

    ``plan(state, entropy=True)`` takes the real state ``(d_s,)`` (tensor or array) and returns the action
    ``(m,)`` on the model's device. ``entropy=False`` drops the α-term (the authors' periodic evaluation);
    the published final evaluations keep it on. ``alpha`` may be changed between calls (schedules).
    All randomness comes from the planner's own generator, seeded by ``seed``.
    """

    def __init__(self, model: DynamicsValueModel, config: PlannerConfig, *, seed: int):
        self.model, self.config = model, config
        self.alpha = float(config.alpha)
        p = next(model.parameters())
        self.device, self.dtype = p.device, p.dtype
        d_s, m, H, K = model.state_dim, model.action_dim, config.horizon, config.samples
        self.state_dim, self.action_dim = d_s, m
        dims = list(range(d_s)) if config.explr_dims is None else list(config.explr_dims)
        if min(dims) < 0 or max(dims) >= d_s:
            raise ValueError(f"explr_dims {config.explr_dims} out of range for a {d_s}-dimensional state; "
                             f"valid dims are 0..{d_s - 1}")
        self.explr_dims = torch.tensor(dims, device=self.device)
        self.explr_weights = (None if config.explr_weights is None else
                              torch.tensor(config.explr_weights, dtype=self.dtype, device=self.device))
        if self.explr_weights is not None and len(self.explr_weights) != len(dims):
            raise ValueError(f"explr_weights {config.explr_weights} must have one weight per exploration dim "
                             f"({len(dims)}: {dims})")
        if config.window:
            window_length(H, len(dims))  # validates
        self.filter = filter_matrix(H, config.filter_coef, dtype=self.dtype, device=self.device)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(int(seed))
        self.nominal = torch.zeros(H, m, dtype=self.dtype, device=self.device)
        self._shift = torch.zeros_like(self.nominal)
        kw = {"dtype": self.dtype, "device": self.device}
        dyn, val = model.linear_layers("dynamics"), model.linear_layers("value")
        h1 = dyn[0].out_features
        if val[0].out_features != h1:
            raise ValueError(f"the planner needs both heads' first layers the same width, got {h1} and "
                             f"{val[0].out_features}")
        inputs = torch.empty(H, K, d_s + m + 1, **kw)
        inputs[..., -1] = 1.0
        self.buf = _Buffers(
            eps=torch.empty(H, K * m, **kw), eta=torch.empty(H, K, m, **kw), inputs=inputs,
            w_first=torch.empty(d_s + m + 1, 2 * h1, **kw), first=torch.empty(K, 2 * h1, **kw),
            hidden=[[torch.empty(K, layer.out_features, **kw) for layer in layers[1:-1]] for layers in (dyn, val)],
            values=torch.empty(H, K, 1, **kw))

    @property
    def states(self) -> torch.Tensor:
        """``(H, K, d_s)`` view of the predicted states ``s_0..s_{H−1}`` of the last plan."""
        return self.buf.inputs[..., : self.state_dim]

    @property
    def actions(self) -> torch.Tensor:
        """``(H, K, m)`` view of the sampled actions of the last plan."""
        return self.buf.inputs[..., self.state_dim: -1]

    def reset(self) -> None:
        """Zero the warm start (episode start)."""
        self.nominal.zero_()

    @torch.no_grad()
    def plan(self, state, entropy: bool = True) -> torch.Tensor:
        H, m = self.config.horizon, self.action_dim
        # 1. warm start: shift one step, last entry 0
        self._shift[:-1].copy_(self.nominal[1:])
        self._shift[-1].zero_()
        self.nominal.copy_(self._shift)
        # 2. filtered perturbations for all samples: η = L·ε
        b = self.buf
        torch.randn(b.eps.shape, generator=self.generator, out=b.eps)
        b.eps.mul_(self.config.sigma)
        torch.mm(self.filter, b.eps, out=b.eta.view(H, -1))
        scores = self.scores(state, b.eta, entropy=entropy)
        # 5. weighted update of the nominal sequence
        w = mppi_weights(scores, self.config.lam, self.config.weight_floor)
        self.nominal.add_(torch.einsum("hkm,k->hm", b.eta, w))
        return self.nominal[0].clone().view(m)

    @torch.no_grad()
    def scores(self, state, eta: torch.Tensor, entropy: bool = True) -> torch.Tensor:
        """``J (K,)`` of perturbations ``eta (H, K, m)`` around the current nominal, from ``state (d_s,)``."""
        cfg = self.config
        H, K = cfg.horizon, cfg.samples
        s0 = torch.as_tensor(state, dtype=self.dtype).to(self.device).view(1, self.state_dim)
        torch.add(self.nominal.unsqueeze(1), eta, out=self.actions)
        values = self._rollout(s0)
        scores = values.view(H, K).sum(dim=0)
        if entropy and self.alpha != 0.0:
            y = self.states.index_select(2, self.explr_dims).transpose(0, 1)  # (K, H, d)
            scores = scores + self.alpha * path_entropy(y, self.explr_weights, jitter=cfg.jitter,
                                                        generator=self.generator, window=cfg.window)
        if cfg.control_variance:
            scores = scores + cfg.lam * control_log_prior(eta, cfg.sigma)
        return scores

    def _rollout(self, s0: torch.Tensor) -> torch.Tensor:
        """Fill the states of ``buf.inputs`` (``s_0..s_{H−1}``) for its actions; return the values ``(H, K, 1)``.

        Per step, all in ``(K, ·)`` blocks that stay in cache: one ``mm`` of ``(s_t, v_t, 1)`` with both
        heads' stacked first layers (biases in the weight), then each head's remaining layers, each one
        ``addmm`` into a preallocated buffer; the next state is written straight into the next step's input.
        """
        cfg, b, d_s = self.config, self.buf, self.state_dim
        H, K = cfg.horizon, cfg.samples
        dyn, val = self.model.linear_layers("dynamics"), self.model.linear_layers("value")
        h1 = dyn[0].out_features
        n_in = dyn[0].in_features
        for i, layer in enumerate((dyn[0], val[0])):
            b.w_first[:n_in, i * h1:(i + 1) * h1].copy_(layer.weight.t())
            b.w_first[n_in, i * h1:(i + 1) * h1].copy_(layer.bias)
        dyn_mid = [(layer.bias, layer.weight.t(), h) for layer, h in zip(dyn[1:-1], b.hidden[0], strict=True)]
        val_mid = [(layer.bias, layer.weight.t(), h) for layer, h in zip(val[1:-1], b.hidden[1], strict=True)]
        b_out, w_out = dyn[-1].bias, dyn[-1].weight.t()
        bv_out, wv_out = val[-1].bias, val[-1].weight.t()
        states = self.states
        states[0].copy_(s0.expand(K, d_s))
        c = cfg.state_clamp
        first, w_first = b.first, b.w_first
        for t in range(H):
            torch.mm(b.inputs[t], w_first, out=first).relu_()
            x = first[:, h1:]
            for bias, w, h in val_mid:
                x = torch.addmm(bias, x, w, out=h).relu_()
            torch.addmm(bv_out, x, wv_out, out=b.values[t])
            if t == H - 1:  # s_H is never used
                break
            x = first[:, :h1]
            for bias, w, h in dyn_mid:
                x = torch.addmm(bias, x, w, out=h).relu_()
            torch.addmm(states[t], x, w_out, out=states[t + 1]).add_(b_out).clamp_(-c, c)
        return b.values

    def state_dict(self) -> dict[str, Any]:
        return {"nominal": self.nominal.clone(), "generator": self.generator.get_state(), "alpha": self.alpha}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.nominal.copy_(state["nominal"])
        self.generator.set_state(state["generator"])
        self.alpha = float(state["alpha"])

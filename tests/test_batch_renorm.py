"""BatchRenorm (nets.py): batch norm in its warm-up, the renorm correction afterwards, eval mode, ensembles."""

import pytest
import torch
from torch import nn

from mdrl_lib.nets import BatchRenorm


def _batches(n=6, b=64, f=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    # shifted and scaled so the running statistics differ from the batch statistics
    return [torch.randn(b, f, generator=g, dtype=torch.float64) * 3.0 + 2.0 * i for i in range(n)]


def test_warmup_equals_batch_norm_outputs_gradients_and_running_mean():
    brn = BatchRenorm(5, warmup_steps=100).double()
    bn = nn.BatchNorm1d(5, eps=1e-3, momentum=0.01).double()  # PyTorch momentum = 1 - Flax momentum
    with torch.no_grad():
        for m in (brn, bn):
            m.weight.copy_(torch.linspace(0.5, 2.0, 5))
            m.bias.copy_(torch.linspace(-1.0, 1.0, 5))
    running_var = torch.ones(5, dtype=torch.float64)
    for x in _batches():
        x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
        y1, y2 = brn(x1), bn(x2)
        torch.testing.assert_close(y1, y2, rtol=1e-12, atol=1e-12)
        w = torch.randn_like(y1)
        (y1 * w).sum().backward()
        (y2 * w).sum().backward()
        torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-10, atol=1e-12)
        running_var = 0.99 * running_var + 0.01 * x.var(0, unbiased=False)  # Flax keeps the biased variance
    torch.testing.assert_close(brn.running_mean, bn.running_mean, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(brn.running_var, running_var, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(brn.weight.grad, bn.weight.grad)
    assert int(brn.steps) == 6


def test_after_warmup_values_use_running_stats_but_gradients_use_batch_stats():
    brn = BatchRenorm(5, warmup_steps=3, r_max=1e6, d_max=1e6).double()  # no clipping of r, d
    xs = _batches()
    for x in xs[:3]:
        brn(x)
    x = xs[3].clone().requires_grad_()
    mu, var = brn.running_mean.clone(), brn.running_var.clone()
    y = brn(x)
    # unclipped: r (x - μ_B)/σ_B + d == (x - μ)/σ, the running-statistics normalisation
    torch.testing.assert_close(y, (x - mu) / torch.sqrt(var + 1e-3), rtol=1e-10, atol=1e-10)
    # ... but r and d are constants: the gradient of sum(y) w.r.t. x is zero (as in batch norm),
    # whereas differentiating the running-statistics formula would give 1/σ per element
    y.sum().backward()
    assert x.grad.abs().max() < 1e-10
    # and the output differs from plain batch norm (the renorm correction is active)
    assert not torch.allclose(y, nn.functional.batch_norm(x.detach(), None, None, training=True, eps=1e-3))


def test_clipping_of_r_and_d():
    brn = BatchRenorm(3, warmup_steps=0, r_max=2.0, d_max=0.5).double()
    x = torch.randn(128, 3, dtype=torch.float64) * 10 + 50  # σ_B/σ ≈ 10 > r_max, (μ_B-μ)/σ ≈ 50 > d_max
    y = brn(x)
    mb, sb = x.mean(0), torch.sqrt(x.var(0, unbiased=False) + 1e-3)
    torch.testing.assert_close(y, 2.0 * (x - mb) / sb + 0.5)


def test_eval_mode_uses_running_stats_and_does_not_update():
    brn = BatchRenorm(4, warmup_steps=10)
    for x in _batches(3, f=4):
        brn(x.float())
    state = {k: v.clone() for k, v in brn.state_dict().items()}
    brn.eval()
    x = torch.randn(7, 4)
    y = brn(x)
    torch.testing.assert_close(y, (x - state["running_mean"]) / torch.sqrt(state["running_var"] + 1e-3))
    for k, v in brn.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_ensemble_members_have_their_own_statistics():
    ens = BatchRenorm(4, n_members=2, warmup_steps=5).double()
    single = [BatchRenorm(4, warmup_steps=5).double() for _ in range(2)]
    g = torch.Generator().manual_seed(1)
    for i in range(8):  # crosses the warm-up boundary
        x = torch.randn(2, 32, 4, generator=g, dtype=torch.float64) * torch.tensor([1.0, 5.0]).view(2, 1, 1) + i
        y = ens(x)
        for m in range(2):
            torch.testing.assert_close(y[m], single[m](x[m]))
    torch.testing.assert_close(ens.running_var[1, 0], single[1].running_var)


def test_bad_input():
    with pytest.raises(ValueError, match="momentum must be in \\[0, 1\\)"):
        BatchRenorm(3, momentum=1.5)
    with pytest.raises(ValueError, match="expects input of 2 dims ending in 3, got shape \\(4, 5\\)"):
        BatchRenorm(3)(torch.zeros(4, 5))

import math

import pytest
import torch

from mdrl_lib.nets import (
    MLP,
    EnsembleMLP,
    FourierTimeEmbedding,
    activation,
    gaussian_log_prob,
    polyak_update_,
    soft_plus_inverse,
    tanh_log_det_jacobian,
)


def test_ensemble_mlp_equals_its_members_run_separately():
    torch.manual_seed(0)
    ens = EnsembleMLP(3, 5, [7, 4], 2, act="relu")
    x = torch.randn(11, 5)
    out = ens(x)
    assert out.shape == (3, 11, 2)
    for i in range(3):
        h = x
        for j, layer in enumerate(ens.layers):
            h = h @ layer.weight[i] + layer.bias[i]
            if j < len(ens.layers) - 1:
                h = torch.relu(h)
        torch.testing.assert_close(out[i], h)
    # a per-member input gives each member its own batch
    xs = torch.randn(3, 11, 5)
    torch.testing.assert_close(ens(xs)[1], ens(xs[1])[1])


def test_out_scale_and_last_init():
    torch.manual_seed(0)
    mlp = MLP(4, [8], 3, act="gelu", out_scale=1e-8, init="lecun")
    assert mlp(torch.randn(5, 4)).abs().max() < 1e-6
    ens = EnsembleMLP(2, 4, [8], 1, last_init=3e-3)
    assert ens.layers[-1].weight.abs().max() <= 3e-3 and ens.layers[-1].bias.abs().max() <= 3e-3


def test_fourier_time_embedding_distinguishes_steps():
    emb = FourierTimeEmbedding(n_freq=8, hidden=16, out_dim=6)
    out = emb(torch.arange(5))
    assert out.shape == (5, 6)
    assert torch.cdist(out, out).triu(1)[torch.triu(torch.ones(5, 5), 1) > 0].min() > 0


def test_polyak_and_softplus_inverse():
    a, b = [torch.zeros(3), torch.ones(2)], [torch.ones(3), torch.zeros(2)]
    polyak_update_(a, b, 0.25)
    torch.testing.assert_close(a[0], torch.full((3,), 0.25))
    torch.testing.assert_close(a[1], torch.full((2,), 0.75))
    y = torch.tensor([1e-3, 0.25, 3.0])
    torch.testing.assert_close(torch.nn.functional.softplus(soft_plus_inverse(y)), y)
    with pytest.raises(ValueError, match="positive"):
        soft_plus_inverse(torch.tensor([0.0]))


def test_gaussian_and_tanh_helpers_match_direct_formulas():
    x, m, v = torch.randn(4, 3), torch.randn(4, 3), torch.rand(4, 3) + 0.1
    direct = torch.distributions.Normal(m, v.sqrt()).log_prob(x).sum(-1)
    torch.testing.assert_close(gaussian_log_prob(x, m, v), direct)
    x = torch.linspace(-5, 5, 21).unsqueeze(-1)
    torch.testing.assert_close(tanh_log_det_jacobian(x), torch.log(1 - torch.tanh(x) ** 2).squeeze(-1),
                               atol=1e-4, rtol=1e-4)
    assert math.isfinite(float(tanh_log_det_jacobian(torch.tensor([[40.0]]))))


def test_unknown_activation_names_valid_ones():
    with pytest.raises(ValueError, match="unknown activation 'swishy'.*relu"):
        activation("swishy")

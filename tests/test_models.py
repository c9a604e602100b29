"""Learned dynamics + value model: NLL training generalises, SARSA value target, replay buffer."""

import math

import numpy as np
import pytest
import torch

from mdrl_lib.agents.replay import ReplayBuffer
from mdrl_lib.models import DynamicsValueModel, ModelConfig, ModelTrainer, model_loss
from mdrl_lib.models.dynamics import gaussian_nll


def linear_system(n, g):
    s = torch.randn(n, 3, generator=g)
    a = torch.randn(n, 2, generator=g)
    A = torch.tensor([[0.0, 0.1, 0.0], [0.0, 0.0, 0.1], [0.05, 0.0, 0.0]])
    B = torch.tensor([[0.0, 0.0], [0.1, 0.0], [0.0, 0.1]])
    nxt = s + s @ A.T + a @ B.T + 0.01 * torch.randn(n, 3, generator=g)
    return {"obs": s, "action": a, "reward": -s.square().sum(1), "next_obs": nxt,
            "next_action": torch.randn(n, 2, generator=g), "done": torch.zeros(n)}


def test_training_lowers_held_out_nll():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    train, test = linear_system(2000, g), linear_system(500, g)
    model = DynamicsValueModel(3, 2, (32, 32))
    trainer = ModelTrainer(model, ModelConfig(lr=3e-3, batch_size=128))
    with torch.no_grad():
        before = float(gaussian_nll(test["next_obs"], *model(test["obs"], test["action"])[:2]))
    for _ in range(400):
        idx = torch.randint(0, 2000, (128,), generator=g)
        trainer.step({k: v[idx] for k, v in train.items()})
    with torch.no_grad():
        mean, log_std, _ = model(test["obs"], test["action"])
        after = float(gaussian_nll(test["next_obs"], mean, log_std))
    assert after < before - 1.0, (before, after)
    assert float(log_std.exp().mean()) < 0.5  # the learned noise shrinks from 1 toward the true 0.01


def _subnormal_count(model):
    return sum(int(((p.abs() > 0) & (p.abs() < torch.finfo(p.dtype).tiny)).sum()) for p in model.parameters())


def test_trainer_zeroes_subnormal_weights_of_dead_units(monkeypatch):
    """Coupled weight decay takes a weight with no data gradient through the subnormal range, where CPU matmuls
    slow ~60x (benchmarks/denormals.py); the trainer zeroes such weights after each step and leaves the rest."""
    g = torch.Generator().manual_seed(0)
    batch = linear_system(64, g)

    def trained(patch_out: bool):
        torch.manual_seed(0)
        model = DynamicsValueModel(3, 2, (32, 32))
        with torch.no_grad():  # a dead unit: value hidden unit 0 never fires, so its outgoing weights get no data grad
            model.value[0].weight[0] = 0.0
            model.value[0].bias[0] = -10.0
            model.value[2].weight.view(torch.int32)[:, 0] = 1000  # subnormal bit patterns (~1.4e-42), no rounding
        assert _subnormal_count(model) == 32
        trainer = ModelTrainer(model, ModelConfig(lr=1e-3, batch_size=64))
        with monkeypatch.context() as m:
            if patch_out:
                m.setattr("mdrl_lib.models.dynamics.zero_subnormals", lambda params: None)
            for _ in range(3):
                trainer.step(batch)
        return model

    kept = trained(patch_out=True)
    assert _subnormal_count(kept) == 32  # without the guard they stay: zero data gradient, decay too small to move
    model = trained(patch_out=False)
    assert _subnormal_count(model) == 0 and bool((model.value[2].weight[:, 0] == 0).all())
    for p, q in zip(model.parameters(), kept.parameters(), strict=True):  # every other number is the same
        normal = q.abs() >= torch.finfo(q.dtype).tiny
        torch.testing.assert_close(p[normal], q[normal], rtol=0, atol=0)


def test_nll_matches_torch_distributions():
    g = torch.Generator().manual_seed(1)
    x, m, ls = torch.randn(10, 4, generator=g), torch.randn(10, 4, generator=g), torch.randn(4, generator=g)
    want = -torch.distributions.Normal(m, ls.exp()).log_prob(x).mean()
    torch.testing.assert_close(gaussian_nll(x, m, ls), want)


def test_value_target_is_sarsa_with_done_mask():
    torch.manual_seed(0)
    model = DynamicsValueModel(2, 1, (8,))
    b = {"obs": torch.zeros(2, 2), "action": torch.zeros(2, 1), "reward": torch.tensor([1.0, 1.0]),
         "next_obs": torch.ones(2, 2), "next_action": torch.ones(2, 1), "done": torch.tensor([0.0, 1.0])}
    _, parts = model_loss(model, b, gamma=0.95)
    with torch.no_grad():
        q = model.predict_value(b["obs"], b["action"])
        q_next = model.predict_value(b["next_obs"], b["next_action"])
        target = torch.stack([1 + 0.95 * q_next[0], torch.tensor(1.0)])
    assert float(parts["value_loss"]) == pytest.approx(float((q - target).square().mean()), rel=1e-6)
    # repeated updates on a terminal transition drive the value to the reward
    trainer = ModelTrainer(model, ModelConfig(lr=1e-2))
    term = {k: v[1:] for k, v in b.items()}
    for _ in range(300):
        trainer.step(term)
    assert float(model.predict_value(term["obs"], term["action"]).detach()) == pytest.approx(1.0, abs=0.05)


def test_last_layers_start_small_and_bad_sizes():
    m = DynamicsValueModel(4, 2, (16, 16))
    for head in ("dynamics", "value"):
        assert m.linear_layers(head)[-1].weight.abs().max() <= 3e-3
    with pytest.raises(ValueError, match="hidden non-empty"):
        DynamicsValueModel(4, 2, ())
    with pytest.raises(ValueError, match="unknown head 'reward'"):
        m.linear_layers("reward")


def test_replay_buffer_fifo_distinct_sampling_and_state():
    """The model-based agents' minibatches: distinct rows drawn by their own numpy generator
    (docs/methods/maxdiff.md §2.4)."""
    buf = ReplayBuffer(5, {"obs": 2, "action": 1, "reward": 1, "next_obs": 2, "next_action": 1, "done": 1})
    for i in range(7):
        buf.add(obs=np.full(2, i), action=np.full(1, i), reward=float(i), next_obs=np.full(2, i + 1),
                next_action=np.full(1, i + 1), done=float(i == 6))
    assert len(buf) == 5 and sorted(buf.field("reward").ravel().tolist()) == [2, 3, 4, 5, 6]
    rng = np.random.default_rng(0)
    batch = buf.sample_distinct(5, rng)
    assert sorted(batch["reward"].ravel().tolist()) == [2, 3, 4, 5, 6]  # without replacement
    state, rng_state = buf.state_dict(), rng.bit_generator.state
    a = buf.sample_distinct(3, rng)["reward"]
    buf.load_state_dict(state)
    rng.bit_generator.state = rng_state
    torch.testing.assert_close(buf.sample_distinct(3, rng)["reward"], a)
    with pytest.raises(ValueError, match="cannot sample 6 transitions from a buffer holding 5"):
        buf.sample_distinct(6, rng)
    assert math.isfinite(float(batch["done"].sum()))

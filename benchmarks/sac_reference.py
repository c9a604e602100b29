"""A deliberately plain single-file-style SAC update, the in-process speed reference for SACAgent.

It does what popular single-file PyTorch SACs do (written here from their description, no code copied):
two separate Q modules and two target modules, a numpy replay buffer converted to tensors at every
sample, the actor run separately on s and s', per-parameter Polyak loops and default (per-tensor) Adam.
Same networks (256x256), batch 256, one update per env step. It is not used for results.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


class _Q(nn.Module):
    def __init__(self, o, a):
        super().__init__()
        self.l1, self.l2, self.l3 = nn.Linear(o + a, 256), nn.Linear(256, 256), nn.Linear(256, 1)

    def forward(self, s, a):
        return self.l3(F.relu(self.l2(F.relu(self.l1(torch.cat([s, a], 1))))))


class _Actor(nn.Module):
    def __init__(self, o, a):
        super().__init__()
        self.l1, self.l2 = nn.Linear(o, 256), nn.Linear(256, 256)
        self.mu, self.ls = nn.Linear(256, a), nn.Linear(256, a)

    def get_action(self, s):
        h = F.relu(self.l2(F.relu(self.l1(s))))
        mean, log_std = self.mu(h), torch.clamp(self.ls(h), -20, 2)
        normal = torch.distributions.Normal(mean, log_std.exp())
        u = normal.rsample()
        a = torch.tanh(u)
        logp = normal.log_prob(u) - torch.log(1 - a.pow(2) + 1e-6)
        return a, logp.sum(1, keepdim=True)


class PlainSAC:
    def __init__(self, obs_dim, act_dim, seed=0, buffer_size=100_000):
        torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.actor = _Actor(obs_dim, act_dim)
        self.q1, self.q2 = _Q(obs_dim, act_dim), _Q(obs_dim, act_dim)
        self.q1t, self.q2t = copy.deepcopy(self.q1), copy.deepcopy(self.q2)
        self.q_opt = torch.optim.Adam(list(self.q1.parameters()) + list(self.q2.parameters()), lr=3e-4,
                                      foreach=False)
        self.pi_opt = torch.optim.Adam(self.actor.parameters(), lr=3e-4, foreach=False)
        self.log_alpha = torch.zeros(1, requires_grad=True)
        self.a_opt = torch.optim.Adam([self.log_alpha], lr=3e-4, foreach=False)
        self.target_entropy = -act_dim
        n = buffer_size
        self.o, self.a = np.zeros((n, obs_dim), np.float32), np.zeros((n, act_dim), np.float32)
        self.r, self.o2, self.d = np.zeros(n, np.float32), np.zeros((n, obs_dim), np.float32), np.zeros(n, np.float32)
        self.ptr, self.size, self.n = 0, 0, n

    def act(self, obs):
        with torch.no_grad():
            a, _ = self.actor.get_action(torch.Tensor(obs).unsqueeze(0))
        return a[0].numpy()

    def observe(self, o, a, r, o2, d):
        i = self.ptr
        self.o[i], self.a[i], self.r[i], self.o2[i], self.d[i] = o, a, r, o2, d
        self.ptr, self.size = (i + 1) % self.n, min(self.size + 1, self.n)

    def update(self, batch=256, gamma=0.99, tau=0.005):
        idx = self.rng.integers(0, self.size, batch)
        o, a = torch.tensor(self.o[idx]), torch.tensor(self.a[idx])
        r, o2, d = torch.tensor(self.r[idx]), torch.tensor(self.o2[idx]), torch.tensor(self.d[idx])
        alpha = self.log_alpha.exp().item()
        with torch.no_grad():
            a2, logp2 = self.actor.get_action(o2)
            qt = torch.min(self.q1t(o2, a2), self.q2t(o2, a2)) - alpha * logp2
            y = r.flatten() + gamma * (1 - d.flatten()) * qt.view(-1)
        q1, q2 = self.q1(o, a).view(-1), self.q2(o, a).view(-1)
        q_loss = F.mse_loss(q1, y) + F.mse_loss(q2, y)
        self.q_opt.zero_grad()
        q_loss.backward()
        self.q_opt.step()
        pi, logp = self.actor.get_action(o)
        qpi = torch.min(self.q1(o, pi), self.q2(o, pi))
        pi_loss = (alpha * logp - qpi).mean()
        self.pi_opt.zero_grad()
        pi_loss.backward()
        self.pi_opt.step()
        with torch.no_grad():
            _, logp = self.actor.get_action(o)
        a_loss = (-self.log_alpha.exp() * (logp + self.target_entropy)).mean()
        self.a_opt.zero_grad()
        a_loss.backward()
        self.a_opt.step()
        for net, tgt in ((self.q1, self.q1t), (self.q2, self.q2t)):
            for p, tp in zip(net.parameters(), tgt.parameters(), strict=True):
                tp.data.copy_(tau * p.data + (1 - tau) * tp.data)
        return {"q_loss": q_loss.item(), "pi_loss": pi_loss.item(), "alpha": alpha}

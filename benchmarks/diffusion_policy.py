"""Speed of the diffusion MaxEnt agents, as ratios measured in this process.

1. SAC training throughput on HalfCheetah-v5 (env steps/s with one update per step; batch 256, two 256x256
   critics with targets, a 256x256 actor, Adam): ``SACAgent`` against a plain single-file-style SAC
   (``benchmarks/sac_reference.py``) timed in the same process, and against the issue's 52 steps/s of a
   popular single-file PyTorch SAC on this 2-core CPU (goal: >= 1.5x, i.e. >= 78 steps/s).
2. Time per environment step (act + observe + update) of DiffSAC, DiffPPO and DiffWPO relative to SAC, PPO
   and WPO for K in {4, 8, 16}, with the library's default (paper-size) settings: DiffSAC/DiffWPO take K
   gradient steps per env step (docs/methods/diffmaxent.md §5), DiffPPO K times as many minibatches.

Run (on a quiet machine): ``flock /tmp/mdrl_heavy.lock .venv/bin/python benchmarks/diffusion_policy.py``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from sac_reference import PlainSAC  # noqa: E402

from mdrl_lib.agents.diff_ppo import DiffPPOAgent, DiffPPOConfig  # noqa: E402
from mdrl_lib.agents.diff_sac import DiffSACAgent, DiffSACConfig  # noqa: E402
from mdrl_lib.agents.diff_wpo import DiffWPOAgent  # noqa: E402
from mdrl_lib.agents.diffusion_policy import DiffusionPolicyConfig  # noqa: E402
from mdrl_lib.agents.ppo import PPOAgent, PPOConfig  # noqa: E402
from mdrl_lib.agents.sac import SACAgent, SACConfig  # noqa: E402
from mdrl_lib.agents.wpo import WPOAgent  # noqa: E402
from mdrl_lib.envs import make_env  # noqa: E402

REFERENCE_STEPS_PER_S = 52.0  # issue 6: a popular single-file PyTorch SAC on this 2-core CPU


def _loop(env, act, observe, update, steps: int, obs):
    for _ in range(steps):
        a = act(obs)
        nxt, r, term, trunc, _ = env.step(a)
        observe(obs, a, r, nxt, term, trunc)
        update()
        obs = env.reset()[0] if term or trunc else nxt
    return obs


def time_agent(agent, env, steps: int, warmup: int, fill: int = 0) -> float:
    """Seconds per env step (act + env step + observe + update) after ``fill`` stored and ``warmup`` timed-out steps."""
    obs, _ = env.reset(seed=0)
    obs = _loop(env, agent.act, agent.observe, lambda: None, fill, obs)
    obs = _loop(env, agent.act, agent.observe, agent.update, warmup, obs)
    t = time.perf_counter()
    _loop(env, agent.act, agent.observe, agent.update, steps, obs)
    return (time.perf_counter() - t) / steps


def sac_throughput(steps: int, device: str) -> None:
    env = make_env("HalfCheetah-v5")
    ours = SACAgent(env.observation_space, env.action_space, SACConfig(random_steps=0, buffer_size=100_000),
                    device=device)
    plain = PlainSAC(env.observation_space.shape[0], env.action_space.shape[0])

    class PlainAdapter:
        act = staticmethod(plain.act)

        @staticmethod
        def observe(o, a, r, o2, term, trunc):
            plain.observe(o, a, r, o2, float(term))

        @staticmethod
        def update():
            plain.update()

    t_ours, t_plain = [], []
    for _ in range(2):  # interleave to share any drift in machine load
        t_ours.append(time_agent(ours, env, steps, 20, fill=300))
        t_plain.append(time_agent(PlainAdapter, env, steps, 20, fill=300))
    ours_sps, plain_sps = 1 / min(t_ours), 1 / min(t_plain)
    print(f"SAC throughput on HalfCheetah-v5 (batch 256, 2x256x256 critics + targets, 256x256 actor, "
          f"{torch.get_num_threads()} torch threads, device {device}):")
    print(f"  SACAgent                 {ours_sps:7.1f} env steps/s")
    print(f"  plain single-file SAC    {plain_sps:7.1f} env steps/s   "
          f"ratio SACAgent/plain = {ours_sps / plain_sps:.2f}")
    print(f"  issue's reference        {REFERENCE_STEPS_PER_S:7.1f} env steps/s   ratio SACAgent/reference = "
          f"{ours_sps / REFERENCE_STEPS_PER_S:.2f} (goal >= 1.5)")


def diff_ratios(Ks: list[int], steps: int, device: str) -> None:
    env = make_env("HalfCheetah-v5")
    o, a = env.observation_space, env.action_space
    sac = SACConfig(random_steps=0, buffer_size=100_000)
    ppo = PPOConfig(n_steps=256, n_minibatches=8, n_epochs=10)  # one short rollout + its update per timing
    print(f"\nTime per env step (act + observe + update) on HalfCheetah-v5, device {device}; ratio Diff*/base:")
    print(f"  {'pair':18s} {'K':>3s} {'base ms':>9s} {'Diff ms':>9s} {'ratio':>7s}")
    base_times = {
        "SAC": time_agent(SACAgent(o, a, sac, device=device), env, steps, 5, fill=300),
        "WPO": time_agent(WPOAgent(o, a, sac, device=device), env, steps, 5, fill=300),
        "PPO": time_agent(PPOAgent(o, a, ppo, device=device), env, 2 * ppo.n_steps, 0),
    }
    for K in Ks:
        diff = DiffusionPolicyConfig(n_steps=K)
        pairs = {
            "SAC": (DiffSACAgent(o, a, DiffSACConfig(sac=sac, diffusion=diff), device=device), steps, 300),
            "WPO": (DiffWPOAgent(o, a, DiffSACConfig(sac=sac, diffusion=diff), device=device), steps, 300),
            "PPO": (DiffPPOAgent(o, a, DiffPPOConfig(ppo=ppo, diffusion=diff), device=device), 2 * ppo.n_steps, 0),
        }
        for base, (agent, n, fill) in pairs.items():
            t = time_agent(agent, env, n if base == "PPO" else max(3, n // K), 2 if base != "PPO" else 0, fill=fill)
            print(f"  Diff{base:3s} / {base:3s}       {K:3d} {1e3 * base_times[base]:9.2f} {1e3 * t:9.2f} "
                  f"{t / base_times[base]:7.2f}", flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=300, help="timed env steps per SAC measurement (default 300)")
    p.add_argument("--Ks", type=int, nargs="+", default=[4, 8, 16])
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--skip-ratios", action="store_true")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    np.random.seed(0)
    torch.manual_seed(0)
    sac_throughput(args.steps, args.device)
    if not args.skip_ratios:
        diff_ratios(args.Ks, max(10, args.steps // 5), args.device)
    return 0


if __name__ == "__main__":
    sys.exit(main())

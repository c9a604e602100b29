"""DIME's learning cost per environment step, relative to SAC measured in the same process.

One ``update()`` call of each agent is the learning work of one environment step: DIME does 2 critic updates
(each with a 16-step no-gradient chain for the next actions) and 2/3 of an actor update (backpropagation through
the 16-step chain); SAC (``agents/sac.py``, 256×256, batch 256) does one gradient step. Shapes are Ant's
(observation 105, action 8). Replay buffers are pre-filled with random transitions; no environment is stepped.

    python benchmarks/dime.py [--device cpu|cuda|all] [--steps 20] [--threads N] [--critic both|published|narrow]

Prints milliseconds per environment step (update, and one ``act``) and the ratio DIME / SAC, for DIME with
the published critic (2 × 2048) and with the narrow critic of the CPU quick scale (2 × 256).
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np
import torch

from mdrl_lib.agents.dime import DIMEAgent, DIMEConfig
from mdrl_lib.agents.sac import SACAgent, SACConfig

OBS, ACT = 105, 8


def _spaces():
    return (gym.spaces.Box(-np.inf, np.inf, (OBS,), np.float64), gym.spaces.Box(-1.0, 1.0, (ACT,), np.float32))


def _fill(agent, n: int, rng: np.random.Generator) -> None:
    for _ in range(n):
        o, o2 = rng.standard_normal(OBS), rng.standard_normal(OBS)
        agent.observe(o, rng.uniform(-1, 1, ACT).astype(np.float32), float(rng.standard_normal()), o2, False, False)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_agent(agent, device: torch.device, steps: int, warmup: int = 3) -> tuple[float, float]:
    """(ms per update() call, ms per act() call) after ``warmup`` untimed calls."""
    for _ in range(warmup):
        agent.update()
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        agent.update()
    _sync(device)
    upd = (time.perf_counter() - t0) / steps * 1e3
    obs = np.zeros(OBS)
    agent.act(obs)
    t0 = time.perf_counter()
    for _ in range(steps):
        agent.act(obs)
    _sync(device)
    return upd, (time.perf_counter() - t0) / steps * 1e3


CRITICS = {"published": ("DIME published critic 2x2048", (2048, 2048)),
           "narrow": ("DIME narrow critic 2x256", (256, 256))}


def bench(device: torch.device, steps: int, critics: list[str]) -> None:
    rng = np.random.default_rng(0)
    obs_space, act_space = _spaces()
    sac = SACAgent(obs_space, act_space, SACConfig(buffer_size=20_000, random_steps=0), seed=0, device=device)
    _fill(sac, 6000, rng)
    sac_upd, sac_act = time_agent(sac, device, steps)
    print(f"\n[{device}] threads={torch.get_num_threads()}  {steps} timed update() calls each")
    print(f"{'agent':<38} {'update ms/env step':>18} {'x SAC':>7} {'act ms':>8}")
    print(f"{'SAC (256x256, batch 256, UTD 1)':<38} {sac_upd:>18.1f} {1.0:>7.1f} {sac_act:>8.2f}")
    for label, hidden in (CRITICS[c] for c in critics):
        cfg = DIMEConfig.for_env("Ant-v5", critic_hidden=hidden, buffer_size=20_000)
        agent = DIMEAgent(obs_space, act_space, cfg, seed=0, device=device)
        _fill(agent, cfg.learning_starts + 1, rng)
        upd, act = time_agent(agent, device, steps)
        print(f"{label:<38} {upd:>18.1f} {upd / sac_upd:>7.1f} {act:>8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="all", choices=["cpu", "cuda", "all"])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--critic", default="both", choices=["both", *CRITICS])
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    for name in devices:
        if name == "cuda" and not torch.cuda.is_available():
            print("\n[cuda] not available on this machine: skipped")
            continue
        bench(torch.device(name), args.steps, list(CRITICS) if args.critic == "both" else [args.critic])


if __name__ == "__main__":
    main()

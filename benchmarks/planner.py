"""MaxDiff planner speed against its roofline (issue 5): run by hand, prints, asserts nothing.

    flock /tmp/mdrl_heavy.lock .venv/bin/python benchmarks/planner.py [--threads N] [--repeats R]

Setting: heavy Swimmer, K = 500 samples, H = 40, 200×200 MLP heads (docs/methods/maxdiff.md §4.2), α = 100.

* **plan**: ms per call of :meth:`MPPIPlanner.plan` (best of ``R`` timed blocks);
* **roofline**: the plan's FLOPs — 2·in·out per linear layer, per sample, per horizon step, both heads —
  divided by the float32 throughput of a 2048×2048 matmul measured in the same process on the same
  threads, interleaved with the plan timings so both see the same machine load;
* **plain loop**: the same rollout written the obvious way (``cat``, ``nn.Sequential`` per step, per-step
  value, new tensors every step), for comparison;
* **env step**: one full training step of the agent on the real Swimmer — plan, env.step, store, 5 model
  updates of batch 128 — (the authors' code: ~55 ms per plan, ~79 ms per step on a 2-core CPU,
  docs/methods/maxdiff.md §9);
* on CUDA: plans per second for 1 seed, and for 10 seeds' planners stepped together.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from mdrl_lib.agents.maxdiff import MaxDiffAgent, maxdiff_config
from mdrl_lib.envs import make_env
from mdrl_lib.models import DynamicsValueModel
from mdrl_lib.planners import MPPIPlanner
from mdrl_lib.utils import get_device


def plan_flops(model: DynamicsValueModel, samples: int, horizon: int) -> float:
    per = sum(2 * layer.in_features * layer.out_features
              for head in ("dynamics", "value") for layer in model.linear_layers(head))
    return float(per * samples * horizon)


CLOCK = time.perf_counter


def best_time(fn, n: int, sync) -> float:
    sync()
    t = CLOCK()
    for _ in range(n):
        fn()
    sync()
    return (CLOCK() - t) / n


def matmul_fn(device):
    a, b = torch.randn(2048, 2048, device=device), torch.randn(2048, 2048, device=device)
    c = torch.empty(2048, 2048, device=device)
    return lambda: torch.mm(a, b, out=c)


def plain_loop_fn(model, cfg, state, device):
    """The straightforward rollout: one ``nn.Sequential`` call per head per step, fresh tensors."""
    H, K, m = cfg.horizon, cfg.samples, model.action_dim
    nominal = torch.zeros(H, m, device=device)
    s0 = torch.as_tensor(state, dtype=torch.float32, device=device)

    @torch.no_grad()
    def run():
        eps = torch.randn(H, K, m, device=device) * cfg.sigma
        s = s0.expand(K, -1)
        total = torch.zeros(K, device=device)
        for t in range(H):
            x = torch.cat([s, nominal[t] + eps[t]], dim=-1)
            total = total + model.value(x).squeeze(-1)
            s = s + model.dynamics(x)
        return total

    return run


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved timing blocks")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: get_device())")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall: perf_counter; cpu: this process's CPU time — robust on a shared machine, "
                             "meaningful with --threads 1 only (threads' CPU times add up)")
    args = parser.parse_args(argv)
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    if args.threads:
        torch.set_num_threads(args.threads)
    device = get_device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    torch.manual_seed(0)
    cfg = maxdiff_config("swimmer")  # α = 100, the headline value
    agent = MaxDiffAgent(10, 2, cfg, seed=0, device=device)
    planner, model = agent.planner, agent.model
    state = np.random.default_rng(0).normal(size=10)
    flops = plan_flops(model, cfg.planner.samples, cfg.planner.horizon)
    mm = matmul_fn(device)
    plain = plain_loop_fn(model, cfg.planner, state, device)

    def plan():
        planner.plan(state)

    for f in (mm, plan, plain):  # warm up
        for _ in range(3):
            f()
    t_mm, t_plan, t_plain = [], [], []
    for _ in range(args.repeats):
        t_mm.append(best_time(mm, 5, sync))
        t_plan.append(best_time(plan, 10, sync))
        t_plain.append(best_time(plain, 5, sync))
    gflops = 2 * 2048**3 / min(t_mm) / 1e9
    roof = flops / (gflops * 1e9)
    p, q = min(t_plan), min(t_plain)
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, clock {args.clock}")
    print(f"matmul 2048² throughput: {gflops:.1f} GFLOP/s (median {2 * 2048**3 / np.median(t_mm) / 1e9:.1f})")
    print(f"plan FLOPs (K={cfg.planner.samples}, H={cfg.planner.horizon}, 200×200, both heads): "
          f"{flops / 1e9:.3f} GFLOP -> roofline {roof * 1e3:.2f} ms")
    print(f"plan:       {p * 1e3:7.2f} ms (median {np.median(t_plan) * 1e3:.2f})  ratio to roofline {p / roof:.2f}x")
    print(f"plain loop: {q * 1e3:7.2f} ms (median {np.median(t_plain) * 1e3:.2f})  ratio to roofline {q / roof:.2f}x")
    print(f"speed-up of the planner over the plain loop: {q / p:.2f}x")

    # full environment step: plan + env.step + store + model_iter updates of batch_size
    env = make_env("mdrl/SwimmerHeavy-v0")
    obs, _ = env.reset(seed=0)
    rng = np.random.default_rng(1)
    for _ in range(1000):
        agent._store(rng.normal(size=10), rng.normal(size=2), 0.0, rng.normal(size=10), rng.normal(size=2), False)

    def env_step():
        nonlocal obs
        a = agent.act(obs)
        nxt, r, term, trunc, _ = env.step(a)
        agent.observe(obs, a, r, nxt, term, trunc)
        agent.update()
        obs = nxt

    def update_only():
        agent.update()

    for _ in range(3):
        env_step()
    t_step = [best_time(env_step, 10, sync) for _ in range(args.repeats)]
    t_upd = [best_time(update_only, 10, sync) for _ in range(args.repeats)]
    print(f"env step (plan + MuJoCo step + 5 updates of batch 128): {min(t_step) * 1e3:.2f} ms "
          f"(median {np.median(t_step) * 1e3:.2f}); updates alone {min(t_upd) * 1e3:.2f} ms")
    print(f"-> {min(t_step) * 1e6 / 3600:.1f} h per 1 M steps (authors: ~55 ms/plan, ~79 ms/step, ~22 h)")

    if device.type == "cuda":
        for n in (1, 10):
            planners = [MPPIPlanner(model, cfg.planner, seed=i) for i in range(n)]

            def step_all(ps=planners):
                for pl in ps:
                    pl.plan(state)

            t = min(best_time(step_all, 10, sync) for _ in range(args.repeats))
            print(f"CUDA, {n:2d} seed(s): {n / t:.0f} plans/s")


if __name__ == "__main__":
    main()

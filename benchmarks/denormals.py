"""Subnormal model weights against flushing them (``mdrl_lib.utils.flush_denormals``): run by hand, prints, asserts
nothing.

    flock /tmp/mdrl_heavy.lock .venv/bin/python benchmarks/denormals.py [--fraction F] [--repeats R]

Setting: the published HalfCheetah NN-MPPI agent (K = 500, H = 10, 200×2 model, batch 256; docs/methods/maxdiff.md
§4.2) on one thread. The model is trained with Adam and coupled L2 weight decay (§2.4), which pulls every weight
whose data gradient is zero (a dead ReLU unit) to zero geometrically, through the float32 subnormal range
(below 1.18e-38). A cheetah_ant quick run had 111 subnormal weights in one 200×200 layer at 5 k steps, and
slowed ~7× late in its run. Here a fraction ``F`` of each hidden 200×200 layer's weights is set to

* **zero** — what flushing makes of them (the baseline),
* **subnormal** (1e-40), computed with IEEE subnormals (the process default),
* **subnormal, flushed** — the same weights inside :func:`~mdrl_lib.utils.flush_denormals` (how every training
  run and evaluation computes since the flush was added),

and the plan (:meth:`MPPIPlanner.plan`) and the gradient of the model loss on one minibatch of 256 (forward and
backward; no optimizer step, which since the flush was added also zeroes subnormal weights: ``ModelTrainer.step``)
are timed; printed as ratios to the baseline, interleaved over ``R`` blocks.
"""

from __future__ import annotations

import argparse
import time
from contextlib import nullcontext

import numpy as np
import torch

from mdrl_lib.agents import make_agent
from mdrl_lib.envs import make_env
from mdrl_lib.models import model_loss
from mdrl_lib.utils import flush_denormals

SUBNORMAL = 1e-40


def best_time(fn, n: int) -> float:
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fraction", type=float, default=0.25,
                        help="share of each hidden×hidden layer's weights set to zero / subnormal (default 0.25)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved timing blocks")
    args = parser.parse_args(argv)
    if not 0 < args.fraction <= 1:
        parser.error(f"--fraction must be in (0, 1], got {args.fraction}")
    torch.set_num_threads(1)
    env = make_env("HalfCheetah-v5", exclude_current_positions_from_observation=False)
    agent, cfg = make_agent("NN-MPPI", env, seed=0, device="cpu")
    rng = np.random.default_rng(0)
    sd, ad = env.observation_space.shape[0], env.action_space.shape[0]
    for _ in range(2000):
        agent._store(rng.normal(size=sd), rng.uniform(-1, 1, ad), float(rng.normal()), rng.normal(size=sd),
                     rng.uniform(-1, 1, ad), False)
    obs, _ = env.reset(seed=0)
    square = [lin for head in ("dynamics", "value") for lin in agent.model.linear_layers(head)
              if lin.in_features == lin.out_features]
    masks = [torch.as_tensor(rng.random(lin.weight.shape) < args.fraction) for lin in square]
    initial = [lin.weight.detach().clone() for lin in square]

    def set_weights(value: float) -> None:
        with torch.no_grad():
            for lin, w0, m in zip(square, initial, masks, strict=True):
                lin.weight.copy_(torch.where(m, torch.tensor(value), w0))

    def plan():
        agent.act(obs)

    batch = agent._minibatch(cfg.model.batch_size)

    def gradient():
        agent.model.zero_grad(set_to_none=True)
        model_loss(agent.model, batch, gamma=cfg.model.value_gamma, value_coef=cfg.model.value_coef)[0].backward()

    cases = {"zero": (0.0, False), "subnormal": (SUBNORMAL, False), "subnormal, flushed": (SUBNORMAL, True)}
    times: dict[str, dict[str, list[float]]] = {c: {"plan": [], "gradient": []} for c in cases}
    for _ in range(args.repeats + 1):  # the first block warms up and is dropped
        for case, (value, flush) in cases.items():
            for what, fn, n in (("plan", plan, 10), ("gradient", gradient, 10)):
                set_weights(value)
                with flush_denormals() if flush else nullcontext():
                    times[case][what].append(best_time(fn, n))
    n_sub = sum(int(m.sum()) for m in masks)
    n_all = sum(m.numel() for m in masks)
    print(f"torch {torch.__version__}, 1 thread, CPU capability {torch.backends.cpu.get_cpu_capability()}")
    print(f"NN-MPPI HalfCheetah: K={cfg.planner.samples}, H={cfg.planner.horizon}, model {cfg.model.hidden}, "
          f"batch {cfg.model.batch_size}; {n_sub} of {n_all} hidden×hidden weights set")
    base = {what: min(times["zero"][what][1:]) for what in ("plan", "gradient")}
    for case in cases:
        cells = [f"{what} {min(times[case][what][1:]) * 1e3:7.2f} ms ({min(times[case][what][1:]) / base[what]:5.2f}×)"
                 for what in ("plan", "gradient")]
        print(f"{case:>20}: " + ",  ".join(cells))
    print("ratios are to the 'zero' row (best of the timed blocks); a slowdown that flushing removes shows as "
          "subnormal >> 1× and flushed ≈ 1×")


if __name__ == "__main__":
    main()

"""Our SAC and PPO against Stable-Baselines3's with the same settings (issue 14): prints, asserts nothing.

    .venv/bin/python benchmarks/peer_check.py                  # quick: data/peer_check/quick.nc (trains if absent)
    .venv/bin/python benchmarks/peer_check.py --scale smoke    # seconds, every code path
    MDRL_RERUN=1 .venv/bin/python benchmarks/peer_check.py     # re-train (≈ 1 core-hour at quick, measured)

The runs are the experiment :mod:`mdrl_lib.experiments.peer_check` (its docstring lists the settings and what
still differs between the two implementations); this prints, per task and algorithm, the interquartile mean of
the final deterministic evaluation return over seeds with its 95 % stratified-bootstrap interval, for ours and
for SB3, and whether ours is *not worse* (the intervals overlap or ours is higher) — the issue's acceptance rule.
Notebook 20 draws the same data.
"""

from __future__ import annotations

import argparse

from mdrl_lib.experiments import run_experiment
from mdrl_lib.experiments.peer_check import comparison


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="quick", choices=["smoke", "quick", "paper"])
    args = ap.parse_args(argv)
    ds = run_experiment("peer_check", args.scale)
    steps = {a: int(ds.eval_return.sel(algo=a).dropna("step", how="all").step.max()) for a in ds.algo.values}
    print(f"peer check [{args.scale}]: final return (mean deterministic evaluation return of the last 3 evaluations), "
          "IQM over seeds [95 % bootstrap CI]")
    print(f"{'task':<22}{'algo':<6}{'steps':>8}  {'mdrl_lib':<28}{'Stable-Baselines3':<28}not worse")
    ok = True
    for r in comparison(ds):
        ours = f"{r['mdrl_iqm']:8.1f} [{r['mdrl_lo']:7.1f}, {r['mdrl_hi']:7.1f}]"
        ref = f"{r['sb3_iqm']:8.1f} [{r['sb3_lo']:7.1f}, {r['sb3_hi']:7.1f}]"
        verdict = "yes" if r["not_worse"] else "NO"
        print(f"{r['env']:<22}{r['algo']:<6}{steps[r['algo']]:>8}  {ours:<28}{ref:<28}{verdict}")
        ok &= r["not_worse"]
    print(f"seeds: {ds.sizes['seed']}; every pair not worse: {ok}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Start swimmer_light's heavy-tail runs from swimmer_alpha's checkpoints at their step (issue 13).

A heavy-tail run of swimmer_light is swimmer_alpha's run of the same algorithm, α and seed, stopped at swimmer_light's
``total_steps`` (10 k at quick) and then evaluated on both bodies; the two differ only in schedule and in what runs
after training (see :func:`mdrl_lib.experiments.branch_job`, which checks exactly that, and ``tests/test_branch.py``,
which shows a branched run equals the run trained from scratch, learning curves and transfer episodes alike).

For each heavy-tail job this looks for ``step<total_steps>.pt`` — a copy of ``last.pt`` kept when the swimmer_alpha
run (``QUICK_TARGET``) passed that step — in that run's checkpoint folder, and branches the job from it. Jobs without
such a copy are listed and left to train from scratch. Then train the jobs as usual, e.g.
``python -m mdrl_lib.experiments swimmer_light --job N``: a branched job only runs its transfer episodes.

    .venv/bin/python tools/branch_swimmer_light.py [--check]
"""

from __future__ import annotations

import sys
from pathlib import Path

from mdrl_lib.experiments import _checkpoint_dir, branch_job, experiment_config, jobs_of, swimmer_alpha

SCALE = "quick"


def pairs() -> list[tuple[int, int, Path]]:
    """(swimmer_alpha job, swimmer_light job, checkpoint path) for every heavy-tail job of swimmer_light."""
    src_jobs, _ = jobs_of("swimmer_alpha", experiment_config("swimmer_alpha", SCALE, swimmer_alpha.QUICK_TARGET))
    dst_cfg = experiment_config("swimmer_light", SCALE)
    dst_jobs, _ = jobs_of("swimmer_light", dst_cfg)
    out = []
    for di, job in enumerate(dst_jobs):
        if job.setting["train_body"] != "heavy":
            continue
        want = {"algo": job.setting["algo"], "alpha": job.setting["alpha"]}
        si = next(i for i, s in enumerate(src_jobs) if s.setting == want and s.seed == job.seed)
        folder = Path(_checkpoint_dir("swimmer_alpha", SCALE, src_jobs[si]))
        out.append((si, di, folder / f"step{dst_cfg['total_steps']}.pt"))
    return out


def main(check: bool) -> int:
    missing = 0
    for si, di, path in pairs():
        if not path.exists():
            print(f"swimmer_light job {di}: no {path}; it trains from scratch")
            missing += 1
        elif check:
            print(f"swimmer_light job {di}: can branch from swimmer_alpha job {si} ({path.name})")
        else:
            made = branch_job("swimmer_alpha", si, "swimmer_light", di, SCALE, path,
                              source_overrides=swimmer_alpha.QUICK_TARGET)
            print(f"swimmer_light job {di}: branched from swimmer_alpha job {si} -> {made}")
    return 0 if not missing or check else 1


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv[1:]))

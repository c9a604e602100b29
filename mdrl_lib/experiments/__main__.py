"""``python -m mdrl_lib.experiments NAME [--scale quick] [--executor tcp://host:8786] [--rerun] [--list | --job N]``.

Runs (or loads) one experiment through :func:`mdrl_lib.experiments.run_experiment`. ``--executor`` takes
``serial``, ``process`` or the address of a running dask scheduler (start one with ``dask scheduler`` and its
workers with ``dask worker tcp://host:8786 --nworkers N --nthreads 1``). ``--list`` prints the experiment's
runs with their numbers; ``--job N`` trains (or resumes) run N alone and keeps it in the run store, for
background jobs or a cluster's job array; the next full run reuses it.
"""

from __future__ import annotations

import argparse
import sys

from mdrl_lib.experiments import EXPERIMENTS, experiment_config, get_experiment, jobs_of, run_experiment, run_single
from mdrl_lib.paths import SCALES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mdrl_lib.experiments", description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help=f"one of: {', '.join(sorted(EXPERIMENTS))}")
    parser.add_argument("--scale", default="quick", help=f"one of: {', '.join(SCALES)} (default quick)")
    parser.add_argument("--executor", default=None,
                        help="serial | process | tcp://host:8786 (a dask scheduler); default: MDRL_EXECUTOR, "
                             "else serial for smoke and process otherwise")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per run (default: cores / runs)")
    parser.add_argument("--workers", type=int, default=None, help="local worker processes (default: cores)")
    parser.add_argument("--rerun", action="store_true", help="ignore the data file (the run store still counts)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--list", action="store_true", help="print the runs with their numbers and exit")
    group.add_argument("--job", type=int, default=None, help="train (or resume) run N alone into the run store")
    args = parser.parse_args(argv)
    try:
        if args.list:
            module = get_experiment(args.name)
            jobs, _ = jobs_of(module, experiment_config(module, args.scale))
            for i, job in enumerate(jobs):
                print(f"{i:4d}  {job.label}  seed {job.seed}")
            return 0
        if args.job is not None:
            run_single(args.name, args.scale, args.job, threads=args.threads)
            return 0
        ds = run_experiment(args.name, args.scale, executor=args.executor, threads=args.threads,
                            max_workers=args.workers, rerun=True if args.rerun else None)
    except (ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(ds)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m mdrl_lib.experiments NAME [--scale quick] [--set JSON | --target] [--executor tcp://host:8786] [--rerun]
[--list | --job N]``.

Runs (or loads) one experiment through :func:`mdrl_lib.experiments.run_experiment`. ``--executor`` takes
``serial``, ``process`` or the address of a running dask scheduler (start one with ``dask scheduler`` and its
workers with ``dask worker tcp://host:8786 --nworkers N --nthreads 1``). ``--list`` prints the experiment's
runs with their numbers; ``--job N`` trains (or resumes) run N alone and keeps it in the run store, for
background jobs or a cluster's job array; the next full run reuses it. ``--set '{"seeds": [0, 1]}'`` overrides
keys of the scale's ``SIZES`` entry; ``--target`` uses the experiment's ``QUICK_TARGET`` (the planned quick grid of an
experiment trained over several sessions, whose ``SIZES["quick"]`` is what its data file holds so far).
"""

from __future__ import annotations

import argparse
import json
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
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--set", default=None, metavar="JSON", help="overrides of SIZES[scale], a JSON object")
    sizes.add_argument("--target", action="store_true", help="the experiment's QUICK_TARGET as the overrides")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--list", action="store_true", help="print the runs with their numbers and exit")
    group.add_argument("--job", type=int, default=None, help="train (or resume) run N alone into the run store")
    args = parser.parse_args(argv)
    try:
        overrides = _overrides(args)
        if args.list:
            module = get_experiment(args.name)
            jobs, _ = jobs_of(module, experiment_config(module, args.scale, overrides))
            for i, job in enumerate(jobs):
                print(f"{i:4d}  {job.label}  seed {job.seed}")
            return 0
        if args.job is not None:
            run_single(args.name, args.scale, args.job, overrides=overrides, threads=args.threads)
            return 0
        ds = run_experiment(args.name, args.scale, overrides=overrides, executor=args.executor, threads=args.threads,
                            max_workers=args.workers, rerun=True if args.rerun else None)
    except (ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(ds)
    return 0


def _overrides(args: argparse.Namespace) -> dict | None:
    """``--set`` parsed (one clear error for bad JSON), or the module's ``QUICK_TARGET`` for ``--target``."""
    if args.target:
        if args.scale != "quick":
            raise ValueError(f"--target is the planned quick grid; use it with --scale quick, not {args.scale!r}")
        target = getattr(get_experiment(args.name), "QUICK_TARGET", None)
        if target is None:
            have = sorted(n for n in EXPERIMENTS if hasattr(get_experiment(n), "QUICK_TARGET"))
            raise ValueError(f"{args.name} has no QUICK_TARGET (its quick grid is trained at once); experiments "
                             f"with one: {', '.join(have)}")
        return dict(target)
    if args.set is None:
        return None
    try:
        value = json.loads(args.set)
    except json.JSONDecodeError as err:
        raise ValueError(f"--set {args.set!r} is not JSON ({err.msg}); e.g. --set '{{\"seeds\": [0, 1]}}'") from None
    if not isinstance(value, dict):
        raise ValueError(f"--set must be a JSON object of SIZES keys, got {type(value).__name__}: {args.set!r}")
    return value


if __name__ == "__main__":
    sys.exit(main())

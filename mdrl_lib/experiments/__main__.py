"""``python -m mdrl_lib.experiments NAME [--scale quick] [--rerun]``: run or load one experiment."""

from __future__ import annotations

import argparse
import sys

from mdrl_lib.experiments import EXPERIMENTS, get_experiment
from mdrl_lib.paths import SCALES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mdrl_lib.experiments", description=__doc__)
    parser.add_argument("name", help=f"one of: {', '.join(sorted(EXPERIMENTS))}")
    parser.add_argument("--scale", default="quick", help=f"one of: {', '.join(SCALES)} (default quick)")
    parser.add_argument("--rerun", action="store_true", help="ignore the cached data file")
    args = parser.parse_args(argv)
    try:
        module = get_experiment(args.name)
        ds = module.run(args.scale, rerun=True if args.rerun else None)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(ds)
    return 0


if __name__ == "__main__":
    sys.exit(main())

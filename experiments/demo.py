"""`make demo`: the most complete job the toolkit does, end to end, in minutes on 2 cores.

Today: reproduce the official EfficientNet B0..B7 table from B0 (every member
built and cross-checked with fvcore), then the pure compound-rule family of the
paper's coefficients, with both written to a run directory.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from experiments.cli import main as cnas

STEPS: tuple[tuple[str, list[str]], ...] = (
    (
        "1. The published EfficientNet table, reproduced from B0 and checked against fvcore",
        ["family", "efficientnet-b0", "--table", "efficientnet", "--phis", "0-7", "--verify"],
    ),
    (
        "2. The pure compound rule with the paper's alpha=1.2, beta=1.1, gamma=1.15",
        ["family", "efficientnet-b0", "--coefficients", "1.2,1.1,1.15", "--phis", "0-7"],
    ),
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.demo", description=__doc__)
    parser.add_argument("--out", default="runs/demo", help="run directory (default: runs/demo)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    started = time.perf_counter()
    outputs = []
    for (title, command), folder in zip(STEPS, ("efficientnet-table", "compound"), strict=True):
        print(f"\n=== {title}\n$ cnas {' '.join(command)} --out {out / folder}\n", flush=True)
        code = cnas([*command, "--out", str(out / folder)])
        if code != 0:
            print(f"demo: step failed with exit code {code}", file=sys.stderr)
            return code
        outputs.append(out / folder)
    print(f"\n=== Done in {time.perf_counter() - started:.0f} s. Outputs:")
    for folder in outputs:
        print(f"  {folder}/family.csv, family.png and one spec JSON per member")
    print("  Try: cnas count efficientnet-b3 --verify --by-part")
    return 0


if __name__ == "__main__":
    sys.exit(main())

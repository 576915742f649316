"""`make demo`: the most complete job the toolkit does, end to end, in minutes on 2 cores.

1. Search a baseline for a FLOP target on digits (sklearn's built-in images):
   MnasNet's reward with TPE over per-stage MBConv choices, each candidate
   trained for two epochs (a narrow 16 px proxy skeleton keeps it fast).
2. Scale the found baseline into a family with the paper's coefficients,
   every member built and cross-checked with fvcore.
3. Reproduce the official EfficientNet B0..B7 table from B0, also verified.

Running it again continues the same search (nothing is retrained).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from experiments.cli import main as cnas


def steps(out: Path) -> list[tuple[str, list[str]]]:
    search = out / "search"
    return [
        (
            "1. Search a baseline for 5M FLOPs on digits (TPE, MnasNet reward, 2 epochs a trial)",
            ["search", "--target-flops", "5M", "--data", "digits", "--max-samples", "600",
             "--resolution", "16", "--width-mult", "0.5", "--depth-mult", "0.5",
             "--trials", "10", "--epochs", "2", "--lr", "0.1", "--batch-size", "32",
             "--strategy", "tpe", "--seed", "0", "--out", str(search)],
        ),
        (
            "2. Scale the found baseline with alpha=1.2, beta=1.1, gamma=1.15 (phi 0-4)",
            ["family", str(search / "baseline.json"), "--coefficients", "1.2,1.1,1.15",
             "--phis", "0-4", "--verify", "--out", str(out / "baseline-family")],
        ),
        (
            "3. The published EfficientNet table, reproduced from B0 and checked against fvcore",
            ["family", "efficientnet-b0", "--table", "efficientnet", "--phis", "0-7", "--verify",
             "--out", str(out / "efficientnet-table")],
        ),
    ]  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.demo", description=__doc__)
    parser.add_argument("--out", default="runs/demo", help="run directory (default: runs/demo)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    started = time.perf_counter()
    for title, command in steps(out):
        print(f"\n=== {title}\n$ cnas {' '.join(command)}\n", flush=True)
        code = cnas(command)
        if code != 0:
            print(f"demo: step failed with exit code {code}", file=sys.stderr)
            return code
    print(f"\n=== Done in {time.perf_counter() - started:.0f} s. Where everything is:")
    print(f"  {out}/search/            trials.csv, pareto.csv, pareto.png, baseline.json, "
          "summary.json, study.db (resumable)")  # fmt: skip
    print(f"  {out}/baseline-family/   family.csv, family.png, one spec JSON per member")
    print(f"  {out}/efficientnet-table/ the B0..B7 specs, family.csv, family.png")
    print(f"  Try: cnas count {out}/search/baseline.json --verify --by-part")
    return 0


if __name__ == "__main__":
    sys.exit(main())

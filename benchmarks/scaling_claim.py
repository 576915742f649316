"""The paper's scaling claim, measured: coefficients and curves for the search proxy.

On one data set, for the search-proxy backbone (the small-input skeleton at width 0.5 /
depth 0.5, 16 px: what ``make demo`` searches), runs

1. ``cnas coefficients`` with the default grid (step 0.05, |product - 2| <= 0.1), every
   candidate matched to twice the proxy's real FLOPs, 3 seeds for the finalists;
2. ``cnas scaling-curves`` with the coefficients step 1 chose, phi 0-3, 3 seeds a point;

at a training budget given per data set (chosen from the rank check in BENCHMARKS.md:
one that ranks networks like longer training does), and records both summaries with
the command, machine and date in ``benchmarks/results/scaling_claim_<data>.json``.
Run directories (``runs/bench-claim-<data>/...``) are resumable: run it again after a
kill and finished seeds are kept. Uses every core (Ray, one trial per core).

    .venv/bin/python benchmarks/scaling_claim.py digits
    .venv/bin/python benchmarks/scaling_claim.py notmnist [--data-root ../shared/data/notmnist]
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

from _machine import machine
from _proxy import digits_proxy

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"

# The budgets the rank check measured (BENCHMARKS "Rank check on digits" and "... on
# notMNIST"), at its learning rate and batch (the cnas defaults, 0.05 and 64): on
# notMNIST 4 epochs on 2,000 letters rank networks like 8 epochs on 5,000 (tau 0.64);
# on digits 5 epochs on all 1,437 training images rank about as well as the best budget
# tried (tau 0.34 against 0.36) and train networks nearly as far as the reference.
TRAINING = {
    "digits": ["--data", "digits", "--epochs", "5"],
    "notmnist": ["--data", "mnist", "--max-samples", "2000", "--epochs", "4"],
}


def cnas(arguments: list[str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "experiments.cli", *arguments, "--json", "--no-progress"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return json.loads(done.stdout)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", choices=sorted(TRAINING))
    parser.add_argument("--data-root", default=str(ROOT.parent / "shared/data/notmnist"))
    parser.add_argument("--phis", default="0-3")
    args = parser.parse_args()
    out = ROOT / "runs" / f"bench-claim-{args.data}"
    out.mkdir(parents=True, exist_ok=True)
    backbone = out / "proxy.json"
    digits_proxy(16).save(backbone)
    # --recipe legacy: the results files were made with the recipe from before issue 25.
    training = [*TRAINING[args.data], "--resolution", "16", "--seed", "0", "--recipe", "legacy"]
    if args.data == "notmnist":
        training += ["--data-root", args.data_root]
    started = time.perf_counter()
    coefficients_args = ["coefficients", str(backbone), *training, "--out", str(out / "grid")]
    grid = cnas(coefficients_args)
    curves_args = [
        "scaling-curves", str(backbone), *training, "--phis", args.phis,
        "--coefficients-file", str(out / "grid" / "coefficients.json"), "--seeds", "3",
        "--out", str(out / "curves"),
    ]  # fmt: skip
    curves = cnas(curves_args)
    result = {
        "benchmark": "scaling_claim",
        "commands": ["cnas " + " ".join(coefficients_args), "cnas " + " ".join(curves_args)],
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M %z"),
        "wall_seconds_this_run": round(time.perf_counter() - started, 1),
        "coefficients": {k: v for k, v in grid.items() if k != "files"},
        "curves": {k: v for k, v in curves.items() if k != "files"},
        # Mean accuracy and interval of every point, for the table in BENCHMARKS.md.
        "curve_points": _rows(out / "curves" / "curves.csv"),
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"scaling_claim_{args.data}.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(grid["verdict"])
    print(curves["verdict"])
    print(f"written: {path}")


if __name__ == "__main__":
    main()

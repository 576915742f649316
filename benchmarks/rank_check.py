"""Rank check on real data: which cheap score ranks networks like longer training does?

Runs ``cnas rank-check`` on the search-proxy space (the one ``make demo`` searches:
the small-input skeleton at width 0.5 / depth 0.5, 16 px) with fixed settings per
data set, and records the summary with the command, machine and date in
``benchmarks/results/rank_check_<data>.json``. Each network is trained twice at the
reference budget (two seeds) so the report also says how well one reference run ranks
like another: the ceiling for any cheap score. Besides the demo's proxy budget, longer
proxy trainings are scored, to show at which budget a proxy measures the network rather
than how fast it starts to learn.

    .venv/bin/python benchmarks/rank_check.py digits
    .venv/bin/python benchmarks/rank_check.py notmnist [--data-root ../shared/data/notmnist]
    .venv/bin/python benchmarks/rank_check.py digits --supernet [--backend local]

``--supernet`` adds the weight-sharing supernet as a score (trained once, 10 epochs of
the sandwich rule, on the proxy's images). Its space keeps every shortcut (a supernet
cannot hold blocks without one), so these are other networks than the plain check's,
and its proxy trains on more images (a supernet on 480 digits learns little): the run
has its own directory and results file, ``rank_check_<data>_supernet.json``.

The run directory (``runs/bench-rank-<data>``) is resumable: a killed benchmark run
again continues where it stopped. Uses every core (Ray, one trial per core).
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _machine import machine

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"

# The results files were made with the recipe from before issue 25.
SPACE = [
    *("--resolution", "16", "--width-mult", "0.5", "--depth-mult", "0.5"),
    *("--recipe", "legacy"),
]
SETTINGS = {
    # digits: 1,797 images; the demo's proxy is 2 epochs on 480 of them.
    "digits": [
        *("--data", "digits", "--max-samples", "600", "--epochs", "2"),
        *("--proxy-budgets", "2xall,5xall"),
        *("--reference-epochs", "15", "--reference-seeds", "2"),
    ],
    # notMNIST: 10,000 letters A-J; the reference trains on 4,000 for 8 epochs.
    "notmnist": [
        *("--data", "mnist", "--max-samples", "600", "--epochs", "2"),
        *("--proxy-budgets", "2x2000,4x2000"),
        *("--reference-samples", "5000", "--reference-epochs", "8", "--reference-seeds", "2"),
    ],
}
# With the supernet: it trains on the proxy's images, so the proxy gets more of them.
SUPERNET_SETTINGS = {
    "digits": [
        *("--data", "digits", "--epochs", "2"),
        *("--reference-epochs", "15", "--reference-seeds", "2"),
    ],
    "notmnist": [
        *("--data", "mnist", "--max-samples", "2000", "--epochs", "2"),
        *("--reference-samples", "5000", "--reference-epochs", "8", "--reference-seeds", "2"),
    ],
}
SUPERNET_SCORES = ["--scores", "proxy,supernet,synflow,naswot"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", choices=sorted(SETTINGS))
    parser.add_argument("--networks", type=int, default=30)
    parser.add_argument("--data-root", default=str(ROOT.parent / "shared/data/notmnist"))
    parser.add_argument("--fresh", action="store_true", help="start the run directory anew")
    parser.add_argument("--supernet", action="store_true", help="score the supernet too")
    parser.add_argument(
        "--backend", default="ray", help="ray (default: a trial per core) or local (one core)"
    )
    args = parser.parse_args()
    suffix = "-supernet" if args.supernet else ""
    out = ROOT / "runs" / f"bench-rank-{args.data}{suffix}"
    if args.fresh and out.exists():
        shutil.rmtree(out)
    settings = (
        SUPERNET_SETTINGS[args.data] + SUPERNET_SCORES if args.supernet else SETTINGS[args.data]
    )
    options = [*SPACE, *settings, "--networks", str(args.networks), "--backend", args.backend]
    if args.data == "notmnist":
        options += ["--data-root", args.data_root]
    command = [sys.executable, "-m", "experiments.cli", "rank-check", *options]
    started = time.perf_counter()
    done = subprocess.run(
        [*command, "--out", str(out), "--json"], cwd=ROOT, check=True, capture_output=True
    )
    summary = json.loads(done.stdout)
    summary.pop("files", None)
    with (out / "rank_check.csv").open(newline="", encoding="utf-8") as handle:
        seconds = sum(float(row["duration_s"] or 0) for row in csv.DictReader(handle))
    result = {
        "benchmark": "rank_check",
        "command": "cnas rank-check " + " ".join(options),
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M %z"),
        "wall_seconds_this_run": round(time.perf_counter() - started, 1),
        "trial_seconds_total": round(seconds, 1),
        "run_dir": str(out.relative_to(ROOT)),
        **summary,
    }
    if args.supernet:
        result["supernet_versus"] = _supernet_versus(out / "rank_check.csv")
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"rank_check_{args.data}{suffix.replace('-', '_')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(summary["verdict"])
    print(f"written: {path}")


def _supernet_versus(table: Path) -> dict[str, dict[str, float]]:
    """The supernet's tau minus every other score's, paired over the same networks."""
    from nas.stats import tau_difference

    with table.open(newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["state"] == "complete"]
    reference = [float(r["reference_accuracy"]) for r in rows]
    supernet = [float(r["supernet"] or "nan") for r in rows]
    out = {}
    for other in ("flops", "params", "proxy", "synflow", "naswot"):
        difference = tau_difference(supernet, [float(r[other] or "nan") for r in rows], reference)
        out[other] = {
            "difference": round(difference.difference, 4),
            "low": round(difference.low, 4),
            "high": round(difference.high, 4),
            "distinguishable": difference.distinguishable,
        }
    return out


if __name__ == "__main__":
    main()

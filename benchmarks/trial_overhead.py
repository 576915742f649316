"""Per-trial cost of the search machinery alone: sampling, counting, storage, bookkeeping.

Runs `run_search` with an evaluator that answers at once (no training), so every
second measured is overhead: TPE choosing 42 parameters, decoding and counting the
spec, and the storage writes of the trial. Compared with the training time of a
real proxy trial (about 8 s on digits, see the search benchmark) it gives the
overhead fraction the search goal (< 5%) is about. Prints one JSON line.

    .venv/bin/python benchmarks/trial_overhead.py [--trials 60] [--storage sqlite|journal]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from _machine import machine
from _proxy import digits_proxy

from nas import Evaluation, Evaluator, SearchConfig, run_search
from search_spaces import MBConvSpace, count_flops

TRAINING_SECONDS = 8.0  # a proxy trial's training on digits (benchmarks/search_vs_random.py)


class Instant(Evaluator):
    """No training: an accuracy from the FLOPs, so TPE still has something to model."""

    def evaluate(self, spec, *, seed, progress=None):
        return Evaluation(accuracy=0.5 + 0.004 * (count_flops(spec) // 1000 % 101))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--storage", choices=("sqlite", "journal"), default="sqlite")
    parser.add_argument("--strategy", default="tpe")
    args = parser.parse_args()
    reference = digits_proxy(16)
    space = MBConvSpace.uniform(reference)
    finished: list[float] = []
    with tempfile.TemporaryDirectory() as run_dir:
        storage = f"journal:{run_dir}/study.log" if args.storage == "journal" else None
        config = SearchConfig(target=5e6, trials=args.trials, strategy=args.strategy)
        started = time.perf_counter()
        run_search(
            space=space,
            evaluator=Instant(),
            config=config,
            run_dir=Path(run_dir),
            storage=storage,
            on_trial=lambda study, trial: finished.append(time.perf_counter()),
        )
        total = time.perf_counter() - started
    per_trial = [b - a for a, b in zip([started, *finished[:-1]], finished, strict=True)]
    median = statistics.median(per_trial)
    print(
        json.dumps(
            {
                "benchmark": "trial_overhead",
                "command": f"python benchmarks/trial_overhead.py --trials {args.trials} "
                f"--storage {args.storage} --strategy {args.strategy}",
                "machine": machine(),
                "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
                "trials": args.trials,
                "total_seconds": round(total, 2),
                "per_trial_seconds": {
                    "median": round(median, 4),
                    "p90": round(sorted(per_trial)[int(0.9 * (len(per_trial) - 1))], 4),
                    "max": round(max(per_trial), 4),
                },
                "fraction_of_an_8s_trial": round(median / (median + TRAINING_SECONDS), 4),
                "goal_met": median / (median + TRAINING_SECONDS) < 0.05,
            }
        )
    )


if __name__ == "__main__":
    main()

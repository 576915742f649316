"""Ray backend: trials per hour with 1 and 2 concurrent trials, and Ray's start-up cost.

The same search (random strategy, fixed seed, so the same candidates in the same
order) runs four times on digits with one torch thread per trial: with the local
backend, then on one local Ray instance with ``--max-concurrent 1`` and ``2``.
Trials per hour count the search loop only; Ray's start-up (``ray.init``) is
timed on its own, as is the Tune set-up cost per run (the Ray run at concurrency 1
minus the local run). Goal: at least 1.6x trials per hour with 2 concurrent trials
on this 2-core machine. Prints one JSON line.

    .venv/bin/python benchmarks/ray_concurrency.py [--trials 24] [--epochs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch
from _machine import machine
from _proxy import digits_proxy

from nas import SearchConfig, TrainingConfig, TrainingEvaluator, load_data, run_search
from nas.evaluate import LEGACY_RECIPE  # the results file's recipe
from nas.runs import RayOptions, connect_ray
from search_spaces import MBConvSpace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--resolution", type=int, default=16)
    parser.add_argument("--max-samples", type=int, default=600)
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"  # Ray workers inherit it: one thread per trial
    reference = digits_proxy(args.resolution)
    space = MBConvSpace.uniform(reference)
    data = load_data("digits", resolution=args.resolution, max_samples=args.max_samples, seed=0)
    evaluator = TrainingEvaluator(
        data=data, config=TrainingConfig(epochs=args.epochs, threads=1, **LEGACY_RECIPE)
    )
    config = SearchConfig(target=5e6, trials=args.trials, strategy="random", seed=0)

    trial_seconds: dict[str, float] = {}

    def timed_search(name: str, ray: RayOptions | None) -> tuple[float, list[float]]:
        with tempfile.TemporaryDirectory() as run_dir:
            started = time.perf_counter()
            study = run_search(
                space=space, evaluator=evaluator, config=config, run_dir=Path(run_dir), ray=ray
            )
            seconds = time.perf_counter() - started
            accuracies = [t.user_attrs.get("accuracy") for t in study.trials]
            # A trial's own time, from its point chosen to its result told: shows whether
            # concurrent trials slow each other down (shared caches, memory bandwidth).
            durations = [t.user_attrs["duration_s"] for t in study.trials]
            trial_seconds[name] = round(sum(durations) / len(durations), 2)
        return seconds, accuracies

    local_s, local_acc = timed_search("local", None)
    started = time.perf_counter()
    connect_ray(RayOptions())
    ray_init_s = time.perf_counter() - started
    one_s, one_acc = timed_search("ray_concurrent_1", RayOptions(max_concurrent=1))
    two_s, two_acc = timed_search("ray_concurrent_2", RayOptions(max_concurrent=2))
    per_hour = {
        "local": args.trials * 3600 / local_s,
        "ray_concurrent_1": args.trials * 3600 / one_s,
        "ray_concurrent_2": args.trials * 3600 / two_s,
    }
    speedup = per_hour["ray_concurrent_2"] / per_hour["ray_concurrent_1"]
    print(
        json.dumps(
            {
                "benchmark": "ray_concurrency",
                "command": "python benchmarks/ray_concurrency.py "
                f"--trials {args.trials} --epochs {args.epochs} "
                f"--resolution {args.resolution} --max-samples {args.max_samples}",
                "machine": machine(),
                "torch": torch.__version__,
                "threads_per_trial": 1,
                "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
                "seconds": {
                    "local": round(local_s, 1),
                    "ray_concurrent_1": round(one_s, 1),
                    "ray_concurrent_2": round(two_s, 1),
                },
                "trials_per_hour": {k: round(v) for k, v in per_hour.items()},
                "mean_trial_seconds": trial_seconds,
                "speedup_2_vs_1": round(speedup, 2),
                "speedup_2_vs_local": round(per_hour["ray_concurrent_2"] / per_hour["local"], 2),
                "goal_met": speedup >= 1.6,
                "ray_init_seconds": round(ray_init_s, 2),
                "tune_overhead_seconds_per_run": round(one_s - local_s, 1),
                "same_results": local_acc == one_acc == two_acc,
            }
        )
    )


if __name__ == "__main__":
    main()

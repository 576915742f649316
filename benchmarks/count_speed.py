"""Analytic counting vs fvcore: time to get params + FLOPs of B0 at 224 and B7 at 600.

Prints one JSON line. Goal: analytic at least 1000x faster than fvcore.
fvcore is timed on an already built model (tracing and counting only), so the
comparison favours fvcore; the analytic time covers params and FLOPs from the spec.

    .venv/bin/python benchmarks/count_speed.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
import timeit

import torch
from _machine import cpu_model

from nas import build_model, fvcore_count
from scaling import preset
from search_spaces import count_flops, count_params

CASES = (("efficientnet-b0", 224), ("efficientnet-b7", 600))


def machine_description() -> str:
    model = cpu_model()
    return f"{model}, {os.cpu_count()} cores, {platform.system()}"


def median_seconds(function, repeats: int, number: int) -> float:
    return statistics.median(timeit.repeat(function, repeat=repeats, number=number)) / number


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = {}
    for name, resolution in CASES:
        spec = preset(name)
        analytic = median_seconds(
            lambda spec=spec, res=resolution: (count_params(spec), count_flops(spec, res)),
            args.repeats,
            2000,
        )
        model = build_model(spec)
        fvcore_count(model, resolution)  # warm-up: imports and first trace
        fvcore = median_seconds(
            lambda model=model, res=resolution: fvcore_count(model, res), args.repeats, 1
        )
        results[f"{name}@{resolution}"] = {
            "analytic_us": round(analytic * 1e6, 2),
            "fvcore_s": round(fvcore, 4),
            "speedup": round(fvcore / analytic),
            "goal_met": fvcore / analytic >= 1000,
        }
    print(
        json.dumps(
            {
                "benchmark": "count_speed",
                "repeats": args.repeats,
                "torch_threads": 1,
                "python": platform.python_version(),
                "machine": machine_description(),
                "torch": torch.__version__,
                "date": time.strftime("%Y-%m-%d"),
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()

"""Coefficient grid search: grid size under the defaults, time per grid point on digits.

The default grid (step 0.05 in [1, 2], |alpha*beta^2*gamma^2 - 2| <= 0.1) plus the
base and three single-dimension references is timed on an evenly spaced sample
of ``--sample`` candidates with the `cnas coefficients` defaults (3 epochs,
32 px, all of digits) on the search proxy backbone (small-input skeleton at
width 0.5, depth 0.5); the whole-grid time is that sample's mean times the
number of candidates, an estimate, and says so. Prints one JSON line.

    .venv/bin/python benchmarks/coefficients_grid.py [--sample 6]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from _machine import machine
from _proxy import digits_proxy

from nas import SpecBackbone, TrainingConfig, TrainingEvaluator, load_data
from nas.coefficients import BackboneScaler, CoefficientConfig, build_candidates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sample", type=int, default=6, help="grid points to time")
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    started = time.perf_counter()
    spec = digits_proxy(args.resolution)
    backbone = SpecBackbone(spec)
    config = CoefficientConfig(resolution=args.resolution)
    shape = {"num_classes": 10, "in_channels": 1}
    grid_started = time.perf_counter()
    found = build_candidates(config, BackboneScaler(backbone, shape))
    grid_seconds = time.perf_counter() - grid_started
    candidates = found.candidates
    compound = [c for c in candidates if c.kind == "compound"]
    picks = compound[:: max(1, len(compound) // args.sample)][: args.sample]
    training = TrainingConfig(epochs=args.epochs, threads=1)
    seconds = []
    for index, candidate in enumerate(picks):
        data = load_data("digits", resolution=candidate.resolution, seed=0)
        evaluator = TrainingEvaluator(data=data, config=training)
        arguments = {**candidate.build_arguments(), **shape}
        tick = time.perf_counter()
        evaluation = evaluator.evaluate_model(
            lambda arguments=arguments: backbone.build(**arguments),
            name=candidate.label,
            seed=index,
        )
        seconds.append(time.perf_counter() - tick)
        print(
            f"{candidate.label} at {candidate.resolution} px: {seconds[-1]:.1f} s, "
            f"accuracy {evaluation.accuracy:.3f}",
            flush=True,
        )
    per_point = statistics.mean(seconds)
    print(
        json.dumps(
            {
                "benchmark": "coefficients_grid",
                "command": "python benchmarks/coefficients_grid.py "
                f"--sample {args.sample} --resolution {args.resolution} --epochs {args.epochs}",
                "machine": machine(),
                "torch": torch.__version__,
                "torch_threads": 1,
                "date": time.strftime("%Y-%m-%d"),
                "grid": {
                    "step": config.step,
                    "range": [config.low, config.high],
                    "base": config.base,
                    "tolerance": config.tolerance,
                    "compound_candidates": len(compound),
                    "with_references": len(candidates),
                    "unmatched": len(found.unmatched),
                    "seeds": config.seeds,
                    "build_seconds": round(grid_seconds, 3),
                },
                "per_point_seconds": {
                    "mean": round(per_point, 2),
                    "min": round(min(seconds), 2),
                    "max": round(max(seconds), 2),
                    "sampled": len(seconds),
                },
                # One seed for every candidate, then halving: about (1 + keep + keep^2...)
                # trainings per grid point, and every seed for the references.
                "whole_grid_seconds_estimate": round(
                    per_point
                    * (
                        len(compound) * sum(config.keep**k for k in range(config.seeds))
                        + (len(candidates) - len(compound)) * config.seeds
                    )
                ),
                "wall_seconds": round(time.perf_counter() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()

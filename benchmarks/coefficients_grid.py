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
import dataclasses
import json
import statistics
import time

import torch
from _machine import machine
from _proxy import digits_proxy

from nas import SpecBackbone, TrainingConfig, TrainingEvaluator, load_data
from nas.coefficients import BackboneScaler, CoefficientConfig, build_candidates
from nas.evaluate import LEGACY_RECIPE  # the results file's recipe


def ratio_spread(ratios: list[float], config: CoefficientConfig) -> dict[str, float]:
    """min, median, max of the real FLOP ratios, and how many are within 3% of base."""
    near = sum(abs(r / config.base - 1) <= 0.03 for r in ratios)
    return {
        "min": round(min(ratios), 3),
        "median": round(statistics.median(ratios), 3),
        "max": round(max(ratios), 3),
        "within_3_percent": f"{near} of {len(ratios)}",
    }


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
    scaler = BackboneScaler(backbone, shape)
    found = build_candidates(config, scaler)
    grid_seconds = time.perf_counter() - grid_started
    candidates = found.candidates
    # What the paper's rule gives, beside what matching gives: real FLOPs / the base's.
    nominal = build_candidates(dataclasses.replace(config, match="nominal"), scaler)
    base_flops = scaler.flops_at(1.0, 1.0, args.resolution)
    spreads = {
        name: ratio_spread(
            [
                backbone.flops(**c.build_arguments(), resolution=c.resolution, **shape) / base_flops
                for c in group.candidates
                if c.kind == "compound"
            ],
            config,
        )
        for name, group in (("nominal_rule", nominal), ("matched", found))
    }
    compound = [c for c in candidates if c.kind == "compound"]
    # --sample 0: only the grid and its FLOP ratios, no training.
    picks = compound[:: max(1, len(compound) // max(1, args.sample))][: args.sample]
    training = TrainingConfig(epochs=args.epochs, threads=1, **LEGACY_RECIPE)
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
    per_point = statistics.mean(seconds) if seconds else None
    # One seed for every candidate, then halving: about (1 + keep + keep^2...) trainings
    # per grid point, and every seed for the references.
    trainings = (
        len(compound) * sum(config.keep**k for k in range(config.seeds))
        + (len(candidates) - len(compound)) * config.seeds
    )
    timing = None
    if seconds:
        timing = {
            "mean": round(per_point, 2),
            "min": round(min(seconds), 2),
            "max": round(max(seconds), 2),
            "sampled": len(seconds),
        }
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
                    "trainings": round(trainings),
                    "build_seconds": round(grid_seconds, 3),
                },
                "actual_flop_ratio": spreads,
                "per_point_seconds": timing,
                "whole_grid_seconds_estimate": None
                if per_point is None
                else round(per_point * trainings),
                "wall_seconds": round(time.perf_counter() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()

"""Progressive resizing (EfficientNetV2) against fixed-size training at equal epochs.

One network, the search space's skeleton (small-input, width and depth 0.5), trained
from scratch on notMNIST (``../shared/data/notmnist``, a 5,000-letter subset drawn by
the seed, 28 px) for 8 epochs, on 5 paired seeds (1-5; seed s draws the subset, the
split and the training seed, the same for both arms):

- fixed: every epoch at 28 px;
- progressive: epoch 1 at 14 px growing linearly to 28 px at epoch 8, the classifier's
  dropout from 0.1 to the spec's 0.2 (``--progressive-resizing 14:28``).

The two arms of a seed train at the same time, one per core, so both see the same
machine load. Reported: mean accuracy of each arm with its 95% t interval, the paired
difference in points, and the training seconds of each. Written to
``benchmarks/results/progressive_resizing.json``.

    .venv/bin/python benchmarks/progressive_resizing.py [--seeds 5]
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from _machine import machine

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"
EPOCHS = 8
RESOLUTION = 28
RESIZING = (14, 28)


def _train(root: str, seed: int, progressive: bool) -> dict[str, Any]:
    import torch

    from nas import TrainingConfig, TrainingEvaluator, load_data
    from nas.evaluate import LEGACY_RECIPE  # the results file's recipe
    from scaling import search_proxy

    torch.set_num_threads(1)
    data = load_data("mnist", resolution=RESOLUTION, root=root, max_samples=5000, seed=seed)
    spec = search_proxy(
        resolution=RESOLUTION, in_channels=1, num_classes=data.num_classes,
        width_mult=0.5, depth_mult=0.5,
    )  # fmt: skip
    config = TrainingConfig(
        epochs=EPOCHS,
        threads=1,
        progressive_resizing=RESIZING if progressive else None,
        **LEGACY_RECIPE,
    )
    started = time.perf_counter()
    evaluation = TrainingEvaluator(data=data, config=config).evaluate(spec, seed=seed)
    return {"accuracy": evaluation.accuracy, "seconds": round(time.perf_counter() - started, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--data-root", default=str(ROOT.parent / "shared/data/notmnist"))
    args = parser.parse_args()
    from nas.stats import summarise_seeds

    seeds = list(range(1, args.seeds + 1))
    results: dict[str, list[dict[str, Any]]] = {"fixed": [], "progressive": []}
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        for seed in seeds:
            fixed = pool.submit(_train, args.data_root, seed, False)
            progressive = pool.submit(_train, args.data_root, seed, True)
            results["fixed"].append(fixed.result())
            results["progressive"].append(progressive.result())
            print(
                f"seed {seed}: fixed {results['fixed'][-1]}, "
                f"progressive {results['progressive'][-1]}",
                file=sys.stderr,
                flush=True,
            )

    def summary(values: list[float]) -> dict[str, float]:
        s = summarise_seeds(values)
        return {"mean": round(s.mean, 4), "low": round(s.low, 4), "high": round(s.high, 4)}

    arms = {
        name: {
            "accuracy": summary([r["accuracy"] for r in rows]),
            "seconds": summary([r["seconds"] for r in rows]),
            "runs": rows,
        }
        for name, rows in results.items()
    }
    difference = summary(
        [
            100 * (p["accuracy"] - f["accuracy"])
            for p, f in zip(results["progressive"], results["fixed"], strict=True)
        ]
    )
    speed = summary(
        [
            p["seconds"] / f["seconds"]
            for p, f in zip(results["progressive"], results["fixed"], strict=True)
        ]
    )
    distinguishable = difference["low"] > 0 or difference["high"] < 0
    result = {
        "command": ".venv/bin/python benchmarks/progressive_resizing.py",
        "machine": machine(),
        "date": datetime.date.today().isoformat(),
        "settings": {
            "data": "notMNIST, 5,000 of 10,000 letters",
            "resolution": RESOLUTION,
            "epochs": EPOCHS,
            "resizing": list(RESIZING),
            "seeds": seeds,
        },
        "arms": arms,
        "difference_points": difference,
        "time_ratio": speed,
        "verdict": (
            "progressive minus fixed: "
            f"{difference['mean']:+.2f} points [{difference['low']:+.2f}, "
            f"{difference['high']:+.2f}]"
            + ("" if distinguishable else ", within noise")
            + f"; time {speed['mean']:.2f}x [{speed['low']:.2f}, {speed['high']:.2f}]"
        ),
    }
    (RESULTS / "progressive_resizing.json").write_text(json.dumps(result, indent=1) + "\n")
    print(result["verdict"])
    return 0


if __name__ == "__main__":
    sys.exit(main())

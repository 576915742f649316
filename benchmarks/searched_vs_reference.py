"""The searched baseline against the hand-designed skeleton at the same real FLOPs.

The baseline is that of a larger search: ``benchmarks/supernet_search.py <data>`` (a
supernet ranks the candidates, the top 3 are retrained alone and the baseline chosen
among them), read from its run directory's ``baseline.json``. The reference is the
small-input skeleton the search space is built around (width 0.5, depth 0.5, 16 px),
its width multiplier found by bisection so that its FLOPs match the baseline's as
closely as the rounding of channels to multiples of 8 allows.

Both are trained from scratch on ``--seeds`` paired seeds (1..5 by default): seed ``s``
draws the data split (digits: all 1,797 images, 20% validation; notMNIST: a subset of
5,000 of the 10,000 letters) and the training seed, the same for both networks. The
search chose its baseline on split 0's validation images, so these splits are other
ones (on notMNIST mostly other images, too), and the choice is not favoured by the
images it is judged on. Budgets are the rank check's references: 15 epochs on digits,
8 on notMNIST.

Reported: each network's mean accuracy with its 95% t interval, the paired difference
(searched minus reference) in points with its 95% t interval, a paired t-test and a
Wilcoxon signed-rank test. Written to ``benchmarks/results/searched_vs_reference_<data>.json``.

    .venv/bin/python benchmarks/searched_vs_reference.py digits
    .venv/bin/python benchmarks/searched_vs_reference.py notmnist [--seeds 5]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from _machine import machine
from scipy import stats

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"
SETTINGS = {
    "digits": {"name": "digits", "max_samples": None, "epochs": 15},
    "notmnist": {"name": "mnist", "max_samples": 5000, "epochs": 8},
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _data(key: str, root: str, seed: int) -> Any:
    from nas import load_data

    settings = SETTINGS[key]
    return load_data(
        settings["name"],
        resolution=16,
        root=None if settings["name"] == "digits" else root,
        max_samples=settings["max_samples"],
        seed=seed,
    )


def _train(key: str, root: str, spec_json: str, seed: int) -> dict[str, Any]:
    """One stand-alone training (a worker task): data split and training seed ``seed``."""
    import torch

    from nas import TrainingConfig, TrainingEvaluator
    from nas.evaluate import LEGACY_RECIPE  # the results file's recipe
    from search_spaces import NetworkSpec

    torch.set_num_threads(1)
    spec = NetworkSpec.from_json(spec_json)
    trainer = TrainingEvaluator(
        data=_data(key, root, seed),
        config=TrainingConfig(epochs=SETTINGS[key]["epochs"], threads=1, **LEGACY_RECIPE),
    )
    started = time.perf_counter()
    evaluation = trainer.evaluate(spec, seed=seed)
    return {"accuracy": evaluation.accuracy, "seconds": round(time.perf_counter() - started, 1)}


def _interval(values: list[float]) -> dict[str, float]:
    """Mean and 95% t interval: the coefficient grid's own summary of seeds."""
    from nas.stats import summarise_seeds

    summary = summarise_seeds(values)
    return {"mean": summary.mean, "low": summary.low, "high": summary.high}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", choices=sorted(SETTINGS))
    parser.add_argument("--seeds", type=int, default=5, help="paired seeds 1..N (default 5)")
    parser.add_argument(
        "--run-dir", help="the search (default runs/bench-supernet-search-DATA-tpe)"
    )
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--data-root", default=str(ROOT.parent / "shared/data/notmnist"))
    args = parser.parse_args()
    if args.seeds < 3:
        parser.error("--seeds must be 3 or more: two paired differences make no interval")
    sys.path.insert(0, str(Path(__file__).parent))
    from search_vs_random import match_width, reference_skeleton

    from scaling import load_spec
    from search_spaces import count_flops, count_params

    run_dir = Path(args.run_dir or ROOT / "runs" / f"bench-supernet-search-{args.data}-tpe")
    baseline_file = run_dir / "baseline.json"
    if not baseline_file.is_file():
        parser.error(f"no {baseline_file}: run benchmarks/supernet_search.py {args.data} first")
    searched = load_spec(str(baseline_file))
    data = _data(args.data, args.data_root, 0)
    reference, width = match_width(lambda w: reference_skeleton(data, w), count_flops(searched))
    networks = {"searched": searched, "reference": reference}
    for name, spec in networks.items():
        log(f"{name}: {count_flops(spec) / 1e6:.2f}M FLOPs, {count_params(spec):,} params")
    seeds = list(range(1, args.seeds + 1))
    started = time.perf_counter()
    results: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in networks}
    pool = ProcessPoolExecutor(
        max_workers=args.workers, mp_context=multiprocessing.get_context("spawn")
    )
    with pool:
        jobs = {
            pool.submit(_train, args.data, args.data_root, spec.to_json(), seed): (name, seed)
            for seed in seeds
            for name, spec in networks.items()
        }
        for job in as_completed(jobs):
            name, seed = jobs[job]
            results[name][seed] = job.result()
            log(f"{name} seed {seed}: {results[name][seed]['accuracy']:.4f}")
    accuracy = {name: [results[name][s]["accuracy"] for s in seeds] for name in networks}
    diff = [100 * (a - b) for a, b in zip(accuracy["searched"], accuracy["reference"], strict=True)]
    difference = _interval(diff)
    distinguishable = difference["low"] > 0 or difference["high"] < 0
    verdict = (
        f"the searched network {'beats' if difference['mean'] > 0 else 'loses to'} the reference"
        if distinguishable
        else "within noise"
    )
    result = {
        "benchmark": "searched_vs_reference",
        "command": "benchmarks/searched_vs_reference.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M %z"),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "search_run": str(run_dir.relative_to(ROOT))
        if run_dir.is_relative_to(ROOT)
        else str(run_dir),
        "epochs": SETTINGS[args.data]["epochs"],
        "seeds": seeds,
        "networks": {
            name: {
                "flops": count_flops(spec),
                "params": count_params(spec),
                "blocks": list(spec.block_strings),
                "accuracy": accuracy[name],
                **_interval(accuracy[name]),
                "seconds": [results[name][s]["seconds"] for s in seeds],
            }
            for name, spec in networks.items()
        },
        "reference_width_mult": width,
        "difference_points": {
            **difference,
            "values": diff,
            "seeds_better": sum(d > 0 for d in diff),
            "t_p": float(stats.ttest_rel(accuracy["searched"], accuracy["reference"]).pvalue),
            "wilcoxon_p": float(stats.wilcoxon(diff, zero_method="zsplit").pvalue),
        },
        "verdict": verdict,
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"searched_vs_reference_{args.data}.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("difference_points", "verdict")}, indent=1))
    log(f"written: {path}")


if __name__ == "__main__":
    main()

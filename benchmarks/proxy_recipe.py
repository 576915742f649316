"""The proxy recipe on real images: old against new, and whether short training ranks.

Five parts (``--part``, default all), each written to its key of
``benchmarks/results/proxy_recipe_<data>.json``:

``skeleton``: the search proxy's skeleton (small-input, width and depth 0.5) trained for
3 epochs on 2,400 images (valid: 2,400 others, one fixed split) with the legacy recipe
and with the proxy recipe, 5 seeds each: mean, seed standard deviation, 95% t interval,
and images per second; beside it a plain CNN (conv-BN-ReLU x4 with max-pooling, widened
to about the skeleton's multiply-adds) trained the same two ways in the same run. Seeds
run two at a time, one per core, one torch thread each.

``ablation``: the recipe as first set (``FIRST_RECIPE``: batch 32, 15% warm-up) with one
part changed at a time (each part of it back to the old value, or a value tried against
it), 3 seeds each, the skeleton at the same budget: what each part is worth.

``candidate``: that first recipe against it with ``CANDIDATE`` (the ablation's two gains
together, since made the proxy recipe), 5 paired seeds.

``fused``: the same skeleton against its EfficientNetV2-style twin whose first
``FUSED_STAGES`` stages are Fused-MBConv without squeeze-excitation (V2's early stages),
both with the proxy recipe, 5 seeds: accuracy, seconds, accuracy per training second
and per multiply-add, to decide whether fused early stages pay at 28-32 px on a CPU.

``rank``: ``cnas rank-check`` on the space around that skeleton, 30 networks, each
trained at the reference budget from 3 seeds (their mean is the reference) and scored
by the proxy (3 epochs on 2,400 images), TSE, FLOPs and params: the reference's
reliability, the ceiling it allows, each score's tau with its interval. Resumable: its
run directory is ``runs/bench-proxy-recipe-<data>``; run the command again after a kill.

    make bench-data   # Fashion-MNIST from Debian
    .venv/bin/python benchmarks/proxy_recipe.py fashion-mnist [--part PART]
    .venv/bin/python benchmarks/proxy_recipe.py cifar10 --data-root ../shared/data/cifar10
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from _bed import (
    DEPTH,
    EPOCHS,
    RESOLUTION,
    RESULTS,
    ROOT,
    TRAIN_IMAGES,
    WIDTH,
    add_bed_arguments,
    rank_check_options,
)
from _machine import machine

RECIPES = ("legacy", "proxy")
FUSED_STAGES = 3  # EfficientNetV2-S fuses its first three stages
# The ablation's two distinguishable gains on CIFAR-10, together; now the proxy recipe.
CANDIDATE: dict[str, Any] = {"batch_size": 16, "warmup": 0.3}
# The recipe as this issue first set it (batch 32, 15% warm-up): the base the ablation and
# the candidate were measured on, kept so that their figures stay reproducible.
FIRST_RECIPE: dict[str, Any] = {"batch_size": 32, "warmup": 0.15}
# The first recipe with one part changed: name -> the changed TrainingConfig fields.
ABLATIONS: dict[str, dict[str, Any]] = {
    "recipe": {},
    "sgd (0.05)": {"optimizer": "sgd", "learning_rate": 0.05, "weight_decay": 1e-5},
    "adamw 1e-2": {"learning_rate": 1e-2},
    "no zero-init": {"zero_init_residual": False},
    "no warm-up": {"warmup": 0.0},
    "warm-up 0.3": {"warmup": 0.3},
    "no label smoothing": {"label_smoothing": 0.0},
    "spec dropout on": {"spec_regularization": True},
    "batch 64": {"batch_size": 64},
    "batch 16": {"batch_size": 16},
    "augment auto": {"augment": ("auto",)},
}


def plain_cnn(in_channels: int, num_classes: int, width: int) -> Any:
    """conv-BN-ReLU x4 (width, 2w, 4w, 4w), max-pooling after the first three, then a
    linear classifier on the pooled features: the plain reference of issue 25."""
    from torch import nn

    widths = (width, 2 * width, 4 * width, 4 * width)
    layers: list[nn.Module] = []
    previous = in_channels
    for index, channels in enumerate(widths):
        layers += [
            nn.Conv2d(previous, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
        ]
        if index < 3:
            layers.append(nn.MaxPool2d(2))
        previous = channels
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(previous, num_classes)]
    return nn.Sequential(*layers)


def fused_twin(spec: Any) -> Any:
    """``spec`` with its first ``FUSED_STAGES`` stages as Fused-MBConv without SE."""
    import dataclasses

    stages = tuple(
        dataclasses.replace(stage, fused=True, se_ratio=None) if index < FUSED_STAGES else stage
        for index, stage in enumerate(spec.stages)
    )
    return dataclasses.replace(spec, stages=stages, name=f"{spec.name}-fused")


def _multiply_adds(model: Any, resolution: int, in_channels: int) -> int:
    from nas.models import fvcore_multiply_adds

    return fvcore_multiply_adds(model, resolution, in_channels)[0]


@functools.lru_cache(maxsize=1)  # a worker trains many jobs on the same split
def _load(data: str, root: str | None, resolution: int) -> Any:
    from nas import load_data

    # 4,800 images, half valid: 2,400 train on one fixed split for every seed and recipe.
    return load_data(
        data, resolution=resolution, root=root, max_samples=2 * TRAIN_IMAGES,
        valid_fraction=0.5, seed=0,
    )  # fmt: skip


def _train_one(job: dict[str, Any]) -> dict[str, Any]:
    """One training: (model, recipe, seed) -> accuracy, seconds, images per second."""
    import torch

    torch.set_num_threads(1)
    from nas import TrainingConfig, TrainingEvaluator
    from nas.evaluate import PROXY_RECIPE
    from nas.evaluate import RECIPES as NAMED

    NAMED = {**NAMED, "first": {**PROXY_RECIPE, **FIRST_RECIPE}}
    from scaling import search_proxy

    data = _load(job["data"], job["root"], job["resolution"])
    changes = {**ABLATIONS, "candidate": CANDIDATE}.get(job.get("ablation", ""), {})
    recipe = {**NAMED[job["recipe"]], **changes}
    config = TrainingConfig(epochs=EPOCHS, threads=1, **recipe)
    evaluator = TrainingEvaluator(data=data, config=config)
    spec = search_proxy(
        resolution=data.resolution, in_channels=data.in_channels,
        num_classes=data.num_classes, width_mult=WIDTH, depth_mult=DEPTH,
    )  # fmt: skip
    if job["model"] == "skeleton":
        result = evaluator.evaluate(spec, seed=job["seed"])
    elif job["model"] == "fused":
        result = evaluator.evaluate(fused_twin(spec), seed=job["seed"])
    else:
        result = evaluator.evaluate_model(
            lambda: plain_cnn(data.in_channels, data.num_classes, job["width"]),
            name="plain-cnn",
            seed=job["seed"],
        )
    seconds = result.metrics["train_seconds"]
    return {
        **{key: job[key] for key in ("model", "recipe", "seed") if key in job},
        **({"ablation": job["ablation"]} if "ablation" in job else {}),
        "accuracy": result.accuracy,
        "train_loss": result.metrics["train_loss"],
        "seconds": round(seconds, 2),
        "images_per_second": round(EPOCHS * len(data.train) / seconds, 1),
    }


def _summary(values: list[float]) -> dict[str, float]:
    from scipy import stats

    mean = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else math.nan
    half = stats.t.ppf(0.975, len(values) - 1) * sd / math.sqrt(len(values))
    return {
        "mean": round(mean, 4),
        "sd": round(sd, 4),
        "low": round(mean - half, 4),
        "high": round(mean + half, 4),
        "min": round(min(values), 4),
        "max": round(max(values), 4),
    }


def _plain_width(data: Any) -> tuple[int, int, int]:
    """The plain CNN's base width whose multiply-adds come closest to the skeleton's."""
    from scaling import search_proxy
    from search_spaces import count_flops

    spec = search_proxy(
        resolution=data.resolution, in_channels=data.in_channels,
        num_classes=data.num_classes, width_mult=WIDTH, depth_mult=DEPTH,
    )  # fmt: skip
    target = count_flops(spec)
    best = min(
        range(8, 65, 2),
        key=lambda w: abs(
            _multiply_adds(plain_cnn(data.in_channels, data.num_classes, w), data.resolution,
                           data.in_channels) - target
        ),
    )  # fmt: skip
    plain = _multiply_adds(
        plain_cnn(data.in_channels, data.num_classes, best), data.resolution, data.in_channels
    )
    return best, target, plain


def _job(args: argparse.Namespace, **settings: Any) -> dict[str, Any]:
    """One training for a worker: the data, then the model, recipe, seed and changes."""
    return {
        "data": args.data,
        "root": args.data_root,
        "resolution": RESOLUTION[args.data],
        **settings,
    }


def run_skeleton(args: argparse.Namespace) -> dict[str, Any]:
    resolution = RESOLUTION[args.data]
    data = _load(args.data, args.data_root, resolution)
    width, skeleton_flops, plain_flops = _plain_width(data)
    jobs = [
        _job(args, model=model, recipe=recipe, seed=seed, width=width)
        for model in ("skeleton", "plain-cnn")
        for recipe in RECIPES
        for seed in range(1, args.seeds + 1)
    ]
    rows = []
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for row in pool.map(_train_one, jobs):
            print(json.dumps(row), flush=True)
            rows.append(row)
    summary: dict[str, Any] = {}
    for model in ("skeleton", "plain-cnn"):
        for recipe in RECIPES:
            mine = [r for r in rows if r["model"] == model and r["recipe"] == recipe]
            summary[f"{model}/{recipe}"] = {
                "accuracy": _summary([r["accuracy"] for r in mine]),
                "images_per_second": round(
                    statistics.median(r["images_per_second"] for r in mine), 1
                ),
                "seconds": round(statistics.median(r["seconds"] for r in mine), 1),
            }
    return {
        "train_images": len(data.train),
        "valid_images": len(data.valid),
        "resolution": resolution,
        "epochs": EPOCHS,
        "seeds": list(range(1, args.seeds + 1)),
        "skeleton_multiply_adds": skeleton_flops,
        "plain_cnn": {"width": width, "multiply_adds": plain_flops},
        "summary": summary,
        "runs": rows,
    }


def run_ablation(args: argparse.Namespace) -> dict[str, Any]:
    seeds = range(1, min(args.seeds, 3) + 1)
    jobs = [
        _job(args, model="skeleton", recipe="first", seed=seed, ablation=name)
        for name in ABLATIONS
        for seed in seeds
    ]
    rows = []
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for row in pool.map(_train_one, jobs):
            print(json.dumps(row), flush=True)
            rows.append(row)
    recipe = {r["seed"]: r["accuracy"] for r in rows if r["ablation"] == "recipe"}
    summary = {}
    for name, change in ABLATIONS.items():
        mine = [r for r in rows if r["ablation"] == name]
        summary[name] = {
            "change": {k: list(v) if isinstance(v, tuple) else v for k, v in change.items()},
            "accuracy": _summary([r["accuracy"] for r in mine]),
            "minus_recipe": _summary([r["accuracy"] - recipe[r["seed"]] for r in mine])
            if name != "recipe"
            else None,
            "seconds": round(statistics.median(r["seconds"] for r in mine), 1),
        }
    return {"seeds": list(seeds), "summary": summary, "runs": rows}


def run_candidate(args: argparse.Namespace) -> dict[str, Any]:
    jobs = [
        _job(args, model="skeleton", recipe="first", seed=seed, ablation=name)
        for name in ("recipe", "candidate")
        for seed in range(1, args.seeds + 1)
    ]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        rows = list(pool.map(_train_one, jobs))
    mine = {name: [r for r in rows if r["ablation"] == name] for name in ("recipe", "candidate")}
    pairs = list(zip(mine["candidate"], mine["recipe"], strict=True))
    return {
        "candidate": CANDIDATE,
        "recipe": _summary([r["accuracy"] for r in mine["recipe"]]),
        "with_candidate": _summary([r["accuracy"] for r in mine["candidate"]]),
        "candidate_minus_recipe": _summary([c["accuracy"] - r["accuracy"] for c, r in pairs]),
        "candidate_over_recipe_seconds": _summary([c["seconds"] / r["seconds"] for c, r in pairs]),
        "runs": rows,
    }


def run_fused(args: argparse.Namespace) -> dict[str, Any]:
    from scaling import search_proxy
    from search_spaces import count_flops, count_params

    resolution = RESOLUTION[args.data]
    data = _load(args.data, args.data_root, resolution)
    spec = search_proxy(
        resolution=resolution, in_channels=data.in_channels,
        num_classes=data.num_classes, width_mult=WIDTH, depth_mult=DEPTH,
    )  # fmt: skip
    specs = {"skeleton": spec, "fused": fused_twin(spec)}
    jobs = [
        _job(args, model=model, recipe="proxy", seed=seed)
        for model in specs
        for seed in range(1, args.seeds + 1)
    ]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        rows = list(pool.map(_train_one, jobs))
    summary = {}
    for model, net in specs.items():
        mine = [r for r in rows if r["model"] == model]
        accuracy = _summary([r["accuracy"] for r in mine])
        seconds = statistics.median(r["seconds"] for r in mine)
        summary[model] = {
            "blocks": list(net.block_strings),
            "multiply_adds": count_flops(net),
            "params": count_params(net),
            "accuracy": accuracy,
            "seconds": round(seconds, 1),
            "accuracy_per_second": round(accuracy["mean"] / seconds, 5),
            "accuracy_per_mflop": round(accuracy["mean"] / (count_flops(net) / 1e6), 5),
        }
    pairs = list(
        zip(
            (r for r in rows if r["model"] == "fused"),
            (r for r in rows if r["model"] == "skeleton"),
            strict=True,
        )
    )
    return {
        "fused_stages": FUSED_STAGES,
        "summary": summary,
        "fused_minus_skeleton": _summary([f["accuracy"] - s["accuracy"] for f, s in pairs]),
        "fused_over_skeleton_seconds": _summary([f["seconds"] / s["seconds"] for f, s in pairs]),
        "runs": rows,
    }


def rank_options(args: argparse.Namespace) -> list[str]:
    # 3,000 images: 2,400 train the proxy (the skeleton part's budget), 600 validate.
    return rank_check_options(
        args.data, args.networks, workers=args.workers, data_root=args.data_root
    )


def run_rank(args: argparse.Namespace) -> dict[str, Any]:
    out = ROOT / "runs" / f"bench-proxy-recipe-{args.data}"
    options = rank_options(args)
    command = [sys.executable, "-m", "experiments.cli", "rank-check", *options]
    started = time.perf_counter()
    done = subprocess.run(
        [*command, "--out", str(out), "--json", "--no-progress"],
        cwd=ROOT, check=True, stdout=subprocess.PIPE,
    )  # fmt: skip
    summary = json.loads(done.stdout)
    summary.pop("files", None)
    networks = ranked_networks(out / "rank_check.csv")
    return {
        "command": "cnas rank-check " + " ".join(options),
        "wall_seconds_this_run": round(time.perf_counter() - started, 1),
        "run_dir": str(out.relative_to(ROOT)),
        **summary,
        "spread": spread(networks),
        "per_network": networks,
    }


def ranked_networks(table: Path) -> list[dict[str, Any]]:
    """The finished rows of the rank check's table: what the figures below are made of."""
    import csv

    keep = ("network", "flops", "params", "reference_accuracy", "proxy", "tse")
    with table.open(newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["state"] == "complete"]
    runs = sorted(key for key in rows[0] if key.startswith("reference_run"))
    return [
        {key: float(row[key]) for key in (*keep, *runs) if row.get(key, "") != ""} for row in rows
    ]


def spread(networks: list[dict[str, Any]]) -> dict[str, Any]:
    """How far apart the networks are against how far one network's seeds are."""
    runs = [key for key in networks[0] if key.startswith("reference_run")]

    def low_median_high(key: str) -> list[float]:
        values = [row[key] for row in networks]
        return [round(min(values), 4), round(statistics.median(values), 4), round(max(values), 4)]

    between = statistics.stdev(row["reference_accuracy"] for row in networks)
    within = statistics.mean(statistics.stdev(row[key] for key in runs) for row in networks)
    return {
        "reference_low_median_high": low_median_high("reference_accuracy"),
        "proxy_low_median_high": low_median_high("proxy"),
        "networks_sd_points": round(100 * between, 2),
        "mean_seed_sd_points": round(100 * within, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_bed_arguments(parser)
    parser.add_argument(
        "--part",
        choices=("skeleton", "ablation", "candidate", "fused", "rank", "all"),
        default="all",
        help="skeleton: old vs new recipe; ablation: each part of the recipe; candidate: the "
        "recipe with CANDIDATE's changes; fused: fused early stages; rank: the rank check "
        "(default all)",
    )  # fmt: skip
    parser.add_argument("--seeds", type=int, default=5, help="skeleton seeds (default 5)")
    parser.add_argument("--networks", type=int, default=30, help="rank-check networks (30)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    import torch

    # One thread here as in the workers (and the CLI): the data's normalisation sums in
    # a different order with more threads, and the split must be the same float for float.
    torch.set_num_threads(1)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"proxy_recipe_{args.data.replace('-', '_')}.json"
    result = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    result.update(
        {
            "benchmark": "proxy_recipe",
            "data": args.data,
            "data_root": args.data_root or "(Debian's dataset-fashion-mnist)",
        }
    )
    everything = ("skeleton", "ablation", "candidate", "fused", "rank")
    parts = everything if args.part == "all" else (args.part,)
    runners = {
        "skeleton": run_skeleton,
        "ablation": run_ablation,
        "candidate": run_candidate,
        "fused": run_fused,
        "rank": run_rank,
    }
    for part in parts:
        started = time.perf_counter()
        found = runners[part](args)
        result[part] = {
            "command": f"benchmarks/proxy_recipe.py {' '.join(sys.argv[1:])}",
            "machine": machine(),
            "date": time.strftime("%Y-%m-%d %H:%M %z"),
            "wall_seconds": round(time.perf_counter() - started, 1),
            **found,
        }
        path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"written: {path} ({part})")


if __name__ == "__main__":
    main()

"""Search strategies vs random search, searched baseline vs scaled skeleton, overhead, memory.

Prints one JSON line on stdout with everything measured (progress goes to stderr) and
writes its run directories, and a copy of the JSON, under ``--out`` only.
On digits at 16 px with proxy training it measures:

1. Strategies vs random at an equal trial budget: tpe, nsga2, rl and random each run
   ``--trials`` trials per seed in ``--seeds`` (reward objective, soft constraint, FLOP
   cost, ``--target``) on the small-input skeleton at width 0.5 and depth 0.5 (as the
   ``cnas search`` CLI builds it). Reported per strategy: best reward and hypervolume (from
   ``build_report``'s summary), mean and sample std over seeds, the paired difference to
   random (same seed, same data), and wall time per run.
2. The best searched baseline (highest reward over all runs) vs the same reference
   skeleton scaled by ``scale_network`` with a width multiplier found by bisection so its
   FLOPs match the baseline's; both trained for ``--final-epochs`` on each seed's data.
3. Per-trial overhead outside training: (duration_s - train seconds) / duration_s.
4. Peak RSS of a ``cnas search`` subprocess (6 trials by default), from
   ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``.

Same network, same evaluation, in every run (part 1). ``run_search`` seeds each trial's
training with ``config.seed * 100003 + trial.number``, so one network found by two
strategies would be trained with different seeds and score differently: noise that has
nothing to do with the strategies. The benchmark therefore wraps the evaluator: the
training seed is derived from the spec's fingerprint and the benchmark seed (the seed
run_search passes is ignored), and evaluations are cached in memory by (fingerprint,
benchmark seed), so a network that another run already trained is not trained again and
gets exactly the same accuracy. A cached evaluation reports ``train_seconds`` 0 and
``cached`` 1 in its metrics; cached trials are left out of the overhead percentages
(their durations are reported apart: a whole trial that trains nothing), and a
run's wall time then covers only the networks it trained first (its ``trained`` and
``cache_hits`` counts are reported with it). The data split depends on the seed (as with
``cnas search --seed``), so each seed is a different split and the comparison with random
is paired by seed. TPE's and NSGA-II's random start-up trials use a RandomSampler with the
same seed as random search, so they repeat its first trials (cache hits: common starting
points, a fairer comparison); the RL controller draws its own.

Defaults: 4 strategies x 3 seeds x 16 trials, 2 epochs on 600 samples, 13 minutes on an idle
2-core machine at one torch thread (28 minutes on a loaded one; a trial trains for 2-10 s).
Pass --trials 20 or more for a larger budget.

    .venv/bin/python benchmarks/search_vs_random.py
    .venv/bin/python benchmarks/search_vs_random.py --trials 4 --seeds 0 --epochs 1 \\
        --final-epochs 1   # a quick check
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from _machine import cpu_model
from _proxy import DEPTH_MULT, WIDTH_MULT

from nas import (
    DataSplits,
    Evaluation,
    Evaluator,
    ProgressCallback,
    SearchConfig,
    TrainingConfig,
    TrainingEvaluator,
    build_report,
    load_data,
    run_search,
)
from nas.evaluate import LEGACY_RECIPE  # the results file's recipe
from scaling import search_proxy
from search_spaces import MBConvSpace, NetworkSpec, count_flops, count_params

STRATEGIES = ("random", "tpe", "nsga2", "rl")
RESOLUTION = 16
DATA = "digits"
REPO = Path(__file__).resolve().parent.parent


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def machine_description() -> dict[str, Any]:
    model = cpu_model()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "system": platform.system(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


def parse_quantity(text: str) -> float:
    suffixes = {"K": 1e3, "M": 1e6, "G": 1e9}
    text = text.strip()
    scale = suffixes.get(text[-1:].upper(), 1.0)
    try:
        value = float(text[:-1] if scale != 1.0 else text) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number with optional K/M/G: {text!r}"
        ) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number: {text!r}")
    return value


def parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers: {text!r}") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"expected distinct seeds, e.g. 0,1,2: {text!r}")
    return seeds


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1: {text!r}")
    return value


def mean_std(values: Sequence[float]) -> dict[str, Any]:
    values = [float(v) for v in values]
    return {
        "mean": round(statistics.fmean(values), 5) if values else None,
        "std": round(statistics.stdev(values), 5) if len(values) > 1 else None,
        "values": [round(v, 5) for v in values],
    }


def reference_skeleton(data: DataSplits, width: float = 1.0, divisor: int = 8) -> NetworkSpec:
    """The CLI's proxy skeleton (small-input, width 0.5, depth 0.5, 16 px), ``width`` times wider.

    Widths are scaled from the unscaled skeleton and rounded once, as compound scaling
    does, to multiples of ``divisor``; ``width`` 1.0 and ``divisor`` 8 give exactly the
    skeleton the search space is built around.
    """
    return search_proxy(
        skeleton_name="small-input",
        resolution=RESOLUTION,
        in_channels=data.in_channels,
        num_classes=data.num_classes,
        width_mult=WIDTH_MULT * width,
        depth_mult=DEPTH_MULT,
        channel_divisor=divisor,
        name="reference" if width == 1.0 else f"reference-x{width:.3f}",
    )


class SharedEvaluator(Evaluator):
    """Same network and benchmark seed -> same training seed and one shared evaluation."""

    name = "train-shared"
    gives_accuracy = True

    def __init__(
        self,
        inner: TrainingEvaluator,
        bench_seed: int,
        cache: dict[tuple[str, int], Evaluation],
    ) -> None:
        self.inner = inner
        self.bench_seed = bench_seed
        self.cache = cache

    def training_seed(self, fingerprint: str) -> int:
        digest = hashlib.sha256(f"{fingerprint}:{self.bench_seed}".encode()).hexdigest()
        return int(digest[:8], 16)

    def evaluate(
        self, spec: NetworkSpec, *, seed: int, progress: ProgressCallback | None = None
    ) -> Evaluation:
        del seed  # run_search's per-trial seed differs between runs for the same network
        key = (spec.fingerprint(), self.bench_seed)
        cached = self.cache.get(key)
        if cached is not None:
            metrics = dict(cached.metrics)
            metrics["original_train_seconds"] = metrics["train_seconds"]
            metrics["train_seconds"] = 0.0
            metrics["cached"] = 1.0
            return Evaluation(accuracy=cached.accuracy, metrics=metrics)
        evaluation = self.inner.evaluate(spec, seed=self.training_seed(key[0]), progress=progress)
        self.cache[key] = evaluation
        return Evaluation(
            accuracy=evaluation.accuracy, metrics={**evaluation.metrics, "cached": 0.0}
        )


@dataclass
class RunResult:
    strategy: str
    seed: int
    best_reward: float | None
    best_accuracy: float | None
    hypervolume: float
    wall_s: float
    trained: int
    cache_hits: int
    duplicates: int
    failed: int
    baseline: dict[str, Any] | None
    baseline_spec: str | None
    overhead: list[tuple[float, float]]  # (fraction, seconds) per trained trial
    cached_trial_s: list[float]  # durations of cache hits: a trial with no training at all
    train_s: float  # training time of the networks this run trained


def run_one(
    *,
    strategy: str,
    seed: int,
    args: argparse.Namespace,
    data: DataSplits,
    space: MBConvSpace,
    cache: dict[tuple[str, int], Evaluation],
    run_dir: Path,
) -> RunResult:
    config = SearchConfig(
        target=args.target,
        cost="flops",
        objective="reward",
        constraint="soft",
        strategy=strategy,
        trials=args.trials,
        seed=seed,
    )
    inner = TrainingEvaluator(
        data=data, config=TrainingConfig(epochs=args.epochs, threads=args.threads, **LEGACY_RECIPE)
    )
    evaluator = SharedEvaluator(inner, seed, cache)
    label = f"[{strategy} seed {seed}]"

    def on_trial(study: Any, trial: Any) -> None:
        attrs = trial.user_attrs
        metrics = attrs.get("metrics") or {}
        if attrs.get("error"):
            note = f"failed: {attrs['error'][:120]}"
        elif "duplicate_of" in attrs:
            note = f"duplicate of trial {attrs['duplicate_of']}"
        else:
            note = "cached" if metrics.get("cached") else "trained"
        reward = attrs.get("reward")
        reward_text = "-" if reward is None else f"{reward:.4f}"
        log(
            f"{label} trial {trial.number + 1}/{args.trials}: reward {reward_text}, "
            f"FLOPs {attrs.get('flops', 0) / 1e6:.2f}M, {attrs.get('duration_s', 0):.1f} s, "
            f"{note}"
        )

    started = time.perf_counter()
    study = run_search(
        space=space,
        evaluator=evaluator,
        config=config,
        run_dir=run_dir,
        identity_extra={
            "data": DATA,
            "max_samples": args.max_samples,
            "resolution": RESOLUTION,
            "width_mult": WIDTH_MULT,
            "depth_mult": DEPTH_MULT,
            "epochs": args.epochs,
            "evaluator": "train-shared",
        },
        on_trial=on_trial,
    )
    wall = time.perf_counter() - started
    report = build_report(study, config, space_size=space.size)
    trials = report.trials
    complete = trials[(trials["state"] == "complete") & trials["accuracy"].notna()]
    duplicates = int(complete["duplicate_of"].notna().sum()) if "duplicate_of" in complete else 0
    # Trials this run evaluated (not run_search's own duplicates): trained or from the cache.
    if "metric_cached" in complete:
        evaluated = complete[complete["metric_cached"].notna()]
    else:
        evaluated = complete.iloc[0:0].assign(metric_cached=[], metric_train_seconds=[])
    cache_hits = int((evaluated["metric_cached"] == 1.0).sum())
    trained = len(evaluated) - cache_hits
    fresh = evaluated[evaluated["metric_cached"] == 0.0]
    overhead = [
        ((duration - train) / duration, duration - train)
        for duration, train in zip(
            fresh["duration_s"].astype(float),
            fresh["metric_train_seconds"].astype(float),
            strict=True,
        )
        if duration > 0
    ]
    summary = report.summary
    baseline = summary["baseline"]
    log(
        f"{label} done in {wall:.0f} s: best reward "
        f"{baseline['reward'] if baseline else float('nan'):.4f}, "
        f"hypervolume {summary['hypervolume']:.4f}, {trained} trained, {cache_hits} cached, "
        f"{duplicates} duplicates"
    )
    return RunResult(
        strategy=strategy,
        seed=seed,
        best_reward=baseline["reward"] if baseline else None,
        best_accuracy=float(complete["accuracy"].max()) if len(complete) else None,
        hypervolume=float(summary["hypervolume"]),
        wall_s=wall,
        trained=trained,
        cache_hits=cache_hits,
        duplicates=duplicates,
        failed=int((trials["state"] == "fail").sum()),
        baseline=baseline,
        baseline_spec=None if report.baseline is None else report.baseline["spec"],
        overhead=overhead,
        cached_trial_s=[
            float(d) for d in evaluated[evaluated["metric_cached"] == 1.0]["duration_s"]
        ],
        train_s=float(fresh["metric_train_seconds"].astype(float).sum()),
    )


def compare_strategies(results: list[RunResult], seeds: Sequence[int]) -> dict[str, Any]:
    by_key = {(r.strategy, r.seed): r for r in results}
    table: dict[str, Any] = {}
    for strategy in STRATEGIES:
        runs = [by_key[(strategy, seed)] for seed in seeds]
        entry: dict[str, Any] = {
            "best_reward": mean_std([r.best_reward or 0.0 for r in runs]),
            "best_accuracy": mean_std([r.best_accuracy or 0.0 for r in runs]),
            "hypervolume": mean_std([r.hypervolume for r in runs]),
            "wall_s": [round(r.wall_s, 1) for r in runs],
            "trained": [r.trained for r in runs],
            "cache_hits": [r.cache_hits for r in runs],
            "duplicates": [r.duplicates for r in runs],
            "failed": [r.failed for r in runs],
            "best_flops": [r.baseline["flops"] if r.baseline else None for r in runs],
        }
        if strategy != "random":
            rand = [by_key[("random", seed)] for seed in seeds]
            entry["vs_random"] = {
                # Paired by seed: the same seed means the same data split for both.
                "best_reward_diff": mean_std(
                    [
                        (r.best_reward or 0.0) - (q.best_reward or 0.0)
                        for r, q in zip(runs, rand, strict=True)
                    ]
                ),
                "hypervolume_diff": mean_std(
                    [r.hypervolume - q.hypervolume for r, q in zip(runs, rand, strict=True)]
                ),
                "seeds_better_reward": sum(
                    (r.best_reward or 0.0) > (q.best_reward or 0.0)
                    for r, q in zip(runs, rand, strict=True)
                ),
                "seeds_better_hypervolume": sum(
                    r.hypervolume > q.hypervolume for r, q in zip(runs, rand, strict=True)
                ),
            }
        table[strategy] = entry
    return table


def match_width(
    scaled: Callable[[float], NetworkSpec], target_flops: float
) -> tuple[NetworkSpec, float]:
    """Bisection on the width multiplier; returns the scaled network with the closest FLOPs.

    FLOPs rise with the width in steps (channels round to multiples of 8), so an exact
    match may not exist: every width tried is kept and the closest one wins.
    """
    low, high = 0.05, 8.0
    best_width = 1.0
    best_gap = abs(count_flops(scaled(1.0)) / target_flops - 1)
    for _ in range(60):
        middle = (low * high) ** 0.5  # bisect on a log scale
        flops = count_flops(scaled(middle))
        gap = abs(flops / target_flops - 1)
        if gap < best_gap:
            best_width, best_gap = middle, gap
        if flops < target_flops:
            low = middle
        else:
            high = middle
        if high / low < 1.0001:
            break
    return scaled(best_width), best_width


def compare_baseline(
    results: list[RunResult],
    args: argparse.Namespace,
    datasets: dict[int, DataSplits],
) -> dict[str, Any]:
    candidates = [r for r in results if r.baseline is not None and r.baseline_spec]
    if not candidates:
        return {"error": "no run evaluated a network"}
    best = max(candidates, key=lambda r: r.baseline["reward"])
    searched = NetworkSpec.from_dict(
        {**json.loads(best.baseline_spec), "name": "searched-baseline", "metadata": {}}
    )
    data = datasets[args.seeds[0]]
    searched_flops = count_flops(searched)
    # Channels round to multiples of 8 (as in the space); FLOPs then rise in steps that can
    # jump over +-5% of the target, so multiples of 4 are tried next if they must be.
    tried = []
    for divisor in (8, 4):
        matched, width = match_width(
            lambda w, d=divisor: reference_skeleton(data, w, d), searched_flops
        )
        tried.append((abs(count_flops(matched) / searched_flops - 1), divisor, matched, width))
        if tried[-1][0] <= 0.05:
            break
    _, divisor, matched, width = min(tried, key=lambda entry: entry[0])
    flops_ratio = count_flops(matched) / searched_flops
    log(
        f"[final] searched baseline from {best.strategy} seed {best.seed}: "
        f"{searched_flops / 1e6:.2f}M FLOPs; reference x width {width:.3f}: "
        f"{count_flops(matched) / 1e6:.2f}M FLOPs (ratio {flops_ratio:.3f})"
    )
    training = TrainingConfig(epochs=args.final_epochs, threads=args.threads, **LEGACY_RECIPE)
    accuracy: dict[str, list[float]] = {"searched": [], "reference": []}
    seconds: dict[str, list[float]] = {"searched": [], "reference": []}
    for seed in args.seeds:
        evaluator = TrainingEvaluator(data=datasets[seed], config=training)
        for name, spec in (("searched", searched), ("reference", matched)):
            evaluation = evaluator.evaluate(spec, seed=seed)
            accuracy[name].append(evaluation.accuracy)
            seconds[name].append(evaluation.metrics["train_seconds"])
            log(
                f"[final] seed {seed} {name}: accuracy {evaluation.accuracy:.4f} "
                f"({evaluation.metrics['train_seconds']:.1f} s)"
            )
    diff = [s - r for s, r in zip(accuracy["searched"], accuracy["reference"], strict=True)]
    return {
        "epochs": args.final_epochs,
        "source": {
            "strategy": best.strategy,
            "seed": best.seed,
            "trial": best.baseline["number"],
            "search_reward": round(best.baseline["reward"], 5),
            "search_accuracy": round(best.baseline["accuracy"], 5),
        },
        "searched": {
            "flops": searched_flops,
            "params": count_params(searched),
            "accuracy": mean_std(accuracy["searched"]),
            "train_s": [round(s, 1) for s in seconds["searched"]],
            "stages": [stage.to_string() for stage in searched.stages],
        },
        "reference_scaled": {
            "width_mult_vs_reference": round(width, 4),
            "width_mult_vs_unscaled_small_input": round(WIDTH_MULT * width, 4),
            "channel_divisor": divisor,
            "flops": count_flops(matched),
            "params": count_params(matched),
            "flops_ratio_to_searched": round(flops_ratio, 4),
            "flops_within_5pct": abs(flops_ratio - 1) <= 0.05,
            "accuracy": mean_std(accuracy["reference"]),
            "train_s": [round(s, 1) for s in seconds["reference"]],
            "stages": [stage.to_string() for stage in matched.stages],
        },
        "accuracy_diff_searched_minus_reference": mean_std(diff),
    }


def overhead_summary(results: list[RunResult]) -> dict[str, Any]:
    fractions = [fraction for r in results for fraction, _ in r.overhead]
    seconds = [value for r in results for _, value in r.overhead]
    cached = [value for r in results for value in r.cached_trial_s]
    if not fractions:
        return {"trials": 0}
    return {
        "trials": len(fractions),
        "median_pct": round(100 * statistics.median(fractions), 3),
        "max_pct": round(100 * max(fractions), 3),
        "median_s": round(statistics.median(seconds), 3),
        "max_s": round(max(seconds), 3),
        "goal_pct": 5.0,
        "goal_met": max(fractions) < 0.05,
        # A cache hit runs the whole trial (sampling, storage writes) but trains nothing.
        "cached_trial_median_s": round(statistics.median(cached), 3) if cached else None,
        # Everything but training, sampler and callbacks included, per trial of a run.
        "run_non_training_s_per_trial": round(
            statistics.median(
                (r.wall_s - r.train_s) / max(1, r.trained + r.cache_hits) for r in results
            ),
            3,
        ),
    }


def measure_memory(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Peak RSS of one `cnas search` subprocess with the benchmark's small settings."""
    command = [
        sys.executable,
        "-m",
        "experiments.cli",
        "search",
        "--recipe",
        "legacy",
        "--target-flops",
        str(args.target),
        "--trials",
        str(args.memory_trials),
        "--epochs",
        str(args.epochs),
        "--max-samples",
        str(args.max_samples),
        "--resolution",
        str(RESOLUTION),
        "--skeleton",
        "small-input",
        "--width-mult",
        str(WIDTH_MULT),
        "--depth-mult",
        str(DEPTH_MULT),
        "--threads",
        str(args.threads),
        "--seed",
        str(args.seeds[0]),
        "--out",
        str(out / "memory-search"),
        "--json",
    ]
    before_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    log(f"[memory] {shlex.join(command)}")
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    result: dict[str, Any] = {
        "trials": args.memory_trials,
        "returncode": completed.returncode,
        "wall_s": round(wall, 1),
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "goal_mib": 2048,
        "goal_met": completed.returncode == 0 and peak_kib / 1024 < 2048,
        # ru_maxrss of children is the largest child's. Importing torch runs a short-lived
        # child already (forked, so about this process's size then); the reading is the
        # search's own peak only when it is above that.
        "children_peak_before_kib": before_kib,
        "reading_is_the_search": peak_kib > before_kib,
    }
    if completed.returncode != 0:
        result["stderr_tail"] = completed.stderr[-2000:]
    log(f"[memory] peak RSS {peak_kib / 1024:.1f} MiB in {wall:.0f} s (rc {completed.returncode})")
    return result


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=parse_seeds, default=[0, 1, 2], help="default 0,1,2")
    parser.add_argument("--trials", type=positive_int, default=16, help="trials per run (16)")
    parser.add_argument("--epochs", type=positive_int, default=2, help="epochs per trial (2)")
    parser.add_argument("--max-samples", type=positive_int, default=600, help="digits subset")
    parser.add_argument(
        "--target", type=parse_quantity, default=5e6, help="FLOP target T, e.g. 5M (default)"
    )
    parser.add_argument(
        "--final-epochs", type=positive_int, default=6, help="epochs of the final comparison (6)"
    )
    parser.add_argument(
        "--memory-trials", type=positive_int, default=6, help="trials of the memory run (6)"
    )
    parser.add_argument("--threads", type=positive_int, default=1, help="torch threads (1)")
    parser.add_argument(
        "--out", default="runs/bench_search", help="scratch directory (default runs/bench_search)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    torch.set_num_threads(args.threads)
    out = Path(args.out) / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=False)
    log(f"writing run directories under {out}")

    # Part 4 first, so no other child process can set RUSAGE_CHILDREN's peak.
    memory = measure_memory(args, out)

    datasets = {
        seed: load_data(DATA, resolution=RESOLUTION, max_samples=args.max_samples, seed=seed)
        for seed in args.seeds
    }
    cache: dict[tuple[str, int], Evaluation] = {}
    results: list[RunResult] = []
    for seed in args.seeds:
        data = datasets[seed]
        space = MBConvSpace.uniform(reference_skeleton(data))
        for strategy in STRATEGIES:
            results.append(
                run_one(
                    strategy=strategy,
                    seed=seed,
                    args=args,
                    data=data,
                    space=space,
                    cache=cache,
                    run_dir=out / f"search-{strategy}-seed{seed}",
                )
            )
    strategies = compare_strategies(results, args.seeds)
    baseline = compare_baseline(results, args, datasets)
    result = {
        "benchmark": "search_vs_random",
        "command": shlex.join([sys.executable, *sys.argv]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": machine_description(),
        "torch_threads": torch.get_num_threads(),
        "settings": {
            "data": DATA,
            "max_samples": args.max_samples,
            "resolution": RESOLUTION,
            "skeleton": f"small-input, width {WIDTH_MULT}, depth {DEPTH_MULT}",
            "objective": "reward",
            "constraint": "soft",
            "cost": "flops",
            "target": args.target,
            "trials": args.trials,
            "epochs": args.epochs,
            "seeds": args.seeds,
            "final_epochs": args.final_epochs,
            "evaluations": "training seed from (fingerprint, seed); cached across runs",
        },
        "strategies": strategies,
        "runs": [
            {
                "strategy": r.strategy,
                "seed": r.seed,
                "best_reward": None if r.best_reward is None else round(r.best_reward, 5),
                "hypervolume": round(r.hypervolume, 5),
                "wall_s": round(r.wall_s, 1),
                "trained": r.trained,
                "cache_hits": r.cache_hits,
                "train_s": round(r.train_s, 1),
            }
            for r in results
        ],
        "baseline_vs_scaled_reference": baseline,
        "overhead_outside_training": overhead_summary(results),
        "memory": memory,
        "peak_rss_self_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "total_wall_s": round(time.perf_counter() - started, 1),
    }
    line = json.dumps(result)
    (out / "result.json").write_text(line + "\n", encoding="utf-8")
    print(line, flush=True)


if __name__ == "__main__":
    main()

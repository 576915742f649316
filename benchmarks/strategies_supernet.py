"""Search strategies against random search, with a trained supernet as the oracle.

Real training cannot run enough trials to tell strategies apart (16 trials x 3 seeds
measured differences of a few validation images; "Search: strategies vs random"). A
trained supernet scores a candidate in about half a second, deterministically (its
inherited weights, batch norm recomputed on fixed images), so each strategy here runs
``--trials`` trials (200) on each of ``--seeds`` (10) with the same oracle. What this
measures is how well a strategy optimises the score it is given; whether that score
ranks like real training is the rank check's question (tau about 0 on digits). The
best networks are therefore trained alone afterwards, to see what was bought.

The oracle is the supernet ``benchmarks/rank_check.py <data> --supernet`` trained (its
``supernet.safetensors``, or an older ``supernet.pt``, in
``runs/bench-rank-<data>-supernet``, checked against the settings below); without it,
one is trained first (about 10 minutes). The data split is that supernet's (seed 0) in
every run; the strategy's seed is what varies. Search settings
are those of ``make demo``'s search: MnasNet's soft reward, w = -0.07, FLOPs, target
5M, on the search-proxy space with every shortcut kept.

Reported per strategy over seeds: median and 95% interval (bootstrap) of the best
reward, the hypervolume (accuracy against FLOPs in units of the target, up to 2x) and
the baseline's reward; for each, the difference to random paired by seed, its 95% t
interval, a paired t-test and a Wilcoxon signed-rank test. Then each run's baseline is
trained alone at the rank check's reference budget (15 epochs on digits, 8 on notMNIST,
one training seed per network) and compared with random's in the same way. Results go
to ``benchmarks/results/strategies_supernet_<data>.json`` and a plot of the best reward
so far to ``strategies_supernet_<data>.png``. Runs are resumable: each (strategy, seed)
is a run directory under ``runs/bench-strategies-<data>``.

    .venv/bin/python benchmarks/strategies_supernet.py digits
    .venv/bin/python benchmarks/strategies_supernet.py digits --trials 20 --seeds 2 \\
        --no-confirm   # a quick check
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
from _machine import machine
from _proxy import DEPTH_MULT, WIDTH_MULT
from scipy import stats

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"
STRATEGIES = ("random", "tpe", "nsga2", "rl")
RESOLUTION = 16
TARGET = 5e6
# The rank check's supernet data (load_data arguments) and its reference budget.
DATA = {
    "digits": {"name": "digits", "max_samples": None, "reference_epochs": 15},
    "notmnist": {"name": "mnist", "max_samples": 2000, "reference_epochs": 8},
}
CHECKPOINTS = (25, 50, 100, 200, 400)

_worker: dict[str, Any] = {}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _load(data_key: str, root: str | None) -> tuple[Any, Any]:
    from nas import load_data
    from nas.supernet import default_supernet_space
    from scaling import search_proxy

    settings = DATA[data_key]
    data = load_data(
        settings["name"],
        resolution=RESOLUTION,
        root=root if settings["name"] != "digits" else None,
        max_samples=settings["max_samples"],
        seed=0,
    )
    reference = search_proxy(
        skeleton_name="small-input",
        resolution=RESOLUTION,
        in_channels=data.in_channels,
        num_classes=data.num_classes,
        width_mult=WIDTH_MULT,
        depth_mult=DEPTH_MULT,
    )
    return data, default_supernet_space(reference)


def _oracle(data_key: str, data: Any, space: Any, supernet_dir: Path) -> Any:
    from nas import TrainingConfig
    from nas.evaluate import LEGACY_RECIPE  # the results file's recipe
    from nas.supernet import SandwichConfig, SupernetEvaluator

    # The rank check's supernet: 10 epochs of the sandwich rule, 4 random networks a
    # step, distillation, seed 0 (prepare() refuses a file trained otherwise).
    config = SandwichConfig(training=TrainingConfig(epochs=10, threads=1, **LEGACY_RECIPE))
    evaluator = SupernetEvaluator(data, space=space, config=config, seed=0, threads=1)
    evaluator.prepare(supernet_dir)
    return evaluator


def _cached(inner: Any) -> Any:
    """The supernet's score, computed once per network per process (it is deterministic)."""
    from nas import Evaluator

    class CachedOracle(Evaluator):
        name = inner.name
        gives_accuracy = True
        score_label = inner.score_label

        def __init__(self) -> None:
            self.cache: dict[str, Any] = {}

        def identity(self) -> dict[str, Any]:
            return inner.identity()

        def evaluate(self, spec: Any, *, seed: int, progress: Any = None) -> Any:
            key = spec.fingerprint()
            if key not in self.cache:
                self.cache[key] = inner.evaluate(spec, seed=seed)
            return self.cache[key]

    return CachedOracle()


def _init_worker(data_key: str, root: str | None, supernet_dir: str) -> None:
    import torch

    torch.set_num_threads(1)
    data, space = _load(data_key, root)
    _worker.update(
        data_key=data_key,
        data=data,
        space=space,
        oracle=_cached(_oracle(data_key, data, space, Path(supernet_dir))),
    )


def _search(strategy: str, seed: int, trials: int, run_dir: str) -> dict[str, Any]:
    """One search in a worker; the numbers the comparison needs."""
    from nas import SearchConfig, build_report, run_search

    space = _worker["space"]
    config = SearchConfig(
        target=_worker.get("target", TARGET),  # strategies_bed sets the bed's
        cost="flops",
        objective="reward",
        constraint="soft",
        strategy=strategy,
        trials=trials,
        seed=seed,
    )
    started = time.perf_counter()
    study = run_search(
        space=space,
        evaluator=_worker["oracle"],
        config=config,
        run_dir=run_dir,
        identity_extra={"benchmark": "strategies_supernet", "data": _worker["data_key"]},
    )
    wall = time.perf_counter() - started
    report = build_report(study, config, space_size=space.size)
    trials_frame = report.trials.sort_values("number")
    done = trials_frame[(trials_frame["state"] == "complete") & trials_frame["reward"].notna()]
    rewards = done["reward"].astype(float).to_numpy()
    so_far = np.maximum.accumulate(rewards) if len(rewards) else rewards
    distinct = done if "duplicate_of" not in done else done[done["duplicate_of"].isna()]
    baseline = report.summary["baseline"]
    return {
        "strategy": strategy,
        "seed": seed,
        "wall_s": round(wall, 1),
        "trials": len(done),
        "distinct": len(distinct),
        "best_reward": float(so_far[-1]) if len(so_far) else None,
        "best_reward_at": {str(n): float(so_far[n - 1]) for n in CHECKPOINTS if n <= len(so_far)},
        "best_reward_curve": [round(float(v), 5) for v in so_far],
        "hypervolume": float(report.summary["hypervolume"]),
        "baseline": {
            key: baseline.get(key)
            for key in ("number", "reward", "accuracy", "cost", "target_ratio", "params")
        }
        if baseline
        else None,
        "baseline_spec": None if report.baseline is None else report.baseline["spec"],
    }


def _train_alone(spec_json: str, epochs: int) -> dict[str, Any]:
    """Stand-alone training of one network at the reference budget (a worker task)."""
    from nas import TrainingConfig, TrainingEvaluator
    from nas.evaluate import LEGACY_RECIPE  # the results file's recipe
    from search_spaces import NetworkSpec, count_flops

    spec = NetworkSpec.from_json(spec_json)
    fingerprint = spec.fingerprint()
    seed = int(hashlib.sha256(fingerprint.encode()).hexdigest()[:8], 16)
    trainer = TrainingEvaluator(
        data=_worker["data"], config=TrainingConfig(epochs=epochs, threads=1, **LEGACY_RECIPE)
    )
    started = time.perf_counter()
    evaluation = trainer.evaluate(spec, seed=seed)
    return {
        "fingerprint": fingerprint,
        "accuracy": evaluation.accuracy,
        "flops": count_flops(spec),
        "seconds": round(time.perf_counter() - started, 1),
    }


def _median_interval(values: list[float], seed: int = 0) -> dict[str, Any]:
    array = np.asarray(values, dtype=float)
    if len(array) < 2:
        return {
            "median": float(np.median(array)) if len(array) else None,
            "low": None,
            "high": None,
        }
    result = stats.bootstrap(
        (array,), np.median, n_resamples=4000, method="percentile", random_state=seed
    )
    return {
        "median": float(np.median(array)),
        "low": float(result.confidence_interval.low),
        "high": float(result.confidence_interval.high),
    }


def paired(a: list[float], b: list[float]) -> dict[str, Any]:
    """``a`` minus ``b`` by seed: mean, 95% t interval, paired t-test and Wilcoxon p."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    n = len(diff)
    mean = float(diff.mean())
    out: dict[str, Any] = {"n": n, "mean": mean, "better": int((diff > 0).sum())}
    out["ties"] = int((diff == 0).sum())
    if n < 2 or float(diff.std()) == 0.0:
        out.update(low=mean, high=mean, t_p=None, wilcoxon_p=None)
        return out
    from nas.stats import summarise_seeds

    interval = summarise_seeds(diff.tolist())  # the grid's 95% t interval of a mean
    out.update(
        low=interval.low,
        high=interval.high,
        t_p=float(stats.ttest_rel(a, b).pvalue),
        wilcoxon_p=float(stats.wilcoxon(diff, zero_method="zsplit").pvalue),
    )
    return out


def compare(runs: list[dict[str, Any]], seeds: list[int], key: str) -> dict[str, Any]:
    by = {(r["strategy"], r["seed"]): r for r in runs}
    table: dict[str, Any] = {}
    for strategy in STRATEGIES:
        values = [by[(strategy, s)][key] for s in seeds]
        entry: dict[str, Any] = {"values": values, **_median_interval(values)}
        if strategy != "random":
            entry["vs_random"] = paired(values, [by[("random", s)][key] for s in seeds])
        table[strategy] = entry
    return table


def plot(runs: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.2))
    for strategy in STRATEGIES:
        curves = [r["best_reward_curve"] for r in runs if r["strategy"] == strategy]
        length = min(len(c) for c in curves)
        block = np.asarray([c[:length] for c in curves])
        x = np.arange(1, length + 1)
        axis.plot(x, np.median(block, axis=0), label=f"{strategy} (median)")
        axis.fill_between(
            x, np.quantile(block, 0.25, axis=0), np.quantile(block, 0.75, axis=0), alpha=0.2
        )
    axis.set_xscale("log")
    axis.set_xlabel("trials")
    axis.set_ylabel("best reward so far (supernet accuracy x (FLOPs/T)^-0.07)")
    axis.set_title(title)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", choices=sorted(DATA))
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 (default 10)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--data-root", default=str(ROOT.parent / "shared/data/notmnist"))
    parser.add_argument("--no-confirm", action="store_true", help="skip stand-alone training")
    args = parser.parse_args()
    if args.trials < 2 or args.seeds < 2 or args.workers < 1:
        parser.error("--trials and --seeds must be 2 or more, --workers 1 or more")
    out = ROOT / "runs" / f"bench-strategies-{args.data}"
    out.mkdir(parents=True, exist_ok=True)
    supernet_dir = ROOT / "runs" / f"bench-rank-{args.data}-supernet"
    saved = [n for n in ("supernet.safetensors", "supernet.pt") if (supernet_dir / n).exists()]
    if not saved:
        supernet_dir = out / "supernet"
        supernet_dir.mkdir(exist_ok=True)
        log(f"no rank-check supernet: training one in {supernet_dir} first")
        _init_worker(args.data, args.data_root, str(supernet_dir))  # trains and saves it
    seeds = list(range(args.seeds))
    started = time.perf_counter()
    runs: list[dict[str, Any]] = []
    pool = ProcessPoolExecutor(
        max_workers=args.workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(args.data, args.data_root, str(supernet_dir)),
    )
    with pool:
        jobs = {
            pool.submit(_search, strategy, seed, args.trials, str(out / f"{strategy}-s{seed}")): (
                strategy,
                seed,
            )
            for seed in seeds
            for strategy in STRATEGIES
        }
        for job in as_completed(jobs):
            run = job.result()
            runs.append(run)
            log(
                f"[{len(runs)}/{len(jobs)}] {run['strategy']} seed {run['seed']}: best reward "
                f"{run['best_reward']:.4f}, hypervolume {run['hypervolume']:.4f}, "
                f"{run['distinct']} distinct networks, {run['wall_s']:.0f} s"
            )
        search_wall = time.perf_counter() - started
        for run in runs:
            run["baseline_reward"] = run["baseline"]["reward"] if run["baseline"] else math.nan
        confirmed: dict[str, Any] = {}
        if not args.no_confirm:
            epochs = DATA[args.data]["reference_epochs"]
            specs = {}
            for run in runs:
                if run["baseline_spec"] is not None:
                    specs.setdefault(run["baseline_spec"], None)
            log(f"training {len(specs)} distinct baselines alone for {epochs} epochs")
            trained = {pool.submit(_train_alone, spec, epochs): spec for spec in specs}
            for job in as_completed(trained):
                result = job.result()
                specs[trained[job]] = result
                log(
                    f"alone: {result['accuracy']:.4f} at {result['flops'] / 1e6:.2f}M FLOPs "
                    f"({result['seconds']:.0f} s)"
                )
            for run in runs:
                alone = specs.get(run["baseline_spec"])
                run["standalone_accuracy"] = alone["accuracy"] if alone else math.nan
            confirmed = compare(runs, seeds, "standalone_accuracy")
    result = {
        "benchmark": "strategies_supernet",
        "command": "benchmarks/strategies_supernet.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M %z"),
        "trials": args.trials,
        "seeds": seeds,
        "oracle": str(supernet_dir.relative_to(ROOT) / (saved or ["supernet.safetensors"])[0]),
        "search_wall_seconds": round(search_wall, 1),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "best_reward": compare(runs, seeds, "best_reward"),
        "hypervolume": compare(runs, seeds, "hypervolume"),
        "baseline_reward": compare(runs, seeds, "baseline_reward"),
        "best_reward_at": {
            str(n): compare(
                [{**r, "at": r["best_reward_at"].get(str(n), math.nan)} for r in runs], seeds, "at"
            )
            for n in CHECKPOINTS
            if n <= args.trials
        },
        "standalone_accuracy": confirmed,
        "runs": sorted(
            ({k: v for k, v in r.items() if k != "best_reward_curve"} for r in runs),
            key=lambda r: (r["strategy"], r["seed"]),
        ),
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"strategies_supernet_{args.data}.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    plot(
        runs,
        RESULTS / f"strategies_supernet_{args.data}.png",
        f"{args.data}: {args.trials} trials x {len(seeds)} seeds, supernet oracle",
    )
    summary = {
        key: {s: {k: v for k, v in e.items() if k != "values"} for s, e in result[key].items()}
        for key in ("best_reward", "hypervolume", "standalone_accuracy")
    }
    print(json.dumps(summary, indent=1))
    print(f"written: {path}", file=sys.stderr)


if __name__ == "__main__":
    main()

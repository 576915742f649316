"""Search strategies on the rank bed: do TPE, NSGA-II or RL find networks that *train*
better than random search's, at equal cost? (issue 27, item 4)

Each strategy runs ``--trials`` trials from each of ``--seeds`` search seeds with one
oracle: the supernet variant of ``supernet_variants.py`` that ranked the bed best (its
saved supernet, the bed's proxy images and space; ``--variant`` picks another), or, with
``--variant short-training-<budget>``, every candidate trained at one of
``cheap_proxy_bed.py``'s budgets (e.g. ``1ep-half-side``: 1 epoch on the proxy's 2,400
images at half the side); MnasNet's soft reward (w = -0.07) at the proxy skeleton's
FLOPs. Equal trials on one oracle is equal cost. Then every run's baseline is trained
alone from ``--confirm-seeds`` seeds (1, 2, 3: data splits the oracle never saw) with the
proxy recipe at the budget ``paper_claims.py --part budget`` found enough (E epochs on
2,400 images), and each strategy is compared with random, paired by search seed, on the
mean of its baseline's trainings. Searches are run directories under
``runs/bench-strategies-bed-<data>[-<short oracle>]/``; each training is kept in its
``confirm/``: a killed run resumes.

    .venv/bin/python benchmarks/strategies_bed.py cifar10 --data-root ../shared/data/cifar10
    .venv/bin/python benchmarks/strategies_bed.py fashion-mnist \\
        --variant short-training-1ep-720 --trials 40

Writes ``benchmarks/results/strategies_bed_<data>[_<short oracle>].json`` and a plot of
the best reward so far beside it.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import strategies_supernet as oracle_runs
from _bed import RESOLUTION, RESULTS, ROOT, TRAIN_IMAGES, add_bed_arguments, proxy_skeleton
from _machine import machine
from cheap_proxy_bed import BUDGETS, BudgetEvaluator
from paper_claims import _chosen_epochs as chosen_epochs
from supernet_variants import VARIANTS, bed_images, variant_evaluator

SHORT_TRAINING = "short-training"
# One oracle per budget of cheap_proxy_bed.py: each candidate trained at that budget.
SHORT_ORACLES = [f"{SHORT_TRAINING}-{name}" for name in BUDGETS if name != "proxy"]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def best_variant(data: str, smoke: bool) -> str:
    """The variant with the highest mean tau on the bed over its training seeds
    (supernet_variants' results)."""
    name = f"supernet_variants_{data.replace('-', '_')}.json"
    path = (Path("/tmp") if smoke else RESULTS) / name
    document = json.loads(path.read_text()) if path.exists() else {}
    found = document.get("variants", {}).get("variants")
    if not found:
        sys.exit(f"strategies_bed: no supernet variants measured for {data} ({path}): run "
                 "supernet_variants.py first, or name one with --variant")  # fmt: skip
    # A variant's tau is its mean over the training seeds measured (``<variant>-seedN``
    # beside it): one supernet is one draw (CIFAR-10's uniform-20: 0.46 and 0.07).
    taus: dict[str, list[float]] = {}
    for name, result in found.items():
        taus.setdefault(name.rsplit("-seed", 1)[0], []).append(result["kendall_tau"])
    return max((n for n in taus if n in found), key=lambda n: statistics.fmean(taus[n]))


def _oracle(data: str, root: str | None, oracle: str, smoke: bool) -> tuple[Any, Any]:
    """(images, evaluator): a supernet variant's saved supernet on the bed's proxy images,
    or ``short-training-<budget>``: each candidate trained at that budget of
    cheap_proxy_bed.py (which measured how each ranks the bed)."""
    if not oracle.startswith(SHORT_TRAINING):
        images = bed_images(data, root, smoke=smoke, variant=oracle)
        variants_root = ROOT / "runs" / f"bench-supernet-variants-{data}{'-smoke' if smoke else ''}"
        return images, variant_evaluator(data, images, oracle, variants_root, smoke=smoke)
    evaluator = BudgetEvaluator(data, root, oracle.removeprefix(SHORT_TRAINING + "-"))
    return evaluator.data, evaluator


def _results_path(data: str, variant: str, smoke: bool) -> Path:
    name = f"strategies_bed_{data.replace('-', '_')}"
    name += f"_{variant.replace('-', '_')}" if variant in SHORT_ORACLES else ""
    return (Path("/tmp") if smoke else RESULTS) / f"{name}.json"


def _oracle_settings(oracle: str) -> dict[str, Any]:
    if oracle not in SHORT_ORACLES:
        return {"variant": oracle, **VARIANTS[oracle]}
    budget = oracle.removeprefix(SHORT_TRAINING + "-")
    keys = ("epochs", "train_images", "side", "images_drawn")
    return {"short_training": {"budget": budget, **dict(zip(keys, BUDGETS[budget], strict=True))}}


def _init_worker(data: str, root: str | None, oracle: str, smoke: bool) -> None:
    import torch

    from search_spaces import MBConvSpace, count_flops

    torch.set_num_threads(1)
    images, evaluator = _oracle(data, root, oracle, smoke)
    skeleton = proxy_skeleton(data)
    oracle_runs._worker.update(
        data_key=data,
        data=images,
        space=MBConvSpace.uniform(skeleton),
        oracle=oracle_runs._cached(evaluator),
        target=float(count_flops(skeleton)),
        root=root,
    )


def _confirm(job: dict[str, Any]) -> dict[str, Any]:
    """One stand-alone training of a baseline on split ``seed`` (a worker task)."""
    from nas import TrainingConfig, TrainingEvaluator, load_data
    from search_spaces import NetworkSpec

    spec = NetworkSpec.from_json(job["spec"])
    data = load_data(
        job["data"], resolution=RESOLUTION[job["data"]], root=job["root"],
        max_samples=job["train_images"] * 5 // 4, seed=job["seed"],
    )  # fmt: skip
    started = time.perf_counter()
    evaluation = TrainingEvaluator(
        data=data, config=TrainingConfig(epochs=job["epochs"], threads=1)
    ).evaluate(spec, seed=job["seed"])
    return {
        **{k: v for k, v in job.items() if k != "spec"},
        "accuracy": evaluation.accuracy,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _versus(entry: dict[str, Any], scale: float, digits: int) -> str:
    """One strategy's cell: its median, then minus random paired by seed."""
    cell = f"{scale * entry['median']:.{digits}f}"
    versus = entry.get("vs_random")
    if versus:
        p = versus["wilcoxon_p"]
        cell += (f", {scale * versus['mean']:+.{digits}f} [{scale * versus['low']:+.{digits}f}, "
                 f"{scale * versus['high']:+.{digits}f}], {versus['better']}/{versus['n']} ahead"
                 + ("" if p is None else f", W p = {p:.2f}"))  # fmt: skip
    return cell


def markdown(result: dict[str, Any]) -> str:
    """The BENCHMARKS table of a results file: each row's median over search seeds, and
    each strategy minus random paired by seed (mean, 95% t interval, seeds ahead,
    Wilcoxon p)."""
    strategies = list(result["standalone_accuracy"])
    rows = [
        ("best reward the oracle gave (median; minus random)", "best_reward", 1, 4),
        ("the baseline's oracle reward", "baseline_reward", 1, 4),
        ("the baseline trained alone, % (mean of its trainings)", "standalone_accuracy", 100, 2),
    ]
    lines = ["| | " + " | ".join(strategies) + " |", "|---" * (len(strategies) + 1) + "|"]
    for label, key, scale, digits in rows:
        cells = [_versus(result[key][s], scale, digits) for s in strategies]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    distinct = {
        s: [r["distinct"] for r in result["runs"] if r["strategy"] == s] for s in strategies
    }
    lines.append(
        "| distinct networks trained (median) | "
        + " | ".join(f"{statistics.median(distinct[s]):g}" for s in strategies)
        + " |"
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_bed_arguments(parser)
    parser.add_argument(
        "--variant",
        choices=[*sorted(VARIANTS), *SHORT_ORACLES],
        help="the oracle: a supernet variant (default: the one that ranked the bed best) or "
        "short-training-<budget>: every candidate trained at one of cheap_proxy_bed.py's "
        "budgets (its images, its side)",
    )
    parser.add_argument("--trials", type=int, default=200, help="trials per search (200)")
    parser.add_argument("--seeds", type=int, default=5, help="search seeds 0..N-1 (5)")
    parser.add_argument("--confirm-seeds", type=int, default=3, help="trainings a baseline (3)")
    parser.add_argument("--workers", type=int, default=2, help="processes (2)")
    parser.add_argument(
        "--table",
        action="store_true",
        help="print the BENCHMARKS table of this run's results file and run nothing",
    )
    parser.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.trials < 2 or args.seeds < 2 or args.confirm_seeds < 1:
        parser.error("--trials and --seeds must be 2 or more, --confirm-seeds 1 or more")
    variant = args.variant or best_variant(args.data, args.smoke)
    if args.table:
        print(markdown(json.loads(_results_path(args.data, variant, args.smoke).read_text())))
        return
    epochs = chosen_epochs(args)  # what paper_claims --part budget found enough
    train_images = 240 if args.smoke else TRAIN_IMAGES
    short = variant in SHORT_ORACLES
    tail = (f"-{variant}" if short else "") + ("-smoke" if args.smoke else "")
    out = ROOT / "runs" / f"bench-strategies-bed-{args.data}{tail}"
    (out / "confirm").mkdir(parents=True, exist_ok=True)
    log(f"oracle: {variant!r}; confirmations at {epochs} epochs")
    if not short:
        _init_worker(args.data, args.data_root, variant, args.smoke)  # trains it once, here
    seeds = list(range(args.seeds))
    started = time.perf_counter()
    runs: list[dict[str, Any]] = []
    pool = ProcessPoolExecutor(
        max_workers=args.workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(args.data, args.data_root, variant, args.smoke),
    )
    with pool:
        searches = {
            pool.submit(
                oracle_runs._search, strategy, seed, args.trials, str(out / f"{strategy}-s{seed}")
            ): (strategy, seed)
            for seed in seeds
            for strategy in oracle_runs.STRATEGIES
        }
        for job in as_completed(searches):
            run = job.result()
            runs.append(run)
            log(f"[{len(runs)}/{len(searches)}] {run['strategy']} seed {run['seed']}: best "
                f"reward {run['best_reward']:.4f}, {run['distinct']} distinct networks, "
                f"{run['wall_s']:.0f} s")  # fmt: skip
        search_wall = time.perf_counter() - started
        specs = sorted({r["baseline_spec"] for r in runs if r["baseline_spec"]})
        jobs = [
            {"data": args.data, "root": args.data_root, "train_images": train_images,
             "epochs": epochs, "seed": seed, "spec": spec, "index": specs.index(spec)}
            for spec in specs
            for seed in range(1, args.confirm_seeds + 1)
        ]  # fmt: skip

        def path(job: dict[str, Any]) -> Path:
            from search_spaces import NetworkSpec

            key = NetworkSpec.from_json(job["spec"]).fingerprint()[:16]
            return out / "confirm" / f"{key}-s{job['seed']}-e{job['epochs']}.json"

        kept = {id(j): json.loads(path(j).read_text()) for j in jobs if path(j).exists()}
        todo = {pool.submit(_confirm, j): j for j in jobs if id(j) not in kept}
        log(f"{len(specs)} distinct baselines: {len(kept)} trainings kept, {len(todo)} to run")
        for job in as_completed(todo):
            result, asked = job.result(), todo[job]
            path(asked).write_text(json.dumps(result) + "\n")
            kept[id(asked)] = result
            log(f"alone: baseline {result['index']} seed {result['seed']}: "
                f"{result['accuracy']:.4f} in {result['seconds']:.0f} s")  # fmt: skip
    alone: dict[str, list[float]] = {}
    for job in jobs:
        alone.setdefault(job["spec"], []).append(kept[id(job)]["accuracy"])
    for run in runs:
        values = alone.get(run["baseline_spec"], [])
        run["standalone_accuracy"] = statistics.fmean(values) if values else float("nan")
        run["standalone_runs"] = values
        run["baseline_reward"] = run["baseline"]["reward"] if run["baseline"] else float("nan")
    result = {
        "benchmark": "strategies_bed",
        "command": "benchmarks/strategies_bed.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M %z"),
        "oracle": _oracle_settings(variant),
        "trials": args.trials,
        "seeds": seeds,
        "confirmation": {
            "epochs": epochs,
            "train_images": train_images,
            "seeds": list(range(1, args.confirm_seeds + 1)),
        },
        "search_wall_seconds": round(search_wall, 1),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "best_reward": oracle_runs.compare(runs, seeds, "best_reward"),
        "baseline_reward": oracle_runs.compare(runs, seeds, "baseline_reward"),
        "standalone_accuracy": oracle_runs.compare(runs, seeds, "standalone_accuracy"),
        "runs": sorted(
            ({k: v for k, v in r.items() if k != "best_reward_curve"} for r in runs),
            key=lambda r: (r["strategy"], r["seed"]),
        ),
    }
    path = _results_path(args.data, variant, args.smoke)
    path.write_text(json.dumps(result, indent=2) + "\n")
    oracle_runs.plot(runs, path.with_suffix(".png"), f"{args.data}: {args.trials} trials x "
                     f"{len(seeds)} seeds, oracle {variant}")  # fmt: skip
    print(markdown(result), end="")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

"""Which supernet ranks? Each training variant scored against one multi-seed reference.

Two parts (``--part``, default both), and a third that only reports:

``bed``: the proxy recipe's rank bed (``proxy_recipe.py --part rank``: ``cnas
rank-check``, 30 networks of the usual space around the proxy skeleton, each trained at
the reference budget from 3 seeds, their mean the reference), in its run directory
``runs/bench-proxy-recipe-<data>``: a finished one is read, an unfinished one resumed.
The supernet holds every network of that space (a shortcut has no weights), so the
supernet's tau and the proxy's are measured on the same networks and the same reference.

``variants``: each supernet variant below trained once on the proxy's images (the
bed's own split; ``images`` names more), saved in
``runs/bench-supernet-variants-<data>/<training>/`` (reused when there; variants that
differ only in how many images recalibrate batch norm share one), then every bed
network scored by its inherited weights after batch-norm recalibration (kept in
``<variant>.scores.json`` there, so a finished variant is not scored again): Kendall
tau against the reference with its interval, its share of the ceiling, the cost
(training seconds, and per candidate amortised over 1,000 candidates, beside the
proxy's seconds per network), the mean inherited accuracy, the last epoch's training
loss, and how alike two training seeds of a variant rank (its ``-seedN`` twin).
``--jobs 2`` trains two at once, one thread each, as the bed's proxy trained two
networks at once; a killed run goes on from each supernet's last finished epoch.

``scored`` writes the results of the variants scored so far, training nothing (while
the others are still training).

    .venv/bin/python benchmarks/supernet_variants.py fashion-mnist [--part bed|variants|scored]
    .venv/bin/python benchmarks/supernet_variants.py cifar10 --data-root ../shared/data/cifar10

Writes ``benchmarks/results/supernet_variants_<data>.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _bed import EPOCHS as PROXY_EPOCHS
from _bed import (
    PROXY_SAMPLES,
    RESOLUTION,
    RESULTS,
    ROOT,
    add_bed_arguments,
    proxy_skeleton,
    rank_check_options,
)
from _machine import machine

# Variant -> SandwichConfig settings (with the proxy recipe's training at EPOCHS) and the
# images that recalibrate batch norm before a network is scored (512 unless named).
EPOCHS = 10
VARIANTS: dict[str, dict[str, Any]] = {
    "sandwich": {"random_subnets": 4, "distill": True},
    "sandwich-calibrate-128": {"random_subnets": 4, "distill": True, "calibration": 128},
    "sandwich-calibrate-2048": {"random_subnets": 4, "distill": True, "calibration": 2048},
    "sandwich-no-distill": {"random_subnets": 4, "distill": False},
    "sandwich-2x-epochs": {"random_subnets": 4, "distill": True, "epochs": 2 * EPOCHS},
    "uniform": {"sampling": "uniform"},
    "uniform-2x-epochs": {"sampling": "uniform", "epochs": 2 * EPOCHS},
    # Uniform ranked from 20 epochs on CIFAR-10 (0.04 at 10, 0.46 at 20): does it go on?
    "uniform-4x-epochs": {"sampling": "uniform", "epochs": 4 * EPOCHS},
    # The same 20 epochs from another training seed: one seed is one draw of the supernet.
    "uniform-2x-epochs-seed1": {"sampling": "uniform", "epochs": 2 * EPOCHS, "seed": 1},
    # Few-shot (arXiv 2006.06863): a supernet per kernel of the middle stage, each for a
    # third of the epochs.
    "few-shot-s3-kernel": {"random_subnets": 4, "distill": True, "split_by": "s3_kernel"},
    # Every variant above scores near chance on CIFAR-10 (inherited accuracies 0.12-0.32;
    # uniform's sampled networks end at chance loss): 2,400 images may be too few for
    # weight sharing over this space. The same number of uniform steps as 50 epochs, on
    # five times the images (15,000 drawn: 12,000 train, 3,000 score).
    "uniform-5x-images": {"sampling": "uniform", "images": 5 * PROXY_SAMPLES},
}
AMORTISED_OVER = 1000


def _training_name(variant: str) -> str:
    """The directory of the supernet a variant scores with: one per training."""
    settings = {k: v for k, v in VARIANTS[variant].items() if k != "calibration"}
    return next(name for name, other in VARIANTS.items() if other == settings)


def _cost(variant: str) -> float:
    """Rough training cost in sandwich-trainings (which variants to start first)."""
    settings = VARIANTS[variant]
    share = 1 / 6 if settings.get("sampling") == "uniform" else 1.0  # 1 network a step, not 6
    images = settings.get("images", PROXY_SAMPLES) / PROXY_SAMPLES
    return share * images * settings.get("epochs", EPOCHS) / EPOCHS


def _dirs(args: argparse.Namespace) -> tuple[Path, Path]:
    """(the bed's run directory, the variants' root): apart for a smoke run."""
    tail = "-smoke" if args.smoke else ""
    return (
        ROOT / "runs" / f"bench-proxy-recipe-{args.data}{tail}",
        ROOT / "runs" / f"bench-supernet-variants-{args.data}{tail}",
    )


def _bed_command(args: argparse.Namespace, out: Path) -> list[str]:
    small = {"max_samples": 300, "epochs": 1, "reference_samples": 300, "reference_epochs": 1}
    options = rank_check_options(
        args.data,
        args.networks,
        data_root=args.data_root,
        **(small if args.smoke else {"max_samples": PROXY_SAMPLES, "epochs": PROXY_EPOCHS}),
    )
    return [
        sys.executable, "-m", "experiments.cli", "rank-check", *options,
        "--out", str(out), "--json", "--no-progress",
    ]  # fmt: skip


def bed(args: argparse.Namespace) -> dict[str, Any]:
    out = _dirs(args)[0]
    command = _bed_command(args, out)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"supernet_variants: the bed's rank check stopped:\n{done.stderr[-2000:]}")
    summary = json.loads(done.stdout)
    return {
        "command": " ".join(["cnas", *command[3:]]),
        "run_dir": str(out.relative_to(ROOT)),
        "wall_seconds_this_run": round(time.perf_counter() - started, 1),
        "summary": summary,
    }


def _bed_networks(out: Path) -> tuple[list[str], list[Any], list[float], dict[str, Any]]:
    """(names, specs, reference accuracies, summary) of the bed's finished networks."""
    import pandas as pd

    from search_spaces import NetworkSpec

    table = out / "rank_check.csv"
    if not table.is_file():
        sys.exit(f"supernet_variants: no bed at {out}: run --part bed first")
    rows = pd.read_csv(table)
    rows = rows[(rows["state"] == "complete") & rows["reference_accuracy"].notna()]
    specs = [NetworkSpec.from_dict(json.loads(text)) for text in rows["spec"]]
    summary = json.loads((out / "summary.json").read_text())
    names = [str(name) for name in rows["network"]]
    return names, specs, [float(v) for v in rows["reference_accuracy"]], summary


def _scores_file(args: argparse.Namespace, variant: str) -> Path:
    return _dirs(args)[1] / f"{variant}.scores.json"


def variant_evaluator(
    data_name: str,
    data: Any,
    variant: str,
    variants_root: Path,
    *,
    smoke: bool = False,
    on_epoch: Any = None,
) -> Any:
    """The variant's ``SupernetEvaluator`` on the bed's space, its supernet trained (or
    loaded from ``variants_root``, or resumed from its checkpoint there)."""
    import dataclasses

    from nas import TrainingConfig
    from nas.supernet import SandwichConfig, SupernetEvaluator
    from search_spaces import MBConvSpace

    settings = dict(VARIANTS[variant])
    settings.pop("images", None)  # in ``data`` already (bed_images)
    calibration = settings.pop("calibration", 512)
    seed = settings.pop("seed", 0)
    epochs = settings.pop("epochs", EPOCHS) * (1 if smoke else EPOCHS) // EPOCHS
    config = SandwichConfig(
        training=dataclasses.replace(TrainingConfig(threads=1), epochs=epochs), **settings
    )
    run_dir = variants_root / _training_name(variant)
    run_dir.mkdir(parents=True, exist_ok=True)
    evaluator = SupernetEvaluator(
        data,
        space=MBConvSpace.uniform(proxy_skeleton(data_name)),  # the bed's space, whole
        config=config,
        seed=seed,  # 0 unless the variant names another
        calibration_images=calibration,
        on_epoch=on_epoch,
    )
    evaluator.prepare(run_dir)
    return evaluator


def bed_images(
    data_name: str, data_root: str | None, *, smoke: bool = False, variant: str | None = None
) -> Any:
    """The proxy's images of the bed (its split 0): what a variant trains on and scores
    with, unless it names more (``images``: drawn, four fifths of them train)."""
    from nas import load_data

    samples = VARIANTS[variant].get("images", PROXY_SAMPLES) if variant else PROXY_SAMPLES
    return load_data(
        data_name, resolution=RESOLUTION[data_name], root=data_root,
        max_samples=300 if smoke else samples, seed=0,
    )  # fmt: skip


def score_variant(args: argparse.Namespace, variant: str) -> None:
    """Train (or load) the variant's supernet, score every bed network, keep the scores."""
    import torch

    torch.set_num_threads(1)
    names, specs, _, _ = _bed_networks(_dirs(args)[0])

    def on_epoch(epoch: int, loss: float) -> None:
        print(f"{variant}: epoch {epoch} loss {loss:.3f}", flush=True)

    evaluator = variant_evaluator(
        args.data,
        bed_images(args.data, args.data_root, smoke=args.smoke, variant=variant),
        variant,
        _dirs(args)[1],
        smoke=args.smoke,
        on_epoch=on_epoch,
    )
    started = time.perf_counter()
    scores = [evaluator.evaluate(spec, seed=0).accuracy for spec in specs]
    settings = {k: v for k, v in VARIANTS[variant].items() if k != "calibration"}
    record = {
        "settings": {
            **settings,
            "epochs": evaluator.config.training.epochs,
            "calibration_images": evaluator.calibration_images,
        },
        "supernet_dir": str((_dirs(args)[1] / _training_name(variant)).relative_to(ROOT)),
        "training_seconds": round(evaluator.prepared_seconds or 0.0, 1),
        "scoring_seconds_per_network": round((time.perf_counter() - started) / len(specs), 3),
        "scores": dict(zip(names, scores, strict=True)),
    }
    path = _scores_file(args, variant)
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"{variant}: scored {len(specs)} networks -> {path}", flush=True)


def _jobs(pending: list[str], jobs: int) -> list[list[str]]:
    """Pending variants in ``jobs`` groups of about equal cost (the longest placed first),
    each run cheapest first, so that a sitting cut short has finished the most; the
    variants that share a supernet go together, after the one that trains it."""
    groups: dict[str, list[str]] = {}
    for name in pending:
        groups.setdefault(_training_name(name), []).append(name)
    loads: list[tuple[float, list[str]]] = [(0.0, []) for _ in range(jobs)]
    for training in sorted(groups, key=lambda g: -_cost(g)):
        index = min(range(jobs), key=lambda i: loads[i][0])
        load, trainings = loads[index]
        loads[index] = (load + _cost(training), [*trainings, training])
    order = list(VARIANTS)
    return [
        [name for t in sorted(ts, key=lambda t: (_cost(t), order.index(t))) for name in groups[t]]
        for _, ts in loads
        if ts
    ]


def run_variants(args: argparse.Namespace) -> None:
    chosen = list(VARIANTS)[:2] if args.smoke else list(VARIANTS)
    if args.only:
        chosen = [name for name in args.only.split(",") if name in chosen]  # in its order
    pending = [name for name in chosen if not _scores_file(args, name).exists()]
    _dirs(args)[1].mkdir(parents=True, exist_ok=True)
    if args.jobs > 1 and len(pending) > 1:
        base = [sys.executable, __file__, args.data, "--part", "variants", "--jobs", "1"]
        base += ["--data-root", args.data_root] if args.data_root else []
        base += ["--smoke"] if args.smoke else []
        started = [
            subprocess.Popen([*base, "--only", ",".join(group)], cwd=ROOT)
            for group in _jobs(pending, args.jobs)
        ]
        if any(job.wait() != 0 for job in started):
            sys.exit("supernet_variants: a variant stopped (its output is above)")
        return
    for name in pending:
        score_variant(args, name)


def variants(args: argparse.Namespace) -> dict[str, Any]:
    """Every scored variant's tau against the bed's reference, its share and its cost."""
    from nas.stats import rank_correlation

    if args.part != "scored":
        run_variants(args)
    names, _, reference, bed_summary = _bed_networks(_dirs(args)[0])
    ceiling = bed_summary["reference_reliability"]["ceiling"]
    results = {}
    for name in VARIANTS:
        path = _scores_file(args, name)
        if not path.exists():
            continue
        record = json.loads(path.read_text())
        scores = record["scores"]  # kept: predictor_rank.py reads them as a feature
        tau = rank_correlation([scores[n] for n in names], reference)
        trained = record["training_seconds"]
        # The last epoch's training loss (chance: ln 10 = 2.30, 10 classes), where kept.
        training = ROOT / record["supernet_dir"] / "supernet.json"
        loss = json.loads(training.read_text()).get("final_loss") if training.exists() else None
        results[name] = {
            **record,
            "mean_score": round(sum(scores.values()) / len(scores), 4),
            "final_training_loss": None if loss is None else round(loss, 4),
            "kendall_tau": round(tau.kendall_tau, 4),
            "kendall_low": round(tau.kendall_low, 4),
            "kendall_high": round(tau.kendall_high, 4),
            # A ceiling at or below 0 (a bed whose references do not agree) shares nothing.
            "share_of_ceiling": round(tau.kendall_tau / ceiling, 3) if ceiling > 0 else None,
            "seconds_per_candidate": round(
                trained / AMORTISED_OVER + record["scoring_seconds_per_network"], 3
            ),
        }
        print(f"{name:24s} tau {tau.kendall_tau:+.2f} [{tau.kendall_low:+.2f}, "
              f"{tau.kendall_high:+.2f}], mean score {results[name]['mean_score']:.3f}, "
              f"{trained:.0f} s to train", flush=True)  # fmt: skip
    # A supernet from another training seed: how alike the two rank the bed's networks.
    seeds = {}
    for name in results:
        base = name.rsplit("-seed", 1)[0]
        if base != name and base in results:
            pair = [[results[v]["scores"][n] for n in names] for v in (base, name)]
            agreement = rank_correlation(*pair)
            seeds[f"{base} vs {name}"] = {
                k: round(getattr(agreement, k), 4)
                for k in ("kendall_tau", "kendall_low", "kendall_high")
            }
    return {
        "networks": len(names),
        "ceiling": ceiling,
        "seed_agreement": seeds,
        "proxy": {
            **{
                k: bed_summary["correlations"]["proxy"][k]
                for k in ("kendall_tau", "kendall_low", "kendall_high")
            },
            "seconds_per_candidate": bed_summary["seconds"]["proxy"]["per_network"],
        },
        "amortised_over": AMORTISED_OVER,
        "variants": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_bed_arguments(parser)
    parser.add_argument(
        "--part",
        choices=("bed", "variants", "scored", "all"),
        default="all",
        help="bed, variants (train and score what is missing, then the results), scored "
        "(the results of the variants scored so far, training nothing), or all",
    )
    parser.add_argument("--networks", type=int, default=30, help="bed networks (30)")
    parser.add_argument("--jobs", type=int, default=2, help="variants trained at once (2)")
    parser.add_argument("--only", help="comma-separated variants to train and score (all)")
    # Tiny budgets, their own run directories, results in /tmp: checks the code path.
    parser.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    unknown = sorted(set(args.only.split(",")) - set(VARIANTS)) if args.only else []
    if unknown:
        parser.error(f"--only: no variant {', '.join(unknown)}; known: {', '.join(VARIANTS)}")
    if args.only:  # one job of a --jobs run, or a chosen few: the scores, no results file
        run_variants(args)
        return
    results = Path("/tmp") if args.smoke else RESULTS
    out = results / f"supernet_variants_{args.data.replace('-', '_')}.json"
    result = json.loads(out.read_text()) if out.exists() else {"benchmark": "supernet_variants"}
    result.update(machine=machine(), date=time.strftime("%Y-%m-%d %H:%M %z"))
    if args.part in ("bed", "all"):
        result["bed"] = bed(args)
        out.write_text(json.dumps(result, indent=2) + "\n")
    if args.part in ("variants", "scored", "all"):
        result["variants"] = variants(args)
        out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

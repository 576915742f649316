"""cnas rank-check: how well do cheap scores rank networks the way real training does?"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from pathlib import Path
from typing import Any

from experiments._common import CliError, check_writable_dir, format_table, positive_int, print_json
from experiments._training_args import (
    add_run_arguments,
    add_space_arguments,
    add_supernet_arguments,
    add_training_arguments,
    apply_threads,
    data_memory_budget,
    prepare_backend,
    space_from_args,
    supernet_evaluator,
    training_config,
)

SCORERS = ("proxy", "synflow", "naswot")  # the default --scores
OPTIONAL_SCORERS = ("supernet",)  # trains a supernet first: asked for by name


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "rank-check",
        help="measure how well cheap scores rank networks the way real training does",
        description="Sample networks from a search space, train each stand-alone at a "
        "reference budget, score each cheaply (the short proxy training a search uses, "
        "zero-cost proxies, FLOPs, params), and report Kendall tau and Spearman rho of each "
        "score against the reference accuracy with bootstrap 95%% intervals.",
    )
    parser.add_argument(
        "--networks", type=positive_int, default=30, help="networks to sample (default 30)"
    )
    parser.add_argument(
        "--reference-epochs",
        type=positive_int,
        default=10,
        help="epochs of the reference training (default 10)",
    )
    parser.add_argument(
        "--reference-samples",
        type=positive_int,
        help="images the reference trains on (default: all; --max-samples sets the proxy's)",
    )
    parser.add_argument(
        "--reference-seeds",
        type=positive_int,
        default=1,
        help="reference trainings per network, from different seeds; their mean is the "
        "reference, and with 2 or more the report says how well one reference run ranks "
        "like another; with 3 or more it gives the reference's reliability and the highest tau a "
        "perfect score could reach against it (default 1)",
    )
    parser.add_argument(
        "--proxy-budgets",
        metavar="EPOCHSxSAMPLES,...",
        default="",
        help="more short trainings to score, e.g. 1x600,5xall (SAMPLES as --max-samples; "
        "all: every image): each is a score named proxy_<E>ep_<S>, to find the budget at "
        "which a proxy ranks networks like the reference",
    )
    parser.add_argument(
        "--scores",
        default=",".join(SCORERS),
        help=f"cheap scores besides FLOPs and params (default {','.join(SCORERS)}; also "
        f"{','.join(OPTIONAL_SCORERS)}): proxy is the short training of --epochs on "
        "--max-samples images, as a search runs it; supernet scores each network by the "
        "weights it inherits from one supernet trained on those images (the default space "
        "then keeps every shortcut)",
    )
    add_supernet_arguments(parser)
    add_space_arguments(parser)
    add_training_arguments(parser)
    add_run_arguments(parser, default_out="runs/rank-check")
    parser.set_defaults(run=run)


def _scorer_names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    known = (*SCORERS, *OPTIONAL_SCORERS)
    unknown = sorted(set(names) - set(known))
    if unknown or not names:
        raise CliError(f"--scores takes names from {', '.join(known)}, got {text!r}")
    return names


def _proxy_budgets(text: str) -> list[tuple[int, int | None]]:
    """``"1x600,5xall"`` -> ``[(1, 600), (5, None)]``."""
    budgets = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        epochs, sep, samples = item.partition("x")
        try:
            budget = (int(epochs), None if samples == "all" else int(samples))
        except ValueError:
            budget = (0, 0)
        if not sep or budget[0] < 1 or (budget[1] is not None and budget[1] < 1):
            raise CliError(
                f"--proxy-budgets takes EPOCHSxSAMPLES items such as 1x600 or 5xall, got {item!r}"
            )
        budgets.append(budget)
    return budgets


def _proxy_name(epochs: int, samples: int | None) -> str:
    return f"proxy_{epochs}ep_{'all' if samples is None else samples}"


def run(args: argparse.Namespace) -> int:
    from nas import SynflowEvaluator, TrainingEvaluator, load_data
    from nas.evaluate import NaswotEvaluator
    from nas.rank_check import RankCheckConfig, run_rank_check, write_rank_report

    names = _scorer_names(args.scores)
    budgets = _proxy_budgets(args.proxy_budgets)
    apply_threads(args)
    config = RankCheckConfig(
        networks=args.networks, seed=args.seed, reference_seeds=args.reference_seeds
    )
    budget = data_memory_budget(args)
    out = check_writable_dir(args.out, "--out")
    proxy_data = load_data(
        args.data,
        resolution=args.resolution,
        root=args.data_root,
        max_samples=args.max_samples,
        seed=args.seed,
        memory_budget=budget,
    )
    reference_data = load_data(
        args.data,
        resolution=args.resolution,
        root=args.data_root,
        max_samples=args.reference_samples,
        seed=args.seed,
        memory_budget=budget,
    )
    space = space_from_args(args, proxy_data, supernet="supernet" in names)
    proxy_training = training_config(args)
    # --train-images shrinks the proxy only: the reference and --proxy-budgets name theirs.
    reference_training = dataclasses.replace(
        proxy_training, epochs=args.reference_epochs, train_images=None
    )
    reference = TrainingEvaluator(data=reference_data, config=reference_training)
    available = {
        "proxy": lambda: TrainingEvaluator(data=proxy_data, config=proxy_training),
        "synflow": SynflowEvaluator,
        "naswot": lambda: NaswotEvaluator(data=proxy_data),
        "supernet": lambda: supernet_evaluator(
            args, proxy_data, space, progress=not (args.no_progress or args.json)
        ),
    }
    scorers = {name: available[name]() for name in names}
    budget_labels = {}
    for epochs, samples in budgets:
        data = load_data(
            args.data,
            resolution=args.resolution,
            root=args.data_root,
            max_samples=samples,
            seed=args.seed,
            memory_budget=budget,
        )
        name = _proxy_name(epochs, samples)
        config_at = dataclasses.replace(proxy_training, epochs=epochs, train_images=None)
        scorers[name] = TrainingEvaluator(data=data, config=config_at)
        budget_labels[name] = _budget(epochs, len(data.train))
    ray = prepare_backend(args, trials=args.networks)
    reference_label = _budget(args.reference_epochs, len(reference_data.train))
    settings = {
        "data": args.data,
        "resolution": args.resolution,
        "reference": reference_label,
        "proxy": _budget(args.epochs, args.train_images or len(proxy_data.train)),
        "networks": args.networks,
        "seed": args.seed,
        "reference_seeds": args.reference_seeds,
        "proxy_budgets": budget_labels,
    }
    progress = _bar(args.networks, enabled=not (args.no_progress or args.json))

    def on_trial(study: Any, trial: Any) -> None:
        if not trial.user_attrs.get("interrupted"):
            progress.update(1)
        write_rank_report(study, out, reference=reference_label, settings=settings, plot=False)

    try:
        study = run_rank_check(
            space=space,
            reference=reference,
            scorers=scorers,
            config=config,
            run_dir=out,
            storage=args.storage,
            ray=ray,
            on_trial=on_trial,
            on_start=lambda done: progress.update(min(done, args.networks)),
        )
    finally:
        progress.close()
    summary = write_rank_report(study, out, reference=reference_label, settings=settings)
    if args.json:
        print_json(summary)
    else:
        print(_render(summary, out))
    return 0


def _budget(epochs: int, images: int) -> str:
    return f"{epochs} epoch{'' if epochs == 1 else 's'} on {images} images"


def _bar(total: int, *, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc="rank-check",
        unit="net",
        file=sys.stderr,
        disable=not enabled,
        dynamic_ncols=True,
    )


def _render(summary: dict[str, Any], out: Path) -> str:
    rows = [
        {"score": c["label"], **{k: c[k] for k in c if k != "label"}}
        for c in summary["correlations"].values()
    ]
    # Best first; an undefined tau (NaN) last.
    rows.sort(key=lambda row: -row["kendall_tau"] if not math.isnan(row["kendall_tau"]) else 2)
    reliability = summary.get("reference_reliability")
    if reliability:
        # Not scores: what the reference itself allows (3+ seeds).
        for label, key in (
            ("(one reference run vs the rest)", "one_vs_rest"),
            ("(ceiling: a perfect score)", "ceiling"),
        ):
            rows.append({
                "score": label,
                "kendall_tau": reliability[key],
                "kendall_low": reliability[f"{key}_low"],
                "kendall_high": reliability[f"{key}_high"],
                "n": reliability["n"],
            })  # fmt: skip
    elif summary.get("reference_repeatability"):
        # Not a score: one reference run against another, what no score can beat.
        rows.append({"score": "(reference run 0 vs 1)", **summary["reference_repeatability"]})
    columns = [
        ("score", "score"),
        ("kendall_tau", "Kendall tau"),
        ("kendall_low", "low"),
        ("kendall_high", "high"),
        *([("share_of_ceiling", "of ceiling")] if reliability else []),
        ("spearman_rho", "Spearman rho"),
        ("spearman_low", "low"),
        ("spearman_high", "high"),
        ("n", "networks"),
    ]
    return "\n".join(
        [
            f"\nRank check against {summary['reference']} "
            f"({', '.join(f'{n} {s}' for s, n in summary['trials'].items())}); "
            "intervals are 95% bootstrap over networks.",
            format_table(rows, columns),
            summary["verdict"],
            _time_line(summary.get("seconds") or {}),
            f"Outputs: {out}/rank_check.csv, rank_check.png, summary.json",
        ]
    )


def _time_line(seconds: dict[str, Any]) -> str:
    parts = []
    for name, t in seconds.items():
        once = f" + {t['prepared']:.0f} s once" if t.get("prepared") else ""
        parts.append(f"{name} {t['per_network']:.2f} s per network{once}")
    return "Time: " + "; ".join(parts) + "." if parts else ""

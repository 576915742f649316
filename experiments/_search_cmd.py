"""cnas search: MnasNet-style search of a baseline for a cost target."""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import re
import sys
from pathlib import Path
from typing import Any

from experiments._common import (
    CliError,
    Throttle,
    check_writable_dir,
    format_table,
    positive_int,
    print_json,
)
from experiments._training_args import (
    add_resizing_argument,
    add_run_arguments,
    add_space_arguments,
    add_supernet_arguments,
    add_training_arguments,
    apply_threads,
    prepare_backend,
    space_from_args,
    supernet_evaluator,
    training_config,
)

_SUFFIXES = {"": 1.0, "K": 1e3, "M": 1e6, "G": 1e9}
_SCORE_NAMES = {
    "train": "accuracy",
    "supernet": "supernet acc",
    "zero-cost": "synflow log10",
    "naswot": "naswot",
}
# Evaluators that give an accuracy: the soft reward ACC x (COST/T)^w means something.
_ACCURACY_EVALUATORS = ("train", "supernet")
_TARGETS = {"target_flops": "flops", "target_params": "params", "target_latency_ms": "latency"}


def parse_quantity(text: str) -> float:
    """'60M' -> 6e7; K, M and G suffixes (case-insensitive), plain numbers too."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?\d+)?)\s*([kKmMgG]?)\s*", str(text))
    if match is None:
        raise argparse.ArgumentTypeError(f"expected a number with optional K/M/G, got {text!r}")
    value = float(match.group(1)) * _SUFFIXES[match.group(2).upper()]
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "search",
        help="search a baseline network for a cost target (MnasNet-style)",
        description="Search per-stage MBConv choices for a network that trades accuracy "
        "against cost, with MnasNet's reward ACC * (COST/T)^w or a Pareto front.",
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--target-flops",
        type=parse_quantity,
        metavar="N",
        help="FLOP target T, e.g. 60M (conv + linear multiply-adds)",
    )
    target.add_argument(
        "--target-params", type=parse_quantity, metavar="N", help="parameter target T, e.g. 500K"
    )
    target.add_argument(
        "--target-latency-ms",
        type=parse_quantity,
        metavar="MS",
        help="latency target T in ms (batch 1 on this CPU)",
    )
    parser.add_argument(
        "--cost",
        choices=("flops", "params", "latency"),
        help="what COST measures (default: the target's kind)",
    )
    parser.add_argument(
        "--latency-table",
        metavar="FILE",
        help="cost latency as the sum of a `cnas latency-table` file's parts: no candidate "
        "is timed, so it holds on Ray workers and at supernet speed (with --target-latency-ms)",
    )
    parser.add_argument(
        "--latency-runtime",
        choices=("torch", "onnxruntime"),
        default="torch",
        help="the runtime whose latency is the cost (default torch)",
    )
    parser.add_argument("--trials", type=positive_int, default=30, help="total trials (default 30)")
    parser.add_argument("--strategy", choices=("tpe", "nsga2", "random", "rl"), default="tpe")
    parser.add_argument("--objective", choices=("reward", "pareto"), default="reward")
    parser.add_argument(
        "--constraint",
        choices=("soft", "hard"),
        help="soft: w = -0.07; hard: a = 0, b = -1, and candidates over the target "
        "are screened out before training (default: soft when training, hard with "
        "zero-cost and naswot, whose scores rank networks but are no accuracies)",
    )
    parser.add_argument(
        "--target-tolerance",
        metavar="PCT",
        default="10",
        help="the reward's baseline is the best candidate within PCT%% of the target (soft: "
        "either side; hard: below it) when any is; none: the best reward anywhere "
        "(default 10)",
    )
    parser.add_argument(
        "--evaluator",
        choices=("train", "supernet", "zero-cost", "naswot"),
        default="train",
        help="train: proxy training (default); supernet: weights inherited from one "
        "weight-sharing network trained once per run (the space keeps every shortcut); "
        "zero-cost: SynFlow; naswot: NASWOT on "
        "a batch of the data (`cnas rank-check` measures how well each ranks networks)",
    )
    add_supernet_arguments(parser)
    parser.add_argument(
        "--confirm-top",
        type=int,
        metavar="K",
        help="retrain the K best candidates alone and choose the baseline on those results "
        "(default 3 with --evaluator supernet, else 0); on Ray they train side by side",
    )
    parser.add_argument(
        "--confirm-epochs",
        type=positive_int,
        metavar="E",
        help="epochs of that retraining (default --epochs); with --evaluator train it must "
        "be more than --epochs: the winners of a short proxy, retrained longer",
    )
    parser.add_argument(
        "--early-stopping",
        choices=("asha", "pareto-halving"),
        help="stop weak trials at epochs 1, 2, 4, ...: asha keeps the top half of a rung "
        "by reward (--objective reward); pareto-halving keeps the better half by "
        "non-dominated fronts of accuracy so far against cost (--objective pareto)",
    )
    parser.add_argument(
        "--rank-check",
        metavar="DIR",
        help="a `cnas rank-check` run: the summary shows how well this evaluator ranked networks",
    )
    add_space_arguments(parser)
    add_training_arguments(parser)
    add_resizing_argument(parser)
    add_run_arguments(parser, default_out="runs/search")
    parser.set_defaults(run=run)


def _target(args: argparse.Namespace) -> tuple[float, str]:
    for option, kind in _TARGETS.items():
        value = getattr(args, option)
        if value is not None:
            if args.cost and args.cost != kind:
                flag = "--" + option.replace("_", "-")
                raise CliError(
                    f"{flag} gives a {kind} target but --cost is {args.cost}; "
                    "drop --cost or give the matching target"
                )
            return value, kind
    raise CliError("give a target: --target-flops, --target-params or --target-latency-ms")


def run(args: argparse.Namespace) -> int:
    # Everything that can be wrong is checked before the run directory is touched.
    from nas import (
        SearchConfig,
        TrainingEvaluator,
        build_report,
        load_data,
        run_search,
        space_cost_range,
        write_report,
    )
    from nas.search import format_cost

    target, cost = _target(args)
    apply_threads(args)
    table = None
    if args.latency_table is not None:
        from nas.latency import LatencyTable

        table = LatencyTable.load(args.latency_table)
    config = SearchConfig(
        target=target,
        cost=cost,
        objective=args.objective,
        constraint=args.constraint
        or ("soft" if args.evaluator in _ACCURACY_EVALUATORS else "hard"),
        strategy=args.strategy,
        trials=args.trials,
        seed=args.seed,
        early_stopping=args.early_stopping,
        target_tolerance=_tolerance(args.target_tolerance),
        latency_table=table,
        latency_runtime=args.latency_runtime,
    )
    out = check_writable_dir(args.out, "--out")
    data = load_data(
        args.data,
        resolution=args.resolution,
        root=args.data_root,
        max_samples=args.max_samples,
        seed=args.seed,
    )
    space = space_from_args(args, data)
    if args.evaluator == "supernet" and not args.space:
        from nas.supernet import with_shortcuts

        # One supernet cannot hold blocks with and without their shortcut.
        space = with_shortcuts(space)
    if table is not None:
        table.check_covers(space, source=f"--latency-table {args.latency_table!r}")
    low, high = space_cost_range(space, config)
    if target < low:
        raise CliError(
            f"target {format_cost(target, cost)} is below the smallest network in the "
            f"space ({format_cost(low, cost)}; largest {format_cost(high, cost)}); "
            "raise the target or widen the space with --space"
        )
    confirm_top = _confirm_top(args)
    training = training_config(args)
    evaluator = (
        TrainingEvaluator(data=data, config=training)
        if args.evaluator == "train"
        else _make_evaluator(args, data, space)
    )
    # The winners' retraining: the search's training, for --confirm-epochs.
    confirmer = TrainingEvaluator(
        data=data,
        config=dataclasses.replace(training, epochs=args.confirm_epochs or args.epochs),
    )
    measured = _measured_ranking(args)
    ray = prepare_backend(args, trials=args.trials)
    progress = _Progress(config, enabled=not (args.no_progress or args.json))

    throttle = Throttle()

    def on_trial(study: Any, trial: Any) -> None:
        progress.update(trial)
        # The report is rewritten as trials land (and in full at the end), throttled so
        # that a run of a thousand fast candidates does not spend its time rewriting it.
        throttle(
            lambda: write_report(
                build_report(study, config, space_size=space.size, rank_check=measured),
                out,
                config,
                plot=False,
            )
        )

    # The stand-alone training that confirms winners is part of what the run means.
    confirm_identity = {"confirm": confirmer.identity()} if confirm_top else None
    try:
        study = run_search(
            space=space,
            evaluator=evaluator,
            config=config,
            run_dir=out,
            storage=args.storage,
            ray=ray,
            identity_extra=confirm_identity,
            on_trial=on_trial,
            on_start=progress.start,
        )
    finally:
        progress.close()
    if confirm_top:
        from nas.search import confirm_search

        with _Steps("retrain alone", confirm_top, enabled=progress.enabled) as steps:
            confirm_search(
                study,
                config,
                confirmer,
                top_k=confirm_top,
                workers=_confirm_workers(ray),
                on_confirmed=lambda *_: steps.step(),
            )
    report = build_report(study, config, space_size=space.size, rank_check=measured)
    write_report(report, out, config)
    if args.json:
        import json

        print_json(json.loads((Path(out) / "summary.json").read_text()))
    else:
        print(
            _render(
                report,
                config,
                out,
                score=_SCORE_NAMES[args.evaluator],
            )
        )
    return 0


def _tolerance(text: str) -> float | None:
    if text.strip().lower() == "none":
        return None
    try:
        percent = float(text.rstrip("%"))
    except ValueError:
        percent = math.nan
    if not 0 < percent < 100:
        raise CliError(f"--target-tolerance takes a percentage such as 10, or none; got {text!r}")
    return percent / 100


def _measured_ranking(args: argparse.Namespace) -> Any:
    if args.rank_check is None:
        return None
    from nas.rank_check import measured_ranking

    if not (Path(args.rank_check) / "summary.json").is_file():
        raise CliError(f"--rank-check {args.rank_check!r} holds no summary.json of a rank check")
    measured = measured_ranking(args.rank_check, args.evaluator)
    if measured is None:
        raise CliError(
            f"the rank check in {args.rank_check!r} did not score the {args.evaluator} "
            "evaluator; run it with that score in --scores"
        )
    return measured


def _confirm_top(args: argparse.Namespace) -> int:
    top = args.confirm_top
    if top is None:
        top = 3 if args.evaluator == "supernet" else 0
    if args.confirm_epochs is not None and not top:
        raise CliError("--confirm-epochs sets how --confirm-top retrains; give --confirm-top K")
    if top < 0:
        raise CliError(f"--confirm-top must be 0 (no retraining) or more, got {top}")
    if top and args.evaluator == "train" and (args.confirm_epochs or 0) <= args.epochs:
        raise CliError(
            "with --evaluator train the candidates were trained for --epochs already: give "
            f"--confirm-epochs above {args.epochs} to retrain the winners longer, or drop "
            "--confirm-top"
        )
    return top


def _confirm_workers(ray: Any) -> int:
    """Winners retrained at once: one per trial slot where the search ran on Ray."""
    if ray is None:
        return 1
    slots = int((os.cpu_count() or 1) / ray.cpus_per_trial)
    return max(1, min(ray.max_concurrent or slots, slots))


def _make_evaluator(args: argparse.Namespace, data: Any, space: Any) -> Any:
    if args.evaluator == "supernet":
        return supernet_evaluator(args, data, space, progress=not (args.no_progress or args.json))
    if args.evaluator == "zero-cost":
        from nas import SynflowEvaluator

        return SynflowEvaluator()
    if args.evaluator == "naswot":
        from nas.evaluate import NaswotEvaluator

        return NaswotEvaluator(data=data)
    from nas import TrainingEvaluator

    return TrainingEvaluator(data=data, config=training_config(args))


class _Steps:
    """A progress bar over a fixed number of slow steps (retraining winners)."""

    def __init__(self, desc: str, total: int, *, enabled: bool) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc=desc, unit="net", file=sys.stderr, disable=not enabled)

    def __enter__(self) -> _Steps:
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.close()

    def step(self) -> None:
        self.bar.update(1)


class _Progress:
    """A progress bar on stderr with the best reward so far."""

    def __init__(self, config: Any, *, enabled: bool) -> None:
        from tqdm import tqdm

        self.config = config
        self.enabled = enabled
        self.best: float | None = None
        self.bar = tqdm(
            total=config.trials,
            desc="search",
            unit="trial",
            file=sys.stderr,
            disable=not enabled,
            dynamic_ncols=True,
        )

    def start(self, finished: int) -> None:
        """Count the trials an earlier run finished, so a continued search shows where it is."""
        self.bar.update(min(finished, self.config.trials))

    def update(self, trial: Any) -> None:
        attrs = trial.user_attrs
        if attrs.get("interrupted"):
            return
        value = attrs.get("reward") if self.config.objective == "reward" else attrs.get("accuracy")
        if value is not None and not attrs.get("screened"):
            self.best = value if self.best is None else max(self.best, value)
        state = "screened" if attrs.get("screened") else trial.state.name.lower()
        state = "stopped" if state == "pruned" else state
        best = "-" if self.best is None else f"{self.best:.4f}"
        self.bar.set_postfix_str(f"last {state}, best {best}")
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def _render(report: Any, config: Any, out: Path, *, score: str = "accuracy") -> str:
    from nas.search import format_cost

    trials = report.trials
    evaluated = trials[trials["accuracy"].notna() & (trials["state"] == "complete")]
    key = "reward" if config.objective == "reward" else "accuracy"
    top = evaluated.sort_values(key, ascending=False).head(8)
    confirmed = (
        "standalone_accuracy" in evaluated and evaluated["standalone_accuracy"].notna().any()
    )
    if confirmed:
        # Retrained alone: show those first, in the order the baseline is chosen by.
        evaluated = evaluated.assign(_alone=evaluated["standalone_accuracy"].notna())
        top = evaluated.sort_values(["_alone", key], ascending=False).head(8)
    rows = [
        {
            "trial": int(r["number"]),
            "accuracy": round(float(r["accuracy"]), 4),
            "alone": "-"
            if not confirmed or r["standalone_accuracy"] != r["standalone_accuracy"]
            else round(float(r["standalone_accuracy"]), 4),
            "cost": format_cost(float(r["cost"]), config.cost),
            "flops": int(r["flops"]),
            "params": int(r["params"]),
            "reward": round(float(r["reward"]), 4),
        }
        for _, r in top.iterrows()
    ]
    counts = ", ".join(f"{n} {state}" for state, n in report.summary["trials"].items())
    lines = [f"\nSearch for {report.summary['target_text']} {config.cost}: {counts}."]
    if rows:
        columns = [
            ("trial", "trial"),
            ("accuracy", score),
            *([("alone", "retrained alone")] if confirmed else []),
            ("cost", config.cost),
            ("flops", "FLOPs"),
            ("params", "params"),
            ("reward", "reward"),
        ]
        lines += [f"Best {len(rows)} by {key}:", format_table(rows, columns)]
    baseline = report.summary["baseline"]
    if baseline:
        alone = baseline.get("standalone_accuracy")
        lines.append(
            f"Baseline: trial {baseline['number']}, {score} "
            f"{baseline.get('accuracy', baseline.get('score')):.4f}, "
            + (f"retrained alone {alone:.4f}, " if alone is not None else "")
            + f"{format_cost(baseline['cost'], config.cost)} {config.cost} "
            f"-> {out / 'baseline.json'}"
            + (f" (chosen by {baseline['chosen_by']})" if alone is not None else "")
        )
        placement = _placement_line(baseline, config)
        if placement:
            lines.append(placement)
    else:
        lines.append("No trial was evaluated successfully; see trials.csv for the errors.")
    lines.append(f"Outputs: {out}/trials.csv, pareto.csv, pareto.png, summary.json")
    return "\n".join(lines)


def _placement_line(baseline: dict[str, Any], config: Any) -> str:
    """Where the baseline sits against the target, and what choosing near it gave up."""
    ratio = baseline.get("target_ratio")
    if ratio is None:
        return ""
    tolerance = baseline.get("target_tolerance")
    if tolerance is None:
        return f"It lies at {ratio:.2f}x the target."
    if baseline["within_tolerance"]:
        line = f"It lies at {ratio:.2f}x the target, within {tolerance:.0%}."
    else:
        line = (
            f"It lies at {ratio:.2f}x the target: no candidate came within {tolerance:.0%} "
            "of it (search longer, or widen the space with --space)."
        )
    elsewhere = baseline.get("best_reward_elsewhere")
    if elsewhere:
        line += (
            f" The best reward anywhere was trial {elsewhere['number']}, "
            f"{elsewhere['reward']:.4f} at {elsewhere['target_ratio']:.2f}x the target "
            f"(the baseline's: {baseline.get('standalone_reward') or baseline['reward']:.4f})."
        )
    return line

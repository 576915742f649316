"""cnas search: MnasNet-style search of a baseline for a cost target."""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from pathlib import Path
from typing import Any

from experiments._common import (
    CliError,
    ProgressBar,
    check_writable_dir,
    format_table,
    percent,
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
    data_memory_budget,
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
_TARGETS = {
    "target_flops": "flops",
    "target_params": "params",
    "target_latency_ms": "latency",
    "target_peak_memory": "memory",
}


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
    cost = parser.add_argument_group(
        "target and cost", "The cost a network is searched for, and how near it must be."
    )
    target = cost.add_mutually_exclusive_group(required=True)
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
    target.add_argument(
        "--target-peak-memory",
        type=parse_quantity,
        metavar="KB",
        help="peak activation memory target T in KB of 1,024 bytes (float32, batch 1; "
        "`cnas count --memory` says how it is counted)",
    )
    cost.add_argument(
        "--max-peak-memory",
        type=parse_quantity,
        metavar="KB",
        help="a hard limit on peak activation memory beside the target, in KB of 1,024 "
        "bytes: a candidate over it is never trained (the strategy proposes again)",
    )
    cost.add_argument(
        "--latency-table",
        metavar="FILE",
        help="cost latency as the sum of a `cnas latency-table` file's parts: no candidate "
        "is timed, so it holds on Ray workers and at supernet speed (with --target-latency-ms)",
    )
    cost.add_argument(
        "--latency-runtime",
        choices=("torch", "onnxruntime", "onnxruntime-int8"),
        help="the runtime whose latency is the cost (with --target-latency-ms; default torch)",
    )
    cost.add_argument(
        "--constraint",
        choices=("soft", "hard"),
        help="soft: w = -0.07; hard: a = 0, b = -1, and candidates over the target "
        "are screened out before training (--objective reward; default: soft when training, "
        "hard with zero-cost and naswot, whose scores rank networks but are no accuracies)",
    )
    cost.add_argument(
        "--target-tolerance",
        metavar="PCT",
        help="the band around the target, in percent (soft: either side; hard: below it). "
        "For FLOP, params and table-latency targets, a candidate outside it is never "
        "trained: the strategy proposes again, and the budget does not count it; the "
        "baseline is the best in the band. none: train every candidate, baseline the best "
        "reward anywhere (--objective reward; default 10)",
    )
    strategy = parser.add_argument_group("strategy", "How candidates are proposed and compared.")
    strategy.add_argument(
        "--trials",
        type=positive_int,
        default=30,
        help="candidates trained in all, counting an earlier run's when --out is continued "
        "(default 30)",
    )
    strategy.add_argument(
        "--strategy",
        choices=("tpe", "nsga2", "random", "rl", "predictor"),
        default="tpe",
        help="tpe (default): Optuna's TPE; nsga2: Optuna's NSGA-II (for --objective pareto); "
        "random: uniform; rl: MnasNet's REINFORCE controller over the choices; predictor: "
        "after --predictor-warmup trained at random, each trial fits an accuracy predictor on "
        "every result so far, predicts --predictor-pool candidates and trains the best",
    )
    strategy.add_argument(
        "--predictor-warmup",
        type=positive_int,
        metavar="N",
        help="with --strategy predictor: candidates trained at random before it proposes "
        "(default 10, at least 8: below that its ranking is noise)",
    )
    strategy.add_argument(
        "--predictor-pool",
        type=positive_int,
        metavar="N",
        help="with --strategy predictor: candidates in the band it predicts for each one "
        "it trains (default 500)",
    )
    strategy.add_argument(
        "--objective",
        choices=("reward", "pareto"),
        default="reward",
        help="reward (default): maximise MnasNet's ACC x (COST/T)^w; pareto: accuracy "
        "against cost, the baseline the most accurate front point within T",
    )
    strategy.add_argument(
        "--early-stopping",
        choices=("asha", "pareto-halving"),
        help="stop weak trials at epochs 1, 2, 4, ...: asha keeps the top half of a rung "
        "by reward (--objective reward); pareto-halving keeps the better half by "
        "non-dominated fronts of accuracy so far against cost (--objective pareto)",
    )
    evaluation = parser.add_argument_group(
        "evaluator", "How a candidate is scored, and how the winners are confirmed."
    )
    evaluation.add_argument(
        "--evaluator",
        choices=("train", "supernet", "zero-cost", "naswot"),
        default="train",
        help="train: proxy training (default); supernet: weights inherited from one "
        "weight-sharing network trained once per run (the default space keeps every "
        "shortcut; a killed run resumes its training from the last epoch); "
        "zero-cost: SynFlow; naswot: NASWOT on "
        "a batch of the data (`cnas rank-check` measures how well each ranks networks)",
    )
    evaluation.add_argument(
        "--confirm-top",
        type=int,
        metavar="K",
        help="retrain the K best candidates alone and choose the baseline on those results "
        "(default 3 with --evaluator supernet, else 0); on Ray they train side by side",
    )
    evaluation.add_argument(
        "--confirm-epochs",
        type=positive_int,
        metavar="E",
        help="epochs of that retraining (default --epochs); with --evaluator train it must "
        "be more than --epochs, unless --train-images searched on fewer images: the "
        "winners of a short proxy, retrained longer or on every image",
    )
    evaluation.add_argument(
        "--confirm-int8",
        action="store_true",
        help="also each retrained winner's validation accuracy after int8 quantization "
        "(onnxruntime, static, calibrated on 256 training images), beside its float32 one "
        "in trials.csv and the summary",
    )
    evaluation.add_argument(
        "--rank-check",
        metavar="DIR",
        help="a `cnas rank-check` run: the summary shows how well this evaluator ranked networks",
    )
    add_supernet_arguments(parser)
    add_space_arguments(parser)
    add_training_arguments(parser)
    add_resizing_argument(parser)
    add_run_arguments(parser, default_out="runs/search")
    parser.set_defaults(run=run)


def _target(args: argparse.Namespace) -> tuple[float, str]:
    for option, kind in _TARGETS.items():
        value = getattr(args, option)
        if value is not None:
            return (value * 1024 if kind == "memory" else value), kind  # KB of 1,024 bytes
    raise CliError(
        "give a target: --target-flops, --target-params, --target-latency-ms or "
        "--target-peak-memory"
    )


def run(args: argparse.Namespace) -> int:
    # Everything that can be wrong is checked before the run directory is touched.
    from nas import SearchConfig, load_data
    from nas.search import Confirm, confirm_workers, default_constraint, search_baseline

    target, cost = _target(args)
    _refuse_unused(args, cost)
    training_config(args)  # the training options, checked whichever evaluator scores
    apply_threads(args)
    table = None
    if args.latency_table is not None:
        from nas.latency import LatencyTable

        table = LatencyTable.load(args.latency_table)
    tolerance = _tolerance(args.target_tolerance or "10")
    budget = data_memory_budget(args)
    out = check_writable_dir(args.out, "--out")
    data = load_data(
        args.data,
        resolution=args.resolution,
        root=args.data_root,
        max_samples=args.max_samples,
        seed=args.seed,
        memory_budget=budget,
    )
    space = space_from_args(args, data, supernet=args.evaluator == "supernet")
    if table is not None:
        table.check_covers(space, source=f"--latency-table {args.latency_table!r}")
    evaluator = _make_evaluator(args, data, space)
    config = SearchConfig(
        target=target,
        cost=cost,
        max_peak_memory=None if args.max_peak_memory is None else args.max_peak_memory * 1024,
        objective=args.objective,
        constraint=args.constraint or default_constraint(evaluator),
        strategy=args.strategy,
        trials=args.trials,
        seed=args.seed,
        early_stopping=args.early_stopping,
        target_tolerance=tolerance,
        latency_table=table,
        latency_runtime=args.latency_runtime or "torch",
        **_predictor_settings(args),
    )
    confirm_top = _confirm_top(args, evaluator)
    measured = _measured_ranking(args)
    ray = prepare_backend(args, trials=args.trials)
    confirm = None
    if confirm_top:
        from nas import TrainingEvaluator

        # The winners' retraining: the search's training, for --confirm-epochs.
        trainer = TrainingEvaluator(
            data=data,
            config=dataclasses.replace(
                training_config(args),
                epochs=args.confirm_epochs or args.epochs,
                train_images=None,  # the winners retrain on every image
            ),
        )
        confirm = Confirm(
            trainer, confirm_top, workers=confirm_workers(ray), int8=args.confirm_int8
        )
    progress = _Progress(config, enabled=not (args.no_progress or args.json))
    steps = ProgressBar("retrain alone", "net", enabled=progress.enabled, total=confirm_top)
    try:
        report = search_baseline(
            space=space,
            evaluator=evaluator,
            config=config,
            run_dir=out,
            confirm=confirm,
            storage=args.storage,
            ray=ray,
            rank_check=measured,
            on_trial=lambda study, trial: progress.update(trial),
            on_start=progress.start,
            on_confirming=lambda count: (progress.close(), steps.start()),
            on_confirmed=lambda *_: steps.step(),
        )
    finally:
        progress.close()
        steps.close()
    if args.json:
        import json

        print_json(json.loads((Path(out) / "summary.json").read_text()))
    else:
        print(_render(report, config, out, score=_SCORE_NAMES[args.evaluator]))
    return 0


def _refuse_unused(args: argparse.Namespace, cost: str) -> None:
    """An option that would do nothing in this combination is refused, not ignored."""
    unused = []
    if args.latency_runtime is not None and cost != "latency":
        unused.append(("--latency-runtime", "it times latency: give --target-latency-ms"))
    if args.objective == "pareto":
        pareto = "a Pareto search has no reward to constrain: drop it or use --objective reward"
        for flag, value in (
            ("--constraint", args.constraint),
            ("--target-tolerance", args.target_tolerance),
        ):
            if value is not None:
                unused.append((flag, pareto))
    if args.strategy != "predictor":
        for flag, value in (
            ("--predictor-warmup", args.predictor_warmup),
            ("--predictor-pool", args.predictor_pool),
        ):
            if value is not None:
                unused.append((flag, "it sets the predictor: add --strategy predictor"))
    if args.evaluator != "train" and args.train_images is not None:
        unused.append(("--train-images", "it sets the proxy training: use --evaluator train"))
    if args.evaluator != "supernet":
        for flag, value in (
            ("--supernet-epochs", args.supernet_epochs),
            ("--supernet-subnets", args.supernet_subnets),
            ("--supernet-sampling", args.supernet_sampling),
            ("--supernet-split", args.supernet_split),
            ("--no-distill", None if args.distill else False),
        ):
            if value is not None:
                unused.append((flag, "it sets how a supernet trains: add --evaluator supernet"))
    if unused:
        flag, why = unused[0]
        raise CliError(f"{flag} does nothing here: {why}")


def _predictor_settings(args: argparse.Namespace) -> dict[str, int]:
    settings = {"predictor_warmup": args.predictor_warmup, "predictor_pool": args.predictor_pool}
    return {key: value for key, value in settings.items() if value is not None}


def _tolerance(text: str) -> float | None:
    if text.strip().lower() == "none":
        return None
    try:
        return percent(text)
    except argparse.ArgumentTypeError as error:
        raise CliError(f"--target-tolerance: {error}, or none") from None


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


def _confirm_top(args: argparse.Namespace, evaluator: Any) -> int:
    top = args.confirm_top
    if top is None:
        top = evaluator.confirm_top
    if args.confirm_epochs is not None and not top:
        raise CliError("--confirm-epochs sets how --confirm-top retrains; give --confirm-top K")
    if args.confirm_int8 and not top:
        raise CliError("--confirm-int8 measures the retrained winners; give --confirm-top K")
    if top < 0:
        raise CliError(f"--confirm-top must be 0 (no retraining) or more, got {top}")
    longer = (args.confirm_epochs or 0) > args.epochs
    if top and args.evaluator == "train" and not longer and args.train_images is None:
        raise CliError(
            "with --evaluator train the candidates were trained for --epochs already: give "
            f"--confirm-epochs above {args.epochs} to retrain the winners longer (or "
            "--train-images to search on fewer images), or drop --confirm-top"
        )
    return top


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


class _Progress:
    """A progress bar on stderr with the best reward so far."""

    def __init__(self, config: Any, *, enabled: bool) -> None:
        self.config = config
        self.enabled = enabled
        self.best: float | None = None
        self.outside = 0  # proposals outside the target band, not trained
        self.bar: Any = None  # made when the run starts: a refused run shows no bar

    def start(self, finished: int) -> None:
        """Count the trials an earlier run finished, so a continued search shows where it is."""
        from tqdm import tqdm

        self.bar = tqdm(
            total=self.config.trials,
            desc="search",
            unit="trial",
            file=sys.stderr,
            disable=not self.enabled,
            dynamic_ncols=True,
        )
        self.bar.update(min(finished, self.config.trials))

    def update(self, trial: Any) -> None:
        attrs = trial.user_attrs
        if attrs.get("interrupted") or self.bar is None:
            return
        if attrs.get("out_of_band") or attrs.get("over_memory"):
            # Proposed and turned away before training: the budget does not count it.
            self.outside += 1
            self.bar.set_postfix_str(f"{self.outside} outside the band, best {self._best()}")
            return
        value = attrs.get("reward") if self.config.objective == "reward" else attrs.get("accuracy")
        if value is not None and not attrs.get("screened"):
            self.best = value if self.best is None else max(self.best, value)
        state = "screened" if attrs.get("screened") else trial.state.name.lower()
        state = "stopped" if state == "pruned" else state
        self.bar.set_postfix_str(f"last {state}, best {self._best()}")
        self.bar.update(1)

    def _best(self) -> str:
        return "-" if self.best is None else f"{self.best:.4f}"

    def close(self) -> None:
        if self.bar is not None:
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
            "int8": "-"
            if r.get("standalone_int8_accuracy") is None
            or r["standalone_int8_accuracy"] != r["standalone_int8_accuracy"]
            else round(float(r["standalone_int8_accuracy"]), 4),
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
            *([("int8", "alone, int8")] if "standalone_int8_accuracy" in evaluated else []),
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
    predictor = report.summary.get("predictor")
    if predictor and predictor["loo_tau"] is not None:
        lines.append(
            f"Predictor: proposed {predictor['proposed_by_predictor']} of "
            f"{predictor['trained']} trained; on this run's results it ranks with "
            f"leave-one-out Kendall tau {predictor['loo_tau']:.2f} "
            f"[{predictor['loo_tau_low']:.2f}, {predictor['loo_tau_high']:.2f}]."
        )
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

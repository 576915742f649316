"""What `cnas coefficients` and `cnas scaling-curves` share: a backbone trained at scaled
sizes on data at each resolution, over seeds, with one progress bar across rounds."""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from experiments._common import CliError
from experiments._training_args import data_memory_budget, training_config


def check_finite(args: argparse.Namespace, *names: str) -> None:
    for name in names:
        value = getattr(args, name)
        if isinstance(value, float) and not math.isfinite(value):  # NaN or inf
            raise CliError(f"--{name.replace('_', '-')} must be a finite number, got {value}")


def trainer_and_backbone(args: argparse.Namespace) -> tuple[Any, Any, dict[str, int]]:
    """(CandidateTrainer, backbone, shape), with bad data or backbone options failing first."""
    from nas import load_backbone
    from nas.coefficients import CandidateTrainer

    trainer = CandidateTrainer(
        dataset=args.data,
        config=training_config(args),
        root=args.data_root,
        max_samples=args.max_samples,
        seed=args.seed,
        memory_budget=data_memory_budget(args),
    )
    trainer.data_at(args.resolution)  # fails early on bad data options
    backbone = load_backbone(args.backbone)
    return trainer, backbone, trainer.shape_for(backbone, args.resolution)


def add_reuse_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--reuse-results",
        metavar="RUN_DIR",
        action="append",
        default=[],
        help="a finished cnas coefficients or scaling-curves run directory (repeatable): a "
        "network it trained with the same data, training and seed is taken from it, not "
        "trained again (training is deterministic here; reused_from in trials.csv names the "
        "source). The grid and the curves of one baseline share the base, the references and "
        "the chosen point",
    )


def reusable(args: argparse.Namespace) -> dict[str, Any]:
    """The finished trials of every --reuse-results run, by result key (read-only)."""
    from nas.runs import read_reusable

    return read_reusable(args.reuse_results) if args.reuse_results else {}


def trial_counts(summary: dict[str, Any]) -> str:
    """'12 complete trials, 4 of them reused from another run'."""
    counts = ", ".join(f"{n} {s}" for s, n in summary["trials"].items())
    reused = summary.get("reused") or 0
    return f"{counts} trials" + (f", {reused} of them reused from another run" if reused else "")


def training_settings(args: argparse.Namespace) -> dict[str, Any]:
    """What a report shows of how its networks were trained."""
    return {
        "data": args.data,
        "data_root": args.data_root,
        "max_samples": args.max_samples,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "optimizer": args.optimizer,
        "seeds": args.seeds,
        "match_tolerance": args.match_tolerance,
    }


class SeedProgress:
    """A progress bar whose total grows as each round (one seed) adds its trials."""

    def __init__(self, name: str, seeds: int, *, enabled: bool) -> None:
        from tqdm import tqdm

        self.name, self.seeds = name, seeds
        self.bar = tqdm(
            total=None, desc=name, unit="trial", file=sys.stderr, disable=not enabled,
            dynamic_ncols=True,
        )  # fmt: skip

    def on_round(self, seed_index: int, pairs: int) -> None:
        self.bar.set_description(f"{self.name}, seed {seed_index + 1}/{self.seeds}")
        self.bar.total = self.bar.n + pairs
        self.bar.refresh()

    def on_trial(self, trial: Any) -> None:
        if not trial.user_attrs.get("interrupted"):
            self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def interval(row: dict[str, Any]) -> str:
    low, high = row.get("low"), row.get("high")
    return "-" if low is None or high is None else f"[{low:.4f}, {high:.4f}]"

"""Options that every command which trains candidates shares (search, coefficients)."""

from __future__ import annotations

import argparse
from typing import Any

from experiments._common import CliError, positive_int

__all__ = ["add_run_arguments", "add_training_arguments", "apply_threads", "training_config"]


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    """Data and proxy-training options."""
    parser.add_argument("--data", default="digits", help="digits (built in), cifar10, imagefolder")
    parser.add_argument(
        "--data-root", metavar="PATH", help="data directory for cifar10/imagefolder"
    )
    parser.add_argument("--max-samples", type=positive_int, help="use a subset of the data")
    parser.add_argument("--epochs", type=positive_int, default=3, help="training epochs (3)")
    parser.add_argument("--batch-size", type=positive_int, default=64)
    parser.add_argument("--lr", type=float, default=0.05, help="peak learning rate (cosine decay)")
    parser.add_argument("--optimizer", choices=("sgd", "rmsprop"), default="sgd")
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        help="torch threads per candidate (default 1: a second thread is slower on a busy machine)",
    )


def add_run_arguments(parser: argparse.ArgumentParser, *, default_out: str) -> None:
    """Seed, storage, run directory and output options of a study-backed run."""
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--storage", metavar="URL", help="Optuna storage (default: SQLite in --out)"
    )
    parser.add_argument("--out", default=default_out, help=f"run directory (default {default_out})")
    parser.add_argument("--json", action="store_true", help="print summary.json and nothing else")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def training_config(args: argparse.Namespace) -> Any:
    """The proxy-training settings the options ask for."""
    from nas import TrainingConfig

    try:
        return TrainingConfig(
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.lr,
            optimizer=args.optimizer,
            threads=args.threads,
        )
    except ValueError as error:
        raise CliError(str(error)) from None


def apply_threads(args: argparse.Namespace) -> None:
    """Every evaluator (zero-cost and latency included) runs on ``--threads`` torch threads."""
    import torch

    torch.set_num_threads(args.threads)

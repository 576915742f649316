"""Options that every command which trains candidates shares (search, coefficients)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from experiments._common import CliError, positive_int, positive_number

# nas.runs.BACKENDS, spelt out so that `cnas --help` need not import Optuna.
BACKENDS = ("auto", "local", "ray")
SUPERNET_EPOCHS, SUPERNET_SUBNETS = 10, 4  # --supernet-epochs and --supernet-subnets

__all__ = [
    "BACKENDS",
    "add_run_arguments",
    "add_space_arguments",
    "add_supernet_arguments",
    "add_training_arguments",
    "apply_threads",
    "data_memory_budget",
    "prepare_backend",
    "space_from_args",
    "supernet_evaluator",
    "training_config",
]


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    """Data and proxy-training options."""
    group = parser.add_argument_group("data and training", "What each candidate trains on.")
    group.add_argument(
        "--data",
        default="digits",
        help="digits (built in), fashion-mnist (Debian's dataset-fashion-mnist package: "
        "make bench-data), cifar10, cifar100 (python batches), svhn (.mat), mnist (IDX files: "
        "MNIST, KMNIST, notMNIST), imagefolder",
    )
    group.add_argument(
        "--data-root",
        metavar="PATH",
        help="data directory for every data set but digits (fashion-mnist: default "
        "/usr/share/datasets/fashion-mnist)",
    )
    group.add_argument(
        "--max-samples",
        type=positive_int,
        metavar="N",
        help="use a stratified subset of N images, 80%% to train and 20%% to validate "
        "(default: all)",
    )
    group.add_argument(
        "--data-memory-budget",
        type=positive_number,
        default=4096,
        metavar="MB",
        help="memory the data may take as float32 (4096): an image folder above it streams "
        "from disk, each batch decoded by DataLoader workers while the model trains",
    )
    group.add_argument("--epochs", type=positive_int, default=3, help="training epochs (3)")
    group.add_argument(
        "--train-images",
        type=positive_int,
        metavar="N",
        help="train each candidate on a stratified N of the training split's images (the "
        "same N for every one) and score it on the whole validation split: a cheaper proxy "
        "whose score keeps its precision, unlike a smaller --max-samples (default: all; "
        "`cnas search --confirm-top` retrains on all)",
    )
    group.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        help="torch threads per candidate (default 1: a second thread is slower on a busy machine)",
    )
    group.add_argument(
        "--device",
        metavar="DEV",
        help="cpu, cuda or cuda:N: where each candidate trains (default cpu; cuda with "
        "--gpus-per-trial). A local run trains on that GPU of this machine; on Ray, Ray gives "
        "each trial the GPU --gpus-per-trial asks for",
    )
    add_recipe_arguments(parser)


def data_memory_budget(args: argparse.Namespace) -> int:
    """--data-memory-budget in bytes, refused below one batch of the largest images."""
    from nas.evaluate import PROXY_RECIPE

    budget = int(args.data_memory_budget * 2**20)
    resolution = getattr(args, "resolution", None)
    if resolution:
        batch = (
            (getattr(args, "batch_size", None) or PROXY_RECIPE["batch_size"])
            * 3
            * resolution**2
            * 4
        )
        if budget < batch:
            raise CliError(
                f"--data-memory-budget {args.data_memory_budget:g} MB is below one batch of "
                f"{resolution} px images ({batch / 2**20:.2f} MB): raise it"
            )
    return budget


def add_recipe_arguments(parser: argparse.ArgumentParser) -> None:
    """The proxy recipe's parts; each defaults to the measured recipe (BENCHMARKS.md
    "Proxy recipe"), or, continuing a run directory, to what that run recorded."""
    from nas.evaluate import OPTIMIZERS, PEAK_RATES, PROXY_RECIPE, WEIGHT_DECAYS

    def per_optimizer(values: dict[str, float]) -> str:
        return ", ".join(f"{name} {value:g}" for name, value in values.items())

    group = parser.add_argument_group(
        "proxy recipe",
        "How each candidate trains. Unset options take the measured recipe (--recipe "
        "proxy), or what the run in --out recorded when it is continued.",
    )
    group.add_argument(
        "--recipe",
        choices=("proxy", "legacy"),
        help="proxy (default): the recipe measured on real images (AdamW, warm-up, "
        "zero-init, label smoothing, batch 16, no dropout); legacy: SGD 0.05, batch 64, no "
        "warm-up, zero-init or smoothing, the spec's dropout, as runs were trained before",
    )
    group.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        help=f"adamw (the recipe's: steadiest over seeds at a short budget), sgd (Nesterov "
        f"momentum) or rmsprop (the EfficientNet reference's); default {PROXY_RECIPE['optimizer']}",
    )
    group.add_argument(
        "--lr",
        type=float,
        help="peak learning rate, reached after --warmup, then a cosine to 0 (default per "
        f"optimizer: {per_optimizer(PEAK_RATES)})",
    )
    group.add_argument(
        "--weight-decay",
        type=float,
        metavar="WD",
        help="weight decay on conv and linear weights, decoupled for adamw (default per "
        f"optimizer: {per_optimizer(WEIGHT_DECAYS)})",
    )
    group.add_argument(
        "--batch-size",
        type=positive_int,
        help=f"images per step (default {PROXY_RECIPE['batch_size']}: at 3 epochs on a few "
        "thousand images, more steps learn more than larger ones)",
    )
    group.add_argument(
        "--label-smoothing",
        type=float,
        metavar="EPS",
        help=f"share of each target spread over the other classes, in [0, 1) (default "
        f"{PROXY_RECIPE['label_smoothing']}: keeps early logits from saturating)",
    )
    group.add_argument(
        "--warmup",
        type=float,
        metavar="SHARE",
        help=f"share of all steps warming the rate up from 0 to --lr (default "
        f"{PROXY_RECIPE['warmup']}: a one-cycle shape; the first steps of a fresh net "
        "are its most fragile)",
    )
    group.add_argument(
        "--zero-init-residual",
        action=argparse.BooleanOptionalAction,
        help="start each residual branch at zero, so every block is the identity at step 0 "
        "and deep networks train from the first step (default on)",
    )
    group.add_argument(
        "--spec-regularization",
        action=argparse.BooleanOptionalAction,
        help="train with the spec's dropout and stochastic depth (default off: over a few "
        "epochs they only slow learning, the same for every candidate)",
    )
    group.add_argument(
        "--augment",
        metavar="NAMES",
        help="comma-separated from flip, crop (padded crops), shift (small translations), or "
        "auto (flip,crop for photos and clothes; shift for digits, letters and house "
        "numbers, which are never flipped), or none (default: at 3 epochs augmentation "
        "costs accuracy; it pays in longer trainings)",
    )


def _augment(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    if text.strip() == "none":
        return ()
    return tuple(name.strip() for name in text.split(",") if name.strip())


def add_resizing_argument(parser: argparse.ArgumentParser) -> None:
    """EfficientNetV2's progressive resizing for proxy training (search only: a coefficient
    grid trains each candidate at its own resolution)."""
    parser.add_argument(
        "--progressive-resizing",
        metavar="MIN:MAX",
        help="train epoch 1 at MIN px and the last at MAX (= --resolution), linearly "
        "between, with dropout growing from 0.1 to the spec's (EfficientNetV2)",
    )


def _resizing(args: argparse.Namespace) -> tuple[int, int] | None:
    text = getattr(args, "progressive_resizing", None)
    if text is None:
        return None
    try:
        low, high = (int(part) for part in text.split(":"))
    except ValueError:
        raise CliError(
            f"--progressive-resizing takes MIN:MAX image sides such as 12:{args.resolution}, "
            f"got {text!r}"
        ) from None
    if high != args.resolution or not 8 <= low <= high:
        raise CliError(
            f"--progressive-resizing {text} must end at --resolution {args.resolution} (the "
            f"data's size, which validation uses) and start between 8 and it, e.g. "
            f"{max(8, args.resolution * 3 // 4)}:{args.resolution}"
        )
    return low, high


def add_space_arguments(parser: argparse.ArgumentParser) -> None:
    """The search space: a skeleton at a resolution, shrunk into a proxy, and its choices."""
    group = parser.add_argument_group(
        "search space", "The skeleton whose per-stage choices are searched, and the choices."
    )
    group.add_argument("--resolution", type=positive_int, default=32, help="input size (32)")
    group.add_argument(
        "--skeleton",
        default="auto",
        help="efficientnet-b0, small-input, or auto (small-input below 128 px)",
    )
    group.add_argument(
        "--width-mult",
        type=float,
        default=1.0,
        help="scale the skeleton's widths first (a cheaper proxy; default 1.0)",
    )
    group.add_argument(
        "--depth-mult",
        type=float,
        default=1.0,
        help="scale the skeleton's stage depths first (default 1.0)",
    )
    group.add_argument(
        "--space",
        metavar="FILE",
        help="JSON file with the choice sets, for all stages or per stage (default, "
        "MnasNet's: kernels 3/5/7, expansion 1/3/4/6, SE 0/0.25, layers -1/0/+1, widths "
        "0.75/1/1.25, skip or not; MBConv only)",
    )


def space_from_args(args: argparse.Namespace, data: Any, *, supernet: bool = False) -> Any:
    """The MBConvSpace the space options describe, for ``data``'s channels and classes;
    with ``supernet``, the default space is the one a supernet can hold."""
    from scaling import search_proxy
    from search_spaces import MBConvSpace

    reference = search_proxy(
        skeleton_name=args.skeleton,
        resolution=args.resolution,
        in_channels=data.in_channels,
        num_classes=data.num_classes,
        width_mult=args.width_mult,
        depth_mult=args.depth_mult,
    )
    if args.space:
        return MBConvSpace.from_file(args.space, reference)
    if supernet:
        from nas.supernet import default_supernet_space

        return default_supernet_space(reference)
    return MBConvSpace.uniform(reference)


def add_run_arguments(parser: argparse.ArgumentParser, *, default_out: str) -> None:
    """Seed, storage, run directory and output options of a study-backed run."""
    run = parser.add_argument_group("run directory", "Where results go, and repeating a run.")
    run.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seeds the data split, the strategy and every training: the same seed and "
        "settings give the same run (default 0)",
    )
    run.add_argument(
        "--storage",
        metavar="URL",
        help="Optuna storage shared by several processes or machines: an SQLAlchemy URL "
        "(postgresql://user@host/db, sqlite:///path.db) or journal:PATH (default: SQLite in --out)",
    )
    backend = parser.add_argument_group("where trials run")
    backend.add_argument(
        "--backend",
        choices=BACKENDS,
        default=os.environ.get("CNAS_BACKEND", "auto"),
        help="local: one trial at a time in this process; ray: Ray Tune trials, one per "
        "--cpus-per-trial; auto (default, or $CNAS_BACKEND): ray when this machine has 2+ "
        "cores and there is more than one trial, so every core trains",
    )
    backend.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="join a running Ray cluster: auto or HOST:PORT (default: start a local Ray)",
    )
    backend.add_argument(
        "--cpus-per-trial", type=float, default=1.0, help="Ray CPUs per trial (default 1)"
    )
    backend.add_argument(
        "--gpus-per-trial", type=float, default=0.0, help="Ray GPUs per trial (default 0)"
    )
    backend.add_argument(
        "--max-concurrent",
        type=positive_int,
        metavar="N",
        help="trials at once on Ray (default: CPUs / --cpus-per-trial)",
    )
    run.add_argument(
        "--out",
        default=default_out,
        help=f"run directory; an existing one with the same settings is continued (default "
        f"{default_out})",
    )
    run.add_argument("--json", action="store_true", help="print summary.json and nothing else")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")


def training_config(args: argparse.Namespace) -> Any:
    """The proxy-training settings the options ask for (unset recipe options: the recipe,
    or what the run in ``--out`` recorded when it is continued)."""
    from nas import TrainingConfig
    from nas.data import is_mirror_safe
    from nas.evaluate import recipe_settings, resolve_augmentations
    from nas.runs import recorded_identity

    given = {
        "optimizer": args.optimizer,
        "learning_rate": args.lr,
        "weight_decay": args.weight_decay,
        "batch_size": args.batch_size,
        "label_smoothing": args.label_smoothing,
        "warmup": args.warmup,
        "zero_init_residual": args.zero_init_residual,
        "augment": _augment(args.augment),
        "spec_regularization": args.spec_regularization,
    }
    try:
        recipe = recipe_settings(given, recipe=args.recipe, recorded=recorded_identity(args.out))
        config = TrainingConfig(
            epochs=args.epochs,
            **recipe,
            threads=args.threads,
            device=_device(args),
            progressive_resizing=_resizing(args),
            train_images=getattr(args, "train_images", None),
        )
        # Refused here, before any data is read or file written, not at the first trial.
        resolve_augmentations(
            config.augment, mirror_safe=is_mirror_safe(args.data), data_name=args.data
        )
        return config
    except ValueError as error:
        raise CliError(str(error)) from None


def apply_threads(args: argparse.Namespace) -> None:
    """Every evaluator (zero-cost and latency included) runs on ``--threads`` torch threads."""
    import torch

    torch.set_num_threads(args.threads)


def _device(args: argparse.Namespace) -> str:
    from nas.evaluate import training_device

    # `auto` runs a local GPU's trials here (resolve_backend), so only `ray` is Ray here.
    gpus = getattr(args, "gpus_per_trial", 0.0)
    on_ray = getattr(args, "backend", "local") == "ray"
    return training_device(getattr(args, "device", None), gpus_per_trial=gpus, on_ray=on_ray)


def _local_gpu(args: argparse.Namespace) -> bool:
    """Whether trials train on a GPU of this machine (--device cuda, no Ray GPU asked)."""
    return getattr(args, "device", None) not in (None, "cpu") and not args.gpus_per_trial


def prepare_backend(args: argparse.Namespace, *, trials: int) -> Any:
    """Check the storage URL and the backend options, and join Ray; before anything is written.

    Returns the ``RayOptions`` when trials run on Ray (``--backend ray``, or ``auto`` on a
    machine with several cores and more than one trial), else None.
    """
    from nas.runs import RayOptions, check_storage, connect_ray, resolve_backend

    if args.storage is not None:
        check_storage(args.storage)
    ray_only = {
        "--ray-address": args.ray_address is not None,
        "--cpus-per-trial": args.cpus_per_trial != 1.0,
        "--gpus-per-trial": args.gpus_per_trial != 0.0,
        "--max-concurrent": args.max_concurrent is not None,
    }
    backend = resolve_backend(args.backend, trials=trials, local_gpu=_local_gpu(args))
    if backend == "local":
        given = [flag for flag, set_ in ray_only.items() if set_]
        if given:
            raise CliError(f"{', '.join(given)} only apply to Ray; add --backend ray")
        return None
    options = RayOptions(
        address=args.ray_address,
        cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial,
        max_concurrent=args.max_concurrent,
    )
    connect_ray(options)
    return options


def add_supernet_arguments(parser: argparse.ArgumentParser) -> None:
    """How a supernet evaluator trains its shared weights."""
    group = parser.add_argument_group("supernet evaluator")
    # Unset (None) until a supernet is built, so that a command can tell them given.
    group.add_argument(
        "--supernet-epochs",
        type=positive_int,
        metavar="E",
        help="epochs of the supernet's training (default 10; at --lr, "
        "--batch-size, on the training split)",
    )
    group.add_argument(
        "--supernet-subnets",
        type=int,
        metavar="N",
        help="sampled networks per step besides the largest and smallest (default 4)",
    )
    group.add_argument(
        "--supernet-sampling",
        choices=("sandwich", "uniform"),
        help="sandwich (default): the largest, the smallest and --supernet-subnets sampled "
        "networks each step; uniform: one network drawn uniformly each step, on the labels "
        "(single-path, as SPOS)",
    )
    group.add_argument(
        "--supernet-split",
        metavar="CHOICE",
        help="few-shot: one supernet per option of this space choice, e.g. s3_kernel (stage "
        "3's kernel: 3 supernets), each trained for its share of --supernet-epochs, so "
        "networks that differ in it share no weights (default: one supernet)",
    )
    group.add_argument(
        "--no-distill",
        dest="distill",
        action="store_false",
        help="train every network on the labels, not (but the largest) on the largest's "
        "predictions (in-place distillation, the default)",
    )


def supernet_evaluator(args: argparse.Namespace, data: Any, space: Any, *, progress: bool) -> Any:
    """The ``SupernetEvaluator`` the supernet options describe (trained in its run dir)."""
    import dataclasses

    from nas.supernet import SandwichConfig, SupernetEvaluator

    epochs = SUPERNET_EPOCHS if args.supernet_epochs is None else args.supernet_epochs
    subnets = SUPERNET_SUBNETS if args.supernet_subnets is None else args.supernet_subnets
    if subnets < 0:
        raise CliError(f"--supernet-subnets must be 0 or more, got {subnets}")
    sampling = args.supernet_sampling or "sandwich"
    if sampling == "uniform":
        for flag, given in (
            ("--supernet-subnets", args.supernet_subnets is not None),
            ("--no-distill", not args.distill),
        ):
            if given:
                raise CliError(
                    f"{flag} does nothing with --supernet-sampling uniform: it trains one "
                    "network a step, on the labels"
                )
    config = SandwichConfig(
        training=dataclasses.replace(training_config(args), epochs=epochs),
        random_subnets=subnets,
        distill=args.distill,
        sampling=sampling,
        split_by=args.supernet_split,
    )
    bar = _EpochBar(_supernet_epochs(space, config), enabled=progress)
    return SupernetEvaluator(
        data, space=space, config=config, seed=args.seed, threads=args.threads, on_epoch=bar
    )


def _supernet_epochs(space: Any, config: Any) -> int:
    """Epochs the supernet's training runs in all (a few-shot one: each part's share)."""
    from nas.supernet import SupernetError
    from nas.supernet._few_shot import check_split

    if config.split_by is None:
        return int(config.training.epochs)
    try:
        parts = len(check_split(space, config.split_by))
    except SupernetError as error:
        raise CliError(f"--supernet-split: {error}") from None
    return max(1, round(config.training.epochs / parts)) * parts


class _EpochBar:
    """A progress bar over the supernet's epochs, with the largest network's loss."""

    def __init__(self, epochs: int, *, enabled: bool) -> None:
        import sys

        from tqdm import tqdm

        # delay: a continued run loads its supernet and never shows this bar.
        self.bar = tqdm(
            total=epochs,
            desc="supernet",
            unit="epoch",
            file=sys.stderr,
            disable=not enabled,
            dynamic_ncols=True,
            delay=1.0,
        )
        self.epochs = epochs

    def __call__(self, epoch: int, loss: float) -> None:
        self.bar.set_postfix_str(f"loss {loss:.3f}")
        self.bar.update(1)
        if self.bar.n >= self.epochs:
            self.bar.close()

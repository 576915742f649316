"""Proxy training: a few epochs on a small dataset as a candidate's accuracy signal.

MnasNet trained each sampled model for 5 epochs on a held-out part of ImageNet; this is
the same idea at laptop scale (digits, CIFAR-10 subsets), on the CPU. Accuracy after a
short schedule ranks architectures, it does not predict their final accuracy.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

from nas.data import DataSplits, fewer_train_images
from nas.evaluate._augment import augment_batch, check_augmentations, resolve_augmentations
from nas.evaluate._device_images import TrainBatches
from nas.evaluate._evaluator import Evaluation, Evaluator, ProgressCallback, TrialError
from nas.evaluate._recipe import (
    ADDED_FIELDS,
    LEGACY_RECIPE,
    PEAK_RATES,
    PROXY_RECIPE,
    WEIGHT_DECAYS,
)
from nas.models import (
    build_model,
    save_weights,
    use_fast_depthwise,
    zero_init_residual_branches,
)
from search_spaces import NetworkSpec, is_int, is_number

__all__ = [
    "OPTIMIZERS",
    "TrainingConfig",
    "TrainingEvaluator",
    "accuracy_on",
    "make_optimizer",
    "recalibrate_batch_norm",
    "shuffled_batches",
]

logger = logging.getLogger(__name__)

OPTIMIZERS: tuple[str, ...] = ("sgd", "rmsprop", "adamw")

_AUGMENT_SEED_OFFSET = 7919

_EVAL_BATCH = 64  # measured fastest on CPU: larger batches fall out of cache
# Batch norm statistics from this many train images are as good as from all of them
# (digits, 32 px: same accuracy from 256 to 2048 images).
_RECALIBRATION_SAMPLES = 1024


@dataclass(frozen=True)
class TrainingConfig:
    """How each candidate is trained.

    ``optimizer`` is ``"sgd"`` (momentum 0.9, Nesterov) or ``"rmsprop"`` with the
    EfficientNet/MnasNet reference's hyper-parameters (decay ``alpha`` 0.9, momentum 0.9,
    epsilon 1e-3) in ``torch.optim.RMSprop``. PyTorch adds epsilon outside the square root
    and starts the square average at zero, where TensorFlow adds it inside and starts at
    one, so the first PyTorch steps are larger: use a peak ``learning_rate`` of about
    0.01 or lower with ``"rmsprop"``.

    ``"adamw"`` is ``torch.optim.AdamW`` (decoupled weight decay, Loshchilov and Hutter).

    ``learning_rate`` is the peak; after ``warmup`` (a share of all planned steps, rising
    linearly from 0) it follows a cosine to zero over the remaining steps, updated per
    step; warm-up then cosine is the one-cycle shape. Weight decay applies to conv and
    linear weights only, not to batch norm parameters or biases (as in the TF reference,
    which skips batch norm variables).

    ``threads`` sets ``torch.set_num_threads`` while a trial trains (restored afterwards);
    ``None`` leaves it alone. ``max_seconds`` is a wall-clock budget per trial, checked after
    each epoch: when exceeded, training stops with the accuracy reached so far and the
    evaluation's ``metrics["truncated"]`` is 1.0 (the learning rate has not reached zero).
    """

    epochs: int = 3
    # The recipe's parts default to nas.evaluate.PROXY_RECIPE, measured on real images.
    batch_size: int = PROXY_RECIPE["batch_size"]
    optimizer: str = PROXY_RECIPE["optimizer"]
    # None: the optimizer's peak rate and decay in nas.evaluate.PEAK_RATES, WEIGHT_DECAYS.
    learning_rate: float | None = None
    weight_decay: float | None = None
    label_smoothing: float = PROXY_RECIPE["label_smoothing"]
    threads: int | None = None
    max_seconds: float | None = None
    device: str = "cpu"  # "cuda" trains on the GPU (Ray assigns one with --gpus-per-trial)
    # channels_last trains MBConv nets 1.4-2.1x faster on CPU; its kernels round differently,
    # so False reproduces, step for step, runs made before it was the default.
    channels_last: bool = True
    # On the CPU, depthwise convolutions whose kernel is larger than their input (the late
    # stages of small-input nets) train through nas.models.DepthwiseConv2d, whose backward
    # avoids PyTorch's slow path; the gradients are the same to float rounding, as with
    # another thread count, so like threads it is not part of the identity.
    fast_depthwise: bool = True
    # On a CUDA device the forward pass and loss run under bf16 autocast (weights and
    # optimizer stay float32); ignored on the CPU, where bf16 measured 0.45-0.65x the speed
    # of float32 here. Like the device, a speed setting: not part of the identity.
    cuda_bf16: bool = True
    # Hold the images on the device as uint8 (a quarter of float32's memory) and normalise
    # each batch as it is taken. None: on CUDA only. On data read as bytes at its own size
    # the batches are the float32 ones bit for bit; resized data is rounded to the byte.
    compact_images: bool | None = None
    # Processes that decode a streamed image folder's batches (nas.data.StreamedImages)
    # while the device trains. None: 4 on CUDA, 0 on the CPU (where trials already run
    # side by side, one per core). A speed setting: not part of the identity.
    loader_workers: int | None = None
    # EfficientNetV2's progressive learning: (smallest, largest) image side. Epoch 1 trains
    # at the smallest, the last at the largest (the data's own, which validation keeps),
    # linearly between; the classifier's dropout grows with it from
    # ``progressive_dropout`` to the spec's. None trains every epoch at the data's size.
    progressive_resizing: tuple[int, int] | None = None
    progressive_dropout: float = 0.1
    # The proxy recipe's newer parts. Each one's value in LEGACY_RECIPE is how runs were
    # trained before it existed; at that value it stays out of the identity, so their run
    # directories keep theirs.
    # Share of all steps spent warming the learning rate up from 0 (0: start at the peak).
    warmup: float = PROXY_RECIPE["warmup"]
    # Zero the last batch-norm scale of each residual branch (each block starts as the
    # identity; see nas.models.zero_init_residual_branches).
    zero_init_residual: bool = PROXY_RECIPE["zero_init_residual"]
    # Batch augmentations (nas.evaluate.AUGMENTATIONS; "auto" picks by data set).
    augment: tuple[str, ...] = PROXY_RECIPE["augment"]
    # Train with the spec's dropout and stochastic depth. Off in the recipe: over a few
    # epochs they only slow learning, and they are the same for every candidate. Off, it
    # also leaves progressive resizing no dropout to grow.
    spec_regularization: bool = PROXY_RECIPE["spec_regularization"]
    # Train on a stratified subset of this many of the training split's images (the same
    # for every candidate), still scored on the whole validation split: a cheaper proxy
    # whose score keeps its precision (benchmarks/cheap_proxy_bed.py). None: every image.
    train_images: int | None = None

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not is_int(value) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}"
            )
        if self.learning_rate is None:
            object.__setattr__(self, "learning_rate", PEAK_RATES[self.optimizer])
        if self.weight_decay is None:
            object.__setattr__(self, "weight_decay", WEIGHT_DECAYS[self.optimizer])
        if not is_number(self.learning_rate) or self.learning_rate <= 0:
            raise ValueError(
                f"learning_rate must be a finite number > 0, got {self.learning_rate!r}"
            )
        if not is_number(self.weight_decay) or self.weight_decay < 0:
            raise ValueError(
                f"weight_decay must be a finite number >= 0 (0 disables it), "
                f"got {self.weight_decay!r}"
            )
        if not is_number(self.label_smoothing) or not 0 <= self.label_smoothing < 1:
            raise ValueError(
                f"label_smoothing must be a number in [0, 1) (0 disables it), "
                f"got {self.label_smoothing!r}"
            )
        if self.threads is not None and (not is_int(self.threads) or self.threads < 1):
            raise ValueError(
                f"threads must be an integer >= 1, or None to keep torch's setting, "
                f"got {self.threads!r}"
            )
        if self.loader_workers is not None and (
            not is_int(self.loader_workers) or self.loader_workers < 0
        ):
            raise ValueError(
                f"loader_workers must be a whole number >= 0, or None, got {self.loader_workers!r}"
            )
        if self.compact_images is not None and not isinstance(self.compact_images, bool):
            raise ValueError(
                f"compact_images must be True, False or None (on CUDA only), "
                f"got {self.compact_images!r}"
            )
        for name in ("channels_last", "fast_depthwise", "cuda_bf16"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if not isinstance(self.device, str) or not (
            self.device == "cpu" or self.device.startswith("cuda")
        ):
            raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {self.device!r}")
        if self.progressive_resizing is not None:
            sizes = tuple(self.progressive_resizing)
            if len(sizes) != 2 or not all(is_int(v) and v >= 8 for v in sizes):
                raise ValueError(
                    "progressive_resizing must be two image sides (smallest, largest) of 8 or "
                    f"more, got {self.progressive_resizing!r}"
                )
            if sizes[0] > sizes[1]:
                raise ValueError(
                    f"progressive_resizing {sizes[0]}:{sizes[1]} shrinks; give smallest:largest"
                )
            object.__setattr__(self, "progressive_resizing", sizes)
        if not is_number(self.progressive_dropout) or not 0 <= self.progressive_dropout < 1:
            raise ValueError(
                f"progressive_dropout must be in [0, 1), got {self.progressive_dropout!r}"
            )
        if not is_number(self.warmup) or not 0 <= self.warmup < 1:
            raise ValueError(f"warmup must be a share of the steps in [0, 1), got {self.warmup!r}")
        for name in ("zero_init_residual", "spec_regularization"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if isinstance(self.augment, str):
            raise ValueError(
                f"augment must be a sequence of names such as ('flip', 'crop'), "
                f"got the string {self.augment!r}"
            )
        object.__setattr__(self, "augment", check_augmentations(self.augment))
        if self.train_images is not None and (
            not is_int(self.train_images) or self.train_images < 1
        ):
            raise ValueError(
                f"train_images must be a whole number >= 1, or None for every image, "
                f"got {self.train_images!r}"
            )
        if self.max_seconds is not None and (
            not is_number(self.max_seconds) or self.max_seconds <= 0
        ):
            raise ValueError(
                f"max_seconds must be a number > 0, or None for no time limit, "
                f"got {self.max_seconds!r}"
            )

    def identity(self) -> dict[str, Any]:
        """The settings that change what training computes (JSON-ready).

        Threads, device and ``fast_depthwise`` change how fast a trial runs, not what it
        computes (beyond float rounding).
        """
        settings = {
            key: value
            for key, value in dataclasses.asdict(self).items()
            if key not in ("threads", "device", "fast_depthwise", "cuda_bf16", "loader_workers")
        }
        if self.compact_images is None:
            settings.pop("compact_images")  # the default: runs from before it keep theirs
        if self.train_images is None:
            settings.pop("train_images")  # the default: runs from before it keep theirs
        if self.progressive_resizing is None:
            # Runs from before progressive resizing existed keep their identity.
            settings.pop("progressive_resizing")
            settings.pop("progressive_dropout")
        else:
            settings["progressive_resizing"] = list(self.progressive_resizing)
        for key in ADDED_FIELDS:
            if settings[key] == LEGACY_RECIPE[key]:
                settings.pop(key)
        if "augment" in settings:
            settings["augment"] = list(self.augment)
        return settings


class TrainingEvaluator(Evaluator):
    """Trains each candidate from scratch on ``data.train``; accuracy is on ``data.valid``.

    Deterministic for a given seed, config and thread count: the seed fixes the
    initial weights, dropout / stochastic depth masks and the batch order.
    """

    name = "train"
    gives_accuracy = True

    def __init__(self, *, data: DataSplits, config: TrainingConfig = TrainingConfig()) -> None:
        if len(data.train) == 0 or len(data.valid) == 0:
            raise ValueError(
                f"dataset {data.name!r} has {len(data.train)} train and {len(data.valid)} "
                "valid samples: both splits need at least one (raise max_samples)"
            )
        self.data = data
        self.config = config
        if config.train_images is not None:
            fewer_train_images(data, config.train_images)  # a bad count is refused here
        self._check_resizing()
        self.augmentations = resolve_augmentations(
            config.augment, mirror_safe=data.mirror_safe, data_name=data.name
        )

    @property
    def train_split(self) -> Dataset:
        """What each candidate trains on (the identity keeps naming the whole splits).
        Drawn when asked, not kept: a kept copy would be pickled beside ``data`` each time
        the evaluator is sent to a worker."""
        if self.config.train_images is None:
            return self.data.train
        return fewer_train_images(self.data, self.config.train_images).train

    @property
    def planned_epochs(self) -> int:  # type: ignore[override]
        return self.config.epochs

    def identity(self) -> dict[str, Any]:
        return {
            "evaluator": self.name,
            "data": self.data.identity(),
            "training": self.config.identity(),
        }

    def evaluate(
        self,
        spec: NetworkSpec,
        *,
        seed: int,
        progress: ProgressCallback | None = None,
        weights_to: str | os.PathLike[str] | None = None,
    ) -> Evaluation:
        """Train ``spec`` for ``config.epochs`` epochs and return the final valid accuracy.

        ``progress(epoch, accuracy)`` is called after every epoch (epochs count from 1);
        an exception it raises stops training and propagates unchanged.

        Raises:
            ValueError: ``spec`` does not fit the data (channels, classes, resolution).
            TrialError: the training loss became NaN or infinite.
        """
        self._check_fits(spec)
        return self.evaluate_model(
            lambda: build_model(spec),
            name=spec.name,
            seed=seed,
            progress=progress,
            weights_to=weights_to,
        )

    def evaluate_model(
        self,
        build: Callable[[], nn.Module],
        *,
        name: str,
        seed: int,
        progress: ProgressCallback | None = None,
        weights_to: str | os.PathLike[str] | None = None,
    ) -> Evaluation:
        """Train the model ``build()`` makes (any backbone, not only specs), as ``evaluate``.

        The model must take this dataset's images and output one logit per class. With
        ``weights_to``, the trained weights are saved there (safetensors) at the end.
        """
        previous_threads = torch.get_num_threads()
        if self.config.threads is not None:
            torch.set_num_threads(self.config.threads)
        try:
            # fork_rng: seeding for this trial must not reset the caller's global RNG.
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                model = build().to(self.config.device)
                evaluation = self._train(model, name, seed, progress)
                if weights_to is not None:
                    save_weights(model, weights_to)
                return evaluation
        finally:
            torch.set_num_threads(previous_threads)

    def _check_resizing(self) -> None:
        sizes = self.config.progressive_resizing
        if sizes is not None and sizes[1] != self.data.resolution:
            raise ValueError(
                f"progressive resizing ends at {sizes[1]} px but the data is at "
                f"{self.data.resolution} px: the last epoch trains at the size validation "
                f"uses; give {min(sizes[0], self.data.resolution)}:{self.data.resolution}"
            )

    def _check_fits(self, spec: NetworkSpec) -> None:
        for field_name in ("in_channels", "num_classes", "resolution"):
            want = getattr(self.data, field_name)
            have = getattr(spec, field_name)
            if have != want:
                raise ValueError(
                    f"spec {spec.name!r} has {field_name}={have} but dataset "
                    f"{self.data.name!r} has {field_name}={want}: set the spec's "
                    f"{field_name} to {want}"
                )

    def _train(
        self, model: nn.Module, name: str, seed: int, progress: ProgressCallback | None
    ) -> Evaluation:
        config = self.config
        device = torch.device(config.device)
        start = time.perf_counter()
        layout = torch.channels_last if config.channels_last else torch.contiguous_format
        compact = config.compact_images
        if compact is None:
            compact = device.type == "cuda"
        workers = config.loader_workers
        if workers is None:
            workers = 4 if device.type == "cuda" else 0  # on the CPU, trials run side by side
        train_split = self.train_split  # drawn once a training
        source = TrainBatches(
            train_split,
            device,
            layout,
            normalisation=self.data.normalisation,
            compact=compact,
            workers=workers,
        )
        _materialize_lazy(model, source.head(2))
        if config.zero_init_residual:
            zero_init_residual_branches(model)
        if not config.spec_regularization:
            _without_regularization(model)
        if config.fast_depthwise and device.type == "cpu":
            use_fast_depthwise(model)
        model = model.to(memory_format=layout)
        count = source.count
        steps_per_epoch = math.ceil(count / config.batch_size)
        generator = torch.Generator().manual_seed(seed)
        # Its own stream: the batch order stays what the seed gave before augmentation.
        augment_generator = torch.Generator().manual_seed(seed + _AUGMENT_SEED_OFFSET)
        optimizer = make_optimizer(model, config)
        scheduler = make_scheduler(optimizer, config, steps_per_epoch)
        criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        # A loss read back every step would wait for the GPU; on the CPU it costs nothing
        # and names the step that went wrong.
        check_every_step = device.type == "cpu"

        accuracy = math.nan
        mean_loss = math.nan
        loss_sum = 0.0  # over epochs: the training speed estimate (Ru et al. 2021)
        epochs_run = 0
        truncated = False
        dropouts = _dropout_layers(model) if config.progressive_resizing else []
        for epoch in range(1, config.epochs + 1):
            model.train()
            side = self.data.resolution
            if config.progressive_resizing is not None:
                side = _epoch_side(epoch, config, dropouts)
            total_loss = torch.zeros((), device=device)
            order = shuffled_batches(count, config.batch_size, generator)
            batches = source.epoch(order, side, _resized)
            for step, (taken, labels) in enumerate(batches, 1):
                inputs = augment_batch(taken, self.augmentations, augment_generator)
                with mixed_precision(device, config):
                    loss = criterion(model(inputs), labels)
                if check_every_step:
                    _check_finite(loss.item(), name, epoch, step, config)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                total_loss += loss.detach() * len(labels)
            mean_loss = float(total_loss) / count
            _check_finite(mean_loss, name, epoch, None, config)
            loss_sum += mean_loss
            epochs_run = epoch
            elapsed = time.perf_counter() - start
            out_of_time = (
                config.max_seconds is not None
                and elapsed > config.max_seconds
                and epoch < config.epochs
            )
            # Validation costs a recalibration and a pass over the valid split: only when
            # someone reads it (every epoch for early stopping, else the last).
            if progress is not None or out_of_time or epoch == config.epochs:
                recalibrate_batch_norm(model, train_split, device, layout)
                accuracy = accuracy_on(model, self.data.valid, device, layout)
            logger.debug(
                "%s epoch %d/%d: loss %.4f, valid accuracy %.4f (%.1f s)",
                name,
                epoch,
                config.epochs,
                mean_loss,
                accuracy,
                elapsed,
            )
            if progress is not None:
                progress(epoch, accuracy)
            if out_of_time:
                truncated = True
                logger.info(
                    "%s: stopped after epoch %d/%d, %.1f s exceeds max_seconds=%g",
                    name,
                    epoch,
                    config.epochs,
                    elapsed,
                    config.max_seconds,
                )
                break
        return Evaluation(
            accuracy=accuracy,
            metrics={
                "train_loss": mean_loss,
                # TSE: the sum over epochs of the mean training loss; lower ranks higher.
                "tse": loss_sum,
                "epochs": float(epochs_run),
                "train_seconds": time.perf_counter() - start,
                "truncated": 1.0 if truncated else 0.0,
            },
        )


def mixed_precision(device: torch.device, config: TrainingConfig) -> Any:
    """bf16 autocast on CUDA (``config.cuda_bf16``); nothing anywhere else."""
    if device.type == "cuda" and config.cuda_bf16:
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _without_regularization(model: nn.Module) -> None:
    """Dropout and stochastic depth off (validation is in eval mode, where both are off)."""
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
        if isinstance(getattr(module, "drop_connect", None), float):
            module.drop_connect = 0.0


def _dropout_layers(model: nn.Module) -> list[tuple[nn.Dropout, float]]:
    """Each dropout layer with the rate it was built with (the rate of the last epoch)."""
    return [(m, m.p) for m in model.modules() if isinstance(m, nn.Dropout)]


def _epoch_side(
    epoch: int, config: TrainingConfig, dropouts: list[tuple[nn.Dropout, float]]
) -> int:
    """This epoch's image side, with dropout set to this epoch's rate.

    Linear in the epoch from the smallest side (and ``progressive_dropout``) at epoch 1
    to the largest (and each layer's own rate) at the last, as EfficientNetV2 grows both
    over its training stages (Tan and Le 2021, Algorithm 1).
    """
    low, high = config.progressive_resizing or (0, 0)
    share = (epoch - 1) / (config.epochs - 1) if config.epochs > 1 else 1.0
    for layer, final in dropouts:
        layer.p = (
            min(final, config.progressive_dropout)
            + (final - min(final, config.progressive_dropout)) * share
        )
    return round(low + (high - low) * share)


def _resized(images: torch.Tensor, side: int, layout: torch.memory_format) -> torch.Tensor:
    if side == images.shape[-1]:
        return images
    resized = nn.functional.interpolate(
        images, size=(side, side), mode="bilinear", antialias=True, align_corners=False
    )
    return resized.contiguous(memory_format=layout)


def _check_finite(
    loss: float, name: str, epoch: int, step: int | None, config: TrainingConfig
) -> None:
    if not math.isfinite(loss):
        where = f"epoch {epoch} step {step}" if step is not None else f"epoch {epoch}"
        raise TrialError(
            f"training loss became {loss} at {where} of {name!r}; lower the learning rate "
            f"(now {config.learning_rate})"
        )


def _materialize_lazy(model: nn.Module, images: torch.Tensor) -> None:
    """Give a user's lazy layers (``nn.LazyLinear``...) their shapes with one forward pass.

    Their parameters have no shape until then, so neither the memory-format change nor
    the optimizer could take them. Eval mode and no grad: batch-norm statistics and the
    weights the seed gave stay as they are.
    """
    if not any(isinstance(p, nn.parameter.UninitializedParameter) for p in model.parameters()):
        return
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(images)
    model.train(was_training)


def shuffled_batches(count: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """One epoch's index batches, drawn as ``DataLoader(shuffle=True, generator=...)`` draws
    them (a base seed, the permutation, an empty tail permutation), so a seed gives the
    batches it gave when training went through a DataLoader."""
    torch.empty((), dtype=torch.int64).random_(generator=generator)
    order = torch.randperm(count, generator=generator)
    torch.randperm(count, generator=generator)
    return list(order.split(batch_size))


def make_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainingConfig, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """Per-step learning rates: linear warm-up over ``warmup`` of the steps, then a cosine
    from the peak to zero over the rest (without warm-up, torch's CosineAnnealingLR)."""
    total = config.epochs * steps_per_epoch
    if config.warmup == 0:
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total, eta_min=0.0)
    warm = max(1, round(config.warmup * total))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def make_optimizer(model: nn.Module, config: TrainingConfig) -> torch.optim.Optimizer:
    # Decaying batch-norm scales and biases only shrinks them towards zero for no gain.
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.learning_rate, momentum=0.9, nesterov=True)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.learning_rate)
    return torch.optim.RMSprop(groups, lr=config.learning_rate, alpha=0.9, eps=1e-3, momentum=0.9)


def recalibrate_batch_norm(
    model: nn.Module,
    dataset: Dataset,
    device: torch.device | None = None,
    layout: torch.memory_format = torch.channels_last,
    *,
    samples: int = _RECALIBRATION_SAMPLES,
) -> None:
    """Replace batch norm running statistics by averages over the first ``samples`` images.

    With the reference momentum (0.01 per step) the running statistics of a few hundred
    proxy steps still mostly hold their initial values, and eval-mode accuracy stays
    near chance however well the weights have trained. Recomputing them with the current
    weights (as Once-for-All does for sub-networks) makes eval mode match the weights.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    # Everything else in eval mode: stochastic depth must not drop blocks while measuring.
    model.eval()
    momenta = []
    for norm in norms:
        momenta.append(norm.momentum)
        norm.reset_running_stats()
        norm.momentum = None  # None: cumulative average over the batches seen
        norm.train()
    try:
        with torch.no_grad():
            # A batch at a time on the device: a streamed split is never held whole.
            for images, _ in _in_order(dataset, _EVAL_BATCH, limit=samples):
                model(images.to(device).contiguous(memory_format=layout))
    finally:
        for norm, momentum in zip(norms, momenta, strict=True):
            norm.momentum = momentum
        model.eval()


def accuracy_on(
    model: nn.Module,
    dataset: Dataset,
    device: torch.device | None = None,
    layout: torch.memory_format = torch.channels_last,
) -> float:
    """Top-1 accuracy in eval mode (running batch-norm stats, no dropout)."""
    device = device or torch.device("cpu")
    model.eval()
    correct = torch.zeros((), dtype=torch.int64, device=device)
    with torch.no_grad():
        # A batch at a time on the device: the split never has to fit there whole.
        for images, labels in _in_order(dataset, _EVAL_BATCH):
            logits = model(images.to(device).contiguous(memory_format=layout))
            correct += (logits.argmax(dim=1) == labels.to(device)).sum()
    return int(correct) / len(dataset)  # type: ignore[arg-type]


def _in_order(
    dataset: Dataset, size: int, *, limit: int | None = None
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """A split's first ``limit`` (all) (images, labels) in batches of ``size``, in
    order (decoded if streamed)."""
    count = len(dataset) if limit is None else min(limit, len(dataset))  # type: ignore[arg-type]
    if isinstance(dataset, TensorDataset):
        images, labels = dataset.tensors
        for begin in range(0, count, size):
            end = min(begin + size, count)
            yield images[begin:end], labels[begin:end]
        return
    yield from DataLoader(Subset(dataset, range(count)), batch_size=size, shuffle=False)

"""Training a supernet: the sandwich rule (BigNAS, Yu et al. 2020, sec. 3.1), or
uniform single-path sampling (SPOS, Guo et al. 2020).

Sandwich: every step trains the largest network, the smallest and ``random_subnets``
sampled ones on the same batch, and takes one optimizer step on the summed gradients:
the two ends bound every network in between, so each improves at once. With in-place
distillation the largest learns from the labels and every other network from the
largest's predictions on the batch (no separate teacher, no extra pass).

Uniform: every step trains one network drawn uniformly from the space on the labels,
so every choice is trained as often as the space holds it, and no network is favoured
("How to Train Your Super-Net", arXiv 2003.04276, found the fair sampling ranks better).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from nas.data import DataError, DataSplits
from nas.evaluate import (
    TrainingConfig,
    TrialError,
    augment_batch,
    make_optimizer,
    make_scheduler,
    resolve_augmentations,
    shuffled_batches,
)
from nas.supernet._checkpoint import TrainingCheckpoint, random_state, set_random_state
from nas.supernet._supernet import Supernet
from search_spaces import NetworkSpec, is_int

__all__ = [
    "SAMPLINGS",
    "SandwichConfig",
    "SupernetTraining",
    "sandwich_specs",
    "step_specs",
    "train_supernet",
]

SAMPLINGS: tuple[str, ...] = ("sandwich", "uniform")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SandwichConfig:
    """How the supernet trains: the usual schedule, plus the sandwich's own two knobs."""

    training: TrainingConfig = dataclasses.field(default_factory=lambda: TrainingConfig(epochs=10))
    # Sampled networks per step, between the largest and smallest. With 2 and 3 epochs
    # the networks between the ends stay near chance (the strict xfail in
    # tests/nas/supernet/test_sandwich.py); with 4 and 10 epochs they inherit 0.73-0.92
    # on digits (BENCHMARKS.md, "Supernet"), still far below what they reach alone.
    random_subnets: int = 4
    distill: bool = True  # the others learn from the largest's predictions
    # "sandwich", or "uniform": one network drawn uniformly a step, on the labels (its
    # subnet count and distillation mean nothing, and are recorded as 0 and off).
    sampling: str = "sandwich"
    # Few-shot: one supernet per option of this space choice (e.g. "s3_kernel"), each
    # trained for its share of the epochs (nas.supernet.FewShotSupernet). None: one.
    split_by: str | None = None

    def __post_init__(self) -> None:
        if self.split_by is not None and (not isinstance(self.split_by, str) or not self.split_by):
            raise ValueError(
                f"split_by must name a space choice such as 's3_kernel', got {self.split_by!r}"
            )
        if not isinstance(self.training, TrainingConfig):
            raise ValueError(f"training must be a TrainingConfig, got {self.training!r}")
        if not is_int(self.random_subnets) or self.random_subnets < 0:
            raise ValueError(f"random_subnets must be an integer >= 0, got {self.random_subnets!r}")
        if not isinstance(self.distill, bool):
            raise ValueError(f"distill must be True or False, got {self.distill!r}")
        if self.sampling not in SAMPLINGS:
            raise ValueError(
                f"sampling must be one of {', '.join(SAMPLINGS)}, got {self.sampling!r}"
            )
        if self.sampling == "uniform":
            object.__setattr__(self, "random_subnets", 0)
            object.__setattr__(self, "distill", False)
        if self.training.zero_init_residual:
            # A shared block adds its input in some networks and is the only path in others
            # (the first block of a stage, by width): zeroing it would cut those. Recorded
            # as off, so the identity says what was trained.
            object.__setattr__(
                self, "training", dataclasses.replace(self.training, zero_init_residual=False)
            )

    def identity(self) -> dict[str, Any]:
        """What changes the trained weights (JSON-ready)."""
        identity: dict[str, Any] = {
            "training": self.training.identity(),
            "random_subnets": self.random_subnets,
            "distill": self.distill,
        }
        if self.sampling != "sandwich":  # kept out, so that earlier supernets stay theirs
            identity["sampling"] = self.sampling
        if self.split_by is not None:  # likewise
            identity["split_by"] = self.split_by
        return identity


@dataclass(frozen=True)
class SupernetTraining:
    """What training the supernet took."""

    epochs: int
    steps: int
    seconds: float
    final_loss: float  # the largest network's mean loss over the last epoch

    def to_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)


def step_specs(supernet: Supernet, rng: random.Random, config: SandwichConfig) -> list[NetworkSpec]:
    """One step's networks under ``config``'s sampling (the first is the teacher)."""
    if config.sampling == "uniform":
        space = supernet.space
        return [space.decode(space.sample(rng), name="supernet-sampled")]
    return sandwich_specs(supernet, rng, config.random_subnets)


def sandwich_specs(
    supernet: Supernet, rng: random.Random, random_subnets: int
) -> list[NetworkSpec]:
    """One step's networks: largest first (the teacher), smallest, then sampled ones."""
    largest, smallest = supernet.extremes()
    space = supernet.space
    sampled = [
        space.decode(space.sample(rng), name="supernet-sampled") for _ in range(random_subnets)
    ]
    return [largest, smallest, *sampled]


def train_supernet(
    supernet: Supernet,
    data: DataSplits,
    config: SandwichConfig = SandwichConfig(),
    *,
    seed: int = 0,
    progress: Callable[[int, float], None] | None = None,
    checkpoint: TrainingCheckpoint | None = None,
) -> SupernetTraining:
    """Train ``supernet`` in place on ``data.train``; ``progress(epoch, loss)`` per epoch.

    With ``checkpoint``, the training state is saved there after every epoch, and a
    training saved there before goes on from its last epoch to the same weights."""
    schedule = config.training
    previous_threads = torch.get_num_threads()
    if schedule.threads is not None:
        torch.set_num_threads(schedule.threads)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return _train(supernet, data, config, seed, progress, checkpoint)
    finally:
        torch.set_num_threads(previous_threads)


def _train(
    supernet: Supernet,
    data: DataSplits,
    config: SandwichConfig,
    seed: int,
    progress: Callable[[int, float], None] | None,
    checkpoint: TrainingCheckpoint | None,
) -> SupernetTraining:
    schedule = config.training
    started = time.perf_counter()
    layout = torch.channels_last if schedule.channels_last else torch.contiguous_format
    if data.streamed:
        raise DataError(
            f"the supernet trains on {data.name} held in memory, and its splits are over the "
            "memory budget (streamed): lower --max-samples or raise --data-memory-budget"
        )
    images, labels = data.train.tensors  # type: ignore[attr-defined]
    images = images.contiguous(memory_format=layout)
    count = len(labels)
    steps_per_epoch = math.ceil(count / schedule.batch_size)
    generator = torch.Generator().manual_seed(seed)
    rng = random.Random(seed)
    optimizer = make_optimizer(supernet, schedule)
    scheduler = make_scheduler(optimizer, schedule, steps_per_epoch)
    augmentations = resolve_augmentations(
        schedule.augment, mirror_safe=data.mirror_safe, data_name=data.name
    )
    augment_generator = torch.Generator().manual_seed(seed + 7919)
    mean_loss, first_epoch, earlier_seconds = math.nan, 1, 0.0
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None:
        supernet.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        generator.set_state(saved["generator"])
        augment_generator.set_state(saved["augment_generator"])
        torch.set_rng_state(saved["torch_rng"])
        set_random_state(rng, saved["rng"])
        mean_loss, earlier_seconds = saved["loss"], saved["seconds"]
        first_epoch = saved["epoch"] + 1
        logger.info("supernet training resumed after epoch %d", saved["epoch"])
    supernet.train()
    for epoch in range(first_epoch, schedule.epochs + 1):
        total = 0.0
        for batch in shuffled_batches(count, schedule.batch_size, generator):
            x, y = augment_batch(images[batch], augmentations, augment_generator), labels[batch]
            optimizer.zero_grad(set_to_none=True)
            teacher = None
            for position, spec in enumerate(step_specs(supernet, rng, config)):
                logits = supernet(x, spec)
                if position == 0 or not config.distill:
                    loss = F.cross_entropy(logits, y, label_smoothing=schedule.label_smoothing)
                else:
                    loss = -(teacher * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
                if position == 0:
                    teacher = F.softmax(logits.detach(), dim=1)
                    value = loss.item()
                    if not math.isfinite(value):
                        raise TrialError(
                            f"supernet training loss became {value} in epoch {epoch}; lower "
                            f"the learning rate (now {schedule.learning_rate})"
                        )
                    total += value * len(y)
                loss.backward()
            optimizer.step()
            scheduler.step()
        mean_loss = total / count
        logger.info("supernet epoch %d/%d: loss %.4f", epoch, schedule.epochs, mean_loss)
        if checkpoint is not None:
            checkpoint.save(
                epoch=epoch,
                loss=mean_loss,
                seconds=earlier_seconds + time.perf_counter() - started,
                model=supernet.state_dict(),
                optimizer=optimizer.state_dict(),
                scheduler=scheduler.state_dict(),
                generator=generator.get_state(),
                augment_generator=augment_generator.get_state(),
                torch_rng=torch.get_rng_state(),
                rng=random_state(rng),
            )
        if progress is not None:
            progress(epoch, mean_loss)
    return SupernetTraining(
        epochs=schedule.epochs,
        steps=schedule.epochs * steps_per_epoch,
        seconds=round(earlier_seconds + time.perf_counter() - started, 3),
        final_loss=mean_loss,
    )

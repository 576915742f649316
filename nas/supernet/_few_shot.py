"""Few-shot supernets (Zhao et al. 2021, arXiv 2006.06863): one supernet per option of a
single choice, so networks that differ in it share no weights.

``SandwichConfig.split_by`` names the choice (a space parameter such as ``s3_kernel``);
each option gets its own ``Supernet`` over the space with that choice fixed, trained for
its share of the epochs (the whole costs what one supernet did), and a candidate is
scored with the part that holds its option. Less sharing is what raised the paper's
rank correlation; ``benchmarks/supernet_variants.py`` measures it here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from torch import nn

from nas.data import DataSplits
from nas.supernet._checkpoint import TrainingCheckpoint
from nas.supernet._sandwich import SandwichConfig, SupernetTraining, train_supernet
from nas.supernet._supernet import Supernet, SupernetError
from search_spaces import MBConvSpace, NetworkSpec, SpecError

__all__ = ["FewShotSupernet", "check_split", "make_supernet", "train_any_supernet"]


def check_split(space: MBConvSpace, split_by: str) -> tuple[Any, ...]:
    """The options ``split_by`` splits ``space`` into; one line when it cannot."""
    options = space.parameters().get(split_by)
    if options is None:
        choices = ", ".join(k for k, v in space.parameters().items() if len(v) > 1)
        raise SupernetError(
            f"the space has no choice {split_by!r} to split the supernet by; "
            f"choose one of {choices}"
        )
    if len(options) < 2:
        raise SupernetError(
            f"{split_by} has one option in this space ({options[0]!r}): nothing to split by"
        )
    return tuple(options)


class FewShotSupernet(nn.Module):
    """A ``Supernet`` per option of ``split_by``; ``extract`` takes a network from its own."""

    def __init__(self, space: MBConvSpace, split_by: str) -> None:
        super().__init__()
        self.space = space
        self.split_by = split_by
        self.options = check_split(space, split_by)
        self.parts = nn.ModuleList(Supernet(space.fixed(split_by, v)) for v in self.options)

    def part_for(self, spec: NetworkSpec) -> Supernet:
        try:
            option = self.space.encode(spec)[self.split_by]
        except SpecError as error:
            raise SupernetError(f"{spec.name!r} is not a network of this space: {error}") from None
        return self.parts[self.options.index(option)]  # type: ignore[return-value]

    def extract(self, spec: NetworkSpec) -> nn.Module:
        return self.part_for(spec).extract(spec)


def make_supernet(space: MBConvSpace, split_by: str | None = None) -> Supernet | FewShotSupernet:
    """One supernet for ``space``, or a few-shot one split by ``split_by``."""
    return Supernet(space) if split_by is None else FewShotSupernet(space, split_by)


def train_any_supernet(
    supernet: Supernet | FewShotSupernet,
    data: DataSplits,
    config: SandwichConfig,
    *,
    seed: int,
    progress: Callable[[int, float], None] | None = None,
    checkpoint: TrainingCheckpoint | None = None,
) -> SupernetTraining:
    """Train a supernet; a few-shot one part by part, each for its share of the epochs
    (at least one), so that the whole takes about what one supernet would. With
    ``checkpoint``, each part's training resumes where a killed run left it."""
    if isinstance(supernet, Supernet):
        return train_supernet(
            supernet, data, config, seed=seed, progress=progress, checkpoint=checkpoint
        )
    parts = list(supernet.parts)
    share = max(1, round(config.training.epochs / len(parts)))
    each = dataclasses.replace(config, training=dataclasses.replace(config.training, epochs=share))
    runs = [
        train_supernet(
            part,  # type: ignore[arg-type]
            data,
            each,
            seed=seed * 1009 + index,
            progress=progress,
            checkpoint=checkpoint.part(index) if checkpoint is not None else None,
        )
        for index, part in enumerate(parts)
    ]
    return SupernetTraining(
        epochs=share * len(parts),
        steps=sum(r.steps for r in runs),
        seconds=round(sum(r.seconds for r in runs), 3),
        final_loss=sum(r.final_loss for r in runs) / len(runs),
    )

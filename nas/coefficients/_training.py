"""How the coefficient grid trains a candidate: proxy training on data at its resolution.

Candidates differ in resolution (gamma), so each needs the data resized to its own
size; the splits are loaded once per resolution and kept. A backbone fixed to RGB
input (a user's module) gets grayscale images repeated to three channels.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from nas.data import (
    DEFAULT_MEMORY_BUDGET,
    DataError,
    DataSplits,
    fewer_train_images,
    load_data,
)
from nas.evaluate import Evaluation, TrainingConfig, TrainingEvaluator
from nas.models import Backbone, CallableBackbone
from nas.runs import NodeError

__all__ = ["CandidateEvaluator", "CandidateTrainer", "RepeatChannels"]

# evaluate(build, resolution=, name=, seed=) -> Evaluation: trains what build() makes on
# data at that resolution. Runs use CandidateTrainer; tests pass something fast.
CandidateEvaluator = Callable[..., Evaluation]


class RepeatChannels(nn.Module):
    """Grayscale to RGB for backbones that take three channels: (N, 1, R, R) -> (N, c, R, R)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.expand(-1, self.channels, -1, -1)


def _on_ray_node() -> str:
    """'on Ray node ID (host): ' inside a Ray worker, else ''."""
    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return ""
    try:
        context = ray.get_runtime_context()
        if context.worker.mode != ray.WORKER_MODE:
            return ""
        return f"on Ray node {context.get_node_id()} ({socket.gethostname()}): "
    except Exception:  # a Ray without these: the message without the node
        return ""


class CandidateTrainer:
    """Trains each candidate with ``TrainingEvaluator`` on ``dataset`` at its resolution.

    Picklable: Ray sends it to the workers, which load any resolution they lack.
    """

    def __init__(
        self,
        *,
        dataset: str,
        config: TrainingConfig,
        root: str | os.PathLike[str] | None = None,
        max_samples: int | None = None,
        seed: int = 0,
        memory_budget: int | None = DEFAULT_MEMORY_BUDGET,
    ) -> None:
        self.dataset = dataset
        self.memory_budget = memory_budget
        self.config = config
        self.root = root
        self.max_samples = max_samples
        self.seed = seed
        self.image_channels: int | None = None  # set by fit(): what the backbone takes
        self._data: dict[int, DataSplits] = {}

    def data_at(self, resolution: int) -> DataSplits:
        """The splits at ``resolution``, loaded on first use."""
        if resolution not in self._data:
            try:
                self._data[resolution] = load_data(
                    self.dataset,
                    resolution=resolution,
                    root=self.root,
                    max_samples=self.max_samples,
                    seed=self.seed,
                    memory_budget=self.memory_budget,
                )
            except DataError as error:
                # On a cluster each node reads the data itself: say which one lacks it,
                # and stop the run (every trial there would fail the same way).
                node = _on_ray_node()
                if node:
                    raise NodeError(f"{node}{error}") from None
                raise
            if self.config.train_images is not None:  # a count the splits lack fails here
                fewer_train_images(self._data[resolution], self.config.train_images)
        return self._data[resolution]

    def shape_for(self, backbone: Backbone, resolution: int) -> dict[str, int]:
        """``num_classes`` and ``in_channels`` to build ``backbone`` with for this data.

        Loads the data at ``resolution`` (so bad data options fail here, early) and
        notes whether images must be repeated to RGB for this backbone.
        """
        data = self.data_at(resolution)
        # A user's module takes RGB; grayscale data (digits) is repeated to three channels.
        self.image_channels = 3 if isinstance(backbone, CallableBackbone) else data.in_channels
        return {"num_classes": data.num_classes, "in_channels": self.image_channels}

    def identity(self) -> dict[str, Any]:
        """What changes the accuracies: the data and the training (each candidate trains at
        its own resolution, so that is the candidate's, not the trainer's)."""
        data = {
            "name": self.dataset,
            "root": None if self.root is None else str(self.root),
            "max_samples": self.max_samples,
            "seed": self.seed,
        }
        if self.memory_budget != DEFAULT_MEMORY_BUDGET:
            # Where it streams a large folder, it normalises on a sample (DataSplits.identity).
            data["memory_budget"] = self.memory_budget
        return {"evaluator": "train", "data": data, "training": self.config.identity()}

    def __call__(
        self, build: Callable[[], nn.Module], *, resolution: int, name: str, seed: int
    ) -> Evaluation:
        data = self.data_at(resolution)
        evaluator = TrainingEvaluator(data=data, config=self.config)
        repeat = self.image_channels is not None and self.image_channels != data.in_channels
        if repeat:
            channels = self.image_channels
            return evaluator.evaluate_model(
                lambda: nn.Sequential(RepeatChannels(channels), build()), name=name, seed=seed
            )
        return evaluator.evaluate_model(build, name=name, seed=seed)

"""Scoring a candidate by the weights it inherits from a trained supernet.

The candidate's slices are copied into the builder's network, its batch-norm
statistics recomputed on training images (shared statistics fit no single
sub-network; Once-for-All does the same), and its accuracy measured on the
validation split: no training, a fraction of a second at proxy size.

The supernet is trained once per run, in ``prepare``, and saved in the run directory;
a continued run loads it (and refuses one trained under other settings), and a run
killed while training it goes on from its last finished epoch.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from nas.data import DataSplits
from nas.evaluate import (
    Evaluation,
    Evaluator,
    ProgressCallback,
    accuracy_on,
    recalibrate_batch_norm,
)
from nas.supernet._checkpoint import TrainingCheckpoint
from nas.supernet._few_shot import FewShotSupernet, check_split, make_supernet, train_any_supernet
from nas.supernet._sandwich import SandwichConfig, SupernetTraining
from nas.supernet._store import (
    LEGACY_SUPERNET_FILE,
    SUPERNET_FILE,
    load_supernet,
    save_supernet,
)
from nas.supernet._supernet import Supernet, SupernetError, stage_bounds
from search_spaces import MBConvSpace, NetworkSpec, write_text_atomic

__all__ = ["CHECKPOINT_FILE", "SupernetEvaluator"]

CHECKPOINT_FILE = "supernet.checkpoint.pt"  # the training so far; gone once it is saved

logger = logging.getLogger(__name__)


class SupernetEvaluator(Evaluator):
    """Validation accuracy of a candidate with the supernet's weights (deterministic).

    Give ``supernet`` (already trained) or let ``prepare(run_dir)`` train one for
    ``space`` with ``config`` and ``seed``, or load the one a run saved before.
    """

    name = "supernet"
    gives_accuracy = True
    score_label = "supernet accuracy (inherited weights)"
    confirm_top = 3  # inherited weights rank roughly: retrain the best 3 alone

    def __init__(
        self,
        data: DataSplits,
        *,
        space: MBConvSpace | None = None,
        config: SandwichConfig | None = None,
        seed: int = 0,
        supernet: Supernet | FewShotSupernet | None = None,
        threads: int | None = 1,
        calibration_images: int = 512,
        on_epoch: Callable[[int, float], None] | None = None,
    ) -> None:
        if supernet is None and space is None:
            raise ValueError("give a trained supernet, or the space to train one for")
        self.data = data
        self.space = space if space is not None else supernet.space
        stage_bounds(self.space)  # a space no supernet can hold fails here, before any run
        self.config = config or SandwichConfig()
        if self.config.split_by is not None:
            check_split(self.space, self.config.split_by)  # likewise
        self.seed = seed
        self.supernet = supernet.eval() if supernet is not None else None
        self.threads = threads
        self.calibration_images = calibration_images
        self.on_epoch = on_epoch
        self.training: SupernetTraining | None = None

    def identity(self) -> dict[str, Any]:
        return {
            "evaluator": self.name,
            "data": self.data.identity(),
            "supernet": {**self.config.identity(), "seed": self.seed},
            "calibration_images": self.calibration_images,
        }

    def prepare(self, run_dir: Path) -> None:
        """Load the run's supernet, or train it and save it there."""
        if self.supernet is not None:
            return
        path = Path(run_dir) / SUPERNET_FILE
        if not path.exists() and (Path(run_dir) / LEGACY_SUPERNET_FILE).exists():
            path = Path(run_dir) / LEGACY_SUPERNET_FILE  # a run from before safetensors
        # What the weights depend on (not how candidates are scored with them).
        identity = {
            "data": self.data.identity(),
            "supernet": {**self.config.identity(), "seed": self.seed},
            "space": self.space.identity(),
        }
        if path.exists():
            self.supernet = load_supernet(
                path, self.space, identity, split_by=self.config.split_by
            ).eval()
            self.prepared_seconds = _trained_seconds(path.with_suffix(".json"))
            logger.info("supernet loaded from %s", path)
            return
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)  # the initial weights, too, follow the run's seed
            supernet = make_supernet(self.space, self.config.split_by)
        # Saved after every epoch: a killed run goes on from its last one.
        checkpoint = TrainingCheckpoint(Path(run_dir) / CHECKPOINT_FILE, identity)
        self.training = train_any_supernet(
            supernet,
            self.data,
            self.config,
            seed=self.seed,
            progress=self.on_epoch,
            checkpoint=checkpoint,
        )
        save_supernet(supernet, path, identity)
        # How it was trained, for people and for reports of continued runs.
        write_text_atomic(
            path.with_suffix(".json"), json.dumps(self.training.to_dict(), indent=2) + "\n"
        )
        self.prepared_seconds = self.training.seconds
        self.supernet = supernet.eval()
        checkpoint.remove()
        for index in range(len(getattr(supernet, "parts", ()))):
            checkpoint.part(index).remove()

    def evaluate(
        self, spec: NetworkSpec, *, seed: int, progress: ProgressCallback | None = None
    ) -> Evaluation:
        if self.supernet is None:
            raise SupernetError("the supernet is not trained yet: call prepare(run_dir) first")
        started = time.perf_counter()
        previous = torch.get_num_threads()
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        try:
            model = self.supernet.extract(spec).to(memory_format=torch.channels_last)
            recalibrate_batch_norm(model, self.data.train, samples=self.calibration_images)
            accuracy = accuracy_on(model, self.data.valid)
        finally:
            torch.set_num_threads(previous)
        return Evaluation(
            accuracy=accuracy, metrics={"eval_seconds": time.perf_counter() - started}
        )

    def __getstate__(self) -> dict[str, Any]:
        # Ray sends the evaluator to its workers: the trained weights go, the callback stays.
        return {**self.__dict__, "on_epoch": None}


def _trained_seconds(path: Path) -> float | None:
    try:
        return float(json.loads(path.read_text(encoding="utf-8"))["seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # the record is informative only; the weights were checked

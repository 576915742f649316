"""Training the curve points: every point, every seed, as one resumable study."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from nas.coefficients import (
    Candidate,
    CandidateEvaluator,
    CoefficientTask,
    Unmatched,
    candidate_trials,
)
from nas.curves._points import CurvesConfig
from nas.models import Backbone
from nas.runs import RayOptions, Reused, run_seeded_trials

__all__ = ["STUDY_NAME", "run_scaling_curves"]

STUDY_NAME = "cnas-scaling-curves"


def run_scaling_curves(
    *,
    backbone: Backbone,
    points: Sequence[Candidate],
    evaluate: CandidateEvaluator,
    config: CurvesConfig,
    run_dir: str | os.PathLike[str],
    num_classes: int,
    in_channels: int,
    storage: str | None = None,
    ray: RayOptions | None = None,
    identity_extra: Mapping[str, Any] | None = None,
    on_trial: Callable[[optuna.Study, FrozenTrial], None] | None = None,
    on_round: Callable[[int, int], None] | None = None,
    unmatched: Sequence[Unmatched] = (),
    reuse: Mapping[str, Reused] | None = None,
) -> optuna.Study:
    """Train every point with ``config.seeds`` seeds (continuing a stored run).

    Seed index s trains every point with the same torch seed, so each phi's points are
    compared seed by seed. The run directory records the config, the points as built,
    the backbone and the evaluator's identity; a different run there is refused.
    ``reuse``: finished trials of other runs (``nas.runs.read_reusable``) taken as they are
    where they trained the same network on the same data, training and seed.
    """
    task = CoefficientTask(
        backbone=backbone,
        candidates=points,
        evaluate=evaluate,
        seeds=config.seeds,
        seed=config.seed,
        num_classes=num_classes,
        in_channels=in_channels,
    )
    trials = candidate_trials(
        task,
        study_name=STUDY_NAME,
        identity={"curves": config.identity(), **(identity_extra or {})},
        attributes={"kind": "scaling-curves"},
        keep=1.0,
        unmatched=unmatched,
    )
    return run_seeded_trials(
        task, trials, run_dir=run_dir, storage=storage, ray=ray, on_trial=on_trial,
        on_round=on_round, reuse=reuse,
    )  # fmt: skip

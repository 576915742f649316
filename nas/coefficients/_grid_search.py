"""Grid search of compound coefficients (alpha, beta, gamma) for any backbone.

EfficientNet's step 1 (arXiv 1905.11946, sec. 3.3): fix phi = 1, scale the
backbone by depth alpha, width beta and resolution gamma for every candidate
with alpha * beta^2 * gamma^2 ~= 2, evaluate each, keep the best. The grid
runs as an Optuna study with a GridSampler in the run directory, so it
resumes after a kill and several processes can share it. The unscaled
backbone and the paper's single-dimension baselines (depth, width or
resolution alone, at the same nominal FLOP budget) run beside the grid.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from nas.coefficients._training import CandidateEvaluator
from nas.evaluate import TrialError
from nas.models import Backbone
from nas.runs import (
    Outcome,
    RayOptions,
    Reporter,
    StudyTask,
    finished_count,
    open_study,
    run_trials,
)
from scaling import (
    CompoundCoefficients,
    coefficient_grid,
    filter_by_actual_ratio,
    single_dimension_baselines,
)
from search_spaces import InputError, is_int, round_resolution

__all__ = [
    "STUDY_NAME",
    "Candidate",
    "CoefficientConfig",
    "build_candidates",
    "run_coefficient_search",
]

logger = logging.getLogger(__name__)

STUDY_NAME = "cnas-coefficients"


@dataclass(frozen=True)
class CoefficientConfig:
    step: float = 0.05  # grid spacing of alpha, beta and gamma
    low: float = 1.0
    high: float = 2.0
    base: float = 2.0  # alpha * beta^2 * gamma^2 should be about this
    tolerance: float = 0.1  # how far from base a candidate may be
    filter_actual: bool = False  # apply the tolerance to the FLOP ratio after rounding instead
    resolution: int = 224  # the backbone's input size at phi = 0
    # Proxy resolutions are small (16-32 px), where multiples of 4 would swamp gamma.
    resolution_divisor: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        if not is_int(self.resolution) or self.resolution < 1:
            raise InputError(f"resolution must be a whole number >= 1, got {self.resolution!r}")

    def identity(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.__dataclass_fields__}


@dataclass(frozen=True)
class Candidate:
    kind: str  # "base", "compound", or a single dimension: "depth", "width", "resolution"
    coefficients: CompoundCoefficients
    resolution: int

    @property
    def label(self) -> str:
        c = self.coefficients
        return f"{self.kind}({c.alpha:g},{c.beta:g},{c.gamma:g})"


def _candidate(
    kind: str, coefficients: CompoundCoefficients, config: CoefficientConfig
) -> Candidate:
    resolution = round_resolution(config.resolution * coefficients.gamma, config.resolution_divisor)
    return Candidate(kind, coefficients, resolution)


def build_candidates(
    config: CoefficientConfig, actual_ratio: Callable[[Candidate], float]
) -> tuple[Candidate, ...]:
    """The unscaled backbone, the single-dimension baselines, then the grid."""
    grid = coefficient_grid(
        step=config.step,
        low=config.low,
        high=config.high,
        base=config.base,
        tolerance=config.tolerance,
    )
    if config.filter_actual:
        grid = filter_by_actual_ratio(
            grid,
            lambda c: actual_ratio(_candidate("compound", c, config)),
            base=config.base,
            tolerance=config.tolerance,
        )
    extra = [_candidate("base", CompoundCoefficients(1.0, 1.0, 1.0), config)]
    extra += [
        _candidate(kind, c, config) for kind, c in single_dimension_baselines(config.base).items()
    ]
    return (*extra, *(_candidate("compound", c, config) for c in grid))


@dataclass(frozen=True)
class CandidateJob:
    index: int
    seed: int


class _CandidateExecutor:
    """Trains one candidate; picklable (backbone, candidates, evaluate), no study."""

    def __init__(
        self,
        backbone: Backbone,
        candidates: Sequence[Candidate],
        evaluate: CandidateEvaluator,
        shape: Mapping[str, int],
    ) -> None:
        self.backbone = backbone
        self.candidates = tuple(candidates)
        self.evaluate = evaluate
        self.shape = dict(shape)

    def __call__(self, job: CandidateJob, report: Reporter) -> Outcome:
        candidate = self.candidates[job.index]
        c = candidate.coefficients
        evaluation = self.evaluate(
            lambda: self.backbone.build(width_mult=c.beta, depth_mult=c.alpha, **self.shape),
            resolution=candidate.resolution,
            name=f"{self.backbone.name}-{candidate.label}",
            seed=job.seed,
        )
        accuracy = float(evaluation.accuracy)
        if not math.isfinite(accuracy):
            raise TrialError(f"the evaluator returned a non-finite accuracy {accuracy}")
        metrics = {k: float(v) for k, v in dict(getattr(evaluation, "metrics", {})).items()}
        return Outcome(accuracy=accuracy, score=accuracy, metrics=metrics)


class CoefficientTask(StudyTask):
    """One grid point: scale the backbone, count it, train it, record it."""

    n_params = 1

    def __init__(
        self,
        *,
        backbone: Backbone,
        candidates: Sequence[Candidate],
        evaluate: CandidateEvaluator,
        config: CoefficientConfig,
        num_classes: int,
        in_channels: int,
    ) -> None:
        self.backbone = backbone
        self.candidates = candidates
        self.config = config
        self.shape = {"num_classes": num_classes, "in_channels": in_channels}
        self.base_flops = self.flops(candidates[0])
        self._execute = _CandidateExecutor(backbone, candidates, evaluate, self.shape)
        self._started: dict[int, float] = {}

    @property
    def execute(self) -> _CandidateExecutor:
        return self._execute

    def flops(self, candidate: Candidate) -> int:
        c = candidate.coefficients
        return self.backbone.flops(
            width_mult=c.beta, depth_mult=c.alpha, resolution=candidate.resolution, **self.shape
        )

    def prepare(self, trial: optuna.Trial) -> CandidateJob:
        self._started[trial.number] = time.perf_counter()
        index = trial.suggest_categorical("candidate", list(range(len(self.candidates))))
        candidate = self.candidates[index]
        c = candidate.coefficients
        flops = self.flops(candidate)
        trial.set_user_attr("kind", candidate.kind)
        for key, value in (("alpha", c.alpha), ("beta", c.beta), ("gamma", c.gamma)):
            trial.set_user_attr(key, value)
        trial.set_user_attr("resolution", candidate.resolution)
        trial.set_user_attr("flops", flops)
        trial.set_user_attr(
            "params", self.backbone.params(width_mult=c.beta, depth_mult=c.alpha, **self.shape)
        )
        trial.set_user_attr("nominal_ratio", c.flops_base)
        trial.set_user_attr("actual_ratio", flops / self.base_flops)
        return CandidateJob(index=index, seed=self.config.seed * 100_003 + index)

    def finish(self, trial: optuna.Trial, job: CandidateJob, outcome: Outcome) -> float:
        started = self._started.pop(trial.number, time.perf_counter())
        trial.set_user_attr("duration_s", round(time.perf_counter() - started, 3))
        trial.set_user_attr("accuracy", outcome.accuracy)
        return float(outcome.accuracy if outcome.accuracy is not None else math.nan)


class _GridSampler(optuna.samplers.GridSampler):
    # Optuna's grid sampler stops the study once every point ran; the runners stop at
    # the budget themselves, and study.stop() cannot be called outside optimize (Ray).
    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        return None


def _evaluator_identity(evaluate: CandidateEvaluator) -> dict[str, Any]:
    identity = getattr(evaluate, "identity", None)
    return dict(identity()) if callable(identity) else {}


def run_coefficient_search(
    *,
    backbone: Backbone,
    candidates: Sequence[Candidate],
    evaluate: CandidateEvaluator,
    config: CoefficientConfig,
    run_dir: str | os.PathLike[str],
    num_classes: int,
    in_channels: int,
    storage: str | None = None,
    ray: RayOptions | None = None,
    identity_extra: Mapping[str, Any] | None = None,
    on_trial: Callable[[optuna.Study, FrozenTrial], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> optuna.Study:
    """Evaluate every candidate once (continuing a stored grid), here or on Ray Tune.

    The run directory records what makes the grid (``config``), the backbone and the
    evaluator's ``identity()`` where it has one (``CandidateTrainer``: data and
    training), plus ``identity_extra``; continuing with any of them changed is refused.
    """
    identity = {
        **config.identity(),
        **backbone.identity(),
        **_evaluator_identity(evaluate),
        **(identity_extra or {}),
    }
    with open_study(
        run_dir,
        identity,
        study_name=STUDY_NAME,
        storage=storage,
        directions=["maximize"],
        n_params=1,
    ) as (_, opened):
        grid = {"candidate": list(range(len(candidates)))}
        study = optuna.load_study(
            study_name=STUDY_NAME, storage=opened, sampler=_GridSampler(grid, seed=config.seed)
        )
        task = CoefficientTask(
            backbone=backbone,
            candidates=candidates,
            evaluate=evaluate,
            config=config,
            num_classes=num_classes,
            in_channels=in_channels,
        )
        if on_start is not None:
            on_start(finished_count(study))
        run_trials(study, task, storage=opened, budget=len(candidates), ray=ray, on_trial=on_trial)
    return study

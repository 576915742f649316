"""Grid search of compound coefficients (alpha, beta, gamma) for any backbone.

EfficientNet's step 1 (arXiv 1905.11946, sec. 3.3): fix phi = 1, scale the backbone
by depth alpha, width beta and resolution gamma for every candidate with
alpha * beta^2 * gamma^2 ~= 2, evaluate each, keep the best. Here each candidate is
first matched to equal real FLOPs (``nas.coefficients._candidates``), and seeds are
spent where they tell: every candidate trains once, the best fraction again with a new
seed, until the finalists have ``seeds`` seeds (``_halving``); the references (the
unscaled backbone, depth, width or resolution alone) train every seed, so the winner
is compared with each seed by seed. Each (candidate, seed) is one trial of an Optuna
study in the run directory, so the grid resumes after a kill without repeating a
finished seed, and several processes or a Ray cluster can share it.
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

from nas.coefficients._candidates import Candidate, Unmatched, network_key
from nas.coefficients._training import CandidateEvaluator
from nas.evaluate import TrialError
from nas.models import Backbone
from nas.runs import (
    RESULT_KEY,
    Outcome,
    RayOptions,
    Reporter,
    Reused,
    SeededTask,
    SeededTrials,
    job_seed,
    result_key,
    run_seeded_trials,
)
from search_spaces import InputError, is_int, is_number

__all__ = [
    "MATCH_MODES",
    "STUDY_NAME",
    "CoefficientConfig",
    "CoefficientTask",
    "candidate_trials",
    "run_coefficient_search",
]

logger = logging.getLogger(__name__)

STUDY_NAME = "cnas-coefficients"


MATCH_MODES = ("actual", "nominal")


@dataclass(frozen=True)
class CoefficientConfig:
    step: float = 0.05  # grid spacing of alpha, beta and gamma
    low: float = 1.0
    high: float = 2.0
    base: float = 2.0  # alpha * beta^2 * gamma^2 should be about this
    tolerance: float = 0.1  # how far from base a candidate's nominal product may be
    # "actual": every candidate's counted FLOPs within match_tolerance of base x the
    # backbone's; "nominal": scaled as the paper writes it (filter_actual may then drop
    # candidates whose real ratio is further than tolerance from base).
    match: str = "actual"
    match_tolerance: float = 0.03
    filter_actual: bool = False
    resolution: int = 224  # the backbone's input size at phi = 0
    # Proxy resolutions are small (16-32 px), where multiples of 4 would swamp gamma.
    resolution_divisor: int = 1
    seeds: int = 3  # seeds each finalist (and every reference) trains with
    keep: float = 0.5  # fraction of a round's grid candidates that train the next seed
    seed: int = 0

    def __post_init__(self) -> None:
        if not is_int(self.resolution) or self.resolution < 1:
            raise InputError(f"resolution must be a whole number >= 1, got {self.resolution!r}")
        if self.match not in MATCH_MODES:
            raise InputError(f"match must be one of {', '.join(MATCH_MODES)}, got {self.match!r}")
        if not is_number(self.match_tolerance) or not 0 < self.match_tolerance < 1:
            raise InputError(
                f"match tolerance must be a fraction in (0, 1) such as 0.03, "
                f"got {self.match_tolerance!r}"
            )
        if not is_int(self.seeds) or self.seeds < 1:
            raise InputError(f"seeds must be a whole number >= 1, got {self.seeds!r}")
        if not is_number(self.keep) or not 0 < self.keep <= 1:
            raise InputError(f"keep must be a fraction in (0, 1] such as 0.5, got {self.keep!r}")

    def identity(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.__dataclass_fields__}


@dataclass(frozen=True)
class CandidateJob:
    index: int
    seed: int  # the torch seed: the same for every candidate at one seed index


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
        arguments = {**candidate.build_arguments(), **self.shape}
        evaluation = self.evaluate(
            lambda: self.backbone.build(**arguments),
            resolution=candidate.resolution,
            name=f"{self.backbone.name}-{candidate.label}",
            seed=job.seed,
        )
        accuracy = float(evaluation.accuracy)
        if not math.isfinite(accuracy):
            raise TrialError(f"the evaluator returned a non-finite accuracy {accuracy}")
        metrics = {k: float(v) for k, v in dict(getattr(evaluation, "metrics", {})).items()}
        return Outcome(accuracy=accuracy, score=accuracy, metrics=metrics)


class CoefficientTask(SeededTask):
    """One (candidate, seed): count it, train it, record it. Compound candidates are the
    grid that halving narrows; every other kind is a reference and trains every seed."""

    def __init__(
        self,
        *,
        backbone: Backbone,
        candidates: Sequence[Candidate],
        evaluate: CandidateEvaluator,
        seeds: int,
        seed: int,
        num_classes: int,
        in_channels: int,
    ) -> None:
        self.backbone = backbone
        self.candidates = candidates
        self.seeds = seeds
        self.seed = seed
        self.shape = {"num_classes": num_classes, "in_channels": in_channels}
        self._flops: dict[Candidate, int] = {}
        self.base_flops = self.flops(candidates[0])
        self._execute = _CandidateExecutor(backbone, candidates, evaluate, self.shape)
        self._started: dict[int, float] = {}

    @property
    def execute(self) -> _CandidateExecutor:
        return self._execute

    @property
    def items(self) -> int:
        return len(self.candidates)

    @property
    def halved(self) -> set[int]:
        return {i for i, c in enumerate(self.candidates) if c.kind == "compound"}

    def tie_break(self, item: int) -> float:
        return float(self.flops(self.candidates[item]))

    def identity(self) -> dict[str, Any]:
        """What the run directory records of the task: the backbone, the networks as built
        (a change to matching is a different run) and the evaluator's identity."""
        identity = getattr(self._execute.evaluate, "identity", None)
        return {
            **self.backbone.identity(),
            "candidates": [
                [c.label, c.resolution, c.depth_mult, c.width_mult, c.repeats]
                for c in self.candidates
            ],
            **(dict(identity()) if callable(identity) else {}),
        }

    def flops(self, candidate: Candidate) -> int:
        # Asked for every trial and every ranking of a round; fvcore takes ~0.2 s a count.
        if candidate not in self._flops:
            self._flops[candidate] = self.backbone.flops(
                **candidate.build_arguments(), resolution=candidate.resolution, **self.shape
            )
        return self._flops[candidate]

    def describe(self, item: int) -> dict[str, Any]:
        candidate = self.candidates[item]
        c = candidate.coefficients
        flops = self.flops(candidate)
        return {
            "kind": candidate.kind,
            "label": candidate.label,
            "phi": candidate.phi,
            "alpha": c.alpha,
            "beta": c.beta,
            "gamma": c.gamma,
            "depth_mult": candidate.depth_mult,
            "width_mult": candidate.width_mult,
            "repeats": list(candidate.repeats) if candidate.repeats else None,
            "also": list(candidate.also),
            "resolution": candidate.resolution,
            "flops": flops,
            "params": self.backbone.params(**candidate.build_arguments(), **self.shape),
            "nominal_ratio": c.flops_base,
            "actual_ratio": flops / self.base_flops,
        }

    def result_key(self, item: int, seed_index: int) -> str | None:
        """The network as built, the evaluator's identity (data and training) and the
        torch seed; None when the evaluator has no identity (nothing says what it did)."""
        identity = getattr(self._execute.evaluate, "identity", None)
        if not callable(identity):
            return None
        candidate = self.candidates[item]
        return result_key(
            {
                "network": network_key(self.backbone, candidate, self.shape),
                "evaluator": identity(),
                "torch_seed": job_seed(self.seed, seed_index),
            }
        )

    def prepare(self, trial: optuna.Trial) -> CandidateJob:
        self._started[trial.number] = time.perf_counter()
        # Every trial is enqueued with both (the halving decides which).
        index, seed_index = self.suggest_pair(trial, self.seeds)
        for key, value in self.describe(index).items():
            trial.set_user_attr(key, value)
        key = self.result_key(index, seed_index)
        if key is not None:
            trial.set_user_attr(RESULT_KEY, key)
        return CandidateJob(index=index, seed=job_seed(self.seed, seed_index))

    def finish(self, trial: optuna.Trial, job: CandidateJob, outcome: Outcome) -> float:
        started = self._started.pop(trial.number, time.perf_counter())
        trial.set_user_attr("duration_s", round(time.perf_counter() - started, 3))
        trial.set_user_attr("accuracy", outcome.accuracy)
        return float(outcome.accuracy if outcome.accuracy is not None else math.nan)


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
    on_round: Callable[[int, int], None] | None = None,
    unmatched: Sequence[Unmatched] = (),
    reuse: Mapping[str, Reused] | None = None,
) -> optuna.Study:
    """Train the candidates over seeds by successive halving (continuing a stored grid).

    The run directory records what makes the grid (``config``, the candidates as built),
    the backbone and the evaluator's ``identity()`` where it has one
    (``CandidateTrainer``: data and training), plus ``identity_extra``; continuing with
    any of them changed is refused. ``on_round(seed_index, pairs)`` is told when a
    round starts; ``on_start(finished)`` how many trials a continued grid already has.
    ``reuse`` (``nas.runs.read_reusable``): trials of other runs that trained the same
    network on the same data with the same training and seed, taken instead of training.
    """
    task = CoefficientTask(
        backbone=backbone,
        candidates=candidates,
        evaluate=evaluate,
        seeds=config.seeds,
        seed=config.seed,
        num_classes=num_classes,
        in_channels=in_channels,
    )
    trials = candidate_trials(
        task,
        study_name=STUDY_NAME,
        identity={**config.identity(), **(identity_extra or {})},
        attributes={"match": config.match},
        keep=config.keep,
        unmatched=unmatched,
    )
    return run_seeded_trials(
        task,
        trials,
        run_dir=run_dir,
        storage=storage,
        ray=ray,
        on_trial=on_trial,
        on_start=on_start,
        on_round=on_round,
        reuse=reuse,
    )


def candidate_trials(
    task: CoefficientTask,
    *,
    study_name: str,
    identity: Mapping[str, Any],
    attributes: Mapping[str, Any],
    keep: float,
    unmatched: Sequence[Unmatched] = (),
) -> SeededTrials:
    """The seeded run of ``task``'s candidates: the run's own identity with the task's,
    and the candidates that could not be matched among the study's attributes."""
    return SeededTrials(
        study_name=study_name,
        seeds=task.seeds,
        keep=keep,
        seed=task.seed,
        identity={**identity, **task.identity()},
        attributes={
            **attributes,
            "unmatched": [
                {"label": u.label, "kind": u.kind, "reason": u.reason} for u in unmatched
            ],
        },
    )

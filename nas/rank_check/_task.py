"""Rank check: do cheap scores rank networks the way real training does?

N networks are sampled from a search space; each is trained stand-alone at a
reference budget (long enough that accuracy reflects the architecture) and scored by
every cheap evaluator: the short proxy training a search uses, zero-cost proxies, and
its FLOPs and parameters. Kendall's tau and Spearman's rho of each against the
reference accuracy (``nas.rank_check._metrics``) say which score a search can trust.
It runs as an Optuna study over the network indices (a grid), so a killed check
resumes and ``--backend ray`` trains several networks at once.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from nas.evaluate import Evaluator, TrialError
from nas.runs import (
    Outcome,
    RayOptions,
    Reporter,
    StudyTask,
    finished_count,
    open_study,
    run_trials,
)
from search_spaces import InputError, MBConvSpace, NetworkSpec, count_flops, count_params, is_int

__all__ = [
    "ANALYTIC",
    "DERIVED",
    "LOWER_IS_BETTER",
    "REFERENCE_RUN",
    "STUDY_NAME",
    "RankCheckConfig",
    "reference_seeds",
    "run_rank_check",
]

STUDY_NAME = "cnas-rank-check"
ANALYTIC = ("flops", "params")  # scores every network has without evaluating anything
# Scores read off the short proxy training's own run: TSE, the sum over its epochs of the
# mean training loss (Ru et al. 2021, arXiv 2006.04492), free once the proxy has trained.
DERIVED = {"tse": ("proxy", "tse")}  # score -> (scorer, metric of its evaluation)
LOWER_IS_BETTER = frozenset({"tse"})  # a lower loss sum ranks a network higher
REFERENCE_RUN = "reference_run"  # reference_run0, reference_run1...: one per reference seed


@dataclass(frozen=True)
class RankCheckConfig:
    networks: int = 30  # distinct networks sampled from the space
    seed: int = 0  # picks the networks and seeds every evaluation
    # Reference trainings per network, each from its own seed; the reference accuracy is
    # their mean. With two or more the report says how well one reference run ranks like
    # another (the ceiling no cheap score can beat at this budget).
    reference_seeds: int = 1

    def __post_init__(self) -> None:
        if not is_int(self.reference_seeds) or self.reference_seeds < 1:
            raise InputError(
                f"reference_seeds must be a whole number >= 1, got {self.reference_seeds!r}"
            )
        if not is_int(self.networks) or self.networks < 3:
            raise InputError(
                f"networks must be a whole number >= 3 (a rank correlation needs three), "
                f"got {self.networks!r}"
            )
        if not is_int(self.seed):
            raise InputError(f"seed must be a whole number, got {self.seed!r}")


@dataclass(frozen=True)
class _Job:
    index: int
    seed: int


class _Executor:
    """Trains one network at the reference budget and scores it cheaply; picklable."""

    def __init__(
        self,
        networks: tuple[NetworkSpec, ...],
        reference: Evaluator,
        scorers: Mapping[str, Evaluator],
        seeds: int = 1,
    ) -> None:
        self.networks = networks
        self.reference = reference
        self.scorers = dict(scorers)
        self.seeds = seeds

    def __call__(self, job: _Job, report: Reporter) -> Outcome:
        spec = self.networks[job.index]
        metrics: dict[str, float] = {}
        for name, scorer in self.scorers.items():
            started = time.perf_counter()
            try:
                evaluation = scorer.evaluate(spec, seed=job.seed)
                metrics[name] = float(evaluation.accuracy)
            except TrialError:
                evaluation = None
                metrics[name] = math.nan  # a score that fails ranks nothing; training still does
            for derived, (source, metric) in DERIVED.items():
                if source == name:
                    found = None if evaluation is None else evaluation.metrics.get(metric)
                    metrics[derived] = math.nan if found is None else float(found)
            metrics[f"{name}_seconds"] = time.perf_counter() - started
        started = time.perf_counter()
        runs = [
            float(self.reference.evaluate(spec, seed=seed).accuracy)
            for seed in reference_seeds(job.seed, self.seeds)
        ]
        metrics["reference_seconds"] = time.perf_counter() - started
        if len(runs) > 1:
            metrics.update({f"{REFERENCE_RUN}{k}": acc for k, acc in enumerate(runs)})
        accuracy = sum(runs) / len(runs)
        return Outcome(accuracy=accuracy, score=accuracy, metrics=metrics)


def reference_seeds(seed: int, count: int) -> list[int]:
    """The seeds of a network's reference runs: the first is the network's own seed, so a
    check with one reference seed trains what it always did."""
    return [seed + 7919 * k for k in range(count)]


class _RankCheckTask(StudyTask):
    n_params = 1

    def __init__(self, networks: tuple[NetworkSpec, ...], executor: _Executor, seed: int) -> None:
        self.networks = networks
        self.seed = seed
        self._execute = executor
        self._started: dict[int, float] = {}

    @property
    def execute(self) -> _Executor:
        return self._execute

    def prepare(self, trial: optuna.Trial) -> _Job:
        self._started[trial.number] = time.perf_counter()
        # An int, not a categorical: a check continued with more networks widens the range.
        index = trial.suggest_int("network", 0, len(self.networks) - 1)
        spec = self.networks[index]
        trial.set_user_attr("spec", spec.to_dict())
        trial.set_user_attr("fingerprint", spec.fingerprint())
        trial.set_user_attr("flops", count_flops(spec))
        trial.set_user_attr("params", count_params(spec))
        return _Job(index=index, seed=self.seed * 100_003 + index)

    def finish(self, trial: optuna.Trial, job: _Job, outcome: Outcome) -> float:
        started = self._started.pop(trial.number, time.perf_counter())
        trial.set_user_attr("duration_s", round(time.perf_counter() - started, 3))
        trial.set_user_attr("reference_accuracy", outcome.accuracy)
        trial.set_user_attr("scores", dict(outcome.metrics))
        return float(outcome.accuracy if outcome.accuracy is not None else math.nan)


class _Grid(optuna.samplers.GridSampler):
    # The runners stop at the budget; Optuna's own stop cannot be called outside optimize.
    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        return None


def run_rank_check(
    *,
    space: MBConvSpace,
    reference: Evaluator,
    scorers: Mapping[str, Evaluator],
    config: RankCheckConfig,
    run_dir: str | os.PathLike[str],
    storage: str | None = None,
    ray: RayOptions | None = None,
    on_trial: Callable[[optuna.Study, FrozenTrial], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> optuna.Study:
    """Train and score ``config.networks`` networks of ``space`` (continuing a stored check).

    ``reference`` trains each at the reference budget; every ``scorers`` entry (the short
    proxy training, zero-cost proxies) scores it; FLOPs and parameters are counted. The
    run directory records the config, the space and every evaluator's identity.
    """
    reserved = {
        name
        for name in scorers
        if name in ("reference", *ANALYTIC, *DERIVED) or name.startswith(REFERENCE_RUN)
    }
    if reserved:
        raise InputError(f"scorer name(s) {', '.join(sorted(reserved))} are taken; rename them")
    networks = space.sample_distinct(config.networks, config.seed)
    # Asking for more networks continues a check: the first N of a seed's sample stay the same.
    identity = {
        "seed": config.seed,
        "reference_seeds": config.reference_seeds,
        **space.identity(),
        "reference": reference.identity(),
        "scorers": {name: scorer.identity() for name, scorer in scorers.items()},
    }
    with open_study(
        run_dir,
        identity,
        study_name=STUDY_NAME,
        storage=storage,
        directions=["maximize"],
        n_params=1,
    ) as (_, opened):
        grid = {"network": list(range(len(networks)))}
        study = optuna.load_study(
            study_name=STUDY_NAME, storage=opened, sampler=_Grid(grid, seed=config.seed)
        )
        study.set_user_attr("scorers", {name: s.score_label for name, s in scorers.items()})
        # A scorer that shares work across networks (a supernet) does it once, here.
        for name, scorer in scorers.items():
            scorer.prepare(Path(run_dir))
            if scorer.prepared_seconds is not None:
                study.set_user_attr(f"prepared_seconds:{name}", scorer.prepared_seconds)
        study.set_user_attr("reference_seeds", config.reference_seeds)
        executor = _Executor(networks, reference, scorers, config.reference_seeds)
        task = _RankCheckTask(networks, executor, config.seed)
        if on_start is not None:
            on_start(finished_count(study))
        run_trials(study, task, storage=opened, budget=len(networks), ray=ray, on_trial=on_trial)
    return study

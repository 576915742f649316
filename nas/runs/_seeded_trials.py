"""Items x seeds as one resumable study: the engine the coefficient grid and the scaling
curves share.

Each trial trains one item (a grid candidate, a curve point) with one seed index; every
item of a seed index trains with the same torch seed (``job_seed``), so two items are
compared seed by seed. Round r trains seed r of the survivors of successive halving
(``_halving``); with ``keep`` = 1 every item trains every seed. Which (item, seed)
pairs a round needs follows from the study, so a killed run continues where it stopped.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.distributions import IntDistribution
from optuna.trial import FrozenTrial, TrialState

from nas.runs._halving import next_round
from nas.runs._ray_runner import RayOptions
from nas.runs._reuse import RESULT_KEY, Reused
from nas.runs._run_trials import run_trials
from nas.runs._runner import StudyTask
from nas.runs._storage import open_study
from nas.runs._trials import finished_count, interrupted_numbers, is_surplus, quiet_optuna

__all__ = [
    "ITEM_PARAM",
    "SEED_PARAM",
    "SeededTask",
    "SeededTrials",
    "job_seed",
    "run_seeded_trials",
    "seed_results",
]

# The two parameters of every trial; stored studies name them so, keep them.
ITEM_PARAM, SEED_PARAM = "candidate", "seed"


def job_seed(config_seed: int, seed_index: int) -> int:
    """Seed index -> torch seed. Every item shares it (the same batch order), so a
    difference between two items on one seed is theirs, not the batches'."""
    return config_seed * 100_003 + 7919 * seed_index


@dataclass(frozen=True)
class SeededTrials:
    """What a seeded run is: its study, its seeds, what its run directory records."""

    study_name: str
    seeds: int  # seeds each finalist (and every item halving spares) trains with
    keep: float = 1.0  # share of the halved items that train the next seed; 1: all
    seed: int = 0  # the run's seed: job seeds and the sampler's stream follow from it
    identity: Mapping[str, Any] = field(default_factory=dict)  # a continued run must match
    attributes: Mapping[str, Any] = field(default_factory=dict)  # on the study, for reports


class SeededTask(StudyTask):
    """A ``StudyTask`` over numbered items whose trials suggest ``ITEM_PARAM`` and
    ``SEED_PARAM`` (``suggest_pair``) and record ``"accuracy"`` as a user attribute."""

    n_params = 2

    @property
    def items(self) -> int:
        raise NotImplementedError

    @property
    def halved(self) -> Collection[int]:
        """The items successive halving may drop; the others train every seed."""
        raise NotImplementedError

    def tie_break(self, item: int) -> float:
        """Orders items of equal mean accuracy, lowest first (e.g. their FLOPs)."""
        return float(item)

    def result_key(self, item: int, seed_index: int) -> str | None:
        """What a trial of (item, seed index) computes, as a ``result_key`` another run
        can match (``nas.runs._reuse``); None: nothing of this task is reused."""
        return None

    def describe(self, item: int) -> dict[str, Any]:
        """The user attributes a trial of ``item`` records before it trains."""
        return {}

    def suggest_pair(self, trial: optuna.Trial, seeds: int) -> tuple[int, int]:
        # Ints, not categoricals, so a run continued with more items or seeds still fits.
        item = trial.suggest_int(ITEM_PARAM, 0, self.items - 1)
        return item, trial.suggest_int(SEED_PARAM, 0, seeds - 1)


def seed_results(study: optuna.Study) -> dict[int, dict[int, float]]:
    """item -> {seed index: accuracy}, for every finished (counted) trial; a failed
    trial is NaN, so the halving never asks for it again."""
    interrupted = interrupted_numbers(study)
    results: dict[int, dict[int, float]] = {}
    for trial in study.get_trials(deepcopy=False):
        if trial.state == TrialState.COMPLETE:
            accuracy = float(trial.user_attrs.get("accuracy", math.nan))
        elif trial.state == TrialState.FAIL and trial.number not in interrupted:
            if is_surplus(trial) or ITEM_PARAM not in trial.params:
                continue
            accuracy = math.nan
        else:
            continue
        if {ITEM_PARAM, SEED_PARAM} <= set(trial.params):
            item, seed_index = int(trial.params[ITEM_PARAM]), int(trial.params[SEED_PARAM])
            results.setdefault(item, {})[seed_index] = accuracy
    return results


def run_seeded_trials(
    task: SeededTask,
    trials: SeededTrials,
    *,
    run_dir: str | os.PathLike[str],
    storage: str | None = None,
    ray: RayOptions | None = None,
    on_trial: Callable[[optuna.Study, FrozenTrial], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    on_round: Callable[[int, int], None] | None = None,
    reuse: Mapping[str, Reused] | None = None,
) -> optuna.Study:
    """Train ``task``'s items over ``trials.seeds`` seeds, continuing a stored run.

    ``on_start(finished)`` is told how many trials a continued run already has,
    ``on_round(seed_index, pairs)`` when a round starts, ``on_trial`` after each trial.
    A pair whose ``task.result_key`` is in ``reuse`` is recorded from there, not trained.
    """
    with open_study(
        run_dir,
        trials.identity,
        study_name=trials.study_name,
        storage=storage,
        directions=["maximize"],
        n_params=2,
    ) as (_, opened):
        study = optuna.load_study(
            study_name=trials.study_name,
            storage=opened,
            sampler=optuna.samplers.RandomSampler(seed=trials.seed),
        )
        for key, value in trials.attributes.items():
            study.set_user_attr(key, value)
        halved = set(task.halved) if trials.keep < 1 else set()
        spared = {i for i in range(task.items) if i not in halved}
        order = list(range(task.items))
        if on_start is not None:
            on_start(finished_count(study))
        while True:
            step = next_round(
                seed_results(study),
                order,
                spared,
                seeds=trials.seeds,
                keep=trials.keep,
                tie_break=task.tie_break,
            )
            if step is None:
                break
            needed = _take_reused(study, task, trials.seeds, step.needed, reuse or {})
            if not needed:
                continue  # every pair of the round was reused: the next round may need more
            if on_round is not None:
                on_round(step.index, len(needed))
            with quiet_optuna():
                for item, seed_index in needed:
                    study.enqueue_trial(
                        {ITEM_PARAM: item, SEED_PARAM: seed_index}, skip_if_exists=True
                    )
            budget = finished_count(study) + len(needed)
            run_trials(study, task, storage=opened, budget=budget, ray=ray, on_trial=on_trial)
    return study


def _take_reused(
    study: optuna.Study,
    task: SeededTask,
    seeds: int,
    needed: Collection[tuple[int, int]],
    reuse: Mapping[str, Reused],
) -> list[tuple[int, int]]:
    """Record each needed pair that ``reuse`` holds as a finished trial; the rest."""
    left = []
    for item, seed_index in needed:
        key = task.result_key(item, seed_index) if reuse else None
        if key is None or key not in reuse:
            left.append((item, seed_index))
            continue
        found = reuse[key]
        attributes = {
            **task.describe(item),
            RESULT_KEY: key,
            "accuracy": found.accuracy,
            "reused_from": found.source,
            "duration_s": found.duration_s,
        }
        with quiet_optuna():
            study.add_trial(
                optuna.trial.create_trial(
                    params={ITEM_PARAM: item, SEED_PARAM: seed_index},
                    distributions={
                        ITEM_PARAM: IntDistribution(0, task.items - 1),
                        SEED_PARAM: IntDistribution(0, seeds - 1),
                    },
                    value=found.accuracy,
                    user_attrs=attributes,
                )
            )
    return left

"""The Tune searcher over a study: Ctrl-C at any moment leaves no trial RUNNING.

Tune calls ``suggest`` and ``on_trial_complete`` from its controller loop, so a Ctrl-C
can land while a trial is being prepared or after Tune reported it and before it was
told. Driven here by hand, the way Tune drives it, without a Ray cluster.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from nas.runs import Outcome, StudyTask, interrupted_numbers, make_searcher

pytest.importorskip("ray")


class Task(StudyTask):
    """One float parameter; ``prepare`` or ``finish`` can be made to raise Ctrl-C."""

    n_params = 1

    def __init__(self, *, interrupt_in: str | None = None) -> None:
        self.interrupt_in = interrupt_in

    def prepare(self, trial: optuna.Trial) -> Any:
        x = trial.suggest_float("x", 0.0, 1.0)
        if self.interrupt_in == "prepare":
            raise KeyboardInterrupt
        return x

    @property
    def execute(self):
        return lambda job, report: Outcome(accuracy=job, score=job)

    def finish(self, trial: optuna.Trial, job: Any, outcome: Outcome) -> float:
        if self.interrupt_in == "finish":
            raise KeyboardInterrupt
        return float(outcome.accuracy)


def final_result(outcome: Outcome) -> dict[str, Any]:
    return {
        "epoch": 1,
        "score": outcome.score,
        "final": True,
        "outcome": json.dumps(asdict(outcome)),
    }


def states(study: optuna.Study) -> list[TrialState]:
    return [t.state for t in study.get_trials(deepcopy=False)]


def test_a_finished_trial_is_told_with_its_value():
    study = optuna.create_study(direction="maximize")
    searcher = make_searcher(study, Task(), budget=2, on_trial=None)
    config = searcher.suggest("a")
    searcher.on_trial_complete("a", final_result(Outcome(accuracy=config["job"], score=0.0)))
    assert states(study) == [TrialState.COMPLETE]
    assert study.trials[0].value == pytest.approx(config["job"])
    searcher.interrupt_untold()
    assert states(study) == [TrialState.COMPLETE]


def test_ctrl_c_while_a_trial_is_prepared_flags_it_interrupted():
    study = optuna.create_study(direction="maximize")
    searcher = make_searcher(study, Task(interrupt_in="prepare"), budget=2, on_trial=None)
    with pytest.raises(KeyboardInterrupt):
        searcher.suggest("a")
    assert states(study) == [TrialState.RUNNING]
    searcher.interrupt_untold()
    assert states(study) == [TrialState.FAIL]
    assert interrupted_numbers(study) == {0}


def test_ctrl_c_after_tune_reported_and_before_the_tell_flags_it_interrupted():
    study = optuna.create_study(direction="maximize")
    searcher = make_searcher(study, Task(interrupt_in="finish"), budget=3, on_trial=None)
    first = searcher.suggest("a")
    searcher.suggest("b")  # still running on a worker when Ctrl-C lands
    with pytest.raises(KeyboardInterrupt):
        searcher.on_trial_complete("a", final_result(Outcome(accuracy=first["job"])))
    searcher.interrupt_untold()
    assert states(study) == [TrialState.FAIL, TrialState.FAIL]
    assert interrupted_numbers(study) == {0, 1}

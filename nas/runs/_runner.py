"""Running the trials of a study: one interface for what a trial does, two backends.

A ``StudyTask`` splits a trial in three: ``prepare`` (in the process that owns the
study: choose the point, count it, record what is known, decide whether it needs
evaluating at all), ``execute`` (wherever candidates train: this process, or a Ray
worker on another machine; it must be picklable and never touches the study) and
``finish`` (back with the study: record the outcome, return the objective values).
The local backend runs them in a loop here; ``nas.runs._ray_runner`` sends ``execute``
to Ray Tune. Both keep one Optuna study as the record, so run directories,
resumption and reports are the same whichever ran the trials.
"""

from __future__ import annotations

import logging
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from nas.runs._interrupts import interruptible, raise_swallowed, uncut
from nas.runs._pareto_halving import PARETO_HALVING, ParetoHalving
from nas.runs._trials import (
    budget_used,
    can_tell_if_alive,
    finished_count,
    mark_started,
    over_budget,
    recover_interrupted,
)
from search_spaces import InputError

__all__ = [
    "Done",
    "NodeError",
    "Outcome",
    "Reporter",
    "RunStopped",
    "StudyTask",
    "early_stopping_pruner",
    "record_failure",
    "run_job",
    "run_local",
]

logger = logging.getLogger(__name__)

# Called after every epoch with (epoch, score so far); may raise to stop the trial early.
Reporter = Callable[[int, float], None]
# asha: one score (the reward); pareto-halving: accuracy against cost (see its module).
EARLY_STOPPING: tuple[str, ...] = ("asha", PARETO_HALVING)


@dataclass(frozen=True)
class Done:
    """A trial that needs no evaluation (screened, a duplicate): its objective values."""

    values: float | tuple[float, ...]


@dataclass(frozen=True)
class Outcome:
    """What ``execute`` sends back; plain data, so it crosses processes and machines."""

    accuracy: float | None = None
    score: float = 0.0  # what early stopping compares: the reward, or the accuracy
    metrics: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None  # "TypeName: message" when the candidate failed
    # The error is the user's input, not the candidate's (a data root missing on a
    # worker): every trial would fail the same way, so the run stops with the message.
    fatal: bool = False


class StudyTask(ABC):
    """What one kind of run (search, coefficient grid) does in each trial."""

    #: parameters a fully sampled point has (a point with fewer never started training)
    n_params: int = 1

    @abstractmethod
    def prepare(self, trial: optuna.Trial) -> Done | Any:
        """Choose and record the point; return ``Done`` or a picklable job for ``execute``."""

    @property
    @abstractmethod
    def execute(self) -> Callable[[Any, Reporter], Outcome]:
        """A picklable callable (job, report) -> Outcome that evaluates one job."""

    @abstractmethod
    def finish(self, trial: optuna.Trial, job: Any, outcome: Outcome) -> float | tuple[float, ...]:
        """Record a successful outcome; return the objective values."""

    def remember(self, trial: FrozenTrial) -> None:  # noqa: B027 - optional hook
        """Called with every trial once it has finished (de-duplication, caches)."""

    def stop_reason(self) -> str | None:
        """Why the run cannot usefully go on (asked after every trial), or None: a task
        whose proposals keep missing what it may train says so instead of spinning."""
        return None


class RunStopped(InputError):
    """The task stopped the run (``StudyTask.stop_reason``); the message says why and what
    to change. Finished trials stay recorded, so the run continues once that is fixed."""


class NodeError(InputError):
    """What the user must give a node is missing there (its data files): every trial on
    it would fail the same way, so the run stops with this message (one line)."""


class StopTrial(Exception):
    """Raised by a reporter to end a trial early (early stopping)."""


def run_job(
    execute: Callable[[Any, Reporter], Outcome], job: Any, report: Reporter | None = None
) -> Outcome:
    """``execute(job)``, with any failure of the candidate returned as ``Outcome.error``."""
    try:
        outcome = execute(job, report or (lambda epoch, score: None))
    except (StopTrial, optuna.TrialPruned, KeyboardInterrupt):
        raise
    except Exception as error:
        return Outcome(
            error=f"{type(error).__name__}: {error}"[:2000], fatal=isinstance(error, NodeError)
        )
    if outcome.accuracy is not None and not math.isfinite(outcome.accuracy):
        return Outcome(
            error=f"TrialError: the evaluator returned a non-finite score {outcome.accuracy}"
        )
    return outcome


def record_failure(trial: optuna.Trial, message: str, started: float) -> None:
    trial.set_user_attr("error", message[:2000])
    trial.set_user_attr("duration_s", round(time.perf_counter() - started, 3))
    logger.warning("trial %d failed: %s", trial.number, message.splitlines()[0][:300])


def early_stopping_pruner(name: str | None) -> optuna.pruners.BasePruner:
    """Optuna's pruner for ``--early-stopping`` in the local backend."""
    if name is None or name == PARETO_HALVING:
        # Pareto halving decides in the runner: Optuna prunes single-objective studies only.
        return optuna.pruners.NopPruner()
    if name == "asha":
        # Asynchronous successive halving: rungs at epochs 1, 2, 4, ...; a trial goes on
        # only if it is in the top half of those that reached its rung.
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=2)
    raise ValueError(f"unknown early stopping {name!r}; choose {', '.join(EARLY_STOPPING)}")


class _TrialFailed(Exception):
    pass


def run_local(
    study: optuna.Study,
    task: StudyTask,
    *,
    storage: optuna.storages.BaseStorage,
    budget: int,
    early_stopping: str | None = None,
    on_trial: Callable[[optuna.Study, FrozenTrial], None] | None = None,
) -> None:
    """Run trials in this process until the study has ``budget`` finished trials.

    Other processes may work on the same study at the same time; each trial takes one
    slot of the budget, so together they finish exactly ``budget`` trials.
    """
    halving = ParetoHalving() if early_stopping == PARETO_HALVING else None

    def objective(trial: optuna.Trial) -> float | tuple[float, ...]:
        started = time.perf_counter()
        try:
            with interruptible():  # the trial's own work; Optuna's ask and tell stay whole
                mark_started(trial)
                if over_budget(study, trial.number, budget):
                    trial.set_user_attr("surplus", True)
                    raise _TrialFailed("surplus: the budget was taken by another process")
                step = task.prepare(trial)
                if isinstance(step, Done):
                    return step.values

                def report(epoch: int, score: float) -> None:
                    if early_stopping is None:
                        return
                    if halving is not None:
                        stop = halving.should_stop(study, trial, epoch, score)
                    else:
                        trial.report(score, epoch)
                        stop = trial.should_prune()
                    if stop:
                        trial.set_user_attr("stopped_at_epoch", epoch)
                        trial.set_user_attr("score_at_stop", score)
                        trial.set_user_attr("duration_s", round(time.perf_counter() - started, 3))
                        raise optuna.TrialPruned(f"stopped early at epoch {epoch}")

                outcome = run_job(task.execute, step, report)
                if outcome.error is not None:
                    record_failure(trial, outcome.error, started)
                    raise _TrialFailed(outcome.error)
                return task.finish(trial, step, outcome)
        except KeyboardInterrupt:
            # Optuna marks it failed; the flag makes the next run try the point again.
            trial.set_user_attr("interrupted", True)
            trial.set_user_attr("error", "interrupted")
            raise
        except (_TrialFailed, optuna.TrialPruned):
            raise
        except Exception as error:  # prepare or finish failed: a bug or a bad point
            record_failure(trial, f"{type(error).__name__}: {error}", started)
            raise

    def after_trial(study: optuna.Study, trial: FrozenTrial) -> None:
        if trial.user_attrs.get("surplus"):
            return
        task.remember(trial)
        if on_trial is not None:
            on_trial(study, trial)

    while True:
        if budget_used(study) < budget:
            with uncut():
                study.optimize(objective, n_trials=1, catch=(Exception,), callbacks=[after_trial])
            raise_swallowed()
            reason = task.stop_reason()
            if reason is not None:
                raise RunStopped(reason)
            # A process sharing the study may have died meanwhile: give its points back.
            recover_interrupted(study, storage, n_params=task.n_params)
        elif not wait_for_running(study, storage, budget=budget, n_params=task.n_params):
            return


def wait_for_running(
    study: optuna.Study,
    storage: optuna.storages.BaseStorage,
    *,
    budget: int,
    n_params: int,
    poll_seconds: float = 1.0,
) -> bool:
    """Wait while the rest of the budget is running elsewhere; True if a slot came free.

    Another process's last trials, or those of a process that died a moment ago and is
    not yet known dead, hold the slots. Wait until they finish (False: the study is
    done) or are found dead and their points given back (True: run them). Trials on
    another host that nothing can declare dead (a journal has no heartbeat) are not
    waited for: False, with a warning.
    """
    heartbeat = is_heartbeat_enabled(storage)
    while finished_count(study) < budget:
        if budget_used(study) < budget:
            return True
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if not all(can_tell_if_alive(t, heartbeat=heartbeat) for t in running):
            logger.warning(
                "%d trial(s) still run on other hosts; the study reaches %d finished trials "
                "when they end (or a later run recovers them)",
                len(running),
                budget,
            )
            return False
        time.sleep(poll_seconds)
        recover_interrupted(study, storage, n_params=n_params)
    return False


def is_heartbeat_enabled(storage: optuna.storages.BaseStorage) -> bool:
    from optuna.storages._heartbeat import BaseHeartbeat
    from optuna.storages._heartbeat import is_heartbeat_enabled as enabled

    return isinstance(storage, BaseHeartbeat) and bool(enabled(storage))

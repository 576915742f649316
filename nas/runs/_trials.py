"""Trial bookkeeping every study-backed run shares: who runs what, what counts, what is redone.

Trials that a killed process
left RUNNING are failed and flagged ``interrupted`` (found by their pid on this host,
or by a stale heartbeat on RDB storage); their points are queued once more, and
they do not count towards the requested number of trials. Several processes may
share one study: each starts a trial only while the budget has room, and a trial
that lost a race for the last slot is marked ``surplus`` and never run.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import warnings
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

__all__ = [
    "UNCOUNTED",
    "budget_used",
    "can_tell_if_alive",
    "experimental_ok",
    "finished_count",
    "interrupted_numbers",
    "is_surplus",
    "is_uncounted",
    "mark_started",
    "mark_uncounted",
    "over_budget",
    "quiet_optuna",
    "record_stale",
    "recover_interrupted",
    "requeued_numbers",
    "trial_node",
    "trial_state",
]


def trial_node(attrs: dict) -> str | None:
    """The node that ran a trial: its Ray node id, or the host of a local run."""
    return attrs.get("node") or attrs.get("host")


def mark_started(trial: optuna.Trial) -> None:
    """Record which process runs ``trial``, so a later run can tell if it died."""
    trial.set_user_attr("host", socket.gethostname())
    trial.set_user_attr("pid", os.getpid())


# A trial is created a moment (milliseconds; a storage round trip) before its process
# records itself; one that has recorded nothing this long after it started belongs to a
# process that died in between.
_UNCLAIMED_SECONDS = 30.0


def can_tell_if_alive(trial: FrozenTrial, *, heartbeat: bool) -> bool:
    """Whether a running trial's death would be noticed: by pid here, by age if it never
    recorded a process, or by heartbeat on RDB storage (a journal has none)."""
    host = trial.user_attrs.get("host")
    return heartbeat or host is None or host == socket.gethostname()


def process_alive(trial: FrozenTrial) -> bool:
    """Whether the process that started ``trial`` still runs (other hosts count as alive)."""
    host, pid = trial.user_attrs.get("host"), trial.user_attrs.get("pid")
    if host is not None and host != socket.gethostname():
        return True
    if _unclaimed(trial):
        # Not claimed yet, or killed between the two writes that claim it. (A pid of 0
        # or -1 must never reach os.kill: it would ask about a whole process group.)
        return _claim_may_come(trial)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def experimental_ok() -> Iterator[None]:
    # Heartbeats have been "experimental" in Optuna since 2.9 and are what RDB recovery
    # rests on; the warning says nothing a user can act on.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


@contextlib.contextmanager
def quiet_optuna() -> Iterator[None]:
    # Optuna logs every trial, and failed ones with a traceback; the search reports
    # failures itself, in one line each.
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(previous)


def _flagged(study: optuna.Study, prefix: str) -> set[int]:
    # One study attribute per trial ("stale:7"): processes sharing the study never
    # overwrite each other's entries, as they would in one shared list.
    return {
        int(key.split(":", 1)[1])
        for key in study.user_attrs
        if key.startswith(prefix + ":") and key.split(":", 1)[1].isdigit()
    }


def record_stale(study: optuna.Study, trial: FrozenTrial) -> None:
    """Heartbeat callback: a trial whose process stopped beating was failed; redo its point."""
    study.set_user_attr(f"stale:{trial.number}", True)


def interrupted_numbers(study: optuna.Study) -> set[int]:
    """Trials whose process died (flagged by the process, by pid, or by heartbeat)."""
    flagged = _flagged(study, "stale")
    return flagged | {
        trial.number
        for trial in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
        if trial.user_attrs.get("interrupted")
    }


def is_surplus(trial: FrozenTrial) -> bool:
    """A trial started after the budget was already taken by other processes; never run."""
    return bool(trial.user_attrs.get("surplus"))


def trial_state(trial: FrozenTrial, interrupted: set[int]) -> str:
    """The state a report shows: Optuna's, with "interrupted" and "stopped" (early) named."""
    if trial.number in interrupted:
        return "interrupted"
    if trial.state == TrialState.PRUNED:
        return "stopped"
    return trial.state.name.lower()


def recover_interrupted(
    study: optuna.Study, storage: optuna.storages.BaseStorage, *, n_params: int
) -> int:
    """Fail the trials whose process died, and queue every interrupted point once more.

    Only points with all ``n_params`` parameters are queued again: a trial killed while
    still choosing them had not started its evaluation, so nothing of it is lost.
    """
    recovered = 0
    # On RDB storage, trials whose heartbeat stopped (a process on any host) fail now,
    # and record_stale flags them for the loop below.
    with experimental_ok():
        optuna.storages.fail_stale_trials(study)
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if process_alive(trial):
            continue
        # FrozenTrial exposes no public id; the storage API needs it.
        try:
            storage.set_trial_user_attr(trial._trial_id, "interrupted", True)
            storage.set_trial_user_attr(trial._trial_id, "error", "interrupted: its process died")
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another process sharing the study got there first
    # Finished trials are read-only, so which points were queued again is kept on the study.
    requeued = _flagged(study, "requeued") | set(study.user_attrs.get("requeued_trials", []))
    stale = _flagged(study, "stale")
    for trial in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        if not (trial.user_attrs.get("interrupted") or trial.number in stale):
            continue
        if trial.number in requeued or len(trial.params) != n_params:
            continue  # killed while still choosing its point: it never started, nothing to redo
        requeue(study, trial.number, trial.params)
        recovered += 1
    return recovered


def settle_unclaimed(
    study: optuna.Study,
    storage: optuna.storages.BaseStorage,
    *,
    n_params: int,
    poll_seconds: float = 1.0,
) -> None:
    """Account for every trial before a run ends: wait while a trial is asked and not yet
    claimed by its process (a live one claims it within milliseconds), then fail those
    whose process died between the two writes (SIGKILL right after an ask), which would
    otherwise stay RUNNING in the study and the report until a later run."""
    while any(
        _unclaimed(trial) and _claim_may_come(trial)
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    ):
        time.sleep(poll_seconds)
    recover_interrupted(study, storage, n_params=n_params)


def _claim_may_come(trial: FrozenTrial) -> bool:
    """An unclaimed trial young enough that its process may still be writing its claim."""
    started = trial.datetime_start
    return started is None or (datetime.now() - started).total_seconds() < _UNCLAIMED_SECONDS


def _unclaimed(trial: FrozenTrial) -> bool:
    """No process recorded itself on it (see ``mark_started``), or only half of it."""
    pid = trial.user_attrs.get("pid")
    return trial.user_attrs.get("host") is None or not isinstance(pid, int) or pid <= 0


def requeue(study: optuna.Study, number: int, params: dict[str, Any]) -> None:
    """Queue an interrupted trial's point to run again, and remember that it was."""
    study.enqueue_trial(params, skip_if_exists=False)
    study.set_user_attr(f"requeued:{number}", True)


def requeued_numbers(study: optuna.Study) -> set[int]:
    """Interrupted trials whose point was queued to run again."""
    return _flagged(study, "requeued") | set(study.user_attrs.get("requeued_trials", []))


# A trial its task turned away before any work (a search's candidate outside the cost
# band): the strategy learns from its values, the budget does not count it.
UNCOUNTED = "uncounted"


def mark_uncounted(trial: optuna.Trial) -> None:
    """Keep ``trial`` out of the budget: the run proposes another in its place."""
    trial.set_user_attr(UNCOUNTED, True)


def is_uncounted(trial: FrozenTrial) -> bool:
    return bool(trial.user_attrs.get(UNCOUNTED))


def _counts(trial: FrozenTrial, interrupted: set[int]) -> bool:
    if is_uncounted(trial):
        return False
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    return trial.state == TrialState.FAIL and not (trial.number in interrupted or is_surplus(trial))


def finished_count(study: optuna.Study) -> int:
    """Trials that count towards the budget: all finished ones but the interrupted."""
    interrupted = interrupted_numbers(study)
    return sum(1 for trial in study.get_trials(deepcopy=False) if _counts(trial, interrupted))


def budget_used(study: optuna.Study) -> int:
    """Finished trials that count, plus those running now (here or in another process)."""
    interrupted = interrupted_numbers(study)
    return sum(
        1
        for trial in study.get_trials(deepcopy=False)
        if _counts(trial, interrupted)
        or (trial.state == TrialState.RUNNING and process_alive(trial))
    )


def over_budget(study: optuna.Study, number: int, budget: int) -> bool:
    """Whether trial ``number`` came after the budget was taken.

    Two processes sharing a study can both see one free slot and both start a trial;
    the one with the higher number yields. Trials are numbered in the order they were
    created, so counting those before it settles who was first.
    """
    interrupted = interrupted_numbers(study)
    ahead = sum(
        1
        for trial in study.get_trials(deepcopy=False)
        if trial.number < number
        and (
            _counts(trial, interrupted)
            or (trial.state == TrialState.RUNNING and process_alive(trial))
        )
    )
    return ahead >= budget

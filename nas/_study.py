"""What every study-backed run shares: its run directory, resumption, bookkeeping.

A run directory holds ``config.json`` (the settings a continued run must repeat)
and, by default, the Optuna study in ``study.db``. Trials that a killed process
left RUNNING are failed and flagged ``interrupted``; their points are queued
once more, and they do not count towards the requested number of trials.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from search_spaces import InputError

__all__ = [
    "RunDirError",
    "check_run_dir",
    "finished_count",
    "mark_started",
    "open_run_dir",
    "quiet_optuna",
    "recover_interrupted",
]


class RunDirError(InputError):
    """The run directory holds a different run, or cannot be used."""


def mark_started(trial: optuna.Trial) -> None:
    """Record which process runs ``trial``, so a later run can tell if it died."""
    trial.set_user_attr("host", socket.gethostname())
    trial.set_user_attr("pid", os.getpid())


# A trial is created a moment before its process records itself; one that has recorded
# nothing this long after it started belongs to a process that died in between.
_UNCLAIMED_SECONDS = 120.0


def process_alive(trial: FrozenTrial) -> bool:
    """Whether the process that started ``trial`` still runs (other hosts count as alive)."""
    if "host" not in trial.user_attrs:
        started = trial.datetime_start
        return started is None or (datetime.now() - started).total_seconds() < _UNCLAIMED_SECONDS
    if trial.user_attrs.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(trial.user_attrs.get("pid", -1)), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True


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


def check_run_dir(run_dir: Path, identity: Mapping[str, Any]) -> None:
    """Refuse to continue a run directory that holds a different search."""
    path = run_dir / "config.json"
    if not path.exists():
        return
    try:
        recorded = json.loads(path.read_text(encoding="utf-8")).get("identity", {})
    except (OSError, json.JSONDecodeError, AttributeError):
        raise RunDirError(f"{path} is unreadable; use a new --out directory") from None
    # Compare as JSON reads it back: a tuple given now equals the list recorded then.
    identity = json.loads(json.dumps(dict(identity)))
    differs = sorted(
        key for key in set(recorded) | set(identity) if recorded.get(key) != identity.get(key)
    )
    if differs:
        details = ", ".join(
            f"{key} {recorded.get(key)!r} -> {identity.get(key)!r}" for key in differs
        )
        raise RunDirError(
            f"{run_dir} holds a different search ({details}); "
            "repeat its options to continue it, or use a new --out"
        )


def open_run_dir(run_dir: Path, identity: Mapping[str, Any]) -> None:
    """Create ``run_dir`` and record ``identity``, after checking it matches an earlier run."""
    check_run_dir(run_dir, identity)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "config.json"
    if not path.exists():
        tmp = run_dir / ".config.json.tmp"
        tmp.write_text(json.dumps({"identity": dict(identity)}, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)


def recover_interrupted(
    study: optuna.Study, storage: optuna.storages.BaseStorage, *, n_params: int
) -> int:
    """Fail the trials whose process died, and queue every interrupted point once more.

    Only points with all ``n_params`` parameters are queued again: a trial killed while
    still choosing them had not started its evaluation, so nothing of it is lost.
    """
    recovered = 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if process_alive(trial):
            continue
        # FrozenTrial exposes no public id; the storage API needs it.
        storage.set_trial_user_attr(trial._trial_id, "interrupted", True)
        storage.set_trial_user_attr(trial._trial_id, "error", "interrupted: its process died")
        storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
    # Finished trials are read-only, so which points were queued again is kept on the study.
    requeued = set(study.user_attrs.get("requeued_trials", []))
    for trial in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        if not trial.user_attrs.get("interrupted") or trial.number in requeued:
            continue
        if len(trial.params) != n_params:
            continue  # killed while still choosing its point: it never started, nothing to redo
        study.enqueue_trial(trial.params, skip_if_exists=False)
        requeued.add(trial.number)
        recovered += 1
    if recovered:
        study.set_user_attr("requeued_trials", sorted(requeued))
    return recovered


def finished_count(study: optuna.Study) -> int:
    """Trials that count towards the budget: all finished ones but the interrupted."""
    return sum(
        1
        for trial in study.get_trials(deepcopy=False)
        if trial.state in (TrialState.COMPLETE, TrialState.PRUNED)
        or (trial.state == TrialState.FAIL and not trial.user_attrs.get("interrupted"))
    )

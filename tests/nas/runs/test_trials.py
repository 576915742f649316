"""A run ends with every trial accounted for, even one asked by a process killed before it
could claim it (seen once in CI: SIGKILL between `study.ask()` and the pid's write)."""

from __future__ import annotations

import time

import optuna
from optuna.trial import TrialState

import nas.runs._trials as trials
from nas.runs._trials import mark_started, settle_unclaimed


def test_a_trial_never_claimed_is_failed_once_it_is_old_enough(monkeypatch):
    monkeypatch.setattr(trials, "_UNCLAIMED_SECONDS", 0.5)
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(storage=storage)
    orphan = study.ask()  # its process "died" before mark_started
    mine = study.ask()
    mark_started(mine)  # this live process's own trial, still running
    started = time.monotonic()
    settle_unclaimed(study, storage, n_params=1, poll_seconds=0.05)
    assert time.monotonic() - started >= 0.4  # it waited for a claim that never came
    by_number = {t.number: t for t in study.get_trials(deepcopy=False)}
    assert by_number[orphan.number].state == TrialState.FAIL
    assert by_number[orphan.number].user_attrs["interrupted"] is True
    assert by_number[mine.number].state == TrialState.RUNNING  # alive: left alone
    assert not [t for t in study.get_trials() if t.state == TrialState.WAITING]  # no point


def test_nothing_to_settle_returns_at_once():
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(storage=storage)
    study.tell(study.ask(), 1.0)
    started = time.monotonic()
    settle_unclaimed(study, storage, n_params=1)
    assert time.monotonic() - started < 0.5

"""Finished trials of other runs, taken instead of training the same thing again.

A coefficient grid and the scaling curves of one baseline train many of the same
(network, data, training, torch seed) quadruples: the base, the single-dimension
references and the chosen compound point at phi 1. Training here is deterministic for
a given quadruple (one thread, seeded batches), so a finished trial of another run with
an equal ``result key`` is the accuracy this run would measure. The key is a hash of
everything that changes the number (``result_key``); torch's version is part of it.

Another run's study is read from its ``study.db`` through SQLAlchemy in read-only mode:
plain rows (numbers and JSON), no pickle, nothing of the other run executes or changes.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from nas.runs._trials import quiet_optuna
from search_spaces import InputError

__all__ = ["RESULT_KEY", "ReuseError", "Reused", "read_reusable", "result_key"]

RESULT_KEY = "result_key"  # the user attribute every seeded trial records


class ReuseError(InputError):
    """A run directory to reuse that has no readable study."""


@dataclass(frozen=True)
class Reused:
    """A finished trial of another run: its accuracy and where it came from."""

    accuracy: float
    source: str  # "<run dir> trial <number>", recorded on the trial that takes it
    duration_s: float | None = None


def result_key(payload: Mapping[str, Any]) -> str:
    """sha256 of ``payload`` in canonical JSON, with torch's version added (another
    version may round differently, so its numbers are not this run's)."""
    import torch

    canonical = json.dumps(
        {**payload, "torch": torch.__version__}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def read_reusable(run_dirs: Iterable[str | Path]) -> dict[str, Reused]:
    """result key -> finished trial, over every study in each run directory's study.db.

    Raises ``ReuseError`` (one line) for a directory without a readable study.db.
    """
    found: dict[str, Reused] = {}
    for run_dir in run_dirs:
        for key, reused in _read_one(Path(run_dir)).items():
            found.setdefault(key, reused)
    return found


def _read_one(run_dir: Path) -> dict[str, Reused]:
    database = run_dir / "study.db"
    if not database.is_file():
        raise ReuseError(
            f"--reuse-results {run_dir}: no study.db there; give the run directory of a "
            "cnas coefficients or scaling-curves run (one stored with --storage cannot be reused)"
        )
    try:
        trials = _finished_trials(database)
    except Exception as error:  # a corrupt file or another program's database
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()
        raise ReuseError(
            f"--reuse-results {run_dir}: cannot read its study.db "
            f"({reason[0] if reason else type(error).__name__}); give another run directory"
        ) from None
    found: dict[str, Reused] = {}
    for trial in trials:
        key = trial.user_attrs.get(RESULT_KEY)
        accuracy = trial.user_attrs.get("accuracy")
        if not isinstance(key, str) or not isinstance(accuracy, int | float):
            continue
        if not math.isfinite(accuracy) or trial.user_attrs.get("reused_from"):
            continue  # a reused trial points at its origin, which is read as well
        duration = trial.user_attrs.get("duration_s")
        found.setdefault(
            key,
            Reused(
                accuracy=float(accuracy),
                source=f"{run_dir} trial {trial.number}",
                duration_s=float(duration) if isinstance(duration, int | float) else None,
            ),
        )
    return found


def _finished_trials(database: Path) -> list[optuna.trial.FrozenTrial]:
    # mode=ro: the other run's file is never written, not even its tables created.
    url = f"sqlite:///file:{database.resolve()}?mode=ro&uri=true"
    with quiet_optuna():
        storage = optuna.storages.RDBStorage(url, skip_table_creation=True)
    try:
        trials: list[optuna.trial.FrozenTrial] = []
        for study in storage.get_all_studies():
            study_id = storage.get_study_id_from_name(study.study_name)
            trials += storage.get_all_trials(
                study_id, deepcopy=False, states=(TrialState.COMPLETE,)
            )
        return trials
    finally:
        storage.engine.dispose()

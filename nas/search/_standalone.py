"""Where stand-alone results of confirmed winners live: study attributes, one per trial.

Finished trials are read-only in Optuna, so a result found after the search is kept on
the study as ``standalone:<trial number>``; the report and the confirming step share it.
"""

from __future__ import annotations

from typing import Any

import optuna

__all__ = ["STANDALONE_PREFIX", "confirmed_results", "record_standalone"]

STANDALONE_PREFIX = "standalone:"


def confirmed_results(study: optuna.Study) -> dict[int, dict[str, Any]]:
    """Trial number -> its stand-alone result, for every trial confirmed so far."""
    return {
        int(key[len(STANDALONE_PREFIX) :]): value
        for key, value in study.user_attrs.items()
        if key.startswith(STANDALONE_PREFIX) and key[len(STANDALONE_PREFIX) :].isdigit()
    }


def record_standalone(study: optuna.Study, number: int, result: dict[str, Any]) -> None:
    study.set_user_attr(f"{STANDALONE_PREFIX}{number}", result)

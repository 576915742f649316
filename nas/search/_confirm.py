"""Winners confirmed by real training: the search's best candidates, retrained alone.

A cheap evaluator (a supernet's inherited weights, a zero-cost score) ranks thousands
of candidates, but what it ranks first is only a guess at what trains best. The top
``k`` candidates are trained from scratch with the training evaluator, and the
baseline is chosen on those stand-alone results (``nas.search._report``).

Which candidates: for the reward objective, the ``k`` best rewards; for a Pareto
search, the front's most accurate points within the target, then the cheapest over
it. Each result is kept on the study (``standalone:<trial>``) as soon as it is known,
so a killed run resumes with the ones still missing.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

import optuna
import pandas as pd

from nas.evaluate import Evaluator
from nas.search._objectives import mnas_reward, reward_form
from nas.search._report import SearchReport, build_report
from nas.search._search import SearchConfig
from nas.search._standalone import confirmed_results, record_standalone
from search_spaces import NetworkSpec

__all__ = ["confirm_search", "confirm_winners", "winners"]

logger = logging.getLogger(__name__)


def winners(report: SearchReport, config: SearchConfig, k: int) -> list[int]:
    """The trial numbers to confirm: see the module docstring."""
    trials = report.trials
    unique = trials[(trials["state"] == "complete") & trials["accuracy"].notna()]
    if "duplicate_of" in unique:
        unique = unique[unique["duplicate_of"].isna()]
    if unique.empty or k < 1:
        return []
    if config.objective == "reward":
        ranked = unique.sort_values(["reward", "cost", "number"], ascending=[False, True, True])
    else:
        front = report.front
        over = front["cost"] > config.target
        ranked = pd.concat(
            [
                front[~over].sort_values(["accuracy", "cost"], ascending=[False, True]),
                front[over].sort_values("cost"),
            ]
        )
    return [int(number) for number in ranked["number"].head(k)]


def confirm_search(
    study: optuna.Study,
    config: SearchConfig,
    trainer: Evaluator,
    *,
    top_k: int,
    on_confirmed: Callable[[int, dict[str, Any]], None] | None = None,
) -> dict[int, dict[str, Any]]:
    """Retrain the search's ``top_k`` winners alone; their results, by trial number."""
    report = build_report(study, config, space_size=0)
    return confirm_winners(
        study, config, trainer, winners(report, config, top_k), on_confirmed=on_confirmed
    )


def confirm_winners(
    study: optuna.Study,
    config: SearchConfig,
    trainer: Evaluator,
    numbers: list[int],
    *,
    on_confirmed: Callable[[int, dict[str, Any]], None] | None = None,
) -> dict[int, dict[str, Any]]:
    """Train each trial in ``numbers`` alone with ``trainer``; record and return the results.

    Trials already confirmed (by an earlier, killed run) are not trained again. A
    candidate whose training fails is recorded with its error and no accuracy.
    """
    done = confirmed_results(study)
    form = reward_form(config.constraint)
    trials = {trial.number: trial for trial in study.get_trials(deepcopy=False)}
    for number in numbers:
        if number in done:
            continue
        attrs = trials[number].user_attrs
        spec = NetworkSpec.from_dict(attrs["spec"])
        seed = config.seed * 100_003 + number
        started = time.perf_counter()
        result: dict[str, Any] = {"seed": seed}
        try:
            evaluation = trainer.evaluate(spec, seed=seed)
        except Exception as error:  # a candidate that fails alone is a finding, not a crash
            result["error"] = f"{type(error).__name__}: {error}"[:500]
            logger.warning("stand-alone training of trial %d failed: %s", number, result["error"])
        else:
            accuracy = float(evaluation.accuracy)
            result["accuracy"] = accuracy if math.isfinite(accuracy) else None
            result["reward"] = (
                mnas_reward(accuracy, float(attrs["cost"]), config.target, form)
                if math.isfinite(accuracy)
                else None
            )
        result["seconds"] = round(time.perf_counter() - started, 3)
        record_standalone(study, number, result)
        done[number] = result
        if on_confirmed is not None:
            on_confirmed(number, result)
    return {number: done[number] for number in numbers if number in done}

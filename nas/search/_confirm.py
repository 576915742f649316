"""Winners confirmed by real training: the search's best candidates, retrained alone.

A cheap evaluator (a supernet's inherited weights, a zero-cost score) ranks thousands
of candidates, but what it ranks first is only a guess at what trains best. The top
``k`` candidates are trained from scratch with the training evaluator, and the
baseline is chosen on those stand-alone results (``nas.search._report``).

Which candidates: for the reward objective, the ``k`` best rewards; for a Pareto
search, the front's most accurate points within the target, then the cheapest over
it. Each result is kept on the study (``standalone:<trial>``) as soon as it is known,
so a killed run resumes with the ones still missing. With ``workers`` > 1 the winners
train side by side in worker processes (one torch thread each, as every trial does);
each result depends only on the network and its seed, so it is the same either way.
"""

from __future__ import annotations

import inspect
import logging
import math
import multiprocessing
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from nas.evaluate import Evaluator
from nas.search._objectives import mnas_reward, reward_form
from nas.search._report import SearchReport, build_report, near_target
from nas.search._search import SearchConfig
from nas.search._standalone import confirmed_results, record_standalone
from search_spaces import NetworkSpec

__all__ = ["confirm_search", "confirm_winners", "weights_file", "winners"]

logger = logging.getLogger(__name__)

INT8_CALIBRATION_IMAGES = 256


def winners(report: SearchReport, config: SearchConfig, k: int) -> list[int]:
    """The trial numbers to confirm: see the module docstring."""
    trials = report.trials
    unique = trials[(trials["state"] == "complete") & trials["accuracy"].notna()]
    if "duplicate_of" in unique:
        unique = unique[unique["duplicate_of"].isna()]
    if unique.empty or k < 1:
        return []
    if config.objective == "reward":
        # Those near the target first: the baseline will be chosen among them.
        near = unique["number"].isin(near_target(unique, config)["number"])
        ranked = unique.assign(near=near).sort_values(
            ["near", "reward", "cost", "number"], ascending=[False, False, True, True]
        )
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
    workers: int = 1,
    on_confirmed: Callable[[int, dict[str, Any]], None] | None = None,
    weights_dir: Path | None = None,
    int8: bool = False,
) -> dict[int, dict[str, Any]]:
    """Retrain the search's ``top_k`` winners alone; their results, by trial number.

    With ``weights_dir``, each winner's trained weights are kept there as
    ``trial-<number>.safetensors`` (where the trainer can save them); with ``int8`` too,
    each result also holds its validation accuracy after int8 quantization."""
    report = build_report(study, config, space_size=0)
    return confirm_winners(
        study,
        config,
        trainer,
        winners(report, config, top_k),
        workers=workers,
        on_confirmed=on_confirmed,
        weights_dir=weights_dir,
        int8=int8,
    )


def confirm_winners(
    study: optuna.Study,
    config: SearchConfig,
    trainer: Evaluator,
    numbers: list[int],
    *,
    workers: int = 1,
    on_confirmed: Callable[[int, dict[str, Any]], None] | None = None,
    weights_dir: Path | None = None,
    int8: bool = False,
) -> dict[int, dict[str, Any]]:
    """Train each trial in ``numbers`` alone with ``trainer``; record and return the results.

    Trials already confirmed (by an earlier, killed run) are not trained again. A
    candidate whose training fails is recorded with its error and no accuracy.
    """
    if workers < 1:
        raise ValueError(f"workers must be 1 or more, got {workers}")
    done = confirmed_results(study)
    form = reward_form(config.constraint)
    trials = {trial.number: trial for trial in study.get_trials(deepcopy=False)}
    jobs = [
        _Job(
            number=number,
            spec=NetworkSpec.from_dict(trials[number].user_attrs["spec"]),
            seed=config.seed * 100_003 + number,
            cost=float(trials[number].user_attrs["cost"]),
            weights=_weights_path(weights_dir, trainer, number),
            int8=int8,
        )
        for number in numbers
        if number not in done
    ]
    for job, result in _trained(jobs, trainer, workers):
        accuracy = result.pop("accuracy", None)
        if accuracy is not None:
            result["accuracy"] = accuracy if math.isfinite(accuracy) else None
            result["reward"] = (
                mnas_reward(accuracy, job.cost, config.target, form)
                if math.isfinite(accuracy)
                else None
            )
        record_standalone(study, job.number, result)  # as it lands: a killed run keeps it
        done[job.number] = result
        if on_confirmed is not None:
            on_confirmed(job.number, result)
    return {number: done[number] for number in numbers if number in done}


@dataclass(frozen=True)
class _Job:
    number: int
    spec: NetworkSpec
    seed: int
    cost: float
    weights: Path | None = None  # where the trained weights go, if kept
    int8: bool = False  # also the accuracy after int8 quantization (needs the weights)


def weights_file(number: int) -> str:
    return f"trial-{number}.safetensors"


def _weights_path(weights_dir: Path | None, trainer: Evaluator, number: int) -> Path | None:
    # Only a trainer that can hand its weights over keeps them (the training evaluator).
    if weights_dir is None or "weights_to" not in inspect.signature(trainer.evaluate).parameters:
        return None
    weights_dir.mkdir(parents=True, exist_ok=True)
    return weights_dir / weights_file(number)


def _trained(
    jobs: list[_Job], trainer: Evaluator, workers: int
) -> Iterator[tuple[_Job, dict[str, Any]]]:
    """Each job with its training's result, in the order they finish."""
    if workers == 1 or len(jobs) < 2:
        for job in jobs:
            yield job, _train_alone(trainer, job)
        return
    # spawn: a forked child would inherit this process's torch and Ray threads.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=context) as pool:
        pending = {pool.submit(_train_alone, trainer, job): job for job in jobs}
        for future in as_completed(pending):
            yield pending[future], future.result()


def _int8_accuracy(trainer: Evaluator, job: _Job) -> float:
    """The retrained winner's validation accuracy after int8 quantization, calibrated on
    the first training images (``cnas export --quantize int8``'s way)."""
    from nas.data import first_images, split_labels
    from nas.models import int8_accuracy

    data = trainer.data  # type: ignore[attr-defined]  # a training evaluator's
    assert job.weights is not None
    return int8_accuracy(
        job.spec,
        job.weights,
        first_images(data.train, INT8_CALIBRATION_IMAGES).numpy(),
        first_images(data.valid, len(data.valid)).numpy(),
        split_labels(data.valid).numpy(),
    )


def _train_alone(trainer: Evaluator, job: _Job) -> dict[str, Any]:
    started = time.perf_counter()
    result: dict[str, Any] = {"seed": job.seed}
    try:
        if job.weights is None:
            evaluation = trainer.evaluate(job.spec, seed=job.seed)
        else:
            evaluation = trainer.evaluate(job.spec, seed=job.seed, weights_to=job.weights)  # type: ignore[call-arg]
            result["weights"] = job.weights.name
        result["accuracy"] = float(evaluation.accuracy)
        if job.int8 and job.weights is not None:
            result["int8_accuracy"] = _int8_accuracy(trainer, job)
    except Exception as error:  # a candidate that fails alone is a finding, not a crash
        result["error"] = f"{type(error).__name__}: {error}"[:500]
        logger.warning("stand-alone training of trial %d failed: %s", job.number, result["error"])
    result["seconds"] = round(time.perf_counter() - started, 3)
    return result

"""The whole first job in one call: search, retrain the winners alone, write the report.

``cnas search`` is this call with its options parsed; a script gets the same run
directory, resumable the same way, from ``search_baseline``.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from nas.evaluate import Evaluator
from nas.runs import RayOptions
from nas.search._confirm import confirm_search, weights_file
from nas.search._report import SearchReport, build_report, write_report
from nas.search._search import SearchConfig, SearchError, format_cost, run_search, space_cost_range
from search_spaces import MBConvSpace, peak_memory, write_atomic

__all__ = [
    "BASELINE_WEIGHTS",
    "CONFIRMED_DIR",
    "Confirm",
    "check_target",
    "confirm_workers",
    "default_constraint",
    "search_baseline",
]


CONFIRMED_DIR = "confirmed"  # each retrained winner's weights, trial-<number>.safetensors
BASELINE_WEIGHTS = "baseline.safetensors"


@dataclass(frozen=True)
class Confirm:
    """Retrain the ``top_k`` best candidates alone with ``trainer`` (``workers`` at a
    time) and choose the baseline on those results: what a cheap evaluator's ranking
    needs before its winner is trusted."""

    trainer: Evaluator
    top_k: int
    workers: int = 1
    int8: bool = False  # each winner's accuracy after int8 quantization, too

    def __post_init__(self) -> None:
        if self.top_k < 0:
            raise SearchError(f"confirm top-k must be 0 (no retraining) or more, got {self.top_k}")


def default_constraint(evaluator: Evaluator) -> str:
    """soft where the evaluator gives an accuracy (ACC x (COST/T)^w means something),
    hard where it gives a score that only ranks (the best score within the target)."""
    return "soft" if evaluator.gives_accuracy else "hard"


def confirm_workers(ray: RayOptions | None, cores: int | None = None) -> int:
    """Winners retrained at once: one per trial slot where the search ran on Ray."""
    if ray is None:
        return 1
    slots = int((cores or os.cpu_count() or 1) / ray.cpus_per_trial)
    return max(1, min(ray.max_concurrent or slots, slots))


def check_target(space: MBConvSpace, config: SearchConfig) -> None:
    """Refuse a target below the space's smallest network (one line, naming both ends)."""
    low, high = space_cost_range(space, config)
    if config.target < low:
        raise SearchError(
            f"target {format_cost(config.target, config.cost)} is below the smallest network "
            f"in the space ({format_cost(low, config.cost)}; largest "
            f"{format_cost(high, config.cost)}); raise the target or widen the space with --space"
        )
    limit = config.max_peak_memory
    if limit is not None:
        smallest = peak_memory(space.decode(space.extreme(largest=False))).bytes("float32")
        if smallest > limit:
            raise SearchError(
                f"peak memory limit {format_cost(limit, 'memory')} is below the smallest "
                f"network in the space ({format_cost(smallest, 'memory')}); raise it or "
                "narrow the space with --space or --width-mult"
            )


class _Throttle:
    """Runs a task at most as often as keeps it to ``share`` of the wall time: the report
    is rewritten after every trial while that is cheap, less often as the run grows."""

    def __init__(self, share: float = 0.1) -> None:
        self.share = share
        self._next = 0.0

    def __call__(self, task: Callable[[], object]) -> None:
        started = time.perf_counter()
        if started < self._next:
            return
        task()
        self._next = started + (time.perf_counter() - started) / self.share


def search_baseline(
    *,
    space: MBConvSpace,
    evaluator: Evaluator,
    config: SearchConfig,
    run_dir: str | os.PathLike[str],
    confirm: Confirm | None = None,
    storage: str | None = None,
    ray: RayOptions | None = None,
    rank_check: dict[str, Any] | None = None,
    on_trial: Callable[[optuna.Study, FrozenTrial], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    on_confirming: Callable[[int], None] | None = None,
    on_confirmed: Callable[[int, dict[str, Any]], None] | None = None,
) -> SearchReport:
    """Search (or continue) to ``config.trials``, confirm the winners, write the report.

    The report (``trials.csv``, ``pareto.csv``, ``summary.json``, ``baseline.json``) is
    rewritten as trials land, so a long run can be read while it goes, and in full at
    the end with its plot. With ``confirm``, its trainer's identity is part of the run's:
    a continued run must retrain the same way. ``rank_check`` is what a rank check
    measured of this evaluator (``nas.rank_check.measured_ranking``), shown with the
    baseline. ``on_confirming(k)`` is told when the retraining of the winners starts,
    ``on_confirmed(number, result)`` as each lands. Raises ``SearchError`` (one line)
    for a target the space cannot reach.
    """
    check_target(space, config)
    confirming = confirm is not None and confirm.top_k > 0
    run_dir = Path(run_dir)
    throttle = _Throttle()

    def landed(study: optuna.Study, trial: FrozenTrial) -> None:
        if on_trial is not None:
            on_trial(study, trial)
        throttle(
            lambda: write_report(
                build_report(study, config, space_size=space.size, rank_check=rank_check),
                run_dir,
                config,
                plot=False,
            )
        )

    study = run_search(
        space=space,
        evaluator=evaluator,
        config=config,
        run_dir=run_dir,
        storage=storage,
        ray=ray,
        identity_extra={"confirm": confirm.trainer.identity()} if confirming else None,
        on_trial=landed,
        on_start=on_start,
    )
    if confirming:
        assert confirm is not None
        if on_confirming is not None:
            on_confirming(confirm.top_k)
        confirm_search(
            study,
            config,
            confirm.trainer,
            top_k=confirm.top_k,
            workers=confirm.workers,
            on_confirmed=on_confirmed,
            weights_dir=run_dir / CONFIRMED_DIR,
            int8=confirm.int8,
        )
    report = build_report(study, config, space_size=space.size, rank_check=rank_check)
    write_report(report, run_dir, config)
    _keep_baseline_weights(report, run_dir)
    return report


def _keep_baseline_weights(report: SearchReport, run_dir: Path) -> None:
    """The retrained baseline's weights beside baseline.json (safetensors), so that
    ``cnas export baseline.json --weights baseline.safetensors`` needs no training."""
    baseline = report.summary.get("baseline") or {}
    source = run_dir / CONFIRMED_DIR / weights_file(int(baseline.get("number", -1)))
    target = run_dir / BASELINE_WEIGHTS
    if baseline.get("standalone_accuracy") is not None and source.is_file():
        write_atomic(target, lambda tmp: shutil.copyfile(source, tmp))
    elif target.exists():
        target.unlink()  # another network is the baseline now; its weights were not kept

"""One switch between the two backends, so a run kind never chooses one itself."""

from __future__ import annotations

from collections.abc import Callable

import optuna
from optuna.trial import FrozenTrial

from nas.runs._interrupts import watching_interrupts
from nas.runs._ray_runner import RayOptions, run_on_ray
from nas.runs._runner import StudyTask, run_local
from nas.runs._trials import settle_unclaimed

__all__ = ["run_trials"]


def run_trials(
    study: optuna.Study,
    task: StudyTask,
    *,
    storage: optuna.storages.BaseStorage,
    budget: int,
    ray: RayOptions | None = None,
    early_stopping: str | None = None,
    on_trial: Callable[[optuna.Study, FrozenTrial], None] | None = None,
) -> None:
    """Run ``task``'s trials until the study has ``budget`` finished: here, or on Ray.

    A Ctrl-C ends it with ``KeyboardInterrupt`` at any moment, with every trial it asked
    and did not finish flagged to run again (see ``nas.runs._interrupts``).
    """
    with watching_interrupts():
        if ray is None:
            run_local(
                study,
                task,
                storage=storage,
                budget=budget,
                early_stopping=early_stopping,
                on_trial=on_trial,
            )
        else:
            run_on_ray(
                study,
                task,
                storage=storage,
                budget=budget,
                options=ray,
                early_stopping=early_stopping,
                on_trial=on_trial,
            )
        # A process killed between asking a trial and claiming it left it RUNNING.
        settle_unclaimed(study, storage, n_params=task.n_params)

"""Running an Optuna study to a budget, resumably, in this process or on Ray Tune.

Nothing here knows about networks: a run kind (search, coefficient grid, rank check)
hands over a ``StudyTask`` and the study it records into.
"""

from nas.runs._backend import BACKENDS, resolve_backend
from nas.runs._halving import FINALISTS, Round, next_round, survivors
from nas.runs._pareto_halving import PARETO_HALVING, ParetoHalving, RungPoint, keeps_at_rung
from nas.runs._ray_runner import RayError, RayOptions, connect_ray, make_searcher
from nas.runs._reuse import RESULT_KEY, Reused, ReuseError, read_reusable, result_key
from nas.runs._run_dir import RunDirError, recorded_identity
from nas.runs._run_trials import run_trials
from nas.runs._runner import (
    EARLY_STOPPING,
    Done,
    NodeError,
    Outcome,
    Reporter,
    RunStopped,
    StudyTask,
    early_stopping_pruner,
)
from nas.runs._seeded_trials import (
    ITEM_PARAM,
    SEED_PARAM,
    SeededTask,
    SeededTrials,
    job_seed,
    run_seeded_trials,
    seed_results,
)
from nas.runs._storage import StorageError, check_storage, open_storage, open_study
from nas.runs._trials import (
    UNCOUNTED,
    finished_count,
    interrupted_numbers,
    is_surplus,
    is_uncounted,
    mark_uncounted,
    over_budget,
    quiet_optuna,
    requeued_numbers,
    trial_node,
    trial_state,
)

__all__ = [
    "BACKENDS",
    "EARLY_STOPPING",
    "FINALISTS",
    "ITEM_PARAM",
    "PARETO_HALVING",
    "RESULT_KEY",
    "SEED_PARAM",
    "UNCOUNTED",
    "Done",
    "NodeError",
    "Outcome",
    "ParetoHalving",
    "RayError",
    "RayOptions",
    "Reporter",
    "ReuseError",
    "Reused",
    "Round",
    "RunDirError",
    "RunStopped",
    "RungPoint",
    "SeededTask",
    "SeededTrials",
    "StorageError",
    "StudyTask",
    "check_storage",
    "connect_ray",
    "early_stopping_pruner",
    "finished_count",
    "interrupted_numbers",
    "is_surplus",
    "is_uncounted",
    "job_seed",
    "keeps_at_rung",
    "make_searcher",
    "mark_uncounted",
    "next_round",
    "open_storage",
    "open_study",
    "over_budget",
    "quiet_optuna",
    "read_reusable",
    "recorded_identity",
    "requeued_numbers",
    "resolve_backend",
    "result_key",
    "run_seeded_trials",
    "run_trials",
    "seed_results",
    "survivors",
    "trial_node",
    "trial_state",
]

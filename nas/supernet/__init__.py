"""A weight-sharing supernet over an MBConv search space: train once, score many.

``Supernet`` holds the weights; ``train_supernet`` trains them with the sandwich rule;
``SupernetEvaluator`` scores a candidate by its inherited weights.
"""

from nas.supernet._checkpoint import TrainingCheckpoint
from nas.supernet._evaluator import CHECKPOINT_FILE, SupernetEvaluator
from nas.supernet._few_shot import FewShotSupernet, make_supernet, train_any_supernet
from nas.supernet._sandwich import (
    SAMPLINGS,
    SandwichConfig,
    SupernetTraining,
    sandwich_specs,
    step_specs,
    train_supernet,
)
from nas.supernet._store import (
    LEGACY_SUPERNET_FILE,
    SUPERNET_FILE,
    load_supernet,
    save_supernet,
)
from nas.supernet._supernet import (
    StageBounds,
    Supernet,
    SupernetError,
    default_supernet_space,
    stage_bounds,
    with_shortcuts,
)

__all__ = [
    "CHECKPOINT_FILE",
    "LEGACY_SUPERNET_FILE",
    "SAMPLINGS",
    "SUPERNET_FILE",
    "FewShotSupernet",
    "SandwichConfig",
    "StageBounds",
    "Supernet",
    "SupernetError",
    "SupernetEvaluator",
    "SupernetTraining",
    "TrainingCheckpoint",
    "default_supernet_space",
    "load_supernet",
    "make_supernet",
    "sandwich_specs",
    "save_supernet",
    "stage_bounds",
    "step_specs",
    "train_any_supernet",
    "train_supernet",
    "with_shortcuts",
]

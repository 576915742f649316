"""Evaluators: what scores a candidate spec, behind one small interface."""

from nas.evaluate._augment import AUGMENTATIONS, augment_batch, resolve_augmentations
from nas.evaluate._device import training_device
from nas.evaluate._evaluator import Evaluation, Evaluator, ProgressCallback, TrialError
from nas.evaluate._naswot import NaswotEvaluator, naswot_score
from nas.evaluate._recipe import (
    LEGACY_RECIPE,
    PEAK_RATES,
    PROXY_RECIPE,
    RECIPE_FIELDS,
    RECIPES,
    WEIGHT_DECAYS,
    recipe_settings,
    recorded_recipe,
)
from nas.evaluate._training import (
    OPTIMIZERS,
    TrainingConfig,
    TrainingEvaluator,
    accuracy_on,
    make_optimizer,
    make_scheduler,
    recalibrate_batch_norm,
    shuffled_batches,
)
from nas.evaluate._zero_cost import SynflowEvaluator, synflow_score

__all__ = [
    "AUGMENTATIONS",
    "LEGACY_RECIPE",
    "OPTIMIZERS",
    "PEAK_RATES",
    "PROXY_RECIPE",
    "RECIPES",
    "RECIPE_FIELDS",
    "WEIGHT_DECAYS",
    "Evaluation",
    "Evaluator",
    "NaswotEvaluator",
    "ProgressCallback",
    "SynflowEvaluator",
    "TrainingConfig",
    "TrainingEvaluator",
    "TrialError",
    "accuracy_on",
    "augment_batch",
    "make_optimizer",
    "make_scheduler",
    "naswot_score",
    "recalibrate_batch_norm",
    "recipe_settings",
    "recorded_recipe",
    "resolve_augmentations",
    "shuffled_batches",
    "synflow_score",
    "training_device",
]

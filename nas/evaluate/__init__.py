"""Evaluators: what scores a candidate spec, behind one small interface."""

from nas.evaluate._evaluator import Evaluation, Evaluator, ProgressCallback, TrialError
from nas.evaluate._naswot import NaswotEvaluator, naswot_score
from nas.evaluate._training import (
    OPTIMIZERS,
    TrainingConfig,
    TrainingEvaluator,
    accuracy_on,
    make_optimizer,
    recalibrate_batch_norm,
    shuffled_batches,
)
from nas.evaluate._zero_cost import SynflowEvaluator, synflow_score

__all__ = [
    "OPTIMIZERS",
    "Evaluation",
    "Evaluator",
    "NaswotEvaluator",
    "ProgressCallback",
    "SynflowEvaluator",
    "TrainingConfig",
    "TrainingEvaluator",
    "TrialError",
    "accuracy_on",
    "make_optimizer",
    "naswot_score",
    "recalibrate_batch_norm",
    "shuffled_batches",
    "synflow_score",
]

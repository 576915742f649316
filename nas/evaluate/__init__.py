"""Evaluators: what scores a candidate spec, behind one small interface."""

from nas.evaluate._evaluator import Evaluation, Evaluator, ProgressCallback, TrialError
from nas.evaluate._naswot import NaswotEvaluator, naswot_score
from nas.evaluate._training import OPTIMIZERS, TrainingConfig, TrainingEvaluator
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
    "naswot_score",
    "synflow_score",
]

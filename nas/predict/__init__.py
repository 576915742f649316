"""Accuracy predicted from the architecture: what a search learns from what it trained.

``AccuracyPredictor`` fits stand-alone results (spec -> accuracy) and predicts unseen
specs; ``leave_one_out`` measures how well it ranks the results it was given.
"""

from nas.predict._features import FEATURES_PER_STAGE, spec_features
from nas.predict._model import (
    MIN_TRAINED,
    AccuracyPredictor,
    PredictorError,
    leave_one_out,
)

__all__ = [
    "FEATURES_PER_STAGE",
    "MIN_TRAINED",
    "AccuracyPredictor",
    "PredictorError",
    "leave_one_out",
    "spec_features",
]

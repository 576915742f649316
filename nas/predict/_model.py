"""Ridge regression over one-hot stage choices, fitted on stand-alone results.

scikit-learn's ``RidgeCV`` behind a ``OneHotEncoder``: with a few dozen results only
each choice's own effect (kernel 5 in stage 3, ...) can be estimated, not their
interactions, and that is what a linear model over one-hot choices fits; its strength,
chosen by its own efficient leave-one-out, shrinks to the mean where the data say
nothing. On a ranking the choices decide it reaches a leave-one-out tau above 0.5 on
40 networks (tests/nas/predict); a random forest, tried on the same networks when this
was chosen, ranked them far worse.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nas.predict._features import COST_FEATURES, spec_features
from nas.stats import RankCorrelation, rank_correlation
from search_spaces import InputError, NetworkSpec

__all__ = ["MIN_TRAINED", "AccuracyPredictor", "PredictorError", "leave_one_out"]

# Fewer trained results than this and a prediction is noise: the leave-one-out tau of
# 8 networks has a standard error near 0.3 (sqrt(2(2n+5)/(9n(n-1)))).
MIN_TRAINED = 8
STRENGTHS = np.logspace(0, 3, 25)  # ridge strengths RidgeCV chooses among


class PredictorError(InputError):
    """A predictor cannot be fitted as asked; the message says why and what to change."""


class AccuracyPredictor:
    """Predicts a spec's stand-alone accuracy from specs already trained; optionally
    also from cheap scores every candidate has (a supernet's, a zero-cost one), which
    enter as numbers beside FLOPs and params (arXiv 2104.01177: such features help)."""

    def __init__(self) -> None:
        self._model: Any = None
        self._width: int | None = None
        self._scores: int = 0

    def fit(
        self,
        specs: Sequence[NetworkSpec],
        accuracies: Sequence[float],
        scores: Sequence[Sequence[float]] | None = None,
    ) -> AccuracyPredictor:
        """Fit on ``specs`` and their ``accuracies``; ``scores`` (one row of cheap scores a
        spec) must then be given for every spec asked about later."""
        if len(specs) != len(accuracies):
            raise PredictorError(f"{len(specs)} specs for {len(accuracies)} accuracies")
        if len(specs) < MIN_TRAINED:
            raise PredictorError(
                f"a predictor needs {MIN_TRAINED} trained results or more, got {len(specs)}"
            )
        extra = _scores_matrix(scores, len(specs))
        self._scores = extra.shape[1]
        x = self._matrix(specs, extra)
        self._width = x.shape[1]
        self._model = _pipeline(COST_FEATURES + self._scores).fit(
            x, np.asarray(accuracies, dtype=float)
        )
        return self

    def predict(
        self, specs: Sequence[NetworkSpec], scores: Sequence[Sequence[float]] | None = None
    ) -> np.ndarray:
        if self._model is None:
            raise PredictorError("fit the predictor before asking it")
        extra = _scores_matrix(scores, len(specs))
        if extra.shape[1] != self._scores:
            raise PredictorError(
                f"the predictor was fitted with {self._scores} cheap score(s) a network, "
                f"asked with {extra.shape[1]}: give the same scores"
            )
        x = self._matrix(specs, extra)
        if x.shape[1] != self._width:
            raise PredictorError(
                "these specs have another stage count than the ones the predictor was fitted on"
            )
        return self._model.predict(x)

    @staticmethod
    def _matrix(specs: Sequence[NetworkSpec], extra: np.ndarray) -> np.ndarray:
        rows = [spec_features(spec) for spec in specs]
        if len({len(row) for row in rows}) > 1:
            raise PredictorError("specs of one predictor must share a stage count (one space)")
        x = np.vstack(rows)
        # Numbers first (cost, then the scores), then the choices the encoder one-hots.
        return np.hstack([x[:, :COST_FEATURES], extra, x[:, COST_FEATURES:]])


def _scores_matrix(scores: Sequence[Sequence[float]] | None, count: int) -> np.ndarray:
    if scores is None:
        return np.empty((count, 0))
    matrix = np.asarray(scores, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] != count:
        raise PredictorError(f"give one row of cheap scores for each of the {count} specs")
    if not np.isfinite(matrix).all():
        raise PredictorError("a cheap score is not a finite number: score every network first")
    return matrix


def _pipeline(numbers: int) -> Any:
    """Scaled numbers (the first ``numbers`` columns), one-hot choices, ridge."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    def choices(x: np.ndarray) -> list[int]:
        return list(range(numbers, x.shape[1]))

    encode = ColumnTransformer(
        [
            ("cost", StandardScaler(), list(range(numbers))),
            # A choice no trained network had says nothing: all zeros, not an error.
            ("choices", OneHotEncoder(handle_unknown="ignore"), choices),
        ]
    )
    return make_pipeline(encode, RidgeCV(alphas=STRENGTHS))


def leave_one_out(
    specs: Sequence[NetworkSpec],
    accuracies: Sequence[float],
    *,
    scores: Sequence[Sequence[float]] | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, RankCorrelation]:
    """Each result predicted by a predictor fitted on all the others, and the Kendall tau
    (with its bootstrap interval) of those predictions against the results.

    It is what the predictor would have said of a network before it was trained. With no
    signal it reads below 0, down to -1: leaving a good network out lowers the rest's
    mean, which is what a ridge shrunk to nothing predicts. Read it as ranking only where
    its interval lies above 0.
    """
    if len(specs) < MIN_TRAINED + 1:
        raise PredictorError(
            f"leave-one-out needs {MIN_TRAINED + 1} trained results or more, got {len(specs)}"
        )
    y = np.asarray(accuracies, dtype=float)
    extra = _scores_matrix(scores, len(y))
    predictions = np.empty(len(y))
    for held in range(len(y)):
        rest = [i for i in range(len(y)) if i != held]
        model = AccuracyPredictor().fit([specs[i] for i in rest], y[rest], extra[rest])
        predictions[held] = model.predict([specs[held]], extra[[held]])[0]
    return predictions, rank_correlation(predictions, y, seed=seed)

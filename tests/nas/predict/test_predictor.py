"""The accuracy predictor: it learns a ranking the architecture decides, and no more."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from nas.predict import (
    FEATURES_PER_STAGE,
    MIN_TRAINED,
    AccuracyPredictor,
    PredictorError,
    leave_one_out,
    spec_features,
)
from scaling import search_proxy
from search_spaces import MBConvSpace, StageChoices

PROXY = search_proxy(resolution=16, in_channels=1, num_classes=10, width_mult=0.5, depth_mult=0.5)
SPACE = MBConvSpace.uniform(PROXY, StageChoices(kernels=(3, 5, 7), expand_ratios=(1, 6)))
SPECS = SPACE.sample_distinct(40, seed=0)


def known(spec) -> float:
    """Kernel 5 and expansion 6 help in every stage: a ranking only the choices explain."""
    return 0.4 + 0.03 * sum((s.kernel == 5) + (s.expand_ratio == 6) for s in spec.stages)


def test_features_are_cost_then_each_stages_choices():
    spec = SPECS[0]
    features = spec_features(spec)
    assert len(features) == 2 + FEATURES_PER_STAGE * len(spec.stages)
    first = spec.stages[0]
    assert list(features[2:5]) == [first.repeats, first.kernel, first.expand_ratio]


def test_leave_one_out_recovers_a_ranking_the_architecture_decides():
    accuracies = [known(spec) for spec in SPECS]
    predictions, tau = leave_one_out(SPECS, accuracies)
    assert tau.n == 40 and tau.kendall_tau > 0.5 and tau.kendall_low > 0.3
    # Each prediction came from a forest that never saw that network.
    alone = AccuracyPredictor().fit(SPECS[1:], accuracies[1:]).predict(SPECS[:1])[0]
    assert predictions[0] == pytest.approx(alone)


@pytest.mark.parametrize("seed", range(3))
def test_leave_one_out_finds_nothing_where_there_is_nothing(seed):
    # Not the stream that drew the networks: that would tie the "noise" to their choices.
    noise = np.random.default_rng(1000 + seed).normal(0.5, 0.01, len(SPECS))
    _, tau = leave_one_out(SPECS, noise)
    assert tau.kendall_tau < 0.1 and tau.kendall_low < 0  # shrunk to the rest's mean: <= 0


def test_a_fitted_predictor_is_deterministic_and_ranks_unseen_networks():
    accuracies = [known(spec) for spec in SPECS[:30]]
    one = AccuracyPredictor().fit(SPECS[:30], accuracies).predict(SPECS[30:])
    two = AccuracyPredictor().fit(SPECS[:30], accuracies).predict(SPECS[30:])
    assert np.array_equal(one, two)
    truth = np.array([known(spec) for spec in SPECS[30:]])
    assert np.corrcoef(one, truth)[0, 1] > 0.5


def test_what_a_predictor_cannot_do_is_refused_in_one_line():
    few = SPECS[: MIN_TRAINED - 1]
    with pytest.raises(PredictorError, match=f"needs {MIN_TRAINED} trained results or more"):
        AccuracyPredictor().fit(few, [0.5] * len(few))
    with pytest.raises(PredictorError, match="fit the predictor before"):
        AccuracyPredictor().predict(SPECS[:1])
    with pytest.raises(PredictorError, match="leave-one-out needs 9"):
        leave_one_out(SPECS[:8], [0.5] * 8)
    # The proxy without its last stage: a network of another space (the search proxy at
    # another depth keeps its 7 stages, so it would not test this).
    other = dataclasses.replace(PROXY, stages=PROXY.stages[:-1])
    fitted = AccuracyPredictor().fit(SPECS[:10], [known(s) for s in SPECS[:10]])
    with pytest.raises(PredictorError, match="another stage count"):
        fitted.predict([other])
    with pytest.raises(PredictorError, match="share a stage count"):
        AccuracyPredictor().fit([*SPECS[:9], other], [0.5] * 10)
    with pytest.raises(PredictorError, match="specs for"):
        AccuracyPredictor().fit(SPECS[:10], [0.5] * 9)


def test_a_cheap_score_the_encoding_cannot_see_is_learned_as_a_feature():
    # What training decides beyond the choices (here: a draw per network), which a cheap
    # score (a supernet's, say) sees through noise: the encoding alone cannot rank it.
    rng = np.random.default_rng(0)
    hidden = rng.normal(size=len(SPECS))
    accuracies = 0.6 + 0.05 * hidden
    score = hidden + rng.normal(scale=0.3, size=len(SPECS))
    _, alone = leave_one_out(SPECS, accuracies)
    _, with_score = leave_one_out(SPECS, accuracies, scores=score[:, None])
    # Measured: 0.16 [-0.07, 0.38] alone, 0.55 [0.33, 0.72] with the score.
    assert alone.kendall_tau < 0.25 and with_score.kendall_tau > 0.45
    assert with_score.kendall_tau > alone.kendall_high


def test_cheap_scores_must_come_with_every_network_asked_about():
    scores = np.ones((10, 1))
    fitted = AccuracyPredictor().fit(SPECS[:10], [known(s) for s in SPECS[:10]], scores)
    assert fitted.predict(SPECS[10:12], np.ones((2, 1))).shape == (2,)
    with pytest.raises(PredictorError, match=r"fitted with 1 cheap score.*asked with 0"):
        fitted.predict(SPECS[10:12])
    with pytest.raises(PredictorError, match="one row of cheap scores for each of the 2"):
        fitted.predict(SPECS[10:12], np.ones((3, 1)))
    with pytest.raises(PredictorError, match="not a finite number"):
        fitted.predict(SPECS[10:12], np.array([[1.0], [np.nan]]))

import math

import numpy as np
import pytest
from scipy import stats

from nas.stats import rank_correlation, reference_reliability, tau_difference


def test_a_hand_counted_ranking():
    # 10 pairs, 2 discordant ((2,3) and (4,5)): tau = (8 - 2) / 10; sum d^2 = 4: rho = 1 - 24/120.
    found = rank_correlation([1, 2, 3, 4, 5], [1, 3, 2, 5, 4], resamples=200)
    assert found.kendall_tau == pytest.approx(0.6)
    assert found.spearman_rho == pytest.approx(0.8)
    assert found.n == 5


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_point_estimates_equal_scipy_with_ties(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 6, size=30).astype(float)  # ties: tau-b, as scipy computes it
    y = x + rng.normal(size=30)
    found = rank_correlation(x, y, resamples=300, seed=seed)
    assert found.kendall_tau == pytest.approx(stats.kendalltau(x, y).statistic)
    assert found.spearman_rho == pytest.approx(stats.spearmanr(x, y).statistic)
    assert -1 <= found.kendall_low <= found.kendall_tau <= found.kendall_high <= 1
    assert -1 <= found.spearman_low <= found.spearman_rho <= found.spearman_high <= 1


def test_intervals_tell_signal_from_noise_at_thirty_networks():
    rng = np.random.default_rng(7)
    x = rng.normal(size=30)
    strong = rank_correlation(x, x + 0.3 * rng.normal(size=30))
    unrelated = rank_correlation(x, rng.normal(size=30))
    assert strong.kendall_low > 0.4
    assert unrelated.kendall_low < 0 < unrelated.kendall_high
    assert rank_correlation(x, -x).kendall_tau == pytest.approx(-1.0)


def test_the_same_seed_gives_the_same_interval_and_nan_pairs_are_left_out():
    x, y = [3.0, 1.0, 2.0, 5.0, 4.0, math.nan], [2.0, 1.0, 3.0, 4.0, 5.0, 1.0]
    first, second = rank_correlation(x, y, seed=3), rank_correlation(x, y, seed=3)
    assert first == second and first.n == 5


@pytest.mark.parametrize(
    ("x", "y"), [([1.0, 2.0], [2.0, 1.0]), ([1.0, 1.0, 1.0, 1.0], [1.0, 2.0, 3.0, 4.0])]
)
def test_too_few_or_constant_values_have_no_correlation(x, y):
    found = rank_correlation(x, y)
    assert math.isnan(found.kendall_tau) and math.isnan(found.spearman_high)


def test_lengths_must_match():
    with pytest.raises(ValueError, match="differ in length"):
        rank_correlation([1, 2, 3], [1, 2])


def test_a_paired_difference_tells_apart_scores_whose_own_intervals_overlap():
    # Two scores that err on the same networks: separately their tau intervals overlap,
    # paired over networks the better one is distinguishable.
    rng = np.random.default_rng(3)
    reference = rng.normal(size=30)
    good = reference + 0.5 * rng.normal(size=30)
    worse = good + 0.6 * rng.normal(size=30)
    a, b = rank_correlation(good, reference), rank_correlation(worse, reference)
    assert a.kendall_low < b.kendall_high  # the separate intervals overlap
    found = tau_difference(good, worse, reference)
    expected = stats.kendalltau(good, reference).statistic
    expected -= stats.kendalltau(worse, reference).statistic
    assert found.difference == pytest.approx(expected)
    assert found.low > 0 and found.distinguishable


def test_a_paired_difference_of_equally_good_scores_is_within_noise():
    rng = np.random.default_rng(5)
    reference = rng.normal(size=30)
    found = tau_difference(
        reference + rng.normal(size=30), reference + rng.normal(size=30), reference
    )
    assert found.low < 0 < found.high and not found.distinguishable
    assert math.isnan(tau_difference([1.0, 2.0], [2.0, 1.0], [1.0, 2.0]).difference)


def test_the_ceiling_is_the_tau_the_true_means_reach_against_the_measured_mean():
    rng = np.random.default_rng(0)
    true = rng.normal(0, 1, 400)  # each network's accuracy free of seed noise
    for noise in (0.5, 1.0):
        runs = true[:, None] + rng.normal(0, noise, (400, 3))
        found = reference_reliability(runs, resamples=300)
        actual = stats.kendalltau(true, runs.mean(axis=1)).statistic
        # The ceiling is estimated from the runs alone; it lands on the real one.
        assert found.ceiling == pytest.approx(actual, abs=0.04)
        assert found.ceiling_low < actual < found.ceiling_high
        # One run against the mean of two others ranks worse than the 3-run mean can.
        assert found.one_vs_rest < found.ceiling
        assert (found.n, found.runs) == (400, 3)


def test_noiseless_runs_reach_one_and_unrelated_runs_nothing():
    values = np.arange(10.0)
    same = reference_reliability(np.stack([values] * 3, axis=1), resamples=50)
    assert same.ceiling == pytest.approx(1.0) and same.one_vs_rest == pytest.approx(1.0)
    rng = np.random.default_rng(1)
    unrelated = reference_reliability(rng.normal(size=(300, 3)), resamples=50)
    assert unrelated.ceiling < 0.2 and abs(unrelated.one_vs_rest) < 0.1


def test_reliability_needs_two_runs_and_three_networks():
    with pytest.raises(ValueError, match="2 or more seeds"):
        reference_reliability(np.ones((5, 1)))
    assert math.isnan(reference_reliability(np.ones((2, 3))).ceiling)

"""Accuracies over seeds and paired comparisons, on values where the answer is known."""

import math

import pytest
from scipy import stats

from nas.stats import compare_by_seed, summarise_seeds


def test_paired_difference_equals_a_t_interval_on_the_differences():
    a = {0: 0.91, 1: 0.93, 2: 0.92, 3: 0.95}
    b = {0: 0.89, 1: 0.90, 2: 0.91, 3: 0.92, 4: 0.5}  # seed 4 is not shared
    found = compare_by_seed(a, b, a_label="compound", b_label="width-only")
    gaps = [2.0, 3.0, 1.0, 3.0]
    interval = stats.t.interval(0.95, 3, loc=sum(gaps) / 4, scale=stats.sem(gaps))
    assert found.n == 4 and found.difference == pytest.approx(2.25)
    assert (found.low, found.high) == pytest.approx(interval)
    assert found.distinguishable
    assert found.sentence().startswith("compound beats width-only by 2.25 +- ")


def test_noise_is_called_noise():
    a = {0: 0.90, 1: 0.93, 2: 0.91}
    b = {0: 0.92, 1: 0.90, 2: 0.92}
    found = compare_by_seed(a, b, a_label="x", b_label="y")
    assert not found.distinguishable
    assert found.sentence().startswith("x is not distinguishable from y (+0.00 +- ")
    one = compare_by_seed({0: 0.9}, {0: 0.8}, a_label="x", b_label="y")
    assert one.n == 1 and not one.distinguishable and math.isnan(one.low)
    # Two seeds that agree make a zero-wide interval: still too few to tell.
    two = compare_by_seed({0: 0.9, 1: 0.8}, {0: 0.8, 1: 0.7}, a_label="x", b_label="y")
    assert (two.low, two.high) == pytest.approx((10.0, 10.0)) and not two.distinguishable
    assert "cannot be told from y with 2 seed(s) (+10.00 points; 3 or more" in two.sentence()


def test_seed_summary():
    s = summarise_seeds([0.9, 0.92, math.nan, 0.94])
    assert s.n == 3 and s.mean == pytest.approx(0.92)
    assert (s.low, s.high) == pytest.approx(
        stats.t.interval(0.95, 2, loc=0.92, scale=stats.sem([0.9, 0.92, 0.94]))
    )

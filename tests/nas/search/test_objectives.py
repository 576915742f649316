"""MnasNet's reward, the accuracy/cost Pareto front and its hypervolume, on hand-made numbers."""

from __future__ import annotations

import math
import random

import pytest

from nas import REWARD_FORMS, hypervolume, mnas_reward, pareto_front, reward_form

SOFT, HARD = REWARD_FORMS["soft"], REWARD_FORMS["hard"]
T = 4e8

# (accuracy, cost). 1 and 2 lose to 6 (same or lower cost, more accurate), 4 loses to 0,
# 5 ties 3 on accuracy at a higher cost. The front, by rising cost, is 0, 6, 3.
POINTS = [(0.70, 100), (0.80, 200), (0.75, 250), (0.90, 400), (0.60, 150), (0.90, 500), (0.85, 200)]
FRONT = [0, 6, 3]


def test_reward_forms_are_mnasnets_exponents():
    assert (SOFT.a, SOFT.b) == (-0.07, -0.07)
    assert (HARD.a, HARD.b) == (0.0, -1.0)
    assert reward_form("soft") is SOFT
    with pytest.raises(ValueError, match=r"unknown reward form 'medium'.*soft, hard"):
        reward_form("medium")


@pytest.mark.parametrize("accuracy", [0.0, 0.5, 0.761])
def test_soft_reward_at_and_around_the_target(accuracy):
    assert mnas_reward(accuracy, T, T, SOFT) == pytest.approx(accuracy, abs=1e-15)
    # Twice the cost is worth about 5% less: 2**-0.07 = 0.95264.
    assert mnas_reward(accuracy, 2 * T, T, SOFT) == pytest.approx(accuracy * 0.952638, abs=1e-6)
    assert mnas_reward(accuracy, 2 * T, T, SOFT) == pytest.approx(accuracy * 2**-0.07, rel=1e-12)
    # Half the cost is worth about 5% more (the soft constraint also rewards cheap models).
    assert mnas_reward(accuracy, T / 2, T, SOFT) == pytest.approx(accuracy * 1.049717, abs=1e-6)


def test_soft_reward_is_continuous_and_decreasing_in_cost():
    rewards = [mnas_reward(0.8, T * f, T, SOFT) for f in (0.25, 0.5, 0.999999, 1, 1.000001, 3)]
    assert rewards == sorted(rewards, reverse=True)
    assert rewards[2] == pytest.approx(rewards[4], rel=1e-6)


def test_hard_reward_ignores_cost_below_the_target_and_divides_above():
    for cost in (1.0, T / 10, T / 2, T):
        assert mnas_reward(0.76, cost, T, HARD) == 0.76
    assert mnas_reward(0.76, 2 * T, T, HARD) == pytest.approx(0.38, rel=1e-12)
    assert mnas_reward(0.76, 4 * T, T, HARD) == pytest.approx(0.19, rel=1e-12)


@pytest.mark.parametrize(("cost", "target"), [(0, T), (-5, T), (T, 0), (T, -1.0), (0, 0)])
def test_reward_rejects_non_positive_cost_or_target(cost, target):
    with pytest.raises(ValueError, match="must be positive"):
        mnas_reward(0.5, cost, target, SOFT)


@pytest.mark.parametrize(("cost", "target"), [(math.nan, T), (T, math.nan), (T, math.inf)])
def test_reward_rejects_non_finite_cost_or_target(cost, target):
    with pytest.raises(ValueError):
        mnas_reward(0.5, cost, target, SOFT)


def test_pareto_front_on_hand_made_points():
    assert pareto_front(POINTS) == FRONT
    assert pareto_front([]) == []
    assert pareto_front([(0.3, 7.0)]) == [0]
    # Same cost: only the more accurate survives; same accuracy: only the cheaper.
    assert pareto_front([(0.5, 10), (0.6, 10)]) == [1]
    assert pareto_front([(0.6, 20), (0.6, 10)]) == [1]
    # A strictly improving chain is all front, returned by rising cost whatever the input order.
    assert pareto_front([(0.9, 3), (0.7, 1), (0.8, 2)]) == [1, 2, 0]


def test_pareto_front_keeps_identical_points():
    assert pareto_front([(0.5, 10), (0.5, 10)]) == [0, 1]


def test_pareto_front_matches_brute_force_dominance():
    rng = random.Random(0)
    points = [(rng.random(), rng.uniform(1, 100)) for _ in range(300)]

    def dominated(p: tuple[float, float]) -> bool:
        return any(q[0] >= p[0] and q[1] <= p[1] and q != p for q in points)

    front = pareto_front(points)
    assert set(front) == {i for i, p in enumerate(points) if not dominated(p)}
    costs = [points[i][1] for i in front]
    accuracies = [points[i][0] for i in front]
    assert costs == sorted(costs) and accuracies == sorted(accuracies)
    assert 3 <= len(front) < 30


def test_hypervolume_by_hand():
    # Front (0.70, 100), (0.85, 200), (0.90, 400) up to cost 500:
    # 0.70 * 100 + 0.85 * 200 + 0.90 * 100 = 70 + 170 + 90 = 330.
    assert hypervolume(POINTS, max_cost=500) == pytest.approx(330.0, rel=1e-12)
    # Only the front matters.
    front_only = [POINTS[i] for i in FRONT]
    assert hypervolume(front_only, max_cost=500) == pytest.approx(330.0, rel=1e-12)
    # Cut at 300: (0.90, 400) is beyond it; 0.70 * 100 + 0.85 * 100 = 155.
    assert hypervolume(POINTS, max_cost=300) == pytest.approx(155.0, rel=1e-12)
    assert hypervolume([(0.5, 0.0)], max_cost=2.0) == pytest.approx(1.0)
    assert hypervolume([], max_cost=2.0) == 0.0


def test_points_beyond_max_cost_add_nothing():
    base = hypervolume(POINTS, max_cost=500)
    assert hypervolume([*POINTS, (0.99, 600), (1.0, 10_000)], max_cost=500) == base
    assert hypervolume([(0.99, 600)], max_cost=500) == 0.0
    # A point exactly at max_cost bounds a zero-width slab.
    assert hypervolume([*POINTS, (0.95, 500)], max_cost=500) == pytest.approx(base)


def test_hypervolume_grows_with_a_new_front_point_and_ignores_negative_accuracy():
    base = hypervolume(POINTS, max_cost=500)
    # (0.95, 450) adds (0.95 - 0.90) * (500 - 450) = 2.5.
    assert hypervolume([*POINTS, (0.95, 450)], max_cost=500) == pytest.approx(base + 2.5)
    assert hypervolume([(-0.5, 1.0)], max_cost=2.0) == 0.0

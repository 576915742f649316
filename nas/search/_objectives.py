"""MnasNet's reward, the accuracy/cost Pareto front, and its hypervolume."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "REWARD_FORMS",
    "RewardForm",
    "hypervolume",
    "mnas_reward",
    "pareto_front",
    "reward_form",
]


@dataclass(frozen=True)
class RewardForm:
    """Exponents of ACC * (COST / T)^w: w = a when COST <= T, else b."""

    name: str
    a: float
    b: float


# MnasNet, arXiv 1807.11626, eq. 2 and sec. 3: the soft constraint (a = b = -0.07) says a
# model twice the target cost should be about 5% more accurate to be worth as much;
# the hard constraint (a = 0, b = -1) ignores cost under the target and punishes it above.
REWARD_FORMS: dict[str, RewardForm] = {
    "soft": RewardForm("soft", -0.07, -0.07),
    "hard": RewardForm("hard", 0.0, -1.0),
}


def reward_form(name: str) -> RewardForm:
    try:
        return REWARD_FORMS[name]
    except KeyError:
        raise ValueError(
            f"unknown reward form {name!r}; choose one of {', '.join(REWARD_FORMS)}"
        ) from None


def mnas_reward(accuracy: float, cost: float, target: float, form: RewardForm) -> float:
    """ACC(m) * (COST(m) / T)^w, with w = a if COST <= T else b."""
    if not (math.isfinite(cost) and math.isfinite(target)) or cost <= 0 or target <= 0:
        raise ValueError(
            f"cost and target must be positive finite numbers, got cost={cost}, target={target}"
        )
    exponent = form.a if cost <= target else form.b
    return accuracy * (cost / target) ** exponent


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point dominates (higher accuracy, lower cost).

    ``points`` are (accuracy, cost). A point is dominated when another is at
    least as good on both and better on one. Returned in order of rising cost.
    """
    order = sorted(range(len(points)), key=lambda i: (points[i][1], -points[i][0]))
    front: list[int] = []
    best_accuracy = -math.inf
    for index in order:
        accuracy, _ = points[index]
        # An exact copy of the last front point is not dominated by it either.
        if accuracy > best_accuracy or (front and points[index] == points[front[-1]]):
            front.append(index)
            best_accuracy = max(best_accuracy, accuracy)
    return front


def hypervolume(points: Sequence[tuple[float, float]], *, max_cost: float) -> float:
    """Area dominated by the front, bounded by accuracy 0 and ``max_cost``.

    The 2-D hypervolume indicator (Zitzler and Thiele 1998) of (accuracy, cost)
    points; higher is better. Points costlier than ``max_cost`` add nothing.
    """
    front = [points[i] for i in pareto_front(points) if points[i][1] <= max_cost]
    area = 0.0
    for position, (accuracy, cost) in enumerate(front):
        next_cost = front[position + 1][1] if position + 1 < len(front) else max_cost
        area += max(0.0, accuracy) * (next_cost - cost)
    return area

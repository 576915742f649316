"""Successive halving for searches with two objectives: accuracy so far against cost.

ASHA keeps, at each rung, the best half of the trials that reached it by one score.
A Pareto search has two (accuracy, and a cost known before training), and no scalar
ordering of them is right: a small network at 0.80 after one epoch and a large one at
0.90 may both be on the front. Optuna cannot prune multi-objective studies (its
``Trial.report`` refuses them; optuna#3450) and Tune's ASHA takes one metric, so the
rule is ours:

at a rung (epochs 1, 2, 4, ... as with ASHA), the trials that have reached it are
ordered as NSGA-II orders a population: by non-dominated front of (accuracy at the
rung, up; cost, down), and within a front by crowding distance (the front's ends
first, then points in sparse regions), then by trial number. A trial goes on if it is
among the first ``max(1, n // reduction_factor)`` of the ``n`` trials at its rung,
itself included; otherwise it stops there. As with asynchronous ASHA, a trial is
judged against those that reached the rung before it, so the first trials go on.

The score at each rung is kept on the trial (user attribute ``rung_<epoch>``) and the
cost is read from its ``cost`` attribute (set before training), so several processes
sharing one study, and a resumed run, judge against the same records.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import optuna

__all__ = ["PARETO_HALVING", "ParetoHalving", "RungPoint", "halving_order", "keeps_at_rung"]

PARETO_HALVING = "pareto-halving"


@dataclass(frozen=True)
class RungPoint:
    """A trial at a rung: its number, its accuracy there and its cost."""

    number: int
    score: float
    cost: float


def _dominates(a: RungPoint, b: RungPoint) -> bool:
    return a.score >= b.score and a.cost <= b.cost and (a.score > b.score or a.cost < b.cost)


def _fronts(points: Sequence[RungPoint]) -> list[list[RungPoint]]:
    """Non-dominated sorting: the first front, then the front of what is left, ..."""
    remaining = list(points)
    fronts: list[list[RungPoint]] = []
    while remaining:
        front = [p for p in remaining if not any(_dominates(q, p) for q in remaining)]
        fronts.append(front)
        remaining = [p for p in remaining if p not in front]
    return fronts


def _crowding(front: Sequence[RungPoint]) -> dict[int, float]:
    """NSGA-II's crowding distance of each point (by number); the ends are infinite."""
    distance = {p.number: 0.0 for p in front}
    if len(front) <= 2:
        return {number: math.inf for number in distance}
    for key in ("score", "cost"):
        ordered = sorted(front, key=lambda p: (getattr(p, key), p.number))
        low, high = getattr(ordered[0], key), getattr(ordered[-1], key)
        distance[ordered[0].number] = distance[ordered[-1].number] = math.inf
        if high == low:
            continue
        for before, point, after in zip(ordered, ordered[1:], ordered[2:], strict=False):
            distance[point.number] += (getattr(after, key) - getattr(before, key)) / (high - low)
    return distance


def halving_order(points: Sequence[RungPoint]) -> list[int]:
    """Trial numbers, best first: by front, then crowding distance, then number."""
    order: list[int] = []
    for front in _fronts(points):
        crowding = _crowding(front)
        order += [p.number for p in sorted(front, key=lambda p: (-crowding[p.number], p.number))]
    return order


def keeps_at_rung(point: RungPoint, others: Sequence[RungPoint], reduction_factor: int) -> bool:
    """Whether ``point`` goes on past its rung, given the ``others`` that reached it."""
    population = [point, *(p for p in others if p.number != point.number)]
    kept = max(1, len(population) // reduction_factor)
    return point.number in halving_order(population)[:kept]


class ParetoHalving:
    """The rule above, applied to a running trial of a study (local and Ray backends)."""

    name = PARETO_HALVING

    def __init__(self, *, min_resource: int = 1, reduction_factor: int = 2) -> None:
        if min_resource < 1 or reduction_factor < 2:
            raise ValueError("min_resource must be >= 1 and reduction_factor >= 2")
        self.min_resource = min_resource
        self.reduction_factor = reduction_factor

    def is_rung(self, epoch: int) -> bool:
        resource = self.min_resource
        while resource < epoch:
            resource *= self.reduction_factor
        return resource == epoch

    def should_stop(
        self, study: optuna.Study, trial: optuna.Trial, epoch: int, score: float
    ) -> bool:
        """Record ``score`` at ``epoch`` on ``trial``; True if the trial stops there."""
        if not self.is_rung(epoch) or not math.isfinite(score):
            return False
        key = f"rung_{epoch}"
        trial.set_user_attr(key, float(score))
        cost = trial.user_attrs.get("cost")
        if cost is None:
            return False  # nothing to weigh the score against: as if no rule
        point = RungPoint(trial.number, float(score), float(cost))
        others = [
            RungPoint(t.number, float(t.user_attrs[key]), float(t.user_attrs["cost"]))
            for t in study.get_trials(deepcopy=False)
            if t.number != trial.number and key in t.user_attrs and "cost" in t.user_attrs
        ]
        return not keeps_at_rung(point, others, self.reduction_factor)

"""Accuracies over seeds: a mean with its interval, and two candidates compared by seed.

Every candidate of a seed index trains with the same seed (the same batch order), so
the difference between two candidates on one seed cancels much of what that seed did
to both; the paired difference over seeds, with a t interval, says whether one is
better or whether the two are within noise at this budget.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scipy import stats

__all__ = ["MIN_SEEDS", "Comparison", "SeedSummary", "compare_by_seed", "summarise_seeds"]

MIN_SEEDS = 3  # shared seeds before two candidates can be told apart


def _half_width(values: Sequence[float]) -> float:
    if len(values) < 2:
        return math.nan
    return (
        float(stats.t.ppf(0.975, len(values) - 1))
        * statistics.stdev(values)
        / math.sqrt(len(values))
    )


@dataclass(frozen=True)
class SeedSummary:
    n: int
    mean: float
    low: float  # 95% t interval of the mean; NaN with one seed
    high: float


def summarise_seeds(accuracies: Sequence[float]) -> SeedSummary:
    """Mean and 95% interval of the finite accuracies (a failed seed is NaN, left out)."""
    values = [a for a in accuracies if math.isfinite(a)]
    if not values:
        return SeedSummary(0, math.nan, math.nan, math.nan)
    mean = statistics.fmean(values)
    half = _half_width(values)
    return SeedSummary(len(values), mean, mean - half, mean + half)


@dataclass(frozen=True)
class Comparison:
    """``a`` minus ``b``, in accuracy points (percent), paired by seed."""

    a: str
    b: str
    n: int  # seeds both have
    difference: float
    low: float  # 95% t interval; NaN below two shared seeds
    high: float

    @property
    def distinguishable(self) -> bool:
        # Two seeds make an interval, but one from two differences that happen to agree
        # (accuracies come in steps of one validation image) would be zero wide.
        return self.n >= MIN_SEEDS and (self.low > 0 or self.high < 0)

    def sentence(self) -> str:
        if self.n == 0:
            return f"{self.a} and {self.b} share no finished seed: no comparison"
        half = (self.high - self.low) / 2 if self.n >= 2 else math.nan
        spread = f"{abs(self.difference):.2f} +- {half:.2f} points over {self.n} seeds"
        if self.distinguishable:
            verb = "beats" if self.difference > 0 else "loses to"
            return f"{self.a} {verb} {self.b} by {spread}"
        if self.n < MIN_SEEDS:
            return (
                f"{self.a} cannot be told from {self.b} with {self.n} seed(s) "
                f"({self.difference:+.2f} points; {MIN_SEEDS} or more are needed)"
            )
        return (
            f"{self.a} is not distinguishable from {self.b} "
            f"({self.difference:+.2f} +- {half:.2f} points over {self.n} seeds)"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "a": self.a,
            "b": self.b,
            "seeds": self.n,
            "difference_points": _round(self.difference),
            "low": _round(self.low),
            "high": _round(self.high),
            "distinguishable": self.distinguishable,
            "sentence": self.sentence(),
        }


def _round(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 3)


def compare_by_seed(
    a: Mapping[int, float], b: Mapping[int, float], *, a_label: str, b_label: str
) -> Comparison:
    """``a`` minus ``b`` over the seeds both finished, in points, with a 95% t interval."""
    shared = sorted(s for s in set(a) & set(b) if math.isfinite(a[s]) and math.isfinite(b[s]))
    gaps = [100 * (a[s] - b[s]) for s in shared]
    if not gaps:
        return Comparison(a_label, b_label, 0, math.nan, math.nan, math.nan)
    mean = statistics.fmean(gaps)
    half = _half_width(gaps)
    return Comparison(a_label, b_label, len(gaps), mean, mean - half, mean + half)

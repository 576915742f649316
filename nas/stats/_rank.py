"""Rank correlation between a cheap score and the reference accuracy, with intervals.

Kendall's tau-b and Spearman's rho come from scipy; their 95% intervals from a paired
percentile bootstrap (scipy.stats.bootstrap) over the networks, so an interval says how
much the number would move with another sample of networks of the same size.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = [
    "RankCorrelation",
    "Reliability",
    "TauDifference",
    "rank_correlation",
    "reference_reliability",
    "tau_difference",
]


def _rounded(result: object) -> dict[str, float | int]:
    """A result's fields as JSON-ready numbers, floats to 4 decimals."""
    return {key: round(value, 4) if isinstance(value, float) else value
            for key, value in vars(result).items()}  # fmt: skip


@dataclass(frozen=True)
class RankCorrelation:
    n: int
    kendall_tau: float
    kendall_low: float  # 95% bootstrap interval
    kendall_high: float
    spearman_rho: float
    spearman_low: float
    spearman_high: float

    def as_dict(self) -> dict[str, float | int]:
        return _rounded(self)


def _kendall(x: np.ndarray, y: np.ndarray) -> float:
    with _constant_resamples_are_nan():
        return float(stats.kendalltau(x, y).statistic)


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    with _constant_resamples_are_nan():
        return float(stats.spearmanr(x, y).statistic)


@contextlib.contextmanager
def _constant_resamples_are_nan() -> Iterator[None]:
    # A resample that repeats one network has no rank correlation; scipy says so with a
    # warning per resample and returns NaN, which the interval below leaves out.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        yield


def rank_correlation(
    scores: Sequence[float],
    reference: Sequence[float],
    *,
    resamples: int = 2000,
    seed: int = 0,
) -> RankCorrelation:
    """Kendall tau-b and Spearman rho of ``scores`` against ``reference``, with intervals.

    Pairs where either value is not finite are left out. With fewer than 3 pairs, or a
    constant side, the correlation is undefined and every number is NaN.
    """
    x, y = np.asarray(scores, dtype=float), np.asarray(reference, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"scores and reference differ in length: {len(x)} vs {len(y)}")
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    n = len(x)
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return RankCorrelation(n, *([math.nan] * 6))
    intervals = []
    for statistic in (_kendall, _spearman):
        # A resample with a constant side has no rank correlation: NaN, which scipy's
        # percentile interval would spread to the bounds; nanpercentile skips them.
        with _constant_resamples_are_nan():
            result = stats.bootstrap(
                (x, y),
                statistic,
                paired=True,
                vectorized=False,
                n_resamples=resamples,
                method="percentile",
                rng=np.random.default_rng(seed),
            )
        values = np.asarray(result.bootstrap_distribution)
        low, high = np.nanpercentile(values, [2.5, 97.5])
        intervals.append((float(low), float(high)))
    return RankCorrelation(
        n,
        _kendall(x, y),
        *intervals[0],
        _spearman(x, y),
        *intervals[1],
    )


@dataclass(frozen=True)
class TauDifference:
    """Kendall tau of score ``a`` minus that of score ``b``, against the same reference."""

    n: int
    difference: float
    low: float  # 95% bootstrap interval, paired over networks
    high: float

    @property
    def distinguishable(self) -> bool:
        return self.low > 0 or self.high < 0


def tau_difference(
    a: Sequence[float],
    b: Sequence[float],
    reference: Sequence[float],
    *,
    resamples: int = 2000,
    seed: int = 0,
) -> TauDifference:
    """tau(a, reference) - tau(b, reference), its interval from resampling networks.

    Paired: each resample draws networks and scores both on the same draw, so the
    interval is much narrower than two separate intervals would suggest when the two
    scores err on the same networks. Networks where any value is not finite are left out.
    """
    x, y, z = (np.asarray(v, dtype=float) for v in (a, b, reference))
    if not x.shape == y.shape == z.shape:
        raise ValueError(f"lengths differ: {len(x)}, {len(y)} and {len(z)}")
    keep = np.isfinite(x) & np.isfinite(y) & np.isfinite(z)
    x, y, z = x[keep], y[keep], z[keep]
    n = len(x)
    if n < 3 or min(np.ptp(x), np.ptp(y), np.ptp(z)) == 0:
        return TauDifference(n, math.nan, math.nan, math.nan)

    def statistic(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> float:
        return _kendall(x, z) - _kendall(y, z)

    with _constant_resamples_are_nan():
        result = stats.bootstrap(
            (x, y, z),
            statistic,
            paired=True,
            vectorized=False,
            n_resamples=resamples,
            method="percentile",
            rng=np.random.default_rng(seed),
        )
    low, high = np.nanpercentile(np.asarray(result.bootstrap_distribution), [2.5, 97.5])
    return TauDifference(n, statistic(x, y, z), float(low), float(high))


@dataclass(frozen=True)
class Reliability:
    """How well the reference ranks networks like itself, and the ceiling that sets.

    ``one_vs_rest``: Kendall tau of one reference run against the mean of the other runs,
    averaged over the runs (what a score as good as one more reference run would reach).
    ``ceiling``: the tau a perfect score (the networks' true mean accuracy, free of seed
    noise) would reach against the mean of all ``k`` runs. From the mean pairwise Pearson
    correlation of single runs ``r1``, the Spearman-Brown formula gives the reliability of
    a k-run mean, ``rk = k r1 / (1 + (k - 1) r1)``, so its correlation with the true mean
    is ``sqrt(rk)``; for jointly normal values Kendall's tau is ``2/pi asin(rho)``
    (Greiner's relation). Intervals: a percentile bootstrap over networks.
    """

    n: int
    runs: int
    single_run_r: float
    one_vs_rest: float
    one_vs_rest_low: float
    one_vs_rest_high: float
    ceiling: float
    ceiling_low: float
    ceiling_high: float

    def as_dict(self) -> dict[str, float | int]:
        return _rounded(self)


def _one_vs_rest(runs: np.ndarray) -> float:
    k = runs.shape[1]
    total = runs.sum(axis=1)
    taus = [_kendall(runs[:, i], (total - runs[:, i]) / (k - 1)) for i in range(k)]
    return float(np.nanmean(taus)) if not all(math.isnan(t) for t in taus) else math.nan


def _ceiling(runs: np.ndarray) -> tuple[float, float]:
    """(mean pairwise Pearson r of single runs, the ceiling tau of the k-run mean)."""
    k = runs.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a constant run: r is NaN
        matrix = np.corrcoef(runs, rowvar=False)
    pairs = matrix[np.triu_indices(k, 1)]
    if np.isnan(pairs).all():
        return math.nan, math.nan
    r1 = float(np.nanmean(pairs))
    if r1 <= 0:
        return r1, 0.0  # runs that do not agree leave nothing a score could match
    rk = k * r1 / (1 + (k - 1) * r1)
    return r1, float(2 / math.pi * math.asin(math.sqrt(min(rk, 1.0))))


def reference_reliability(
    runs: np.ndarray | Sequence[Sequence[float]], *, resamples: int = 2000, seed: int = 0
) -> Reliability:
    """The reliability of a reference measured as ``runs`` (networks x seeds, k >= 2).

    Networks with a non-finite run are left out; fewer than 3 networks give NaNs.
    """
    values = np.asarray(runs, dtype=float)
    if values.ndim != 2 or values.shape[1] < 2:
        raise ValueError(f"runs must be networks x seeds with 2 or more seeds, got {values.shape}")
    values = values[np.isfinite(values).all(axis=1)]
    n, k = values.shape
    if n < 3:
        return Reliability(n, k, *([math.nan] * 7))
    r1, ceiling = _ceiling(values)
    rng = np.random.default_rng(seed)
    draws = []
    with _constant_resamples_are_nan():
        for _ in range(resamples):
            sample = values[rng.integers(0, n, n)]
            draws.append((_one_vs_rest(sample), _ceiling(sample)[1]))
    low, high = np.nanpercentile(np.asarray(draws), [2.5, 97.5], axis=0)
    return Reliability(
        n,
        k,
        r1,
        _one_vs_rest(values),
        float(low[0]),
        float(high[0]),
        ceiling,
        float(low[1]),
        float(high[1]),
    )

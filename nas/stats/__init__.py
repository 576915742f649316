"""Statistics every verdict rests on: accuracies over seeds with t intervals, paired
differences, and rank correlations with bootstrap intervals and the reference's own
reliability. A leaf: numpy and scipy only, so every layer above may use it."""

from nas.stats._rank import (
    RankCorrelation,
    Reliability,
    TauDifference,
    rank_correlation,
    reference_reliability,
    tau_difference,
)
from nas.stats._seeds import MIN_SEEDS, Comparison, SeedSummary, compare_by_seed, summarise_seeds

__all__ = [
    "MIN_SEEDS",
    "Comparison",
    "RankCorrelation",
    "Reliability",
    "SeedSummary",
    "TauDifference",
    "compare_by_seed",
    "rank_correlation",
    "reference_reliability",
    "summarise_seeds",
    "tau_difference",
]

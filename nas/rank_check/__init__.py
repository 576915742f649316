"""Rank check: how well cheap scores (short training, zero-cost proxies, FLOPs) rank
networks the way training at a reference budget does, with intervals."""

from nas.rank_check._metrics import (
    RankCorrelation,
    Reliability,
    TauDifference,
    rank_correlation,
    reference_reliability,
    tau_difference,
)
from nas.rank_check._report import (
    SCORE_OF_EVALUATOR,
    measured_ranking,
    rank_table,
    verdict,
    write_rank_report,
)
from nas.rank_check._task import STUDY_NAME, RankCheckConfig, run_rank_check, sample_networks

__all__ = [
    "SCORE_OF_EVALUATOR",
    "STUDY_NAME",
    "RankCheckConfig",
    "RankCorrelation",
    "Reliability",
    "TauDifference",
    "measured_ranking",
    "rank_correlation",
    "rank_table",
    "reference_reliability",
    "run_rank_check",
    "sample_networks",
    "tau_difference",
    "verdict",
    "write_rank_report",
]

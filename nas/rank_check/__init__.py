"""Rank check: how well cheap scores (short training, zero-cost proxies, FLOPs) rank
networks the way training at a reference budget does, with intervals."""

from nas.rank_check._report import (
    SCORE_OF_EVALUATOR,
    measured_ranking,
    rank_table,
    verdict,
    write_rank_report,
)
from nas.rank_check._task import STUDY_NAME, RankCheckConfig, run_rank_check

__all__ = [
    "SCORE_OF_EVALUATOR",
    "STUDY_NAME",
    "RankCheckConfig",
    "measured_ranking",
    "rank_table",
    "run_rank_check",
    "verdict",
    "write_rank_report",
]

"""Compound coefficients for any backbone: the phi = 1 grid, its training, its report."""

from nas.coefficients._grid_search import (
    STUDY_NAME,
    Candidate,
    CoefficientConfig,
    build_candidates,
    run_coefficient_search,
)
from nas.coefficients._report import (
    choose_coefficients,
    coefficient_table,
    write_coefficient_report,
)
from nas.coefficients._training import CandidateEvaluator, CandidateTrainer, RepeatChannels

__all__ = [
    "STUDY_NAME",
    "Candidate",
    "CandidateEvaluator",
    "CandidateTrainer",
    "CoefficientConfig",
    "RepeatChannels",
    "build_candidates",
    "choose_coefficients",
    "coefficient_table",
    "run_coefficient_search",
    "write_coefficient_report",
]

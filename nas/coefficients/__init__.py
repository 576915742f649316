"""Compound coefficients for any backbone: candidates matched to equal FLOPs, trained over
seeds by successive halving, compared seed by seed, reported."""

from nas.coefficients._candidates import (
    REFERENCE_KINDS,
    BackboneScaler,
    Candidate,
    CandidateSet,
    Unmatched,
    build_candidates,
)
from nas.coefficients._grid_search import (
    MATCH_MODES,
    STUDY_NAME,
    CoefficientConfig,
    CoefficientTask,
    candidate_trials,
    run_coefficient_search,
)
from nas.coefficients._report import (
    candidate_table,
    choose_coefficients,
    coefficient_table,
    reused_count,
    verdicts,
    write_coefficient_report,
)
from nas.coefficients._training import CandidateEvaluator, CandidateTrainer, RepeatChannels

__all__ = [
    "MATCH_MODES",
    "REFERENCE_KINDS",
    "STUDY_NAME",
    "BackboneScaler",
    "Candidate",
    "CandidateEvaluator",
    "CandidateSet",
    "CandidateTrainer",
    "CoefficientConfig",
    "CoefficientTask",
    "RepeatChannels",
    "Unmatched",
    "build_candidates",
    "candidate_table",
    "candidate_trials",
    "choose_coefficients",
    "coefficient_table",
    "reused_count",
    "run_coefficient_search",
    "verdicts",
    "write_coefficient_report",
]

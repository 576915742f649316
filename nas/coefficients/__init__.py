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
from nas.coefficients._compare import (
    MIN_SEEDS,
    Comparison,
    SeedSummary,
    compare_by_seed,
    summarise_seeds,
)
from nas.coefficients._grid_search import (
    MATCH_MODES,
    STUDY_NAME,
    CoefficientConfig,
    job_seed,
    run_coefficient_search,
    run_seeded_trials,
    seed_results,
)
from nas.coefficients._halving import FINALISTS, Round, next_round
from nas.coefficients._report import (
    candidate_table,
    choose_coefficients,
    coefficient_table,
    verdicts,
    write_coefficient_report,
)
from nas.coefficients._training import CandidateEvaluator, CandidateTrainer, RepeatChannels

__all__ = [
    "FINALISTS",
    "MATCH_MODES",
    "MIN_SEEDS",
    "REFERENCE_KINDS",
    "STUDY_NAME",
    "BackboneScaler",
    "Candidate",
    "CandidateEvaluator",
    "CandidateSet",
    "CandidateTrainer",
    "CoefficientConfig",
    "Comparison",
    "RepeatChannels",
    "Round",
    "SeedSummary",
    "Unmatched",
    "build_candidates",
    "candidate_table",
    "choose_coefficients",
    "coefficient_table",
    "compare_by_seed",
    "job_seed",
    "next_round",
    "run_coefficient_search",
    "run_seeded_trials",
    "seed_results",
    "summarise_seeds",
    "verdicts",
    "write_coefficient_report",
]

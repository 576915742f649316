"""MnasNet-style search: objectives, strategies, the search itself and its report."""

from nas.search._baseline import (
    Confirm,
    check_target,
    confirm_workers,
    default_constraint,
    search_baseline,
)
from nas.search._confirm import confirm_search, confirm_winners, winners
from nas.search._objectives import (
    REWARD_FORMS,
    RewardForm,
    hypervolume,
    mnas_reward,
    pareto_front,
    reward_form,
)
from nas.search._report import SearchReport, build_report, write_report
from nas.search._rl_sampler import ReinforceSampler
from nas.search._search import (
    COSTS,
    STUDY_NAME,
    SearchConfig,
    SearchError,
    band_share,
    check_band,
    format_cost,
    run_search,
    space_cost_range,
)
from nas.search._standalone import confirmed_results
from nas.search._strategies import STRATEGIES, make_sampler

__all__ = [
    "COSTS",
    "REWARD_FORMS",
    "STRATEGIES",
    "STUDY_NAME",
    "Confirm",
    "ReinforceSampler",
    "RewardForm",
    "SearchConfig",
    "SearchError",
    "SearchReport",
    "band_share",
    "build_report",
    "check_band",
    "check_target",
    "confirm_search",
    "confirm_winners",
    "confirm_workers",
    "confirmed_results",
    "default_constraint",
    "format_cost",
    "hypervolume",
    "make_sampler",
    "mnas_reward",
    "pareto_front",
    "reward_form",
    "run_search",
    "search_baseline",
    "space_cost_range",
    "winners",
    "write_report",
]

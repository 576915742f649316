"""Architecture search and the torch side of specs: building, measuring, evaluating."""

from nas._backbones import (
    Backbone,
    BackboneError,
    CallableBackbone,
    ResNetBackbone,
    SpecBackbone,
    load_backbone,
)
from nas._builder import MBConv, MBConvNet, SqueezeExcite, build_model
from nas._coefficients import (
    Candidate,
    CoefficientConfig,
    RepeatChannels,
    build_candidates,
    run_coefficient_search,
)
from nas._coefficients_report import choose_coefficients, write_coefficient_report
from nas._data import DATASETS, DataError, DataSplits, load_data
from nas._evaluation import Evaluation, Evaluator, ProgressCallback, TrialError
from nas._measure import FvcoreCount, fvcore_count, measure_spec, torch_param_count
from nas._objectives import REWARD_FORMS, hypervolume, mnas_reward, pareto_front, reward_form
from nas._ray_runner import RayError, RayOptions, connect_ray
from nas._rl_sampler import ReinforceSampler
from nas._runner import Outcome, StudyTask
from nas._search import COSTS, SearchConfig, SearchError, run_search, space_cost_range
from nas._search_report import SearchReport, build_report, write_report
from nas._storage import StorageError, open_storage
from nas._strategies import STRATEGIES, make_sampler
from nas._training import TrainingConfig, TrainingEvaluator
from nas._zero_cost import SynflowEvaluator

__all__ = [
    "COSTS",
    "DATASETS",
    "REWARD_FORMS",
    "STRATEGIES",
    "Backbone",
    "BackboneError",
    "CallableBackbone",
    "Candidate",
    "CoefficientConfig",
    "DataError",
    "DataSplits",
    "Evaluation",
    "Evaluator",
    "FvcoreCount",
    "MBConv",
    "MBConvNet",
    "Outcome",
    "ProgressCallback",
    "RayError",
    "RayOptions",
    "ReinforceSampler",
    "RepeatChannels",
    "ResNetBackbone",
    "SearchConfig",
    "SearchError",
    "SearchReport",
    "SpecBackbone",
    "SqueezeExcite",
    "StorageError",
    "StudyTask",
    "SynflowEvaluator",
    "TrainingConfig",
    "TrainingEvaluator",
    "TrialError",
    "build_candidates",
    "build_model",
    "build_report",
    "choose_coefficients",
    "connect_ray",
    "fvcore_count",
    "hypervolume",
    "load_backbone",
    "load_data",
    "make_sampler",
    "measure_spec",
    "mnas_reward",
    "open_storage",
    "pareto_front",
    "reward_form",
    "run_coefficient_search",
    "run_search",
    "space_cost_range",
    "torch_param_count",
    "write_coefficient_report",
    "write_report",
]

"""Architecture search and the torch side of specs, in sub-packages that follow the flow.

- ``nas.models``: spec -> ``nn.Module`` (the one builder), counts of built models,
  latency, and the backbones the coefficient search scales.
- ``nas.data``: proxy data sets, from local files or a package that ships them.
- ``nas.evaluate``: evaluators, behind one interface (proxy training, zero-cost).
- ``nas.runs``: an Optuna study run to a budget, resumably, here or on Ray Tune.
- ``nas.search``: the MnasNet-style search (objectives, strategies, report).
- ``nas.coefficients``: the compound-coefficient grid (its training, its report).
- ``nas.stats``: intervals over seeds, paired comparisons, rank correlations (a leaf).

The most used names are re-exported here.
"""

from nas.coefficients import (
    Candidate,
    CandidateTrainer,
    CoefficientConfig,
    RepeatChannels,
    build_candidates,
    choose_coefficients,
    run_coefficient_search,
    write_coefficient_report,
)
from nas.data import DATASETS, DataError, DataSplits, load_data
from nas.evaluate import (
    Evaluation,
    Evaluator,
    ProgressCallback,
    SynflowEvaluator,
    TrainingConfig,
    TrainingEvaluator,
    TrialError,
)
from nas.models import (
    Backbone,
    BackboneError,
    CallableBackbone,
    FvcoreCount,
    MBConv,
    MBConvNet,
    ResNetBackbone,
    SpecBackbone,
    SqueezeExcite,
    build_model,
    fvcore_count,
    load_backbone,
    measure_spec,
    torch_param_count,
)
from nas.runs import (
    Outcome,
    RayError,
    RayOptions,
    StorageError,
    StudyTask,
    connect_ray,
    open_storage,
)
from nas.search import (
    COSTS,
    REWARD_FORMS,
    STRATEGIES,
    ReinforceSampler,
    SearchConfig,
    SearchError,
    SearchReport,
    build_report,
    hypervolume,
    make_sampler,
    mnas_reward,
    pareto_front,
    reward_form,
    run_search,
    space_cost_range,
    write_report,
)

__all__ = [
    "COSTS",
    "DATASETS",
    "REWARD_FORMS",
    "STRATEGIES",
    "Backbone",
    "BackboneError",
    "CallableBackbone",
    "Candidate",
    "CandidateTrainer",
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

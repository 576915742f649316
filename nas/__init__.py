"""Architecture search and the torch side of specs: building, measuring."""

from nas._builder import MBConv, MBConvNet, SqueezeExcite, build_model
from nas._measure import FvcoreCount, fvcore_count, measure_spec, torch_param_count

__all__ = [
    "FvcoreCount",
    "MBConv",
    "MBConvNet",
    "SqueezeExcite",
    "build_model",
    "fvcore_count",
    "measure_spec",
    "torch_param_count",
]

"""The torch side of specs: the one builder, counts of built models, latency, backbones."""

from nas.models._backbone import Backbone, BackboneCounts, BackboneError
from nas.models._builder import (
    FusedMBConv,
    MBConv,
    MBConvNet,
    SqueezeExcite,
    build_model,
    build_part,
)
from nas.models._depthwise import DepthwiseConv2d, depthwise_conv2d, use_fast_depthwise
from nas.models._export import (
    EXPORT_FORMATS,
    ExportError,
    ExportResult,
    export_network,
    read_weights,
    save_weights,
)
from nas.models._fvcore import (
    FvcoreCount,
    fvcore_count,
    fvcore_multiply_adds,
    measure_spec,
    torch_param_count,
    verify_counts,
)
from nas.models._latency import LatencyResult, measure_latency, time_calls
from nas.models._load import load_backbone
from nas.models._memory import measure_peak_memory
from nas.models._quantize import int8_accuracy, quantize_static_int8
from nas.models._resnet import RESNET_LAYERS, ResNetBackbone, ScalableResNet
from nas.models._spec_backbone import SpecBackbone
from nas.models._user_backbone import CallableBackbone
from nas.models._zero_init import zero_init_residual_branches

__all__ = [
    "EXPORT_FORMATS",
    "RESNET_LAYERS",
    "Backbone",
    "BackboneCounts",
    "BackboneError",
    "CallableBackbone",
    "DepthwiseConv2d",
    "ExportError",
    "ExportResult",
    "FusedMBConv",
    "FvcoreCount",
    "LatencyResult",
    "MBConv",
    "MBConvNet",
    "ResNetBackbone",
    "ScalableResNet",
    "SpecBackbone",
    "SqueezeExcite",
    "build_model",
    "build_part",
    "depthwise_conv2d",
    "export_network",
    "fvcore_count",
    "fvcore_multiply_adds",
    "int8_accuracy",
    "load_backbone",
    "measure_latency",
    "measure_peak_memory",
    "measure_spec",
    "quantize_static_int8",
    "read_weights",
    "save_weights",
    "time_calls",
    "torch_param_count",
    "use_fast_depthwise",
    "verify_counts",
    "zero_init_residual_branches",
]

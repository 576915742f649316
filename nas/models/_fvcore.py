"""Counts taken from a built model by PyTorch and fvcore: the cross-check of the analytic
counts, and the only count there is for networks that are not specs."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from nas.models._builder import build_model
from search_spaces import NetworkSpec

__all__ = [
    "NO_MULTIPLY_ADDS",
    "FvcoreCount",
    "fvcore_count",
    "fvcore_multiply_adds",
    "measure_spec",
    "torch_param_count",
    "verify_counts",
]


# fvcore operator names whose counts are multiply-adds (the paper's convention). "conv" and
# "linear" are all a CNN has; the matmul family keeps attention in user models from vanishing.
_MULTIPLY_ADD_OPERATORS = ("conv", "linear", "addmm", "bmm", "matmul", "einsum")

# Ops fvcore has no handle for that cost no multiply-adds: pooling, residual adds, gates and
# activations. Warning about them would fire on every ResNet and EfficientNet.
_POINTWISE = ("add", "sub", "rsub", "mul", "div", "neg", "exp", "tanh", "sigmoid", "silu", "gelu")
_HARD_ACTIVATIONS = ("hardswish", "hardsigmoid", "hardtanh", "relu6")
_REDUCING = (
    "mean",
    "sum",
    "softmax",
    "log_softmax",
    "max_pool2d",
    "avg_pool2d",
    "adaptive_max_pool2d",
)
NO_MULTIPLY_ADDS = frozenset(
    [
        f"aten::{name}{inplace}"
        for name in (*_POINTWISE, *_HARD_ACTIVATIONS)
        for inplace in ("", "_")
    ]
    + [f"aten::{name}" for name in _REDUCING]
)


def torch_param_count(model: nn.Module) -> int:
    """Trainable parameters as PyTorch sees them."""
    return sum(param.numel() for param in model.parameters() if param.requires_grad)


@dataclass(frozen=True)
class FvcoreCount:
    conv_linear: int  # the paper's convention: conv + linear multiply-adds
    total: int  # fvcore's .total(): also batch norm, pooling and whatever else it counts
    by_operator: dict[str, int]
    unsupported: dict[str, int]  # ops fvcore skipped (activations, adds, ...): name -> count


def fvcore_count(model: nn.Module, resolution: int, in_channels: int = 3) -> FvcoreCount:
    """Trace ``model`` on one zero image with fvcore (TorchScript tracing, ~0.2 s for B0)."""
    with warnings.catch_warnings():
        # fvcore's last release predates torch 2.14 and warns on import.
        warnings.simplefilter("ignore", FutureWarning)
        from fvcore.nn import FlopCountAnalysis

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            image = torch.zeros(1, in_channels, resolution, resolution)
            analysis = FlopCountAnalysis(model, image)
            analysis.unsupported_ops_warnings(False)
            analysis.uncalled_modules_warnings(False)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # TorchScript tracer chatter
                by_operator = dict(analysis.by_operator())
                total = int(analysis.total())
                unsupported = dict(analysis.unsupported_ops())
    finally:
        model.train(was_training)
    conv_linear = int(by_operator.get("conv", 0) + by_operator.get("linear", 0))
    return FvcoreCount(
        conv_linear=conv_linear, total=total, by_operator=by_operator, unsupported=unsupported
    )


def measure_spec(spec: NetworkSpec, resolution: int | None = None) -> tuple[int, FvcoreCount]:
    """(PyTorch parameter count, fvcore count) of the model the builder makes from ``spec``.

    The model is built on the meta device and given uninitialised CPU memory:
    counting reads shapes, not values, and initialising L2's 480 M weights alone
    takes longer than tracing it.
    """
    with torch.device("meta"):
        model = build_model(spec)
    model = model.to_empty(device="cpu")
    resolution = spec.resolution if resolution is None else resolution
    return torch_param_count(model), fvcore_count(model, resolution, spec.in_channels)


def verify_counts(spec: NetworkSpec, params: int, flops: int) -> dict[str, Any]:
    """The analytic ``params`` and ``flops`` of ``spec`` checked on the built model:
    PyTorch's parameter count, fvcore's conv+linear and total, and whether both match."""
    torch_params, measured = measure_spec(spec)
    return {
        "torch_params": torch_params,
        "fvcore_flops": measured.conv_linear,
        "fvcore_total": measured.total,
        "match": torch_params == params and measured.conv_linear == flops,
    }


def fvcore_multiply_adds(
    model: nn.Module, resolution: int, in_channels: int
) -> tuple[int, dict[str, int]]:
    """(multiply-adds, {unsupported op: occurrences}) of one zero image through ``model``."""
    counted = fvcore_count(model, resolution, in_channels)
    macs = sum(int(counted.by_operator.get(name, 0)) for name in _MULTIPLY_ADD_OPERATORS)
    return macs, counted.unsupported

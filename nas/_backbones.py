"""Networks the coefficient search can scale: a compact ResNet, any spec, or a user function.

A backbone turns (width_mult, depth_mult) into an ``nn.Module`` and reports
its conv + linear multiply-adds at a resolution, so the phi = 1 grid search
(EfficientNet section 3.3) can run on more than MBConv specs.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Callable

import torch
from torch import nn

from nas._builder import build_model
from nas._measure import fvcore_count, torch_param_count
from scaling import scale_network
from search_spaces import InputError, NetworkSpec, count_flops, count_params
from search_spaces._rounding import round_filters, round_repeats

__all__ = [
    "RESNET_LAYERS",
    "Backbone",
    "BackboneError",
    "CallableBackbone",
    "ResNetBackbone",
    "ScalableResNet",
    "SpecBackbone",
    "load_backbone",
]

_log = logging.getLogger(__name__)


class BackboneError(InputError):
    """A backbone cannot be loaded or built; the message says what and how to fix it."""


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
_NO_MULTIPLY_ADDS = frozenset(
    [
        f"aten::{name}{inplace}"
        for name in (*_POINTWISE, *_HARD_ACTIVATIONS)
        for inplace in ("", "_")
    ]
    + [f"aten::{name}" for name in _REDUCING]
)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _check_mult(name: str, value: object) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise BackboneError(f"{name} must be a finite number > 0, got {value!r}")


def _check_count(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BackboneError(f"{name} must be a whole number >= 1, got {value!r}")


def _check_arguments(**arguments: object) -> None:
    for name, value in arguments.items():
        if name.endswith("_mult"):
            _check_mult(name, value)
        else:
            _check_count(name, value)


class Backbone(ABC):
    """A network family indexed by width and depth multipliers."""

    name: str
    base_resolution: int

    @abstractmethod
    def build(
        self, *, width_mult: float, depth_mult: float, num_classes: int, in_channels: int
    ) -> nn.Module:
        """A freshly initialised model at these multipliers."""

    def _model_for_counting(
        self, *, width_mult: float, depth_mult: float, num_classes: int, in_channels: int
    ) -> nn.Module:
        # Counting reads shapes, not values: build on the meta device and give it uninitialised
        # CPU memory (as nas._measure.measure_spec does), which skips the costly weight init.
        with torch.device("meta"):
            model = self.build(
                width_mult=width_mult,
                depth_mult=depth_mult,
                num_classes=num_classes,
                in_channels=in_channels,
            )
        return model.to_empty(device="cpu")

    def flops(
        self,
        *,
        width_mult: float,
        depth_mult: float,
        resolution: int,
        num_classes: int,
        in_channels: int,
    ) -> int:
        """Multiply-adds of conv and linear layers for one image, counted by fvcore."""
        _check_arguments(
            width_mult=width_mult,
            depth_mult=depth_mult,
            resolution=resolution,
            num_classes=num_classes,
            in_channels=in_channels,
        )
        model = self._model_for_counting(
            width_mult=width_mult,
            depth_mult=depth_mult,
            num_classes=num_classes,
            in_channels=in_channels,
        )
        macs, unsupported = _fvcore_multiply_adds(model, resolution, in_channels)
        # Only ops that might hide multiply-adds are worth a warning; each is named once per
        # backbone, since a grid search counts dozens of candidates. Kept in the instance dict,
        # created here, so subclasses need not call Backbone.__init__.
        warned: set[str] = self.__dict__.setdefault("_warned_ops", set())
        unknown = sorted(set(unsupported) - _NO_MULTIPLY_ADDS - warned)
        if unknown:
            warned.update(unknown)
            _log.warning(
                "fvcore skipped %s in %s; their FLOPs are not in the count",
                ", ".join(f"{op} (x{unsupported[op]})" for op in unknown),
                self.name,
            )
        return macs

    def params(
        self, *, width_mult: float, depth_mult: float, num_classes: int, in_channels: int
    ) -> int:
        """Trainable parameters of the model ``build`` makes."""
        _check_arguments(
            width_mult=width_mult,
            depth_mult=depth_mult,
            num_classes=num_classes,
            in_channels=in_channels,
        )
        model = self._model_for_counting(
            width_mult=width_mult,
            depth_mult=depth_mult,
            num_classes=num_classes,
            in_channels=in_channels,
        )
        return torch_param_count(model)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, base_resolution={self.base_resolution})"


def _fvcore_multiply_adds(
    model: nn.Module, resolution: int, in_channels: int
) -> tuple[int, dict[str, int]]:
    """(multiply-adds, {unsupported op: occurrences}) of one zero image through ``model``."""
    counted = fvcore_count(model, resolution, in_channels)
    macs = sum(int(counted.by_operator.get(name, 0)) for name in _MULTIPLY_ADD_OPERATORS)
    return macs, counted.unsupported


# --- ResNet ---------------------------------------------------------------------------------

# depth -> (bottleneck?, blocks per stage), as in torchvision and He et al. 2016 (Table 1).
RESNET_LAYERS: dict[int, tuple[bool, tuple[int, int, int, int]]] = {
    18: (False, (2, 2, 2, 2)),
    34: (False, (3, 4, 6, 3)),
    50: (True, (3, 4, 6, 3)),
    101: (True, (3, 4, 23, 3)),
}
_STEM_WIDTH = 64
_STAGE_WIDTHS = (64, 128, 256, 512)
_EXPANSION = 4  # bottleneck output = 4 x its inner width


def _downsample(in_ch: int, out_ch: int, stride: int) -> nn.Sequential | None:
    if stride == 1 and in_ch == out_ch:
        return None
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, 1, stride, bias=False),
        nn.BatchNorm2d(out_ch),
    )


class _BasicBlock(nn.Module):
    """conv3x3 -> BN -> ReLU -> conv3x3 -> BN, plus the (projected) input, then ReLU."""

    # Attribute names follow torchvision so state dicts line up at width 1.
    def __init__(self, in_ch: int, inner: int, out_ch: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, inner, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(inner)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(inner, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.downsample = _downsample(in_ch, out_ch, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class _Bottleneck(nn.Module):
    """conv1x1 -> conv3x3 (strided, ResNet v1.5 as torchvision) -> conv1x1, plus the input."""

    def __init__(self, in_ch: int, inner: int, out_ch: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, inner, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(inner)
        self.conv2 = nn.Conv2d(inner, inner, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(inner)
        self.conv3 = nn.Conv2d(inner, out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _downsample(in_ch, out_ch, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


class ScalableResNet(nn.Module):
    """ResNet whose every width and stage depth can be scaled (torchvision's fixes 64 * 2^i)."""

    def __init__(
        self,
        *,
        depth: int,
        width_mult: float = 1.0,
        depth_mult: float = 1.0,
        num_classes: int = 1000,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        bottleneck, layers = RESNET_LAYERS[depth]
        block = _Bottleneck if bottleneck else _BasicBlock
        stem = round_filters(_STEM_WIDTH, width_mult)
        self.conv1 = nn.Conv2d(in_channels, stem, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        previous = stem
        for index, (width, blocks) in enumerate(zip(_STAGE_WIDTHS, layers, strict=True)):
            inner = round_filters(width, width_mult)
            # Basic blocks output their inner width; bottlenecks 4x it, rounded on its own.
            out = round_filters(width * _EXPANSION, width_mult) if bottleneck else inner
            # Only the first block of a stage strides (not in the first stage: maxpool did).
            stride = 1 if index == 0 else 2
            stage = [block(previous, inner, out, stride)]
            stage += [
                block(out, inner, out, 1) for _ in range(round_repeats(blocks, depth_mult) - 1)
            ]
            self.add_module(f"layer{index + 1}", nn.Sequential(*stage))
            previous = out
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(previous, num_classes)
        self._initialise()

    def _initialise(self) -> None:
        # torchvision's ResNet init, so training from scratch behaves like the reference.
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    @property
    def stages(self) -> tuple[nn.Sequential, ...]:
        return (self.layer1, self.layer2, self.layer3, self.layer4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for stage in self.stages:
            x = stage(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


class ResNetBackbone(Backbone):
    """ResNet-18/34/50/101; at width and depth 1 it is torchvision's, parameter for parameter."""

    def __init__(self, *, depth: int) -> None:
        if isinstance(depth, bool) or depth not in RESNET_LAYERS:
            known = ", ".join(str(key) for key in RESNET_LAYERS)
            raise BackboneError(f"ResNet depth must be one of {known}, got {depth!r}")
        self.depth = depth
        self.name = f"resnet{depth}"
        self.base_resolution = 224

    def build(
        self, *, width_mult: float, depth_mult: float, num_classes: int, in_channels: int
    ) -> ScalableResNet:
        _check_arguments(
            width_mult=width_mult,
            depth_mult=depth_mult,
            num_classes=num_classes,
            in_channels=in_channels,
        )
        return ScalableResNet(
            depth=self.depth,
            width_mult=width_mult,
            depth_mult=depth_mult,
            num_classes=num_classes,
            in_channels=in_channels,
        )


# --- specs ------------------------------------------------------------------------------------


class SpecBackbone(Backbone):
    """An MBConv spec scaled by ``scale_network``; counts are the exact analytic ones."""

    def __init__(self, spec: NetworkSpec) -> None:
        if not isinstance(spec, NetworkSpec):
            raise BackboneError(f"SpecBackbone needs a NetworkSpec, got {type(spec).__name__}")
        self.spec = spec
        self.name = spec.name
        self.base_resolution = spec.resolution

    def scaled_spec(
        self,
        *,
        width_mult: float,
        depth_mult: float,
        num_classes: int,
        in_channels: int,
        resolution: int | None = None,
    ) -> NetworkSpec:
        """The spec at these multipliers (resolution only changes the spec's own field)."""
        _check_arguments(
            width_mult=width_mult,
            depth_mult=depth_mult,
            num_classes=num_classes,
            in_channels=in_channels,
        )
        spec = dataclasses.replace(self.spec, num_classes=num_classes, in_channels=in_channels)
        return scale_network(
            spec,
            width_mult=width_mult,
            depth_mult=depth_mult,
            resolution=self.spec.resolution if resolution is None else resolution,
        )

    def build(
        self, *, width_mult: float, depth_mult: float, num_classes: int, in_channels: int
    ) -> nn.Module:
        return build_model(
            self.scaled_spec(
                width_mult=width_mult,
                depth_mult=depth_mult,
                num_classes=num_classes,
                in_channels=in_channels,
            )
        )

    def flops(
        self,
        *,
        width_mult: float,
        depth_mult: float,
        resolution: int,
        num_classes: int,
        in_channels: int,
    ) -> int:
        _check_count("resolution", resolution)
        spec = self.scaled_spec(
            width_mult=width_mult,
            depth_mult=depth_mult,
            num_classes=num_classes,
            in_channels=in_channels,
        )
        if resolution < spec.total_stride:
            raise BackboneError(
                f"resolution {resolution} is smaller than {spec.name}'s total stride "
                f"{spec.total_stride}; use a resolution >= {spec.total_stride}"
            )
        # At the resolution as given: the caller decides how it is rounded.
        return count_flops(spec, resolution)

    def params(
        self, *, width_mult: float, depth_mult: float, num_classes: int, in_channels: int
    ) -> int:
        return count_params(
            self.scaled_spec(
                width_mult=width_mult,
                depth_mult=depth_mult,
                num_classes=num_classes,
                in_channels=in_channels,
            )
        )


# --- user functions ---------------------------------------------------------------------------

_CALL_KEYWORDS = ("width_mult", "depth_mult", "num_classes")
_TARGET_HINT = "give it as package.module:function"


def _resolve_target(target: str) -> Callable[..., object]:
    if not isinstance(target, str) or ":" not in target:
        raise BackboneError(f"backbone {target!r} has no ':'; {_TARGET_HINT}")
    module_name, _, attribute = target.partition(":")
    module_name, attribute = module_name.strip(), attribute.strip()
    if not module_name or not attribute:
        raise BackboneError(f"backbone {target!r} lacks a module or a function; {_TARGET_HINT}")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # a module's top level may raise anything
        raise BackboneError(
            f"cannot import module {module_name!r} of backbone {target!r} ({_one_line(error)}); "
            "check the name and that its directory is on PYTHONPATH"
        ) from None
    found: object = module
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise BackboneError(
                f"module {module_name!r} has no function {attribute!r}; "
                "check the spelling after the ':'"
            ) from None
    if not callable(found):
        raise BackboneError(
            f"{target} is a {type(found).__name__}, not a function; point it at a function "
            "returning an nn.Module"
        )
    return found


def _check_signature(function: Callable[..., object], target: str) -> None:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError) as error:
        raise BackboneError(
            f"cannot read the signature of {target} ({_one_line(error)}); wrap it in a Python "
            "function taking width_mult, depth_mult, num_classes"
        ) from None
    parameters = signature.parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        keyword_ok = set(_CALL_KEYWORDS)
    else:
        keyword_ok = {
            p.name
            for p in parameters
            if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        }
    missing = [name for name in _CALL_KEYWORDS if name not in keyword_ok]
    extra = [
        p.name
        for p in parameters
        if p.name not in _CALL_KEYWORDS
        and p.default is inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    if missing or extra:
        problems = []
        if missing:
            problems.append(f"does not accept {', '.join(missing)} as keywords")
        if extra:
            problems.append(f"also requires {', '.join(extra)}")
        raise BackboneError(
            f"{target}{signature} {' and '.join(problems)}; define it as "
            "def f(width_mult, depth_mult, num_classes)"
        )


class CallableBackbone(Backbone):
    """A user function ``f(width_mult=, depth_mult=, num_classes=) -> nn.Module`` on RGB images.

    The target is "package.module:function"; an optional ``base_resolution``
    attribute on the function gives its native input size (default 224).
    """

    def __init__(self, target: str) -> None:
        self.target = target
        self.function = _resolve_target(target)
        _check_signature(self.function, target)
        resolution = getattr(self.function, "base_resolution", 224)
        if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1:
            raise BackboneError(
                f"{target}.base_resolution must be a whole number >= 1, got {resolution!r}"
            )
        self.base_resolution = resolution
        self.name = target.partition(":")[2].strip()

    def build(
        self, *, width_mult: float, depth_mult: float, num_classes: int, in_channels: int
    ) -> nn.Module:
        _check_arguments(
            width_mult=width_mult,
            depth_mult=depth_mult,
            num_classes=num_classes,
            in_channels=in_channels,
        )
        if in_channels != 3:
            raise BackboneError(
                f"{self.target} takes 3-channel images, not {in_channels}; use RGB data or a "
                "ResNet or spec backbone"
            )
        arguments = f"width_mult={width_mult}, depth_mult={depth_mult}, num_classes={num_classes}"
        try:
            model = self.function(
                width_mult=width_mult, depth_mult=depth_mult, num_classes=num_classes
            )
        except Exception as error:
            raise BackboneError(
                f"{self.target}({arguments}) raised {_one_line(error)}; fix the function"
            ) from None
        if not isinstance(model, nn.Module):
            raise BackboneError(
                f"{self.target}({arguments}) returned a {type(model).__name__}, not an "
                "nn.Module; return the model"
            )
        self._check_forward(model, arguments, num_classes)
        return model

    def _check_forward(self, model: nn.Module, arguments: str, num_classes: int) -> None:
        # A model that cannot take its own base resolution would only fail mid-search.
        size = self.base_resolution
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                output = model(torch.zeros(1, 3, size, size))
        except Exception as error:
            raise BackboneError(
                f"the model of {self.target}({arguments}) fails on a 1x3x{size}x{size} image "
                f"({_one_line(error)}); fix its forward or set {self.name}.base_resolution"
            ) from None
        finally:
            model.train(was_training)
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else None
        if shape != (1, num_classes):
            got = f"shape {shape}" if shape is not None else f"a {type(output).__name__}"
            raise BackboneError(
                f"the model of {self.target}({arguments}) returns {got} for one image; it must "
                f"return logits of shape (1, {num_classes})"
            )

    def _model_for_counting(
        self, *, width_mult: float, depth_mult: float, num_classes: int, in_channels: int
    ) -> nn.Module:
        # Arbitrary user code need not survive the meta device (timm calls .item() while
        # building), so count a real build.
        return self.build(
            width_mult=width_mult,
            depth_mult=depth_mult,
            num_classes=num_classes,
            in_channels=in_channels,
        )


def load_backbone(text: str, *, spec_loader: Callable[[str], NetworkSpec]) -> Backbone:
    """'resnet18|34|50|101', 'package.module:function', or whatever ``spec_loader`` accepts.

    ``spec_loader`` resolves a preset name or a spec JSON path (the CLI passes
    experiments._common.load_spec; nas must not import experiments).
    """
    text = str(text).strip()
    for depth in RESNET_LAYERS:
        if text == f"resnet{depth}":
            return ResNetBackbone(depth=depth)
    # A .json path may contain ':' (C:\...), a module path never ends in .json.
    if ":" in text and not text.endswith(".json"):
        return CallableBackbone(text)
    return SpecBackbone(spec_loader(text))

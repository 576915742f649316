"""The one place a spec becomes an ``nn.Module``.

``build_model`` is a pure function of the spec: no builder state, no mutation
of the spec. Layer shapes mirror the TF reference / torchvision EfficientNet so
parameter counts agree exactly with ``search_spaces.count_params``.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.ops import stochastic_depth

from search_spaces import NetworkSpec, PartShape, StageSpec

__all__ = ["FusedMBConv", "MBConv", "MBConvNet", "SqueezeExcite", "build_model", "build_part"]

_ACTIVATIONS: dict[str, type[nn.Module]] = {"swish": nn.SiLU, "relu": nn.ReLU, "relu6": nn.ReLU6}


def _conv_bn_act(
    in_ch: int,
    out_ch: int,
    kernel: int,
    *,
    stride: int = 1,
    groups: int = 1,
    activation: type[nn.Module] | None,
    bn: dict[str, float],
) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(in_ch, out_ch, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out_ch, **bn),
    ]
    if activation is not None:
        layers.append(activation())
    return nn.Sequential(*layers)


class SqueezeExcite(nn.Module):
    """Channel gate: pool, squeeze to ``squeezed`` channels, expand, sigmoid."""

    def __init__(self, channels: int, squeezed: int, activation: type[nn.Module]) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, squeezed, 1)
        self.act = activation()
        self.expand = nn.Conv2d(squeezed, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = nn.functional.adaptive_avg_pool2d(x, 1)  # (N, C, 1, 1)
        scale = self.expand(self.act(self.reduce(scale)))
        return x * torch.sigmoid(scale)


class _ResidualBlock(nn.Module):
    """``layers``, plus the input through stochastic depth where the block keeps its shape."""

    layers: nn.Sequential
    use_residual: bool
    drop_connect: float

    def _set_shortcut(self, skip: bool, stride: int, in_ch: int, out_ch: int, drop: float) -> None:
        self.use_residual = skip and stride == 1 and in_ch == out_ch
        self.drop_connect = drop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layers(x)
        if self.use_residual:
            out = stochastic_depth(out, self.drop_connect, "row", self.training) + x
        return out


class MBConv(_ResidualBlock):
    """Inverted bottleneck: [expand 1x1] -> depthwise kxk -> [SE] -> project 1x1 (+ skip)."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        *,
        kernel: int,
        stride: int,
        expand_ratio: int,
        se_ratio: float | None,
        skip: bool,
        activation: type[nn.Module],
        drop_connect: float,
        bn: dict[str, float],
    ) -> None:
        super().__init__()
        mid = in_ch * expand_ratio
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(_conv_bn_act(in_ch, mid, 1, activation=activation, bn=bn))
        layers.append(
            _conv_bn_act(mid, mid, kernel, stride=stride, groups=mid, activation=activation, bn=bn)
        )
        if se_ratio is not None:
            # Squeeze width from the block input, as in the TF reference.
            layers.append(SqueezeExcite(mid, max(1, int(in_ch * se_ratio)), activation))
        layers.append(_conv_bn_act(mid, out_ch, 1, activation=None, bn=bn))
        self.layers = nn.Sequential(*layers)
        self._set_shortcut(skip, stride, in_ch, out_ch, drop_connect)


class FusedMBConv(_ResidualBlock):
    """EfficientNetV2's block: kxk conv [-> SE] [-> project 1x1] (+ skip).

    With expansion 1 the kxk conv maps the input straight to the output width, with
    batch norm and activation, and there is no projection (torchvision, the reference).
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        *,
        kernel: int,
        stride: int,
        expand_ratio: int,
        se_ratio: float | None,
        skip: bool,
        activation: type[nn.Module],
        drop_connect: float,
        bn: dict[str, float],
    ) -> None:
        super().__init__()
        layers: list[nn.Module]
        if expand_ratio == 1:
            layers = [
                _conv_bn_act(in_ch, out_ch, kernel, stride=stride, activation=activation, bn=bn)
            ]
        else:
            mid = in_ch * expand_ratio
            layers = [_conv_bn_act(in_ch, mid, kernel, stride=stride, activation=activation, bn=bn)]
            if se_ratio is not None:
                layers.append(SqueezeExcite(mid, max(1, int(in_ch * se_ratio)), activation))
            layers.append(_conv_bn_act(mid, out_ch, 1, activation=None, bn=bn))
        self.layers = nn.Sequential(*layers)
        self._set_shortcut(skip, stride, in_ch, out_ch, drop_connect)


class MBConvNet(nn.Module):
    """Stem -> stages of MBConv -> head conv1x1 -> global pool -> dropout -> linear."""

    def __init__(
        self, stem: nn.Module, stages: nn.Sequential, head: nn.Module, classifier: nn.Module
    ):
        super().__init__()
        self.stem = stem
        self.stages = stages
        self.head = head
        self.classifier = classifier

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))  # (N, head_channels, R/32, R/32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = nn.functional.adaptive_avg_pool2d(self.forward_features(x), 1).flatten(1)
        return self.classifier(features)  # (N, num_classes)


def _stage_blocks(
    stage: StageSpec, *, first_index: int, total: int, spec: NetworkSpec, bn: dict[str, float]
) -> nn.Sequential:
    activation = _ACTIVATIONS[spec.activation]
    blocks = []
    block = FusedMBConv if stage.fused else MBConv
    for repeat in range(stage.repeats):
        blocks.append(
            block(
                stage.in_channels if repeat == 0 else stage.out_channels,
                stage.out_channels,
                kernel=stage.kernel,
                stride=stage.stride if repeat == 0 else 1,
                expand_ratio=stage.expand_ratio,
                se_ratio=stage.se_ratio,
                skip=stage.skip,
                activation=activation,
                # Stochastic depth grows linearly with block index (EfficientNet, torchvision).
                drop_connect=spec.drop_connect_rate * (first_index + repeat) / total,
                bn=bn,
            )
        )
    return nn.Sequential(*blocks)


def build_model(spec: NetworkSpec) -> MBConvNet:
    """A freshly initialised model for ``spec`` (works at any resolution >= its total stride)."""
    activation = _ACTIVATIONS[spec.activation]
    bn = {"eps": spec.bn_eps, "momentum": spec.bn_momentum}
    stem = _conv_bn_act(
        spec.in_channels,
        spec.stem_channels,
        3,
        stride=spec.stem_stride,
        activation=activation,
        bn=bn,
    )
    stages = []
    index = 0
    for stage in spec.stages:
        stages.append(
            _stage_blocks(stage, first_index=index, total=spec.num_blocks, spec=spec, bn=bn)
        )
        index += stage.repeats
    head = _conv_bn_act(
        spec.stages[-1].out_channels, spec.head_channels, 1, activation=activation, bn=bn
    )
    classifier = nn.Sequential(
        nn.Dropout(spec.dropout), nn.Linear(spec.head_channels, spec.num_classes)
    )
    model = MBConvNet(stem, nn.Sequential(*stages), head, classifier)
    _initialise(model)
    return model


class _Head(nn.Module):
    """What follows the last stage: head conv1x1, global pool, classifier."""

    def __init__(self, conv: nn.Module, classifier: nn.Module) -> None:
        super().__init__()
        self.conv = conv
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = nn.functional.adaptive_avg_pool2d(self.conv(x), 1).flatten(1)
        return self.classifier(features)


def build_part(part: PartShape) -> nn.Module:
    """The module of one part of a network (``search_spaces.network_parts``), initialised.

    It is the layers ``build_model`` makes for that part, so timing a part on its own
    times the same kernels as in the whole network (a latency table's entries).
    """
    activation = _ACTIVATIONS[part.activation]
    bn = {"eps": 1e-3, "momentum": 0.01}  # no effect on an eval-mode forward pass
    module: nn.Module
    if part.kind == "stem":
        module = _conv_bn_act(
            part.in_channels, part.out_channels, part.kernel, stride=part.stride,
            activation=activation, bn=bn,
        )  # fmt: skip
    elif part.kind == "head":
        module = _Head(
            _conv_bn_act(part.in_channels, part.out_channels, 1, activation=activation, bn=bn),
            nn.Sequential(nn.Dropout(0.0), nn.Linear(part.out_channels, part.num_classes)),
        )
    else:
        module = (FusedMBConv if part.fused else MBConv)(
            part.in_channels,
            part.out_channels,
            kernel=part.kernel,
            stride=part.stride,
            expand_ratio=part.expand_ratio,
            se_ratio=part.se_ratio or None,
            skip=part.residual,
            activation=activation,
            drop_connect=0.0,
            bn=bn,
        )
    _initialise(module)
    return module


def _initialise(model: nn.Module) -> None:
    """torchvision's EfficientNet init: fan-out He for convs, uniform 1/sqrt(out) for linear."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            bound = 1.0 / module.out_features**0.5
            nn.init.uniform_(module.weight, -bound, bound)
            nn.init.zeros_(module.bias)

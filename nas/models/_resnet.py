"""A ResNet whose every width and stage depth scales; torchvision's at width and depth 1."""

from __future__ import annotations

import torch
from torch import nn

from nas.models._backbone import Backbone, BackboneError, check_arguments
from search_spaces import is_int, round_filters, round_repeats

__all__ = ["RESNET_LAYERS", "ResNetBackbone", "ScalableResNet"]

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
        if not is_int(depth) or depth not in RESNET_LAYERS:
            known = ", ".join(str(key) for key in RESNET_LAYERS)
            raise BackboneError(f"ResNet depth must be one of {known}, got {depth!r}")
        self.depth = depth
        self.name = f"resnet{depth}"
        self.base_resolution = 224

    def structure(
        self, *, width_mult: float, depth_mult: float, num_classes: int, in_channels: int
    ) -> tuple[object, ...]:
        """The widths and block counts ``ScalableResNet`` rounds to (no model built)."""
        bottleneck, layers = RESNET_LAYERS[self.depth]
        stages = tuple(
            (
                round_filters(width, width_mult),
                round_filters(width * _EXPANSION, width_mult) if bottleneck else None,
                round_repeats(blocks, depth_mult),
            )
            for width, blocks in zip(_STAGE_WIDTHS, layers, strict=True)
        )
        return (round_filters(_STEM_WIDTH, width_mult), stages, num_classes, in_channels)

    def build(
        self, *, width_mult: float, depth_mult: float, num_classes: int, in_channels: int
    ) -> ScalableResNet:
        check_arguments(
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

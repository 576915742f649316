"""One weight-sharing network that holds every network of an MBConv search space.

Once-for-All (Cai et al., 2020) and BigNAS (Yu et al., 2020) train one supernet and take
each candidate's weights from it. Here a stage's blocks hold weights for its largest
choice (most blocks, largest kernel, expansion and width, SE where the space allows);
a candidate takes

- kernel: the centre of the largest kernel (OFA's "elastic kernel", without its
  transformation matrices);
- width and expansion: the first channels of every weight (channel slicing);
- depth: the first blocks of each stage;
- SE: the first squeeze channels, or none;
- skip: an identity shortcut or none. A shortcut has no weights, so a block serves both,
  as single-path supernets (SPOS, FairNAS) share one block across an identity choice;
  whether such sharing still ranks is what ``benchmarks/supernet_variants.py`` measures.

``Supernet.forward(x, spec)`` runs a candidate on the shared weights, so training it
trains them. ``Supernet.extract(spec)`` copies a candidate's slices into the network the
one builder makes from ``spec``: the same outputs, and from then on an ordinary model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import stochastic_depth

from nas.models import MBConvNet, build_model, depthwise_conv2d
from search_spaces import InputError, MBConvSpace, NetworkSpec, StageSpec, round_filters

__all__ = [
    "StageBounds",
    "Supernet",
    "SupernetError",
    "default_supernet_space",
    "stage_bounds",
    "with_shortcuts",
]

_ACTIVATIONS = {"swish": F.silu, "relu": F.relu, "relu6": F.relu6}


class SupernetError(InputError):
    """A space the supernet cannot hold, or a spec outside the supernet."""


@dataclass(frozen=True)
class StageBounds:
    """The largest choice of one stage: what its shared weights are sized for."""

    repeats: int
    kernel: int
    expand_ratio: int
    out_channels: int
    stride: int
    se_ratio: float | None  # largest SE ratio, None when no choice has SE


def stage_bounds(space: MBConvSpace) -> tuple[StageBounds, ...]:
    """Per stage, the largest of every choice in ``space`` (a shortcut, weightless,
    bounds nothing)."""
    bounds = []
    for index, (reference, choices) in enumerate(
        zip(space.skeleton.stages, space.choices, strict=True)
    ):
        if "fused" in choices.convs:
            raise SupernetError(
                f"stage {index} of the space may use Fused-MBConv, whose full kxk conv "
                'shares no weights with a depthwise one; use "convs": ["mbconv"] with the '
                "supernet evaluator"
            )
        se = max(float(ratio) for ratio in choices.se_ratios)
        bounds.append(
            StageBounds(
                repeats=max(1, reference.repeats + max(choices.layer_deltas)),
                kernel=max(choices.kernels),
                expand_ratio=max(choices.expand_ratios),
                out_channels=max(
                    round_filters(reference.out_channels, float(w), space.channel_divisor)
                    for w in choices.width_mults
                ),
                stride=reference.stride,
                se_ratio=se if se > 0 else None,
            )
        )
    return tuple(bounds)


def with_shortcuts(space: MBConvSpace) -> MBConvSpace:
    """``space`` without the no-shortcut choice."""
    return dataclasses.replace(
        space, choices=tuple(dataclasses.replace(c, skips=(True,)) for c in space.choices)
    )


def default_supernet_space(skeleton: NetworkSpec) -> MBConvSpace:
    """The space a supernet searches when none is given: the usual choices in every
    stage, each block keeping its shortcut (a space file may add the no-shortcut choice)."""
    return with_shortcuts(MBConvSpace.uniform(skeleton))


def _squeeze(in_channels: int, se_ratio: float) -> int:
    # The builder's rule: squeeze width from the block input (the TF reference).
    return max(1, int(in_channels * se_ratio))


class _Norm(nn.BatchNorm2d):
    """Batch norm over the first ``channels`` of its largest width."""

    def sliced(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.shape[1]
        # Slices of the running buffers are views: training updates them in place.
        return F.batch_norm(
            x,
            self.running_mean[:channels],
            self.running_var[:channels],
            self.weight[:channels],
            self.bias[:channels],
            self.training,
            self.momentum,
            self.eps,
        )


class _SuperBlock(nn.Module):
    """The weights of one block position at its largest input, expansion, kernel and width."""

    def __init__(
        self,
        max_in: int,
        bounds: StageBounds,
        *,
        bn: dict[str, float],
    ) -> None:
        super().__init__()
        max_mid = max_in * bounds.expand_ratio
        out, kernel = bounds.out_channels, bounds.kernel
        if bounds.expand_ratio > 1:  # else no choice of this stage has an expansion conv
            self.expand = nn.Parameter(torch.empty(max_mid, max_in, 1, 1))
            self.expand_norm = _Norm(max_mid, **bn)
        self.depthwise = nn.Parameter(torch.empty(max_mid, 1, kernel, kernel))
        self.depthwise_norm = _Norm(max_mid, **bn)
        self.squeeze_channels = 0
        if bounds.se_ratio is not None:
            squeeze = _squeeze(max_in, bounds.se_ratio)
            self.squeeze_channels = squeeze
            self.se_reduce = nn.Parameter(torch.empty(squeeze, max_mid, 1, 1))
            self.se_reduce_bias = nn.Parameter(torch.zeros(squeeze))
            self.se_expand = nn.Parameter(torch.empty(max_mid, squeeze, 1, 1))
            self.se_expand_bias = nn.Parameter(torch.zeros(max_mid))
        self.project = nn.Parameter(torch.empty(out, max_mid, 1, 1))
        self.project_norm = _Norm(out, **bn)
        self.max_kernel = kernel

    def kernel_weight(self, channels: int, kernel: int) -> torch.Tensor:
        start = (self.max_kernel - kernel) // 2
        return self.depthwise[:channels, :, start : start + kernel, start : start + kernel]

    def forward(
        self,
        x: torch.Tensor,
        *,
        out: int,
        kernel: int,
        stride: int,
        expand_ratio: int,
        se_ratio: float | None,
        residual: bool,
        drop_connect: float,
        act: object,
    ) -> torch.Tensor:
        in_channels = x.shape[1]
        mid = in_channels * expand_ratio
        h = x
        if expand_ratio != 1:
            h = act(self.expand_norm.sliced(F.conv2d(h, self.expand[:mid, :in_channels])))
        h = depthwise_conv2d(h, self.kernel_weight(mid, kernel), None, stride, (kernel - 1) // 2)
        h = act(self.depthwise_norm.sliced(h))
        if se_ratio is not None:
            squeeze = _squeeze(in_channels, se_ratio)
            scale = F.adaptive_avg_pool2d(h, 1)
            scale = F.conv2d(scale, self.se_reduce[:squeeze, :mid], self.se_reduce_bias[:squeeze])
            scale = F.conv2d(act(scale), self.se_expand[:mid, :squeeze], self.se_expand_bias[:mid])
            h = h * torch.sigmoid(scale)
        h = self.project_norm.sliced(F.conv2d(h, self.project[:out, :mid]))
        if residual:
            h = stochastic_depth(h, drop_connect, "row", self.training) + x
        return h


class Supernet(nn.Module):
    """Shared weights for every network of ``space``; see the module docstring."""

    def __init__(self, space: MBConvSpace) -> None:
        super().__init__()
        skeleton = space.skeleton
        self.space = space
        self.skeleton = skeleton
        self.bounds = stage_bounds(space)
        bn = {"eps": skeleton.bn_eps, "momentum": skeleton.bn_momentum}
        self.stem = nn.Conv2d(
            skeleton.in_channels,
            skeleton.stem_channels,
            3,
            skeleton.stem_stride,
            1,
            bias=False,
        )
        self.stem_norm = nn.BatchNorm2d(skeleton.stem_channels, **bn)
        stages = []
        previous = skeleton.stem_channels
        for bounds in self.bounds:
            blocks = [
                _SuperBlock(previous if index == 0 else bounds.out_channels, bounds, bn=bn)
                for index in range(bounds.repeats)
            ]
            stages.append(nn.ModuleList(blocks))
            previous = bounds.out_channels
        self.stages = nn.ModuleList(stages)
        self.head = nn.Parameter(torch.empty(skeleton.head_channels, previous, 1, 1))
        self.head_norm = nn.BatchNorm2d(skeleton.head_channels, **bn)
        self.classifier = nn.Linear(skeleton.head_channels, skeleton.num_classes)
        self._extremes = (
            space.decode(space.extreme(largest=True), name="supernet-largest"),
            space.decode(space.extreme(largest=False), name="supernet-smallest"),
        )
        self._initialise()

    def _initialise(self) -> None:
        # The builder's init (torchvision's), applied to the largest shapes.
        for name, parameter in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(parameter)
            elif parameter.ndim == 4:
                nn.init.kaiming_normal_(parameter, mode="fan_out")
        bound = 1.0 / self.classifier.out_features**0.5
        nn.init.uniform_(self.classifier.weight, -bound, bound)
        # BigNAS (sec. 3.1): every block after a stage's first is a residual, and starts as
        # the identity (its last batch-norm scale zero), so a network that stops a stage
        # early begins as one that has those blocks: depth is elastic from the first step.
        for blocks in self.stages:
            for block in list(blocks)[1:]:
                nn.init.zeros_(block.project_norm.weight)

    # --- which networks it holds ------------------------------------------------------

    def check(self, spec: NetworkSpec) -> None:
        """Raise ``SupernetError`` unless ``spec`` is a network this supernet holds."""
        skeleton = self.skeleton
        for name in (
            "in_channels",
            "num_classes",
            "stem_channels",
            "head_channels",
            "stem_stride",
            "activation",
        ):
            if getattr(spec, name) != getattr(skeleton, name):
                raise SupernetError(
                    f"spec {spec.name!r} has {name}={getattr(spec, name)!r}, the supernet's "
                    f"space {getattr(skeleton, name)!r}: the spec comes from another space"
                )
        if len(spec.stages) != len(self.bounds):
            raise SupernetError(
                f"spec {spec.name!r} has {len(spec.stages)} stages, the supernet "
                f"{len(self.bounds)}: the spec comes from another space"
            )
        for index, (stage, bounds) in enumerate(zip(spec.stages, self.bounds, strict=True)):
            _check_stage(spec.name, index, stage, bounds)

    # --- running a candidate on the shared weights --------------------------------------

    def forward(self, x: torch.Tensor, spec: NetworkSpec) -> torch.Tensor:
        act = _ACTIVATIONS[spec.activation]
        x = act(self.stem_norm(self.stem(x)))
        index, total = 0, spec.num_blocks
        for blocks, stage in zip(self.stages, spec.stages, strict=True):
            for repeat in range(stage.repeats):
                in_channels = stage.in_channels if repeat == 0 else stage.out_channels
                stride = stage.stride if repeat == 0 else 1
                x = blocks[repeat](
                    x,
                    out=stage.out_channels,
                    kernel=stage.kernel,
                    stride=stride,
                    expand_ratio=stage.expand_ratio,
                    se_ratio=stage.se_ratio,
                    residual=stage.skip and stride == 1 and in_channels == stage.out_channels,
                    drop_connect=spec.drop_connect_rate * index / total,
                    act=act,
                )
                index += 1
        x = F.conv2d(x, self.head[:, : x.shape[1]])
        x = act(self.head_norm(x))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        x = F.dropout(x, spec.dropout, self.training)
        return self.classifier(x)

    # --- a candidate as a stand-alone network ------------------------------------------

    @torch.no_grad()
    def extract(self, spec: NetworkSpec) -> MBConvNet:
        """The builder's network for ``spec``, holding this supernet's slices of weights."""
        self.check(spec)
        model = build_model(spec)
        _copy_conv_bn(model.stem, self.stem.weight, self.stem_norm)
        for blocks, built_blocks, stage in zip(self.stages, model.stages, spec.stages, strict=True):
            for repeat in range(stage.repeats):
                _copy_block(blocks[repeat], built_blocks[repeat].layers, stage, repeat)
        _copy_conv_bn(model.head, self.head, self.head_norm)
        model.classifier[1].weight.copy_(self.classifier.weight)
        model.classifier[1].bias.copy_(self.classifier.bias)
        return model

    def extremes(self) -> tuple[NetworkSpec, NetworkSpec]:
        """(largest, smallest) network of the space: the sandwich rule's two ends."""
        return self._extremes


def _check_stage(name: str, index: int, stage: StageSpec, bounds: StageBounds) -> None:
    problems = []
    if stage.repeats > bounds.repeats:
        problems.append(f"{stage.repeats} blocks (at most {bounds.repeats})")
    if stage.kernel > bounds.kernel:
        problems.append(f"kernel {stage.kernel} (at most {bounds.kernel})")
    if stage.expand_ratio > bounds.expand_ratio:
        problems.append(f"expansion {stage.expand_ratio} (at most {bounds.expand_ratio})")
    if stage.out_channels > bounds.out_channels:
        problems.append(f"width {stage.out_channels} (at most {bounds.out_channels})")
    if stage.stride != bounds.stride:
        problems.append(f"stride {stage.stride} (the space's is {bounds.stride})")
    if stage.se_ratio is not None and (bounds.se_ratio is None or stage.se_ratio > bounds.se_ratio):
        problems.append(f"SE ratio {stage.se_ratio:g} (largest {bounds.se_ratio or 0:g})")
    if problems:
        raise SupernetError(
            f"spec {name!r}, stage {index} ({stage.to_string()}) is outside the supernet: "
            f"{', '.join(problems)}; use a spec from the supernet's space"
        )


def _copy_norm(target: nn.BatchNorm2d, source: nn.BatchNorm2d) -> None:
    channels = target.num_features
    target.weight.copy_(source.weight[:channels])
    target.bias.copy_(source.bias[:channels])
    target.running_mean.copy_(source.running_mean[:channels])
    target.running_var.copy_(source.running_var[:channels])
    target.num_batches_tracked.copy_(source.num_batches_tracked)


def _copy_conv_bn(target: nn.Sequential, weight: torch.Tensor, norm: nn.BatchNorm2d) -> None:
    conv = target[0]
    out, inputs = conv.weight.shape[:2]
    conv.weight.copy_(weight[:out, :inputs])
    _copy_norm(target[1], norm)


def _copy_block(
    block: _SuperBlock, layers: Sequence[nn.Module], stage: StageSpec, repeat: int
) -> None:
    in_channels = stage.in_channels if repeat == 0 else stage.out_channels
    mid = in_channels * stage.expand_ratio
    position = 0
    if stage.expand_ratio != 1:
        _copy_conv_bn(layers[position], block.expand, block.expand_norm)
        position += 1
    depthwise = layers[position]
    depthwise[0].weight.copy_(block.kernel_weight(mid, stage.kernel))
    _copy_norm(depthwise[1], block.depthwise_norm)
    position += 1
    if stage.se_ratio is not None:
        se = layers[position]
        squeeze = se.reduce.out_channels
        se.reduce.weight.copy_(block.se_reduce[:squeeze, :mid])
        se.reduce.bias.copy_(block.se_reduce_bias[:squeeze])
        se.expand.weight.copy_(block.se_expand[:mid, :squeeze])
        se.expand.bias.copy_(block.se_expand_bias[:mid])
        position += 1
    _copy_conv_bn(layers[position], block.project, block.project_norm)

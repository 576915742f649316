"""The distinct shapes a network is made of: stem, one per MBConv block, head.

A latency lookup table (``nas.latency``) times each shape once and predicts a network
as the sum of its parts, as MnasNet's successors (FBNet, ProxylessNAS, OFA) do. Two
blocks with one shape cost the same however they got there, so a shape holds only what
changes the work of an eval-mode forward pass: widths, kernel, stride, expansion, SE
width, whether the shortcut adds, the input side and the activation. Stochastic depth
and batch-norm settings do nothing at inference and are left out.

Plain data: this module must not import torch.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from search_spaces._counting import feature_size
from search_spaces._mbconv_space import MBConvSpace
from search_spaces._network import NetworkSpec
from search_spaces._rounding import round_filters
from search_spaces._stage import SpecError

__all__ = ["PART_KINDS", "PartShape", "network_parts", "space_parts"]

PART_KINDS: tuple[str, ...] = ("stem", "block", "head")


@dataclass(frozen=True, order=True)
class PartShape:
    """One part of a network at one input size; a table entry's key."""

    kind: str  # stem: conv3x3-BN-act; block: one MBConv; head: conv1x1-BN-act, pool, linear
    in_channels: int
    out_channels: int
    size: int  # side of the part's square input feature map
    activation: str
    kernel: int = 3
    stride: int = 1
    expand_ratio: int = 1  # blocks only
    se_ratio: float = 0.0  # blocks only; 0.0: no squeeze-excitation
    residual: bool = False  # blocks only: the identity shortcut is added
    fused: bool = False  # blocks only: Fused-MBConv (EfficientNetV2) instead of MBConv
    num_classes: int = 0  # head only: the classifier's outputs

    def __post_init__(self) -> None:
        if self.kind not in PART_KINDS:
            raise SpecError(f"part kind must be one of {', '.join(PART_KINDS)}, got {self.kind!r}")

    @property
    def key(self) -> str:
        """Canonical text of the shape (the table's JSON key), e.g. ``block_i16_o24_...``."""
        head = (
            f"{self.kind}_i{self.in_channels}_o{self.out_channels}_r{self.size}_{self.activation}"
        )
        if self.kind == "stem":
            return f"{head}_k{self.kernel}_s{self.stride}"
        if self.kind == "head":
            return f"{head}_c{self.num_classes}"
        return (
            f"{head}_k{self.kernel}_s{self.stride}_e{self.expand_ratio}"
            f"_se{self.se_ratio:g}_{'res' if self.residual else 'nores'}"
            + ("_c1" if self.fused else "")
        )

    @property
    def out_size(self) -> int:
        return feature_size(self.size, self.stride)


def _block(
    in_ch: int, out_ch: int, *, kernel: int, stride: int, expand: int, se: float | None,
    skip: bool, size: int, activation: str, fused: bool = False,
) -> PartShape:  # fmt: skip
    return PartShape(
        "block",
        in_ch,
        out_ch,
        size,
        activation,
        kernel=kernel,
        stride=stride,
        expand_ratio=expand,
        se_ratio=float(se or 0.0),
        # The builder's rule: a shortcut only where the block keeps the shape.
        residual=bool(skip and stride == 1 and in_ch == out_ch),
        fused=fused,
    )


def _stem(spec: NetworkSpec) -> PartShape:
    return PartShape(
        "stem",
        spec.in_channels,
        spec.stem_channels,
        spec.resolution,
        spec.activation,
        stride=spec.stem_stride,
    )


def _head(spec: NetworkSpec, in_channels: int, size: int) -> PartShape:
    return PartShape(
        "head", in_channels, spec.head_channels, size, spec.activation, num_classes=spec.num_classes
    )


def network_parts(spec: NetworkSpec) -> tuple[PartShape, ...]:
    """Every part of ``spec`` in forward order: stem, each block, head."""
    stem = _stem(spec)
    parts = [stem]
    size = stem.out_size
    for stage in spec.stages:
        for repeat in range(stage.repeats):
            first = repeat == 0
            block = _block(
                stage.in_channels if first else stage.out_channels,
                stage.out_channels,
                kernel=stage.kernel,
                stride=stage.stride if first else 1,
                expand=stage.expand_ratio,
                se=stage.se_ratio,
                skip=stage.skip,
                size=size,
                activation=spec.activation,
                fused=stage.fused,
            )
            parts.append(block)
            size = block.out_size
    parts.append(_head(spec, spec.stages[-1].out_channels, size))
    return tuple(parts)


def _stage_parts(
    space: MBConvSpace, index: int, in_widths: tuple[int, ...], size: int
) -> Iterator[PartShape]:
    reference = space.skeleton.stages[index]
    choices = space.choices[index]
    out_widths = sorted(
        {
            round_filters(reference.out_channels, w, space.channel_divisor)
            for w in choices.width_mults
        }
    )
    repeats = max(1, reference.repeats + max(choices.layer_deltas))
    activation = space.skeleton.activation
    for kernel, expand, se, skip, conv, out in itertools.product(
        choices.kernels,
        choices.expand_ratios,
        choices.se_ratios,
        choices.skips,
        choices.convs,
        out_widths,
    ):
        fused = conv == "fused"
        if fused and expand == 1:
            se = 0.0  # as MBConvSpace.decode: a fused e1 block takes no SE
        common = {"kernel": kernel, "expand": expand, "se": se, "skip": skip, "fused": fused}
        for in_ch in in_widths:
            yield _block(
                in_ch, out, stride=reference.stride, size=size, activation=activation, **common
            )
        if repeats > 1:
            yield _block(
                out,
                out,
                stride=1,
                size=feature_size(size, reference.stride),
                activation=activation,
                **common,
            )


def space_parts(space: MBConvSpace) -> frozenset[PartShape]:
    """Every distinct part a network of ``space`` can contain.

    Each stage's first block meets every width the stage before can end with; its
    later blocks keep the stage's own width. Strides are the skeleton's, so the
    feature size entering each stage is the same for every network of the space.
    """
    skeleton = space.skeleton
    stem = _stem(skeleton)
    parts: set[PartShape] = {stem}
    widths: tuple[int, ...] = (skeleton.stem_channels,)
    size = stem.out_size
    for index, reference in enumerate(skeleton.stages):
        parts.update(_stage_parts(space, index, widths, size))
        widths = tuple(
            sorted(
                {
                    round_filters(reference.out_channels, w, space.channel_divisor)
                    for w in space.choices[index].width_mults
                }
            )
        )
        size = feature_size(size, reference.stride)
    parts.update(_head(skeleton, width, size) for width in widths)
    return frozenset(parts)

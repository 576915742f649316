"""Exact parameter and FLOP counts of a spec, without building a model.

FLOPs follow the EfficientNet paper and torchvision's ``_ops`` metadata:
multiply-adds of conv and fully-connected layers (bias adds, batch norm,
activations and pooling are not counted). That equals the sum of fvcore's
``by_operator()["conv"] + ["linear"]`` on the built model, which the tests
check for every preset. Parameters count every trainable tensor: conv and
linear weights and biases, and batch norm's affine weight and bias.

Plain arithmetic on purpose: it runs in microseconds, so a search can screen
thousands of candidates against a FLOP limit before training any of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from search_spaces._checks import is_int
from search_spaces._network import NetworkSpec

__all__ = ["PartCount", "count_by_part", "count_flops", "count_params", "feature_size"]

_STEM_KERNEL = 3


def feature_size(size: int, stride: int) -> int:
    """Output side of a conv with odd kernel and padding (k - 1) // 2: ceil(size / stride)."""
    return (size - 1) // stride + 1


def _fused_block(
    in_ch: int, out_ch: int, expand: int, kernel: int, stride: int, se: float | None, size: int
) -> tuple[int, int, int]:
    """(params, multiply-adds, output size) of one Fused-MBConv block (EfficientNetV2)."""
    out_size = (size - 1) // stride + 1
    area = out_size * out_size
    if expand == 1:  # the kxk conv is the whole block: in -> out, BN, activation
        return (
            kernel * kernel * in_ch * out_ch + 2 * out_ch,
            area * kernel**2 * in_ch * out_ch,
            out_size,
        )
    mid = in_ch * expand
    params = kernel * kernel * in_ch * mid + 2 * mid  # the fused kxk expansion + BN
    macs = area * kernel * kernel * in_ch * mid
    if se is not None:
        squeezed = max(1, int(in_ch * se))
        params += 2 * mid * squeezed + squeezed + mid
        macs += 2 * mid * squeezed
    params += mid * out_ch + 2 * out_ch  # projection conv1x1 + BN
    macs += area * mid * out_ch
    return params, macs, out_size


def _block(
    in_ch: int, out_ch: int, expand: int, kernel: int, stride: int, se: float | None, size: int,
    fused: bool = False,
) -> tuple[int, int, int]:  # fmt: skip
    """(params, multiply-adds, output size) of one MBConv block at input ``size``."""
    if fused:
        return _fused_block(in_ch, out_ch, expand, kernel, stride, se, size)
    mid = in_ch * expand
    params = macs = 0
    if expand != 1:  # expansion conv1x1 + BN
        params += in_ch * mid + 2 * mid
        macs += size * size * in_ch * mid
    out_size = (size - 1) // stride + 1
    area = out_size * out_size
    params += kernel * kernel * mid + 2 * mid  # depthwise + BN
    macs += area * kernel * kernel * mid
    if se is not None:
        # Squeeze width comes from the block's input, not the expanded width (TF reference).
        squeezed = max(1, int(in_ch * se))
        params += 2 * mid * squeezed + squeezed + mid  # two conv1x1 with bias
        macs += 2 * mid * squeezed  # applied to the 1x1 pooled map
    params += mid * out_ch + 2 * out_ch  # projection conv1x1 + BN
    macs += area * mid * out_ch
    return params, macs, out_size


def count_params(spec: NetworkSpec) -> int:
    """Trainable parameters of the model the builder makes from ``spec``."""
    return sum(part.params for part in count_by_part(spec))


def count_flops(spec: NetworkSpec, resolution: int | None = None) -> int:
    """Conv + linear multiply-adds for one image at ``resolution`` (default: the spec's)."""
    return sum(part.flops for part in count_by_part(spec, resolution))


@dataclass(frozen=True)
class PartCount:
    """Counts of one part of the network: the stem, a stage, or the head + classifier."""

    part: str
    params: int
    flops: int
    out_size: int  # side of the part's output feature map


def count_by_part(spec: NetworkSpec, resolution: int | None = None) -> tuple[PartCount, ...]:
    """Per-part counts that sum to the totals: where a model's cost actually sits."""
    resolution = spec.resolution if resolution is None else resolution
    if not is_int(resolution) or resolution < 1:
        raise ValueError(f"resolution must be a positive integer, got {resolution!r}")
    size = (resolution - 1) // spec.stem_stride + 1
    stem = spec.stem_channels
    parts = [
        PartCount(
            "stem",
            spec.in_channels * _STEM_KERNEL * _STEM_KERNEL * stem + 2 * stem,
            size * size * _STEM_KERNEL * _STEM_KERNEL * spec.in_channels * stem,
            size,
        )
    ]
    for stage in spec.stages:
        p, m, size = _block(
            stage.in_channels,
            stage.out_channels,
            stage.expand_ratio,
            stage.kernel,
            stage.stride,
            stage.se_ratio,
            size,
            stage.fused,
        )
        if stage.repeats > 1:
            out = stage.out_channels
            rp, rm, _ = _block(
                out, out, stage.expand_ratio, stage.kernel, 1, stage.se_ratio, size, stage.fused
            )
            p += rp * (stage.repeats - 1)
            m += rm * (stage.repeats - 1)
        parts.append(PartCount(stage.to_string(), p, m, size))
    last, head = spec.stages[-1].out_channels, spec.head_channels
    parts.append(
        PartCount(
            "head+classifier",
            last * head + 2 * head + head * spec.num_classes + spec.num_classes,
            size * size * last * head + head * spec.num_classes,
            1,
        )
    )
    return tuple(parts)

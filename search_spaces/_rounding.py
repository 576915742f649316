"""Rounding rules that turn real-valued multipliers into buildable networks.

They live beside the specs (and are re-exported by ``scaling``) because the
search space, which sits below ``scaling``, rounds widths with the same rule.
"""

from __future__ import annotations

import math

__all__ = ["round_filters", "round_repeats", "round_resolution"]

# Products such as 1.1 * 50 (= 55.00000000000001) carry float noise; a repeat count that is an
# integer in exact arithmetic must not be pushed up a whole block by it.
_CEIL_SLACK = 1e-9


def round_filters(
    channels: int, width_mult: float, divisor: int = 8, *, round_limit: float = 0.9
) -> int:
    """Scale a channel count and round it to a multiple of ``divisor`` (TF reference rule).

    Rounds to the nearest multiple, never below ``divisor``, and adds one more
    multiple if rounding lost more than 10% of the scaled width (``round_limit``
    0.9, EfficientNet). EfficientNetV2's reference drops that guard (automl's
    ``effnetv2_model.round_filters``, timm's ``round_limit=0.``): pass 0.0.
    """
    scaled = channels * width_mult
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if rounded < round_limit * scaled:
        rounded += divisor
    return int(rounded)


def round_repeats(repeats: int, depth_mult: float) -> int:
    """Scale a stage's block count: ceil(repeats * depth_mult), as in the reference code."""
    return max(1, math.ceil(repeats * depth_mult - _CEIL_SLACK))


def round_resolution(resolution: float, divisor: int = 4) -> int:
    """Round a scaled input size to the nearest multiple of ``divisor`` (halves round up).

    The default of 4 matches the published EfficientNet resolutions (224, 240,
    260, 300, 380, 456, 528, 600, 672, 800 are all multiples of 4, and 260 and
    380 are not multiples of 8). Pass 32 to keep every feature map exactly
    halved by the five stride-2 stages.
    """
    if divisor < 1:
        raise ValueError(f"resolution divisor must be >= 1, got {divisor}")
    return max(divisor, math.floor(resolution / divisor + 0.5) * divisor)

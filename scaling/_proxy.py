"""The search proxy: a skeleton adapted to the data and shrunk by width and depth multipliers.

A search trains every candidate, so it searches around a cheaper network than the one
it will deliver; the space's per-stage choices are relative to this skeleton.
"""

from __future__ import annotations

from scaling._compound import ScalingError, scale_network
from search_spaces import NetworkSpec, is_number, skeleton

__all__ = ["SMALL_INPUT_BELOW", "search_proxy", "skeleton_for"]

# Below this input size the EfficientNet-B0 skeleton's five stride-2 steps leave a 1-2 px
# map; the small-input skeleton strides three times.
SMALL_INPUT_BELOW = 128


def skeleton_for(name: str, resolution: int) -> str:
    """``name``, with ``auto`` resolved by resolution: small-input below 128 px, else B0's."""
    if name != "auto":
        return name
    return "small-input" if resolution < SMALL_INPUT_BELOW else "efficientnet-b0"


def search_proxy(
    *,
    resolution: int,
    in_channels: int,
    num_classes: int,
    skeleton_name: str = "auto",
    width_mult: float = 1.0,
    depth_mult: float = 1.0,
    channel_divisor: int = 8,
    name: str | None = None,
) -> NetworkSpec:
    """The skeleton the search space is built around.

    ``skeleton_name`` is ``efficientnet-b0``, ``small-input`` or ``auto``; at width and depth
    1.0 the skeleton is used as it is, otherwise ``scale_network`` scales it (resolution
    kept exactly, channels rounded to multiples of ``channel_divisor``).
    """
    if not (is_number(width_mult) and is_number(depth_mult) and width_mult > 0 and depth_mult > 0):
        raise ScalingError(
            f"the proxy's width and depth multipliers must be positive, e.g. 0.5; "
            f"got width {width_mult!r}, depth {depth_mult!r}"
        )
    reference = skeleton(
        skeleton_for(skeleton_name, resolution),
        in_channels=in_channels,
        num_classes=num_classes,
        resolution=resolution,
    )
    if (width_mult, depth_mult) == (1.0, 1.0) and channel_divisor == 8 and name is None:
        return reference
    return scale_network(
        reference,
        width_mult=width_mult,
        depth_mult=depth_mult,
        resolution=resolution,
        resolution_divisor=1,
        channel_divisor=channel_divisor,
        name=name,
    )

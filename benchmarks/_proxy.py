"""The proxy the benchmarks search around: `cnas search`'s at 0.5 width and depth on digits."""

from __future__ import annotations

from scaling import search_proxy
from search_spaces import NetworkSpec

WIDTH_MULT = 0.5
DEPTH_MULT = 0.5


def digits_proxy(resolution: int) -> NetworkSpec:
    """The small-input skeleton for digits (1 channel, 10 classes) at width and depth 0.5."""
    return search_proxy(
        skeleton_name="small-input",
        resolution=resolution,
        in_channels=1,
        num_classes=10,
        width_mult=WIDTH_MULT,
        depth_mult=DEPTH_MULT,
    )

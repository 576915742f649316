"""Scaling a network to a FLOP target exactly, not nominally.

A nominal scaling (depth alpha, width beta, resolution gamma) misses its FLOP target
once widths are rounded to multiples of 8, stage depths rounded up and the input
rounded to whole pixels: on small-input proxies the real ratio of the grid's
candidates spans 1.85x to 4.66x where 2x was meant. Comparing such candidates compares
compute, not shape. ``match_flops`` moves a scaling, as little as it can, until its
counted FLOPs are within a tolerance of the target:

1. keep depth and width, solve the resolution (whole pixels) for the target;
2. solve the depth (for a spec by placing blocks per stage, ``scaling._blocks``;
   otherwise the depth multiplier) and then the width, at the nominal resolution, then
   at resolutions ever further from it (up to a few pixels past the solved one), until
   something matches; of all matches keep the one that moved least, a change counting
   as the FLOPs it is worth (log depth + 2 log width + 2 log resolution);
3. if nothing is within the tolerance, say so with the closest scaling found.

Which of the three may move is the caller's: a depth-only reference moves only its
depth, so it stays a depth-only scaling. Pure arithmetic: FLOPs come from a callable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from dataclasses import dataclass

from scaling._blocks import allocate_blocks
from scaling._compound import ScalingError, scale_network
from scaling._family import resolution_for_flops
from search_spaces import NetworkSpec, count_flops

__all__ = ["DIMENSIONS", "Allocate", "FlopsAt", "Match", "Scaling", "match_flops", "spec_scaler"]

DIMENSIONS = ("depth", "width", "resolution")

# How far a multiplier may move from its nominal value while matching: beyond this the
# scaling is no longer the one asked for, and it is reported unmatched instead.
_DEPTH_RANGE = 1.5
_WIDTH_RANGE = 1.25
_RESOLUTION_NEIGHBOURS = 3  # whole pixels either side of the solved resolution
_BISECTIONS = 16  # on a multiplier: steps of about 1e-5 of its range, past any rounding

FlopsAt = Callable[[float, float, int], float]  # (depth_mult, width_mult, resolution) -> FLOPs
# (width_mult, resolution, depth_mult, target, tolerance) -> a scaling whose depth is
# blocks placed per stage (``allocate_blocks``), or None; only networks made of stages.
Allocate = Callable[[float, int, float, float, float], "Scaling | None"]


@dataclass(frozen=True)
class Scaling:
    depth_mult: float  # with ``repeats``: their total over the base network's
    width_mult: float
    resolution: int
    flops: float
    repeats: tuple[int, ...] | None = None  # blocks per stage, where they were placed

    def cost(self, nominal: Scaling) -> float:
        """How far this is from ``nominal``, in log FLOPs each change is worth."""
        return (
            abs(math.log(self.depth_mult / nominal.depth_mult))
            + 2 * abs(math.log(self.width_mult / nominal.width_mult))
            + 2 * abs(math.log(self.resolution / nominal.resolution))
        )


@dataclass(frozen=True)
class Match:
    """The outcome for one scaling: ``matched`` within tolerance, or why not."""

    nominal: Scaling  # as asked, rounded to whole pixels, with its counted FLOPs
    closest: Scaling  # the matched scaling, or the nearest one found
    target: float
    tolerance: float
    varied: tuple[str, ...]

    @property
    def error(self) -> float:
        """Relative distance of the closest scaling's FLOPs from the target."""
        return self.closest.flops / self.target - 1

    @property
    def matched(self) -> bool:
        return abs(self.error) <= self.tolerance + 1e-12

    @property
    def reason(self) -> str | None:
        if self.matched:
            return None
        moved = " and ".join(self.varied)
        return (
            f"no {moved} near the nominal scaling gives FLOPs within {self.tolerance:.0%} of "
            f"the target; the closest is {self.error:+.1%}"
        )


def match_flops(
    flops_at: FlopsAt,
    *,
    depth_mult: float,
    width_mult: float,
    resolution: float,
    target: float,
    tolerance: float = 0.03,
    vary: Collection[str] = DIMENSIONS,
    lowest_resolution: int = 1,
    allocate: Allocate | None = None,
    floor: tuple[float, float, int] = (0.0, 0.0, 1),
) -> Match:
    """The scaling nearest (depth_mult, width_mult, resolution) whose FLOPs hit ``target``.

    ``flops_at(depth_mult, width_mult, resolution)`` counts the scaled network (it is
    called a few hundred times at most; cache it if counting is slow). FLOPs must not
    fall as any of the three grows. ``vary`` names what may move (``DIMENSIONS``).
    With ``allocate``, depth moves by placing blocks per stage instead of by a
    multiplier, which reaches FLOPs a per-stage ceil cannot. Nothing moves below
    ``floor`` (depth, width, resolution): a scaling of a backbone never shrinks it.
    """
    unknown = sorted(set(vary) - set(DIMENSIONS))
    if unknown or not vary:
        raise ScalingError(f"vary takes some of {', '.join(DIMENSIONS)}, got {sorted(vary)}")
    if not (math.isfinite(target) and target > 0):
        raise ScalingError(f"the FLOP target must be a finite number > 0, got {target}")
    if not 0 <= tolerance < 1:
        raise ScalingError(f"tolerance must be in [0, 1), got {tolerance}")
    varied = tuple(d for d in DIMENSIONS if d in vary)
    min_depth, min_width, min_resolution = floor
    lowest_resolution = max(lowest_resolution, min_resolution)
    start = max(lowest_resolution, round(resolution))
    nominal = Scaling(depth_mult, width_mult, start, flops_at(depth_mult, width_mult, start))

    def at(depth: float, width: float, pixels: int) -> Scaling:
        return Scaling(depth, width, pixels, flops_at(depth, width, pixels))

    def error(s: Scaling) -> float:
        return abs(s.flops / target - 1)

    found = [nominal]
    pixels = [start]
    if "resolution" in varied:
        solved = resolution_for_flops(
            lambda r: flops_at(depth_mult, width_mult, r),
            target,
            divisor=1,
            lowest=lowest_resolution,
        )
        found.append(at(depth_mult, width_mult, solved))
        near = _RESOLUTION_NEIGHBOURS
        # Nearest the nominal resolution first: the first that matches moved it least.
        pixels = sorted(
            {
                r
                for centre in (start, solved)
                for r in range(centre - near, centre + near + 1)
                if r >= lowest_resolution
            },
            key=lambda r: (abs(r - start), r),
        )
    if not (nominal.flops and error(nominal) <= tolerance):
        for r in pixels:
            # A match at a resolution nearer the nominal one has moved less: stop there.
            if any(error(s) <= tolerance and abs(s.resolution - start) < abs(r - start)
                   for s in found):  # fmt: skip
                break
            if "depth" in varied and allocate is not None:
                placed = allocate(width_mult, r, depth_mult, target, tolerance)
                if placed is not None:
                    found.append(placed)
            elif "depth" in varied:
                depth = _solve(
                    lambda d, r=r: flops_at(d, width_mult, r),
                    target,
                    max(min_depth, depth_mult / _DEPTH_RANGE),
                    depth_mult * _DEPTH_RANGE,
                )
                found.append(at(depth, width_mult, r))
            if "width" in varied:
                width = _solve(
                    lambda w, r=r: flops_at(depth_mult, w, r),
                    target,
                    max(min_width, width_mult / _WIDTH_RANGE),
                    width_mult * _WIDTH_RANGE,
                )
                found.append(at(depth_mult, width, r))
    within = [s for s in found if error(s) <= tolerance]
    if within:
        best = min(within, key=lambda s: (s.cost(nominal), error(s)))
    else:
        best = min(found, key=lambda s: (error(s), s.cost(nominal)))
    return Match(nominal, best, target, tolerance, varied)


def _solve(flops_of: Callable[[float], float], target: float, low: float, high: float) -> float:
    """The multiplier in [low, high] whose FLOPs come closest to ``target``.

    FLOPs are a step function of a multiplier (rounded channels, rounded-up depths);
    bisection brackets the step that crosses the target, then the nearer side wins.
    """
    if flops_of(low) >= target:
        return low
    if flops_of(high) < target:
        return high
    for _ in range(_BISECTIONS):  # flops(low) < target <= flops(high)
        middle = (low + high) / 2
        if flops_of(middle) < target:
            low = middle
        else:
            high = middle
    below, above = flops_of(low), flops_of(high)
    chosen, flops = (high, above) if abs(above - target) < abs(below - target) else (low, below)
    return _tidy(chosen, flops, flops_of)


def _tidy(value: float, flops: float, flops_of: Callable[[float], float]) -> float:
    """``value`` with the fewest decimals that still counts ``flops``: 1.3, not 1.29999994.

    Bisection ends next to a rounding boundary; a short number inside the same step
    builds the same network and reads (and rounds) more safely.
    """
    for places in range(2, 7):
        short = round(value, places)
        if flops_of(short) == flops:
            return short
    return value


def spec_scaler(spec: NetworkSpec) -> tuple[FlopsAt, Allocate]:
    """``flops_at`` and ``allocate`` for a spec, both counted analytically.

    ``flops_at`` scales by multipliers as ``scale_network`` does (ceil per stage);
    ``allocate`` places blocks per stage (``allocate_blocks``) at the scaled widths.
    """
    base_repeats = tuple(stage.repeats for stage in spec.stages)
    last = len(spec.stages) - 1
    fixed = frozenset({0, last}) if spec.fix_stem_head else frozenset()

    def widths(width_mult: float, depth_mult: float) -> NetworkSpec:
        return scale_network(
            spec,
            width_mult=width_mult,
            depth_mult=depth_mult,
            resolution=spec.resolution,
            resolution_divisor=1,
        )

    def flops_at(depth_mult: float, width_mult: float, resolution: int) -> float:
        return count_flops(widths(width_mult, depth_mult), resolution)

    def allocate(
        width_mult: float, resolution: int, depth_mult: float, target: float, tolerance: float
    ) -> Scaling | None:
        placed = allocate_blocks(
            widths(width_mult, 1.0),
            base_repeats=base_repeats,
            depth=depth_mult,
            resolution=resolution,
            target=target,
            tolerance=tolerance,
            fixed=fixed,
            # Depth at or above the base's: never fewer blocks than the backbone has.
            minimum=base_repeats if depth_mult >= 1 else None,
        )
        if placed is None:
            return None
        repeats, flops = placed
        return Scaling(sum(repeats) / sum(base_repeats), width_mult, resolution, flops, repeats)

    return flops_at, allocate

"""Depth as a number of blocks per stage, placed so a scaled spec hits a FLOP target.

``round_repeats`` (ceil per stage, the paper's rule) moves depth in coarse steps on a
small network: any alpha > 1 adds a block to every one-block stage at once, so the
FLOPs of depth-scaled proxies jump by 20-50%. Here the depth of a spec is instead the
per-stage repeats closest to ``depth * repeats`` (summed absolute difference) among
those whose FLOPs are within a tolerance of a target. Blocks after a stage's first
are all alike (stride 1, same width), so FLOPs are the one-block network's plus a
fixed amount per extra block of each stage, and every allocation is counted exactly
without building it.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

from search_spaces import NetworkSpec, count_by_part, count_flops

__all__ = ["allocate_blocks", "with_repeats"]

# Allocations tried per call: each stage takes floor - 1 .. ceil + 1 of its share; past
# this many combinations (more than 9 stages) only floor and ceil are tried.
_MAX_COMBINATIONS = 300_000


def with_repeats(spec: NetworkSpec, repeats: tuple[int, ...]) -> NetworkSpec:
    """``spec`` with these per-stage repeats (widths, kernels, strides as they were)."""
    if len(repeats) != len(spec.stages):
        raise ValueError(f"{len(repeats)} repeats for {len(spec.stages)} stages")
    stages = tuple(
        dataclasses.replace(stage, repeats=count)
        for stage, count in zip(spec.stages, repeats, strict=True)
    )
    return dataclasses.replace(spec, stages=stages)


def _stage_flops(spec: NetworkSpec, resolution: int) -> list[int]:
    return [part.flops for part in count_by_part(spec, resolution)[1:-1]]


def allocate_blocks(
    spec: NetworkSpec,
    *,
    base_repeats: tuple[int, ...],
    depth: float,
    resolution: int,
    target: float,
    tolerance: float,
    fixed: frozenset[int] = frozenset(),
    minimum: tuple[int, ...] | None = None,
) -> tuple[tuple[int, ...], int] | None:
    """Per-stage repeats near ``depth * base_repeats`` whose FLOPs are within ``tolerance``.

    ``spec`` carries the widths (its own repeats are ignored); stages in ``fixed`` keep
    their base repeats (EfficientNet-Lite's first and last); no stage gets fewer blocks
    than ``minimum`` (default one). Returns (repeats, FLOPs) of
    the allocation closest to proportional, ties to the smaller FLOP error, or None when
    no allocation in reach is within the tolerance.
    """
    ones = with_repeats(spec, tuple(1 for _ in spec.stages))
    one_block = count_flops(ones, resolution)
    twos = with_repeats(spec, tuple(2 for _ in spec.stages))
    extra = [
        two - one
        for two, one in zip(
            _stage_flops(twos, resolution), _stage_flops(ones, resolution), strict=True
        )
    ]
    shares = [float(n) if index in fixed else depth * n for index, n in enumerate(base_repeats)]
    least = minimum or tuple(1 for _ in base_repeats)
    wide = _choices(shares, fixed, base_repeats, least, spread=1)
    if math.prod(len(c) for c in wide) > _MAX_COMBINATIONS:
        wide = _choices(shares, fixed, base_repeats, least, spread=0)
    best: tuple[float, float, tuple[int, ...], int] | None = None
    for repeats in itertools.product(*wide):
        flops = one_block + sum((r - 1) * f for r, f in zip(repeats, extra, strict=True))
        error = abs(flops / target - 1)
        if error > tolerance + 1e-12:
            continue
        distance = sum(abs(r - s) for r, s in zip(repeats, shares, strict=True))
        key = (round(distance, 9), error, repeats, flops)
        if best is None or key[:2] < best[:2]:
            best = key
    return None if best is None else (best[2], best[3])


def _choices(
    shares: list[float],
    fixed: frozenset[int],
    base: tuple[int, ...],
    least: tuple[int, ...],
    *,
    spread: int,
) -> list[list[int]]:
    choices = []
    for index, share in enumerate(shares):
        if index in fixed:
            choices.append([base[index]])
            continue
        low = max(1, least[index], math.floor(share + 1e-9) - spread)
        high = max(low, math.ceil(share - 1e-9) + spread)
        choices.append(list(range(low, high + 1)))
    return choices

"""Matching scalings to a FLOP target: exact counts, every grid candidate, honest misses."""

from __future__ import annotations

import itertools

import pytest

from scaling import coefficient_grid, preset, search_proxy, single_dimension_baselines
from scaling._blocks import allocate_blocks, with_repeats
from scaling._matching import Scaling, match_flops, spec_scaler
from search_spaces import count_flops

PROXY = search_proxy(resolution=16, in_channels=1, num_classes=10, width_mult=0.5, depth_mult=0.5)
PROXY32 = search_proxy(resolution=32, in_channels=1, num_classes=10, width_mult=0.5, depth_mult=0.5)


def repeats(spec):
    return tuple(stage.repeats for stage in spec.stages)


def test_allocated_blocks_are_counted_exactly_and_closest_to_proportional():
    base = count_flops(PROXY)
    found = allocate_blocks(
        PROXY, base_repeats=repeats(PROXY), depth=2.0, resolution=16, target=2 * base,
        tolerance=0.03,
    )  # fmt: skip
    assert found is not None
    placed, flops = found
    assert count_flops(with_repeats(PROXY, placed)) == flops
    assert abs(flops / (2 * base) - 1) <= 0.03
    # Brute force over the same reach: nothing within 3% is closer to twice each stage.
    shares = [2 * n for n in repeats(PROXY)]
    best = min(
        sum(abs(r - s) for r, s in zip(option, shares, strict=True))
        for option in itertools.product(*[range(max(1, s - 1), s + 2) for s in shares])
        if abs(count_flops(with_repeats(PROXY, option)) / (2 * base) - 1) <= 0.03
    )
    assert sum(abs(r - s) for r, s in zip(placed, shares, strict=True)) == best


def test_no_allocation_within_reach_is_none():
    base = count_flops(PROXY)
    found = allocate_blocks(
        PROXY, base_repeats=repeats(PROXY), depth=1.0, resolution=16, target=3 * base,
        tolerance=0.01,
    )  # fmt: skip
    assert found is None


@pytest.mark.parametrize(
    ("spec", "every"),
    [(PROXY32, 1), (search_proxy(resolution=32, in_channels=1, num_classes=10), 3),
     (preset("efficientnet-b0"), 3)],
    ids=["proxy@32", "small-input@32", "b0"],
)  # fmt: skip
def test_every_default_grid_candidate_is_matched_within_three_percent(spec, every):
    flops_at, allocate = spec_scaler(spec)
    target = 2 * count_flops(spec)
    for c in coefficient_grid()[::every]:
        match = match_flops(
            flops_at,
            depth_mult=c.alpha,
            width_mult=c.beta,
            resolution=spec.resolution * c.gamma,
            target=target,
            lowest_resolution=spec.total_stride,
            allocate=allocate,
        )
        assert match.matched, (c, match.error)
        closest = match.closest
        if closest.repeats is None:
            built = flops_at(closest.depth_mult, closest.width_mult, closest.resolution)
        else:
            built = closest.flops  # allocate_blocks counts exactly (test above)
        assert built == closest.flops
        assert abs(built / target - 1) <= 0.03


@pytest.mark.parametrize("spec", [PROXY32, preset("efficientnet-b0")], ids=["proxy@32", "b0"])
def test_single_dimension_references_move_only_their_dimension(spec):
    flops_at, allocate = spec_scaler(spec)
    target = 2 * count_flops(spec)
    for kind, c in single_dimension_baselines().items():
        match = match_flops(
            flops_at,
            depth_mult=c.alpha,
            width_mult=c.beta,
            resolution=spec.resolution * c.gamma,
            target=target,
            vary=(kind,),
            lowest_resolution=spec.total_stride,
            allocate=allocate,
        )
        assert match.matched, (kind, match.error)
        s = match.closest
        assert (s.width_mult == 1.0) == (kind != "width")
        assert (s.resolution == spec.resolution) == (kind != "resolution")
        if kind != "depth":
            assert s.repeats is None and s.depth_mult == 1.0


def test_a_miss_says_how_far_and_keeps_the_closest():
    flops_at, allocate = spec_scaler(PROXY)
    target = 2 * count_flops(PROXY)
    match = match_flops(
        flops_at, depth_mult=1.0, width_mult=1.0, resolution=16 * 2**0.5, target=target,
        vary=("resolution",), lowest_resolution=PROXY.total_stride, allocate=allocate,
    )  # fmt: skip
    # At 16 px one pixel is 10% of the FLOPs: resolution alone cannot land within 3%.
    assert not match.matched
    assert "no resolution near the nominal scaling gives FLOPs within 3%" in match.reason
    assert f"{match.error:+.1%}" in match.reason and abs(match.error) > 0.03
    loose = match_flops(
        flops_at, depth_mult=1.0, width_mult=1.0, resolution=16 * 2**0.5, target=target,
        vary=("resolution",), tolerance=0.06, lowest_resolution=PROXY.total_stride,
    )  # fmt: skip
    assert loose.matched and loose.closest.resolution in (20, 21, 22, 23)


def test_a_nominal_scaling_already_within_tolerance_is_kept_as_it_is():
    def smooth(d, w, r):  # FLOPs with no rounding at all: 1e4 at (1, 1, 100 px)
        return d * w**2 * r**2

    gamma = (2 / (1.2 * 1.1**2)) ** 0.5
    match = match_flops(smooth, depth_mult=1.2, width_mult=1.1, resolution=100 * gamma, target=2e4)
    assert match.matched and match.closest == Scaling(1.2, 1.1, 117, smooth(1.2, 1.1, 117))
    assert match.closest.cost(match.nominal) == 0.0

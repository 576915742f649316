"""Families matched to 2^phi real FLOPs: every member hits its target, as the grid's do."""

from __future__ import annotations

import pytest

from scaling import (
    CompoundCoefficients,
    ScalingError,
    matched_family,
    preset,
    search_proxy,
)
from search_spaces import count_flops, count_params

PROXY = search_proxy(resolution=16, in_channels=1, num_classes=10, width_mult=0.5, depth_mult=0.5)


@pytest.mark.parametrize("spec", [PROXY, preset("efficientnet-b0")], ids=["proxy@16", "b0"])
def test_every_member_costs_growth_to_the_phi_and_never_shrinks(spec):
    coefficients = CompoundCoefficients(1.2, 1.1, 1.15)
    members = matched_family(spec, coefficients, phis=range(4))
    base = count_flops(spec)
    assert members[0].spec.block_strings == spec.block_strings and members[0].flops == base
    for member in members:
        assert abs(member.flops / (base * 2**member.phi) - 1) <= 0.03
        built = member.spec
        assert (member.flops, member.params) == (count_flops(built), count_params(built))
        assert member.resolution >= spec.resolution and member.width_mult >= 1
        assert all(
            mine.repeats >= theirs.repeats
            for mine, theirs in zip(member.spec.stages, spec.stages, strict=True)
        )
    assert [m.flops for m in members] == sorted(m.flops for m in members)


def test_a_member_that_cannot_be_matched_is_named():
    with pytest.raises(ScalingError, match="phi 1 cannot be matched to 2x"):
        matched_family(PROXY, CompoundCoefficients(1.2, 1.1, 1.15), phis=[0, 1], tolerance=0.0)
    with pytest.raises(ScalingError, match="growth per phi must be > 1"):
        matched_family(PROXY, CompoundCoefficients(1.2, 1.1, 1.15), growth=1.0)

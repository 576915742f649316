"""One rule, one family: tables, actual and nominal matching, specs and counted networks."""

from __future__ import annotations

import pytest

from scaling import (
    TABLES,
    CompoundCoefficients,
    FamilyRule,
    ScalingError,
    family_from_coefficients,
    preset,
    scaled_family,
    search_proxy,
)

PROXY = search_proxy(resolution=16, in_channels=1, num_classes=10, width_mult=0.5, depth_mult=0.5)
RULE = CompoundCoefficients(1.2, 1.1, 1.15)


class _Counted:
    """A network known only by its counts: FLOPs grow as the paper's arithmetic says."""

    name, base_resolution, flops_source = "counted", 32, "a formula"

    def flops(self, *, width_mult: float, depth_mult: float, resolution: int) -> int:
        return round(1e6 * depth_mult * width_mult**2 * (resolution / 32) ** 2)

    def params(self, *, width_mult: float, depth_mult: float) -> int:
        return round(1e4 * depth_mult * width_mult**2)


def test_a_spec_is_matched_to_real_flops_unless_told_nominal():
    actual = scaled_family(PROXY, FamilyRule(coefficients=RULE, phis=(0, 1, 2)))
    nominal = scaled_family(PROXY, FamilyRule(coefficients=RULE, phis=(0, 1, 2), match="nominal"))
    base = actual[0].flops
    assert all(abs(m.flops / (base * 2**m.phi) - 1) <= 0.03 for m in actual)
    assert nominal == family_from_coefficients(PROXY, RULE, phis=(0, 1, 2))
    # On a small network the paper's rounding misses 2^phi by more than the tolerance.
    assert any(abs(m.flops / (base * 2**m.phi) - 1) > 0.03 for m in nominal)


def test_a_table_gives_its_published_members():
    members = scaled_family(preset("efficientnet-b0"), FamilyRule(table=TABLES["efficientnet"]))
    assert [m.name for m in members][:2] == ["efficientnet-b0", "efficientnet-b1"]
    assert all(m.params == m.reference_params for m in members if m.reference_params)


def test_a_counted_network_scales_nominally_and_refuses_what_needs_a_spec():
    members = scaled_family(_Counted(), FamilyRule(coefficients=RULE, phis=(0, 1)))
    assert members[1].flops == round(1e6 * 1.2 * 1.1**2 * (36 / 32) ** 2)  # 32 * 1.15 -> 36
    with pytest.raises(ScalingError, match="not a spec, so a published table cannot"):
        scaled_family(_Counted(), FamilyRule(table=TABLES["efficientnet"]))
    with pytest.raises(ScalingError, match="actual FLOP matching moves blocks of a spec"):
        scaled_family(_Counted(), FamilyRule(coefficients=RULE, match="actual"))


@pytest.mark.parametrize(
    ("fields", "phrase"),
    [
        ({}, "a published table or compound coefficients"),
        ({"table": TABLES["efficientnet"], "coefficients": RULE}, "table or compound"),
        ({"table": TABLES["efficientnet"], "growth": 2.0}, "a table fixes sizes"),
        ({"coefficients": RULE, "growth": 1.0}, "growth per phi must be > 1"),
        ({"coefficients": RULE, "match": "roughly"}, "actual or nominal"),
    ],
)
def test_a_rule_that_means_nothing_is_refused(fields, phrase):
    with pytest.raises(ScalingError, match=phrase):
        FamilyRule(**fields)


def test_the_title_names_the_rule():
    assert "published efficientnet table" in FamilyRule(table=TABLES["efficientnet"]).title("b0")
    assert "alpha=1.2, beta=1.1, gamma=1.15" in FamilyRule(coefficients=RULE).title("b0")

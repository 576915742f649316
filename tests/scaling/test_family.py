import dataclasses

import pytest

from scaling import (
    MAX_PHI,
    TABLES,
    CompoundCoefficients,
    ScalingError,
    family_from_coefficients,
    family_from_table,
    parse_coefficients,
    parse_phis,
    preset,
    resolution_for_flops,
    round_resolution,
    scale_network,
)
from search_spaces import BASE_ARCHITECTURES, NetworkSpec, count_flops, count_params

B0 = BASE_ARCHITECTURES["efficientnet-b0"]
PAPER = CompoundCoefficients(1.2, 1.1, 1.15)


def test_table_family_reproduces_every_preset():
    members = family_from_table(B0, TABLES["efficientnet"])
    assert [m.name for m in members][:8] == [f"efficientnet-b{i}" for i in range(8)]
    for member in members:
        assert member.spec == preset(member.name)
        assert member.params == count_params(member.spec)
        assert member.flops == count_flops(member.spec)


def test_table_ratios_actual_and_nominal():
    members = {m.name: m for m in family_from_table(B0, TABLES["efficientnet"], phis=range(8))}
    assert members["efficientnet-b0"].flop_ratio == 1.0
    b7 = members["efficientnet-b7"]
    assert b7.nominal_flop_ratio == pytest.approx(3.1 * 2.0**2 * (600 / 224) ** 2)
    assert b7.flop_ratio == pytest.approx(37_745_884_192 / 385_814_752)
    assert b7.flop_ratio != pytest.approx(b7.nominal_flop_ratio, rel=0.05)  # rounding shows


def test_table_on_a_user_spec_scales_its_own_resolution():
    small = dataclasses.replace(B0, name="mynet", resolution=32)
    members = family_from_table(small, TABLES["efficientnet"], phis=[0, 3, 7])
    assert [m.name for m in members] == ["mynet-b0", "mynet-b3", "mynet-b7"]
    assert [m.resolution for m in members] == [32, round_resolution(32 * 300 / 224), 84]


def test_table_phi_filter_rejects_missing_rows():
    with pytest.raises(ScalingError, match="has no phi \\[9\\]"):
        family_from_table(B0, TABLES["lite"], phis=[0, 9])


def test_compound_family_follows_the_rule():
    members = family_from_coefficients(B0, PAPER, phis=range(8))
    assert members[0].spec == dataclasses.replace(B0, name="efficientnet-b0-phi0")
    for phi, member in enumerate(members):
        assert member.depth_mult == pytest.approx(1.2**phi)
        assert member.width_mult == pytest.approx(1.1**phi)
        assert member.resolution == (224 if phi == 0 else round_resolution(224 * 1.15**phi))
        assert member.nominal_flop_ratio == pytest.approx(PAPER.flops_base**phi)
        assert member.flop_ratio == pytest.approx(member.flops / members[0].flops)
    flops = [m.flops for m in members]
    assert flops == sorted(flops) and len(set(flops)) == 8
    # phi = 1 of the paper's coefficients: width 1.1, depth 1.2 (the B2 multipliers) at 256 px.
    assert members[1].params == count_params(preset("efficientnet-b2"))
    assert members[1].resolution == 256


def test_members_record_where_they_came_from(tmp_path):
    member = family_from_coefficients(B0, PAPER, phis=[2])[0]
    assert member.spec.metadata == {
        "family": "compound(1.2,1.1,1.15)",
        "base": "efficientnet-b0",
        "phi": 2,
        "width_mult": pytest.approx(1.21),
        "depth_mult": pytest.approx(1.44),
    }
    member.spec.save(tmp_path / "m.json")
    assert NetworkSpec.load(tmp_path / "m.json").metadata["phi"] == 2


def test_scale_network_is_pure_and_keeps_widths_chained():
    wide = scale_network(B0, width_mult=1.37, depth_mult=1.9, resolution=301)
    assert BASE_ARCHITECTURES["efficientnet-b0"] == B0
    assert wide.resolution == 300
    previous = wide.stem_channels
    for stage in wide.stages:
        assert stage.in_channels == previous and stage.out_channels % 8 == 0
        previous = stage.out_channels


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("1.2,1.1", "three numbers"),
        ("1.2,1.1,1.15,1", "three numbers"),
        ("a,b,c", "numbers like"),
        ("1.2,0.9,1.0", "beta must be a finite number >= 1"),
        ("inf,1,1", "alpha must be a finite number"),
    ],
)
def test_bad_coefficients(text, phrase):
    with pytest.raises(ScalingError, match=phrase):
        parse_coefficients(text)


def test_parse_coefficients():
    assert parse_coefficients(" 1.2, 1.1 ,1.15") == PAPER
    assert PAPER.flops_base == pytest.approx(1.2 * 1.1**2 * 1.15**2) == pytest.approx(1.92027)


@pytest.mark.parametrize(
    ("text", "expected"), [("0-7", tuple(range(8))), ("3", (3,)), ("0,2,4", (0, 2, 4))]
)
def test_parse_phis(text, expected):
    assert parse_phis(text) == expected


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("5-2", "reversed"),
        ("", "empty"),
        ("x", "range like 0-7"),
        ("1,1", "repeat"),
        (f"0-{MAX_PHI + 1}", f"between 0 and {MAX_PHI}"),
    ],
)
def test_bad_phis(text, phrase):
    with pytest.raises(ScalingError, match=phrase):
        parse_phis(text)


def test_read_coefficients_file(tmp_path):
    from scaling import read_coefficients_file

    path = tmp_path / "coefficients.json"
    path.write_text('{"alpha": 1.2, "beta": 1.1, "gamma": 1.15, "accuracy": 0.9}')
    assert read_coefficients_file(path) == PAPER
    path.write_text('{"alpha": 1.2}')
    with pytest.raises(ScalingError, match="alpha, beta and gamma"):
        read_coefficients_file(path)
    path.write_text('{"alpha": 0.9, "beta": 1, "gamma": 1}')
    with pytest.raises(ScalingError, match="alpha must be a finite number >= 1"):
        read_coefficients_file(path)
    with pytest.raises(ScalingError, match="does not exist"):
        read_coefficients_file(tmp_path / "absent.json")


def test_match_flops_brings_each_member_near_the_growth_target():
    plain = family_from_coefficients(B0, PAPER, phis=range(6))
    matched = family_from_coefficients(B0, PAPER, phis=range(6), match_flops=2.0)
    assert matched[0].spec == plain[0].spec
    for phi, member in enumerate(matched):
        assert member.resolution % 4 == 0
        # Within half a resolution step of 2^phi, and closer than the plain rule.
        assert member.flop_ratio == pytest.approx(2.0**phi, rel=0.05)
        assert abs(member.flop_ratio - 2.0**phi) <= abs(plain[phi].flop_ratio - 2.0**phi)
    assert [m.resolution for m in matched] == [224, 228, 276, 332, 388, 480]


def _linear_scan(flops_at, target, divisor, lowest):
    """The rule written out: the closest multiple of ``divisor``, ties to the lowest."""
    resolution = max(divisor, -(-lowest // divisor) * divisor)
    best, best_gap = resolution, abs(flops_at(resolution) - target)
    while flops_at(resolution) <= target:
        resolution += divisor
        gap = abs(flops_at(resolution) - target)
        if gap < best_gap:
            best, best_gap = resolution, gap
    return best


@pytest.mark.parametrize("divisor", [1, 4, 8])
def test_resolution_for_flops_is_the_closest_multiple(divisor):
    spec = preset("efficientnet-b0")
    for target in (1e6, 2.3e7, 3.9e8, 7.71e8, 4e9):
        got = resolution_for_flops(
            lambda r: count_flops(spec, r), target, divisor=divisor, lowest=spec.total_stride
        )
        assert got == _linear_scan(lambda r: count_flops(spec, r), target, divisor, 32)
    # A run of equal FLOPs below the target goes to its lowest resolution.
    steps = {4: 10, 8: 10, 12: 10, 16: 30}
    assert resolution_for_flops(steps.__getitem__, 11, divisor=4) == 4
    assert resolution_for_flops(steps.__getitem__, 25, divisor=4) == 16


class _Counted:
    """A network that is not a spec: conv 3x3 from 3 to 8*w channels, one linear layer."""

    name = "toy"
    base_resolution = 20
    flops_source = "by hand"

    def width(self, width_mult):
        return round(8 * width_mult)

    def flops(self, *, width_mult, depth_mult, resolution):
        return 27 * self.width(width_mult) * resolution**2 * depth_mult

    def params(self, *, width_mult, depth_mult):
        return 27 * self.width(width_mult) + self.width(width_mult) * 10


def test_a_network_that_is_not_a_spec_scales_through_the_same_loop():
    members = family_from_coefficients(_Counted(), PAPER, phis=range(4))
    assert [m.name for m in members] == [f"toy-phi{phi}" for phi in range(4)]
    assert [m.resolution for m in members] == [20] + [
        round_resolution(20 * 1.15**phi) for phi in range(1, 4)
    ]
    assert all(m.spec is None and m.row()["flops_source"] == "by hand" for m in members)
    matched = family_from_coefficients(_Counted(), PAPER, phis=range(4), match_flops=2.0)
    for phi, member in enumerate(matched):
        assert member.resolution % 4 == 0
        assert member.flop_ratio == pytest.approx(2.0**phi, rel=0.25)

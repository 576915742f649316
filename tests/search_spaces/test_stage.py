import pytest

from scaling import preset, preset_names
from search_spaces import SpecError, StageSpec


def test_parses_every_field_of_an_official_block_string():
    stage = StageSpec.from_string("r2_k5_s22_e6_i24_o40_se0.25")
    assert stage == StageSpec(
        repeats=2,
        kernel=5,
        stride=2,
        expand_ratio=6,
        in_channels=24,
        out_channels=40,
        se_ratio=0.25,
    )
    assert stage.skip and stage.has_se


def test_noskip_and_no_se():
    stage = StageSpec.from_string("r1_k3_s11_e1_i32_o16_noskip")
    assert not stage.skip and stage.se_ratio is None
    assert stage.to_string() == "r1_k3_s11_e1_i32_o16_noskip"


def test_field_order_does_not_matter_but_output_is_canonical():
    stage = StageSpec.from_string("se0.25_o40_i24_e6_s22_k5_r2")
    assert stage.to_string() == "r2_k5_s22_e6_i24_o40_se0.25"


@pytest.mark.parametrize("name", preset_names())
def test_round_trip_of_every_preset_block(name):
    for stage in preset(name).stages:
        assert StageSpec.from_string(stage.to_string()) == stage


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("", "non-empty"),
        ("r1_k3_s11_e1_i32", "missing field(s) o"),
        ("r1_k4_s11_e1_i32_o16", "odd"),
        ("r1_k3_s33_e1_i32_o16", "stride must be 1 or 2"),
        ("r1_k3_s12_e1_i32_o16", "differs per axis"),
        ("r1_k3_s222_e1_i32_o16", "one or two digits"),
        ("r1_k3_s11_e4_i32_o16_c2", "conv field 'c2'"),
        ("r1_k3_s11_e1_i32_o16_se0.25_c1", "expansion 1 cannot have squeeze-excitation"),
        ("r0_k3_s11_e1_i32_o16", "repeats must be >= 1"),
        ("r1_k3_s11_e1_i32_o0", "channels must be >= 1"),
        ("r1_k3_s11_e0_i32_o16", "expand ratio must be >= 1"),
        ("r1_k3_s11_e1_i32_o16_se1.5", "(0, 1]"),
        ("r1_k3_s11_e1_i32_o16_se0", "(0, 1]"),
        ("r1_k3_s11_e1_i32_o16_sehalf", "se field 'sehalf'"),
        ("r1_k3_s11_ex_i32_o16", "expand field 'ex'"),
        ("r1_k3_s11_e1_i32_o16_zz", "cannot read field 'zz'"),
        ("r1_r2_k3_s11_e1_i32_o16", "appears twice"),
        ("r1_k3_s11_e1_i32_o16_noskipx", "just 'noskip'"),
    ],
)
def test_bad_block_strings_name_the_problem(text, phrase):
    with pytest.raises(SpecError) as error:
        StageSpec.from_string(text)
    assert phrase in str(error.value)


def test_spec_error_is_a_value_error():
    assert issubclass(SpecError, ValueError)


def test_fused_blocks_read_the_v2_notation_with_either_stride_spelling():
    one = StageSpec.from_string("r4_k3_s2_e4_i24_o48_c1")  # as in the reference's V2-S
    two = StageSpec.from_string("r4_k3_s22_e4_i24_o48_c1")
    assert one == two and one.fused and one.stride == 2 and one.expand_ratio == 4
    assert one.to_string() == "r4_k3_s22_e4_i24_o48_c1"
    assert StageSpec.from_string(one.to_string()) == one
    # c0 is MBConv, the same as leaving the field out.
    assert StageSpec.from_string("r1_k3_s1_e6_i8_o8_c0") == StageSpec.from_string(
        "r1_k3_s11_e6_i8_o8"
    )
    with_se = StageSpec.from_string("r2_k3_s1_e4_i8_o8_se0.25_c1_noskip")
    assert (with_se.fused, with_se.se_ratio, with_se.skip) == (True, 0.25, False)
    assert with_se.to_string() == "r2_k3_s11_e4_i8_o8_se0.25_c1_noskip"

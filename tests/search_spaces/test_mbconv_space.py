import json
import random

import pytest

from search_spaces import (
    BASE_ARCHITECTURES,
    InputError,
    MBConvSpace,
    SpecError,
    StageChoices,
    count_flops,
    count_params,
    skeleton,
)

SMALL = skeleton("small-input", in_channels=1, num_classes=10, resolution=32)
SPACE = MBConvSpace.uniform(SMALL)


def test_size_is_the_product_of_the_choices():
    # 3 kernels x 4 expansions x 2 SE x 3 depths x 3 widths x 2 skips = 432 per stage.
    assert StageChoices().size == 432
    assert SPACE.size == 432**7
    assert len(SPACE.parameters()) == 7 * 6


def test_reference_point_decodes_to_the_skeleton():
    b0 = BASE_ARCHITECTURES["efficientnet-b0"]
    space = MBConvSpace.uniform(b0)
    point = space.encode(b0)
    assert point["s0_expand"] == 1 and point["s1_expand"] == 6 and point["s3_layers"] == 0
    assert all(point[f"s{i}_width"] == 1.0 and point[f"s{i}_se"] == 0.25 for i in range(7))
    assert space.decode(point, name=b0.name) == b0


@pytest.mark.parametrize("seed", range(5))
def test_every_sampled_point_is_a_valid_spec_and_round_trips(seed):
    rng = random.Random(seed)
    for _ in range(100):
        point = SPACE.sample(rng)
        spec = SPACE.decode(point)  # validates: channels chain, strides, kernels
        assert spec.resolution == 32 and spec.in_channels == 1 and spec.num_classes == 10
        assert SPACE.decode(SPACE.encode(spec)) == spec


def test_decode_applies_each_choice():
    point = SPACE.encode(SMALL)
    point.update(s3_kernel=7, s3_expand=3, s3_se=0.0, s3_layers=1, s3_width=1.25, s3_skip=False)
    stage = SPACE.decode(point).stages[3]
    assert stage.to_string() == "r4_k7_s22_e3_i40_o104_noskip"  # 80 * 1.25 = 100 -> 104
    point.update(s0_layers=-1)
    assert SPACE.decode(point).stages[0].repeats == 1  # never below one block


def test_extremes_bound_the_cost_of_every_point():
    smallest = SPACE.decode(SPACE.extreme(largest=False))
    largest = SPACE.decode(SPACE.extreme(largest=True))
    rng = random.Random(0)
    for _ in range(200):
        spec = SPACE.decode(SPACE.sample(rng))
        assert count_flops(smallest) <= count_flops(spec) <= count_flops(largest)
        assert count_params(smallest) <= count_params(spec) <= count_params(largest)


def test_small_input_skeleton_strides_three_times():
    assert SMALL.total_stride == 8 and SMALL.stem_stride == 1
    assert skeleton("efficientnet-b0").total_stride == 32
    with pytest.raises(SpecError, match="known: efficientnet-b0, small-input"):
        skeleton("resnet")


def test_choices_from_a_file(tmp_path):
    path = tmp_path / "space.json"
    path.write_text(
        json.dumps({"kernels": [3, 5], "width_mults": [1.0], "stages": {"6": {"kernels": [3]}}})
    )
    space = MBConvSpace.from_file(path, SMALL)
    assert space.choices[0].kernels == (3, 5) and space.choices[6].kernels == (3,)
    assert space.choices[0].expand_ratios == (1, 3, 4, 6)  # defaults kept
    assert space.size == (2 * 4 * 2 * 3 * 1 * 2) ** 6 * (1 * 4 * 2 * 3 * 1 * 2)


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        ({"kernel": [3]}, "unknown choice set(s) kernel"),
        ({"kernels": [4]}, "odd positive"),
        ({"kernels": []}, "non-empty"),
        ({"se_ratios": [2]}, "se_ratios must be in [0, 1]"),
        ({"stages": {"9": {"kernels": [3]}}}, "stage(s) 9 do not exist"),
        ([1, 2], "JSON object"),
    ],
)
def test_bad_space_files(tmp_path, content, phrase):
    path = tmp_path / "space.json"
    path.write_text(json.dumps(content))
    with pytest.raises(SpecError) as error:
        MBConvSpace.from_file(path, SMALL)
    assert phrase in str(error.value)


def test_points_outside_the_space_are_rejected():
    with pytest.raises(SpecError, match="s0_kernel=9 is not one of"):
        SPACE.decode({**SPACE.encode(SMALL), "s0_kernel": 9})
    with pytest.raises(SpecError, match="has 1 stages"):
        SPACE.encode(
            BASE_ARCHITECTURES["efficientnet-b0"].__class__.from_dict(
                {"name": "one", "blocks": ["r1_k3_s11_e1_i32_o16"]}
            )
        )


FUSED_SPACE = MBConvSpace.uniform(SMALL, StageChoices(convs=("mbconv", "fused")))


def test_without_the_conv_choice_points_are_what_they_were():
    assert not any(key.endswith("_conv") for key in SPACE.parameters())
    assert len(FUSED_SPACE.parameters()) == 7 * 7 and FUSED_SPACE.size == SPACE.size * 2**7


@pytest.mark.parametrize("seed", range(3))
def test_fused_choices_decode_build_and_round_trip(seed):
    rng = random.Random(seed)
    fused_seen = 0
    for _ in range(100):
        spec = FUSED_SPACE.decode(FUSED_SPACE.sample(rng))
        fused_seen += sum(stage.fused for stage in spec.stages)
        for stage in spec.stages:
            if stage.fused and stage.expand_ratio == 1:
                assert stage.se_ratio is None  # one conv: the reference puts no SE there
        assert FUSED_SPACE.decode(FUSED_SPACE.encode(spec)) == spec
    assert 250 < fused_seen < 450  # about half of 700 stages


def test_fused_extremes_still_bound_the_cost():
    smallest = FUSED_SPACE.decode(FUSED_SPACE.extreme(largest=False))
    largest = FUSED_SPACE.decode(FUSED_SPACE.extreme(largest=True))
    assert all(stage.fused for stage in largest.stages)
    assert not any(stage.fused for stage in smallest.stages)
    rng = random.Random(1)
    for _ in range(200):
        spec = FUSED_SPACE.decode(FUSED_SPACE.sample(rng))
        assert count_flops(smallest) <= count_flops(spec) <= count_flops(largest)
        assert count_params(smallest) <= count_params(spec) <= count_params(largest)


def test_a_space_file_restricts_the_conv_op_per_stage(tmp_path):
    path = tmp_path / "space.json"
    path.write_text(json.dumps({"convs": ["mbconv"], "stages": {"1": {"convs": ["fused"]},
                                "2": {"convs": ["mbconv", "fused"]}}}))  # fmt: skip
    space = MBConvSpace.from_file(path, SMALL)
    assert [key for key in space.parameters() if key.endswith("_conv")] == ["s1_conv", "s2_conv"]
    spec = space.decode(space.sample(random.Random(0)))
    assert spec.stages[1].fused and not spec.stages[0].fused
    with pytest.raises(SpecError, match="convs must be some of mbconv, fused"):
        StageChoices(convs=("fused", "conv3"))
    # A fused network is outside a space without the choice.
    with pytest.raises(SpecError, match="this space has no fused choice"):
        SPACE.encode(spec)


def test_distinct_samples_are_distinct_and_the_same_for_a_seed():
    assert SPACE.sample_distinct(12, 3)[:5] == SPACE.sample_distinct(5, 3)
    first, again = SPACE.sample_distinct(12, 3), SPACE.sample_distinct(12, 3)
    assert first == again and len({s.fingerprint() for s in first}) == 12
    tiny = MBConvSpace.uniform(
        SPACE.skeleton,
        StageChoices(
            kernels=(3,), expand_ratios=(1,), se_ratios=(0.0,), layer_deltas=(0,),
            width_mults=(1.0,), skips=(True,),
        ),
    )  # fmt: skip
    with pytest.raises(InputError, match="fewer than 3 distinct networks"):
        tiny.sample_distinct(3, 0)


def test_identity_names_the_skeleton_and_every_choice():
    identity = SPACE.identity()
    assert identity["skeleton"] == SMALL.fingerprint()
    assert identity["space"] == {k: list(v) for k, v in SPACE.parameters().items()}
    json.dumps(identity)  # a run directory records it as JSON

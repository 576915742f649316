"""Every preset's parameter count equals its reference implementation's."""

import pytest
import timm
import torch
import torchvision

from scaling import TABLES, preset, preset_names
from search_spaces import SpecError, count_params


def reference_params(build) -> int:
    with torch.device("meta"):  # shapes only: no memory, no init
        model = build()
    return sum(param.numel() for param in model.parameters())


TORCHVISION = {f"efficientnet-b{i}": f"efficientnet_b{i}" for i in range(8)} | {
    "mnasnet-b1": "mnasnet1_0",
    "mobilenetv2": "mobilenet_v2",
    **{f"efficientnetv2-{size}": f"efficientnet_v2_{size}" for size in "sml"},
}
TIMM = {
    "efficientnet-b8": "tf_efficientnet_b8",
    "efficientnet-l2": "tf_efficientnet_l2",
    "mnasnet-a1": "semnasnet_100",
    **{f"efficientnet-lite{i}": f"tf_efficientnet_lite{i}" for i in range(5)},
    **{f"efficientnetv2-b{i}": f"tf_efficientnetv2_b{i}" for i in range(4)},
}


def test_every_preset_has_a_reference():
    assert set(preset_names()) == set(TORCHVISION) | set(TIMM)


@pytest.mark.parametrize(("name", "reference"), TORCHVISION.items())
def test_params_equal_torchvision(name, reference):
    build = getattr(torchvision.models, reference)
    assert count_params(preset(name)) == reference_params(lambda: build(weights=None))


@pytest.mark.parametrize(("name", "reference"), TIMM.items())
def test_params_equal_timm(name, reference):
    expected = reference_params(lambda: timm.create_model(reference, pretrained=False))
    assert count_params(preset(name)) == expected


def test_published_table_values():
    assert [preset(f"efficientnet-b{i}").resolution for i in range(9)] == [
        224, 240, 260, 300, 380, 456, 528, 600, 672,
    ]  # fmt: skip
    assert [count_params(preset(f"efficientnet-b{i}")) for i in range(9)] == [
        5_288_548, 7_794_184, 9_109_994, 12_233_232, 19_341_616,
        30_389_784, 43_040_704, 66_347_960, 87_413_142,
    ]  # fmt: skip
    assert [row.dropout for row in TABLES["efficientnet"].rows[:8]] == [
        0.2, 0.2, 0.3, 0.3, 0.4, 0.4, 0.5, 0.5,
    ]  # fmt: skip


def test_efficientnet_v2_published_values():
    assert [count_params(preset(f"efficientnetv2-{size}")) for size in "sml"] == [
        21_458_488, 54_139_356, 118_515_272,
    ]  # fmt: skip
    assert [preset(f"efficientnetv2-b{i}").resolution for i in range(4)] == [224, 240, 260, 300]
    assert [preset(f"efficientnetv2-{size}").resolution for size in "sml"] == [384, 480, 480]
    rows = TABLES["efficientnetv2"].rows
    assert [count_params(preset(f"efficientnetv2-b{i}")) for i in range(4)] == [
        row.reference_params for row in rows
    ]


def test_v2_widths_round_without_v1s_90_percent_floor():
    # 16 x 1.2 = 19.2 rounds to 16: V1's rule would add 8 (16 < 0.9 x 19.2), V2's does not,
    # and timm's tf_efficientnetv2_b3 (the params test above) has 16.
    b3 = preset("efficientnetv2-b3")
    assert b3.stages[0].out_channels == 16 and b3.stem_channels == 40
    assert preset("efficientnet-b3").stages[0].out_channels == 24  # V1 at the same width


def test_lite_keeps_stem_head_and_first_and_last_stage():
    lite4, lite0 = preset("efficientnet-lite4"), preset("efficientnet-lite0")
    assert (lite4.stem_channels, lite4.head_channels) == (32, 1280)
    assert lite4.stages[0].repeats == lite0.stages[0].repeats == 1
    assert lite4.stages[-1].repeats == 1
    assert [stage.repeats for stage in lite4.stages[1:-1]] == [4, 4, 6, 6, 8]
    # The first stage takes the unscaled stem even though round_filters(32, 1.4) = 48.
    assert lite4.stages[0].in_channels == 32
    assert lite4.resolution == 300 and preset("efficientnet-lite3").resolution == 280
    assert all(stage.se_ratio is None for stage in lite4.stages) and lite4.activation == "relu6"


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(SpecError, match="known presets: efficientnet-b0"):
        preset("efficientnet-b9")

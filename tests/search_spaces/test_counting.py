"""Analytic counts must equal the built model's, exactly."""

import random
import subprocess
import sys

import pytest

from nas import build_model, fvcore_count, measure_spec, torch_param_count
from scaling import preset, preset_names
from search_spaces import BASE_ARCHITECTURES, count_by_part, count_flops, count_params

# Paper convention, measured on torchvision's efficientnet_b0 with fvcore (conv + linear).
B0_FLOPS = 385_814_752


def test_b0_matches_the_published_numbers():
    b0 = BASE_ARCHITECTURES["efficientnet-b0"]
    assert count_params(b0) == 5_288_548
    assert count_flops(b0) == B0_FLOPS


def test_torchvision_published_macs():
    # torchvision's weights metadata `_ops` (GMAC): B2 weights use 288 px, B7 600 px.
    assert round(count_flops(preset("efficientnet-b2"), 288) / 1e9, 3) == 1.088
    assert round(count_flops(preset("efficientnet-b7")) / 1e9, 3) == 37.746


@pytest.mark.parametrize("size", ["s", "m", "l"])
def test_efficientnet_v2_flops_equal_torchvision_metadata(size):
    import torchvision

    weights = getattr(torchvision.models, f"EfficientNet_V2_{size.upper()}_Weights").DEFAULT
    spec = preset(f"efficientnetv2-{size}")
    # The weights' evaluation size is the preset's resolution (384, 480, 480).
    assert weights.transforms().crop_size == [spec.resolution]
    assert round(count_flops(spec) / 1e9, 3) == weights.meta["_ops"]  # 8.366, 24.582, 56.08


# Large members are checked at a reduced resolution: FLOPs are exact per resolution, and
# tracing B7 at 600 px costs seconds. L2 (480 M params) is in the slow test below.
FAST_RESOLUTION = {
    "efficientnet-b6": 96,
    "efficientnet-b7": 96,
    "efficientnet-b8": 64,
    "efficientnetv2-s": 128,
    "efficientnetv2-m": 96,
    "efficientnetv2-l": 64,
}


@pytest.mark.parametrize("name", [n for n in preset_names() if n != "efficientnet-l2"])
def test_every_preset_matches_the_built_model(name):
    spec = preset(name)
    resolution = FAST_RESOLUTION.get(name, spec.resolution)
    params, measured = measure_spec(spec, resolution)
    assert params == count_params(spec)
    assert measured.conv_linear == count_flops(spec, resolution)
    assert measured.total > measured.conv_linear  # fvcore's total adds BN and pooling


@pytest.mark.slow
def test_l2_matches_the_built_model():
    spec = preset("efficientnet-l2")
    params, measured = measure_spec(spec, 64)
    assert params == count_params(spec) == 480_309_308
    assert measured.conv_linear == count_flops(spec, 64)


@pytest.mark.parametrize("seed", range(25))
def test_random_specs_match_the_built_model(seed, make_random_spec):
    spec = make_random_spec(random.Random(seed))
    model = build_model(spec)
    assert torch_param_count(model) == count_params(spec)
    measured = fvcore_count(model, spec.resolution, spec.in_channels)
    assert measured.conv_linear == count_flops(spec)


def test_parts_sum_to_the_totals():
    spec = preset("efficientnet-b3")
    parts = count_by_part(spec)
    assert parts[0].part == "stem" and parts[-1].part == "head+classifier"
    assert sum(part.params for part in parts) == count_params(spec)
    assert sum(part.flops for part in parts) == count_flops(spec)
    assert [part.out_size for part in parts[:-1]] == [150, 150, 75, 38, 19, 19, 10, 10]


def test_flops_grow_with_resolution_and_reject_bad_input():
    spec = BASE_ARCHITECTURES["mnasnet-a1"]
    assert count_flops(spec, 192) < count_flops(spec) < count_flops(spec, 256)
    with pytest.raises(ValueError, match="positive integer"):
        count_flops(spec, 0)


@pytest.mark.subprocess
def test_counting_never_imports_torch():
    code = (
        "import sys; import search_spaces, scaling;"
        "scaling.family_from_table(search_spaces.BASE_ARCHITECTURES['efficientnet-b0'],"
        " scaling.TABLES['efficientnet']);"
        "print('torch' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"

import dataclasses
import json

import pytest

from scaling import preset
from search_spaces import BASE_ARCHITECTURES, NetworkSpec, SpecError

DOCUMENTED = {
    "name": "tiny",
    "blocks": ["r1_k3_s11_e1_i32_o16_se0.25", "r2_k5_s22_e6_i16_o24"],
    "stem_channels": 32,
    "head_channels": 1280,
    "activation": "relu6",
    "resolution": 64,
    "num_classes": 10,
    "dropout": 0.3,
    "fix_stem_head": False,
}


def test_documented_json_keys_load():
    spec = NetworkSpec.from_dict(DOCUMENTED)
    assert spec.block_strings == tuple(DOCUMENTED["blocks"])
    assert (spec.activation, spec.resolution, spec.num_classes, spec.dropout) == (
        "relu6",
        64,
        10,
        0.3,
    )
    assert spec.num_blocks == 3 and spec.total_stride == 4


@pytest.mark.parametrize("name", ["efficientnet-b3", "efficientnet-lite4", "mobilenetv2"])
def test_json_round_trip(name, tmp_path):
    spec = preset(name)
    assert NetworkSpec.from_json(spec.to_json()) == spec
    spec.save(tmp_path / "spec.json")
    loaded = NetworkSpec.load(tmp_path / "spec.json")
    assert loaded == spec and loaded.to_dict() == json.loads(spec.to_json())
    assert not list(tmp_path.glob(".*tmp"))


def test_specs_are_frozen_and_hashable():
    spec = BASE_ARCHITECTURES["efficientnet-b0"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.resolution = 300  # type: ignore[misc]
    assert len({spec, preset("efficientnet-b0")}) == 1


def test_fingerprint_ignores_name_but_not_architecture():
    spec = BASE_ARCHITECTURES["efficientnet-b0"]
    renamed = dataclasses.replace(spec, name="other")
    wider = dataclasses.replace(spec, head_channels=1536)
    assert spec.fingerprint() == renamed.fingerprint() != wider.fingerprint()


def test_a_skip_flag_that_builds_nothing_does_not_change_the_fingerprint():
    spec = BASE_ARCHITECTURES["efficientnet-b0"]
    # Stage 0 (r1, 32 -> 16) and stage 1 (stride 2) have no block that keeps its shape.
    first, second, *rest = spec.stages
    assert not first.skip_matters and second.skip_matters  # stage 1 repeats twice
    inert = dataclasses.replace(
        spec, stages=(dataclasses.replace(first, skip=False), second, *rest)
    )
    assert inert.fingerprint() == spec.fingerprint()
    assert inert.canonical().stages[0].skip and inert.stages[0].skip is False  # spec unchanged
    live = dataclasses.replace(spec, stages=(first, dataclasses.replace(second, skip=False), *rest))
    assert live.fingerprint() != spec.fingerprint()
    assert spec.canonical() is spec


@pytest.mark.parametrize(
    ("change", "phrase"),
    [
        ({"blocks": []}, "at least one block"),
        ({"blocks": "r1_k3_s11_e1_i32_o16"}, "list of block strings"),
        ({"blocks": ["r1_k3_s11_e1_i24_o16"]}, "takes 24 channels but the stem gives 32"),
        ({"blocks": ["r1_k3_s11_e1_i32_o16", "r1_k3_s11_e1_i24_o8"]}, "block 1 gives 16"),
        ({"activation": "gelu"}, "activation must be one of"),
        ({"resolution": 2}, "total stride 4"),
        ({"dropout": 1.0}, "dropout must be a number in [0, 1)"),
        ({"num_classes": 0}, "num_classes must be an integer >= 1"),
        ({"stem_channels": 16.5}, "stem_channels must be an integer"),
        ({"fix_stem_head": "yes"}, "fix_stem_head must be true or false"),
        ({"stem_stride": 3}, "stem_stride must be 1 or 2"),
        ({"colour": "red"}, "unknown spec key(s) colour"),
    ],
)
def test_invalid_specs_are_rejected_with_the_reason(change, phrase):
    with pytest.raises(SpecError) as error:
        NetworkSpec.from_dict({**DOCUMENTED, **change})
    assert phrase in str(error.value)


def test_missing_required_key():
    with pytest.raises(SpecError, match="missing the required key 'blocks'"):
        NetworkSpec.from_dict({"name": "x"})


def test_bad_json_and_missing_file(tmp_path):
    with pytest.raises(SpecError, match="not valid JSON"):
        NetworkSpec.from_json("{nope")
    with pytest.raises(SpecError, match="does not exist"):
        NetworkSpec.load(tmp_path / "absent.json")

"""Part shapes: one per part of a network, and every part a space can hold, exactly."""

from __future__ import annotations

import dataclasses
import itertools
import random

import pytest

from scaling import search_proxy
from search_spaces import (
    MBConvSpace,
    NetworkSpec,
    PartShape,
    SpecError,
    StageChoices,
    network_parts,
    space_parts,
)

SPEC = NetworkSpec.from_dict(
    {
        "name": "parts",
        "blocks": [
            "r2_k3_s11_e1_i16_o16_se0.25",
            "r2_k5_s22_e6_i16_o24",
            "r2_k3_s11_e4_i24_o24_noskip",
        ],
        "stem_channels": 16,
        "head_channels": 64,
        "resolution": 16,
        "num_classes": 10,
        "in_channels": 1,
    }
)


def test_a_network_is_stem_then_every_block_then_head():
    parts = network_parts(SPEC)
    assert [part.kind for part in parts] == ["stem"] + ["block"] * 6 + ["head"]
    stem, *blocks, head = parts
    assert (stem.in_channels, stem.out_channels, stem.size, stem.stride) == (1, 16, 16, 2)
    # Input sides: 16 -> stem /2 -> 8, stage 2 strides once -> 4.
    assert [block.size for block in blocks] == [8, 8, 8, 4, 4, 4]
    assert [block.stride for block in blocks] == [1, 1, 2, 1, 1, 1]
    # Shortcuts add only where the shape is kept and the stage keeps them.
    assert [block.residual for block in blocks] == [True, True, False, True, False, False]
    assert [block.se_ratio for block in blocks] == [0.25, 0.25, 0.0, 0.0, 0.0, 0.0]
    assert (head.in_channels, head.out_channels, head.size, head.num_classes) == (24, 64, 4, 10)


def test_keys_are_canonical_and_tell_shapes_apart():
    parts = network_parts(SPEC)
    assert parts[1].key == "block_i16_o16_r8_swish_k3_s1_e1_se0.25_res"
    assert parts[0].key == "stem_i1_o16_r16_swish_k3_s2"
    assert parts[-1].key == "head_i24_o64_r4_swish_c10"
    # Blocks 1 and 2 of stage 0 share one shape; the table times it once.
    assert parts[1] == parts[2] and parts[1].key == parts[2].key
    assert len({part.key for part in parts}) == len(set(parts)) == 6


def test_unknown_kind_is_refused():
    with pytest.raises(SpecError, match="part kind"):
        PartShape("conv", 1, 2, 8, "swish")


def _small_space() -> MBConvSpace:
    skeleton = search_proxy(
        resolution=16, in_channels=1, num_classes=10, width_mult=0.5, depth_mult=0.5
    )
    fixed = StageChoices(
        kernels=(3,), expand_ratios=(6,), se_ratios=(0.0,), layer_deltas=(0,),
        width_mults=(1.0,), skips=(True,),
    )  # fmt: skip
    varied = StageChoices(
        kernels=(3, 5), expand_ratios=(1, 6), se_ratios=(0.0, 0.25), layer_deltas=(0, 1),
        width_mults=(0.75, 1.25), skips=(True, False),
    )  # fmt: skip
    choices = [fixed] * len(skeleton.stages)
    choices[1] = choices[2] = varied
    return MBConvSpace(skeleton, tuple(choices))


def test_space_parts_are_exactly_the_parts_of_its_networks():
    space = _small_space()
    parameters = space.parameters()
    seen: set[PartShape] = set()
    for values in itertools.product(*parameters.values()):
        seen.update(network_parts(space.decode(dict(zip(parameters, values, strict=True)))))
    assert space_parts(space) == seen  # nothing missing, nothing no network holds


def test_space_parts_cover_sampled_networks_of_the_default_space():
    skeleton = search_proxy(resolution=32, in_channels=3, num_classes=10)
    space = MBConvSpace.uniform(skeleton)
    parts = space_parts(space)
    rng = random.Random(0)
    for _ in range(300):
        assert set(network_parts(space.decode(space.sample(rng)))) <= parts
    # A few thousand shapes for 10^27 points: what makes a lookup table affordable.
    assert 1_000 < len(parts) < 3_000


def test_space_parts_with_fused_choices_are_exactly_those_of_its_networks():
    space = _small_space()
    varied = dataclasses.replace(space.choices[1], convs=("mbconv", "fused"))
    space = dataclasses.replace(space, choices=(space.choices[0], varied, *space.choices[2:]))
    parameters = space.parameters()
    seen: set[PartShape] = set()
    for values in itertools.product(*parameters.values()):
        seen.update(network_parts(space.decode(dict(zip(parameters, values, strict=True)))))
    assert space_parts(space) == seen
    assert any(part.fused for part in seen) and any(part.key.endswith("_c1") for part in seen)

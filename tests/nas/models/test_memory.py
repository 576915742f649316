"""The analytic peak activation memory equals a measurement on the built network."""

from __future__ import annotations

import pytest
import torch

from nas.models import build_model, measure_peak_memory
from scaling import preset, search_proxy
from search_spaces import MBConvSpace, StageChoices, peak_memory


def measured(spec, resolution=None):
    size = resolution or spec.resolution
    model = build_model(spec)
    return measure_peak_memory(model, torch.randn(1, spec.in_channels, size, size))


@pytest.mark.parametrize(
    "name",
    ["efficientnet-b0", "efficientnetv2-s", "mnasnet-a1", "mobilenetv2", "efficientnet-lite0"],
)
def test_presets_peak_where_and_as_much_as_measured(name):
    spec = preset(name)
    counted = peak_memory(spec, 96)  # a smaller input keeps the measurement quick
    bytes_, _ = measured(spec, 96)
    assert counted.bytes("float32") == bytes_
    assert counted.bytes("int8") * 4 == bytes_


SMALL = search_proxy(resolution=32, in_channels=3, num_classes=10, width_mult=0.5, depth_mult=0.5)
SPACES = {
    "se-and-skips": StageChoices(),
    "fused": StageChoices(convs=("mbconv", "fused")),
    "noskip-only": StageChoices(skips=(False,)),
}


@pytest.mark.parametrize("kind", SPACES)
def test_random_searched_networks_peak_as_measured(kind):
    space = MBConvSpace.uniform(SMALL, SPACES[kind])
    for spec in space.sample_distinct(8, seed=3):
        assert peak_memory(spec).bytes() == measured(spec)[0], spec.block_strings

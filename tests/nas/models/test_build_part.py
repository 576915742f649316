"""build_part: a network's parts, built alone, are the layers build_model makes."""

from __future__ import annotations

import torch

from nas.models import build_model, build_part
from search_spaces import NetworkSpec, count_params, network_parts

SPEC = NetworkSpec.from_dict(
    {
        "name": "parts",
        "blocks": ["r2_k3_s11_e1_i16_o16_se0.25", "r2_k5_s22_e6_i16_o24", "r1_k3_s11_e4_i24_o32"],
        "stem_channels": 16,
        "head_channels": 64,
        "resolution": 16,
        "num_classes": 10,
        "in_channels": 1,
    }
)


def _params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_parts_hold_every_parameter_of_the_network():
    parts = [build_part(part) for part in network_parts(SPEC)]
    assert sum(_params(part) for part in parts) == count_params(SPEC) == _params(build_model(SPEC))


def test_parts_chained_compute_the_network():
    model = build_model(SPEC).eval()
    parts = [build_part(part).eval() for part in network_parts(SPEC)]
    # Give the parts the network's weights, in order: then chaining them is the network.
    source = [model.stem, *[block for stage in model.stages for block in stage]]
    for part, layer in zip(parts, source, strict=False):
        part.load_state_dict(layer.state_dict())
    head = parts[-1]
    head.conv.load_state_dict(model.head.state_dict())
    head.classifier.load_state_dict(model.classifier.state_dict())
    x = torch.randn(2, 1, 16, 16)
    with torch.no_grad():
        out = x
        for part in parts:
            out = part(out)
        torch.testing.assert_close(out, model(x))


def test_fused_blocks_replace_expansion_and_depthwise_by_one_conv():
    from torch import nn

    from nas.models import FusedMBConv

    spec = NetworkSpec.from_dict(
        {**SPEC.to_dict(), "blocks": ["r1_k3_s1_e1_i16_o24_c1", "r2_k3_s2_e4_i24_o32_c1"]}
    )
    model = build_model(spec)
    first, second = model.stages[0][0], model.stages[1][0]
    assert isinstance(first, FusedMBConv) and isinstance(second, FusedMBConv)
    convs = [m for m in first.modules() if isinstance(m, nn.Conv2d)]
    # e1: one 3x3 conv from 16 to 24 and no projection (torchvision's FusedMBConv).
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.groups) for c in convs] == [
        (16, 24, (3, 3), 1)
    ]
    convs = [m for m in second.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.stride) for c in convs] == [
        (24, 96, (3, 3), (2, 2)),
        (96, 32, (1, 1), (1, 1)),
    ]
    assert count_params(spec) == _params(model)
    # The repeat keeps the shape, so it adds its input.
    assert model.stages[1][1].use_residual and not second.use_residual

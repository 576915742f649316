import torch
from torch import nn

from nas.models import FusedMBConv, MBConv, ScalableResNet, build_model, zero_init_residual_branches
from search_spaces import NetworkSpec

SPEC = NetworkSpec.from_dict(
    {
        "name": "mixed",
        "blocks": [
            "r2_k3_s11_e1_i16_o16_c1",  # fused e1, kept shape: residual
            "r2_k3_s22_e4_i16_o24_c1",  # fused e4: first strided, second residual
            "r3_k5_s11_e6_i24_o24_se0.25",  # MBConv with SE, all residual
            "r1_k3_s22_e6_i24_o40",  # strided: no shortcut
            "r2_k3_s11_e6_i40_o40_noskip",  # noskip: no shortcut
        ],
        "stem_channels": 16,
        "head_channels": 64,
        "activation": "swish",
        "resolution": 16,
        "num_classes": 10,
        "dropout": 0.0,
        "fix_stem_head": False,
        "in_channels": 3,
        "drop_connect_rate": 0.0,
    }
)


def _blocks(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, (MBConv, FusedMBConv))]


def test_every_residual_block_is_the_identity_at_initialisation():
    model = build_model(SPEC)
    assert zero_init_residual_branches(model) == 2 + 1 + 3  # the blocks that add their input
    for block in _blocks(model):
        block.train()  # batch statistics: the zeroed scale still zeroes the branch
        channels = block.layers[0][0].in_channels
        inputs = torch.randn(4, channels, 8, 8)
        out = block(inputs)
        if block.use_residual:
            assert torch.equal(out, inputs)
        else:
            assert not torch.allclose(out, torch.zeros_like(out))  # left as it was


def test_blocks_without_a_shortcut_keep_their_initialisation():
    model = build_model(SPEC)
    zero_init_residual_branches(model)
    for block in _blocks(model):
        norms = [m for m in block.layers.modules() if isinstance(m, nn.BatchNorm2d)]
        scales = [bool(torch.all(n.weight == 0)) for n in norms]
        assert scales == [False] * (len(norms) - 1) + [block.use_residual]


def test_resnet_blocks_are_zeroed_too():
    model = ScalableResNet(depth=18, width_mult=0.25, num_classes=10)
    assert zero_init_residual_branches(model) == 8  # 2 basic blocks in each of 4 stages
    blocks = [m for m in model.modules() if hasattr(m, "bn2") and hasattr(m, "downsample")]
    assert len(blocks) == 8 and all(torch.all(b.bn2.weight == 0) for b in blocks)

import dataclasses

import pytest
import torch

from nas import MBConv, SqueezeExcite, build_model, torch_param_count
from scaling import preset
from search_spaces import BASE_ARCHITECTURES, count_params

B0 = BASE_ARCHITECTURES["efficientnet-b0"]


@pytest.mark.parametrize("resolution", [32, 57, 224])
def test_forward_at_any_resolution(resolution):
    model = build_model(dataclasses.replace(B0, num_classes=7)).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, resolution, resolution))
    assert out.shape == (2, 7) and torch.isfinite(out).all()


def test_block_structure_follows_the_spec():
    model = build_model(B0)
    blocks = [m for m in model.modules() if isinstance(m, MBConv)]
    assert len(blocks) == B0.num_blocks == 16
    # Residual only where stride 1 and width unchanged: the repeats of each stage.
    assert [b.use_residual for b in blocks].count(True) == 16 - 7
    squeeze = [m for m in model.modules() if isinstance(m, SqueezeExcite)]
    assert [s.reduce.out_channels for s in squeeze][:3] == [8, 4, 6]  # from the block input
    # Stochastic depth grows linearly with the block index: 0.2 * i / 16.
    assert [b.drop_connect for b in blocks][:3] == pytest.approx([0, 0.0125, 0.025])


def test_noskip_removes_the_shortcut():
    spec = preset("mnasnet-b1")
    noskip = dataclasses.replace(
        spec, stages=tuple(dataclasses.replace(s, skip=False) for s in spec.stages)
    )
    assert not any(m.use_residual for m in build_model(noskip).modules() if isinstance(m, MBConv))
    assert count_params(noskip) == count_params(spec)  # a shortcut has no weights


def test_activation_and_batch_norm_settings():
    model = build_model(preset("efficientnet-lite0"))
    kinds = {type(m).__name__ for m in model.modules()}
    assert "ReLU6" in kinds and "SiLU" not in kinds and "SqueezeExcite" not in kinds
    bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert (bn.eps, bn.momentum) == (1e-3, 0.01)


def test_grayscale_input_and_small_stem_stride():
    spec = dataclasses.replace(B0, in_channels=1, stem_stride=1, resolution=16, num_classes=10)
    model = build_model(spec)
    assert torch_param_count(model) == count_params(spec)
    out = model(torch.randn(4, 1, 16, 16))
    out.sum().backward()  # trains: gradients reach the stem
    assert model.stem[0].weight.grad is not None and out.shape == (4, 10)


def test_stochastic_depth_only_in_training():
    torch.manual_seed(0)
    model = build_model(dataclasses.replace(B0, drop_connect_rate=0.9, dropout=0.0))
    x = torch.randn(2, 3, 32, 32)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))
        model.train()
        assert not torch.equal(model(x), model(x))


def test_builder_is_stateless():
    torch.manual_seed(1)
    first = build_model(B0)
    torch.manual_seed(1)
    second = build_model(B0)
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b)

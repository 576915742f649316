"""The fast depthwise backward: PyTorch's gradients, on the shapes where it takes over."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nas.models import DepthwiseConv2d, build_model, use_fast_depthwise
from nas.models._depthwise import _DepthwiseConv
from scaling import search_proxy

# Kernels larger and smaller than the input, rectangular maps, strides 1 and 2, odd sizes.
SHAPES = list(itertools.product([1, 2, 3, 5], [1, 4, 6], [3, 5, 7], [1, 2]))


@pytest.mark.parametrize(("height", "width", "kernel", "stride"), SHAPES)
def test_gradients_equal_pytorch_in_double(height, width, kernel, stride):
    torch.manual_seed(height * 100 + width * 10 + kernel + stride)
    channels, pad = 3, kernel // 2
    x = torch.randn(2, channels, height, width, dtype=torch.float64, requires_grad=True)
    w = torch.randn(channels, 1, kernel, kernel, dtype=torch.float64, requires_grad=True)
    b = torch.randn(channels, dtype=torch.float64, requires_grad=True)
    ours = _DepthwiseConv.apply(x, w, b, (stride, stride), (pad, pad))
    theirs = F.conv2d(x, w, b, stride, pad, groups=channels)
    assert torch.equal(ours, theirs)  # the forward is F.conv2d itself
    upstream = torch.randn_like(theirs)
    got = torch.autograd.grad(ours, (x, w, b), upstream)
    want = torch.autograd.grad(theirs, (x, w, b), upstream)
    for g, e in zip(got, want, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-12, atol=1e-12)


def test_gradcheck_on_a_kernel_larger_than_its_input():
    x = torch.randn(2, 4, 2, 3, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 1, 5, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, w: _DepthwiseConv.apply(x, w, None, (2, 2), (2, 2)), (x, w)
    )


def test_the_swap_keeps_parameters_and_changes_nothing_a_network_computes():
    spec = search_proxy(resolution=16, in_channels=1, num_classes=10, width_mult=0.5)
    torch.manual_seed(0)
    plain = build_model(spec).train()
    torch.manual_seed(0)
    fast = build_model(spec).train()
    before = {name: p.data_ptr() for name, p in fast.named_parameters()}
    depthwise = [m for m in fast.modules() if isinstance(m, nn.Conv2d) and m.groups > 1]
    assert use_fast_depthwise(fast) == len(depthwise) > 0
    assert all(type(m) is DepthwiseConv2d for m in depthwise)
    assert {name: p.data_ptr() for name, p in fast.named_parameters()} == before
    assert fast.state_dict().keys() == plain.state_dict().keys()
    x = torch.randn(8, 1, 16, 16).contiguous(memory_format=torch.channels_last)
    for model in (plain, fast):
        torch.manual_seed(1)  # the same stochastic-depth draws
        model(x).square().mean().backward()
    for (name, p), q in zip(fast.named_parameters(), plain.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-6, msg=name)


def test_grouped_and_dilated_convolutions_are_left_alone():
    model = nn.Sequential(
        nn.Conv2d(4, 4, 3, groups=2), nn.Conv2d(4, 4, 3, groups=4, dilation=2), nn.Conv2d(4, 8, 1)
    )
    assert use_fast_depthwise(model) == 0

"""A depthwise convolution whose backward pass does not fall off oneDNN's slow path on CPU.

PyTorch's CPU backward of a depthwise convolution is 5-25x slower than its forward
whenever the kernel is larger than the input (a 5x5 kernel on a 4x4 or 2x2 map, a 3x3
on 2x2): exactly the late stages of small-input MBConv nets, which there took about
40% of a training step (``benchmarks/training_throughput.py``). No library ships a
faster kernel, so the backward is written here from two fast pieces:

- the input gradient is the transposed depthwise convolution of the output gradient
  (``conv_transpose2d``, which takes a fast path for these shapes);
- the weight gradient is, per kernel tap, a product of the output gradient with the
  input shifted by that tap, summed over batch and positions. Taps that only ever see
  zero padding get no gradient and are skipped (at 1x1 only the centre tap is left).

The forward pass is ``F.conv2d`` itself, so outputs are bit-identical and gradients
agree with PyTorch's to float rounding (``tests/nas/models/test_depthwise.py``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["DepthwiseConv2d", "depthwise_conv2d", "use_fast_depthwise"]


class _DepthwiseConv(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        stride: tuple[int, int],
        padding: tuple[int, int],
    ) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.stride, ctx.padding, ctx.has_bias = stride, padding, bias is not None
        return F.conv2d(x, weight, bias, stride, padding, groups=x.shape[1])

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, weight = ctx.saved_tensors
        stride, padding = ctx.stride, ctx.padding
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            kernel = weight.shape[-2:]
            # The input size a transposed convolution would give is ambiguous for strides > 1.
            extra = tuple(
                x.shape[2 + d] - ((grad.shape[2 + d] - 1) * stride[d] - 2 * padding[d] + kernel[d])
                for d in range(2)
            )
            grad_x = F.conv_transpose2d(
                grad, weight, None, stride, padding, extra, groups=x.shape[1]
            )
        if ctx.needs_input_grad[1]:
            grad_weight = _weight_grad(x, grad, weight.shape, stride, padding)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad.sum(dim=(0, 2, 3))
        return grad_x, grad_weight, grad_bias, None, None


def _weight_grad(
    x: torch.Tensor,
    grad: torch.Tensor,
    shape: torch.Size,
    stride: tuple[int, int],
    padding: tuple[int, int],
) -> torch.Tensor:
    channels, _, kh, kw = shape
    out_h, out_w = grad.shape[-2:]
    # Channels last in memory (N, H, W, C): each tap's sum runs over whole rows of C.
    padded = F.pad(x.permute(0, 2, 3, 1), (0, 0, padding[1], padding[1], padding[0], padding[0]))
    g = grad.permute(0, 2, 3, 1)
    rows = _live_taps(kh, out_h, stride[0], padding[0], x.shape[2])
    cols = _live_taps(kw, out_w, stride[1], padding[1], x.shape[3])
    taps = torch.zeros(kh, kw, channels, dtype=x.dtype, device=x.device)
    for i in rows:
        for j in cols:
            window = padded[
                :,
                i : i + stride[0] * (out_h - 1) + 1 : stride[0],
                j : j + stride[1] * (out_w - 1) + 1 : stride[1],
            ]
            torch.sum(window * g, dim=(0, 1, 2), out=taps[i, j])
    return taps.permute(2, 0, 1).unsqueeze(1).contiguous()


def _live_taps(kernel: int, out: int, stride: int, pad: int, size: int) -> list[int]:
    """Kernel offsets whose window (rows i, i + s, ..., in padded coordinates) meets data."""
    return [i for i in range(kernel) if i + stride * (out - 1) >= pad and i <= pad + size - 1]


class DepthwiseConv2d(nn.Conv2d):
    """``nn.Conv2d`` with ``groups == in == out channels``; same parameters, same state dict.

    Trains through ``_DepthwiseConv`` on the CPU when the kernel is larger than the input
    (where PyTorch's backward is slow); everywhere else it is ``nn.Conv2d``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return depthwise_conv2d(x, self.weight, self.bias, self.stride, self.padding)


def depthwise_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: tuple[int, int] | int,
    padding: tuple[int, int] | int,
) -> torch.Tensor:
    """``F.conv2d(..., groups=channels)``, with the fast backward where PyTorch's is slow."""
    stride = (stride, stride) if isinstance(stride, int) else tuple(stride)
    padding = (padding, padding) if isinstance(padding, int) else tuple(padding)
    kh, kw = weight.shape[-2:]
    if (
        x.device.type == "cpu"
        and torch.is_grad_enabled()
        and not torch.jit.is_tracing()
        and (kh > x.shape[-2] or kw > x.shape[-1])
    ):
        return _DepthwiseConv.apply(x, weight, bias, stride, padding)
    return F.conv2d(x, weight, bias, stride, padding, groups=x.shape[1])


def _is_plain_depthwise(module: nn.Module) -> bool:
    return (
        type(module) is nn.Conv2d
        and module.groups == module.in_channels == module.out_channels
        and module.dilation == (1, 1)
        and module.padding_mode == "zeros"
        and isinstance(module.padding, tuple)
    )


def use_fast_depthwise(model: nn.Module) -> int:
    """Swap every plain depthwise ``nn.Conv2d`` in ``model`` for ``DepthwiseConv2d``, in place.

    The swap keeps each module's parameters (the same tensors), so optimizer, state dict
    and initial weights are untouched. Returns how many were swapped.
    """
    swapped = 0
    for module in model.modules():
        if _is_plain_depthwise(module):
            module.__class__ = DepthwiseConv2d
            swapped += 1
    return swapped

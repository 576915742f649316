"""Zero-initialised residual branches: each block starts as the identity.

Goyal et al. (2017) and the "bag of tricks" (He et al., 2019) set the scale of the last
batch norm of every residual branch to zero, so that at the first step the network is
its stem, its downsampling blocks and its head, and the branches grow in from zero.
Deep narrow networks then train from the first step instead of first undoing the noise
of a dozen random branches: the largest gain is on short schedules, which a proxy is.
"""

from __future__ import annotations

from torch import nn

from nas.models._builder import _ResidualBlock
from nas.models._resnet import _BasicBlock, _Bottleneck

__all__ = ["zero_init_residual_branches"]


def zero_init_residual_branches(model: nn.Module) -> int:
    """Zero the last batch-norm scale of every branch that is added to its input.

    Blocks without a shortcut (a stride, a width change, ``noskip``) keep their init:
    zeroing them would cut the network. Returns how many branches were zeroed.
    """
    zeroed = 0
    for module in model.modules():
        last: nn.BatchNorm2d | None = None
        if isinstance(module, _ResidualBlock) and module.use_residual:
            norms = [m for m in module.layers.modules() if isinstance(m, nn.BatchNorm2d)]
            last = norms[-1] if norms else None
        elif isinstance(module, _BasicBlock):
            last = module.bn2
        elif isinstance(module, _Bottleneck):
            last = module.bn3
        if last is not None:
            nn.init.zeros_(last.weight)
            zeroed += 1
    return zeroed

"""Load a network that `cnas export --format timm` wrote, with timm's own EfficientNet.

    python load_with_timm.py DIR        # builds it, loads the weights, prints a summary
    from load_with_timm import load     # load(DIR) -> torch.nn.Module (in train mode)

DIR holds config.json (timm block strings per stage and EfficientNet's keyword
arguments) and model.safetensors (the weights under timm's parameter names). Needs only
json, torch, safetensors and timm; imports nothing of compound-nas.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file
from timm.layers import get_act_layer
from timm.models.efficientnet import EfficientNet, decode_arch_def


def build(config: dict) -> torch.nn.Module:
    """timm's EfficientNet with the exported network's blocks, widths and settings."""
    kwargs = config["efficientnet_kwargs"]
    model = EfficientNet(
        block_args=decode_arch_def(config["arch_def"]),
        num_classes=kwargs["num_classes"],
        num_features=kwargs["num_features"],
        in_chans=kwargs["in_chans"],
        stem_size=kwargs["stem_size"],
        fix_stem=True,
        act_layer=get_act_layer(kwargs["act_layer"]),
        norm_layer=functools.partial(
            torch.nn.BatchNorm2d, eps=kwargs["bn_eps"], momentum=kwargs["bn_momentum"]
        ),
        # The widths in arch_def are the network's own, already rounded: keep them.
        round_chs_fn=lambda channels: channels,
        drop_rate=kwargs["drop_rate"],
        drop_path_rate=kwargs["drop_path_rate"],
    )
    if config["stem_stride"] == 1:
        # timm's stem always strides 2. A stride-1 stem (the small-input skeleton, which
        # keeps 28-32 px inputs from shrinking early) is the same 3x3 conv and padding
        # with stride 1. timm's feature_info then reports each reduction 2x too large.
        model.conv_stem.stride = (1, 1)
    return model


def load(directory: str | Path) -> torch.nn.Module:
    """The exported network as a timm EfficientNet, with its weights loaded."""
    directory = Path(directory)
    config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    model = build(config)
    model.load_state_dict(load_file(str(directory / "model.safetensors")))
    return model


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python load_with_timm.py DIR")
    network = load(sys.argv[1])
    count = sum(p.numel() for p in network.parameters())
    print(f"{type(network).__name__} with {count:,} parameters, loaded from {sys.argv[1]}")

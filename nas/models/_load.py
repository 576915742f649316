"""The one place a backbone name becomes a backbone."""

from __future__ import annotations

from nas.models._backbone import Backbone
from nas.models._resnet import RESNET_LAYERS, ResNetBackbone
from nas.models._spec_backbone import SpecBackbone
from nas.models._user_backbone import CallableBackbone
from scaling import load_spec

__all__ = ["load_backbone"]


def load_backbone(text: str) -> Backbone:
    """'resnet18|34|50|101', 'package.module:function', a preset name or a spec JSON path.

    Only the exact ResNet names are ResNets: a spec file called ``resnet_x.json`` is a spec.
    """
    text = str(text).strip()
    for depth in RESNET_LAYERS:
        if text == f"resnet{depth}":
            return ResNetBackbone(depth=depth)
    # A .json path may contain ':' (C:\...), a module path never ends in .json.
    if ":" in text and not text.endswith(".json"):
        return CallableBackbone(text)
    return SpecBackbone(load_spec(text))

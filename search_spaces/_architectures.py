"""Unscaled reference architectures, as data in the official block notation.

Sources: the TensorFlow reference code (tensorflow/tpu models/official
efficientnet, efficientnet/lite, mnasnet) and torchvision's mobilenet_v2.
Scaled members (efficientnet-b1..., lite1...) are made from these by the
published tables in ``scaling``; their parameter counts are checked against
torchvision and timm in the tests.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from search_spaces._network import NetworkSpec
from search_spaces._stage import SpecError

__all__ = ["BASE_ARCHITECTURES", "base_architecture"]

_EFFICIENTNET_B0_BLOCKS = (
    "r1_k3_s11_e1_i32_o16_se0.25",
    "r2_k3_s22_e6_i16_o24_se0.25",
    "r2_k5_s22_e6_i24_o40_se0.25",
    "r3_k3_s22_e6_i40_o80_se0.25",
    "r3_k5_s11_e6_i80_o112_se0.25",
    "r4_k5_s22_e6_i112_o192_se0.25",
    "r1_k3_s11_e6_i192_o320_se0.25",
)

_DATA: dict[str, dict[str, Any]] = {
    "efficientnet-b0": {
        "blocks": _EFFICIENTNET_B0_BLOCKS,
        "activation": "swish",
        "dropout": 0.2,
    },
    # Lite: B0 without SE, with ReLU6; scaling keeps stem, head, first and last stage.
    "efficientnet-lite0": {
        "blocks": tuple(block.replace("_se0.25", "") for block in _EFFICIENTNET_B0_BLOCKS),
        "activation": "relu6",
        "dropout": 0.2,
        "fix_stem_head": True,
    },
    "mnasnet-a1": {
        "blocks": (
            "r1_k3_s11_e1_i32_o16_noskip",
            "r2_k3_s22_e6_i16_o24",
            "r3_k5_s22_e3_i24_o40_se0.25",
            "r4_k3_s22_e6_i40_o80",
            "r2_k3_s11_e6_i80_o112_se0.25",
            "r3_k5_s22_e6_i112_o160_se0.25",
            "r1_k3_s11_e6_i160_o320",
        ),
        "activation": "relu",
        "dropout": 0.2,
    },
    # What torchvision calls mnasnet1_0.
    "mnasnet-b1": {
        "blocks": (
            "r1_k3_s11_e1_i32_o16_noskip",
            "r3_k3_s22_e3_i16_o24",
            "r3_k5_s22_e3_i24_o40",
            "r3_k5_s22_e6_i40_o80",
            "r2_k3_s11_e6_i80_o96",
            "r4_k5_s22_e6_i96_o192",
            "r1_k3_s11_e6_i192_o320_noskip",
        ),
        "activation": "relu",
        "dropout": 0.2,
    },
    "mobilenetv2": {
        "blocks": (
            "r1_k3_s11_e1_i32_o16",
            "r2_k3_s22_e6_i16_o24",
            "r3_k3_s22_e6_i24_o32",
            "r4_k3_s22_e6_i32_o64",
            "r3_k3_s11_e6_i64_o96",
            "r3_k3_s22_e6_i96_o160",
            "r1_k3_s11_e6_i160_o320",
        ),
        "activation": "relu6",
        "dropout": 0.2,
        "bn_eps": 1e-5,
        "bn_momentum": 0.1,
    },
}

# EfficientNetV2 (torchvision's efficientnet_v2_s/m/l, automl's effnetv2_configs): Fused-MBConv
# ("_c1") in the early stages, no SE there, smaller expansions; the stem is the first
# stage's input width. Resolutions are the evaluation sizes (S 384, M and L 480).
_DATA |= {
    "efficientnetv2-s": {
        "blocks": (
            "r2_k3_s1_e1_i24_o24_c1",
            "r4_k3_s2_e4_i24_o48_c1",
            "r4_k3_s2_e4_i48_o64_c1",
            "r6_k3_s2_e4_i64_o128_se0.25",
            "r9_k3_s1_e6_i128_o160_se0.25",
            "r15_k3_s2_e6_i160_o256_se0.25",
        ),
        "stem_channels": 24,
        "resolution": 384,
        "dropout": 0.2,
    },
    "efficientnetv2-m": {
        "blocks": (
            "r3_k3_s1_e1_i24_o24_c1",
            "r5_k3_s2_e4_i24_o48_c1",
            "r5_k3_s2_e4_i48_o80_c1",
            "r7_k3_s2_e4_i80_o160_se0.25",
            "r14_k3_s1_e6_i160_o176_se0.25",
            "r18_k3_s2_e6_i176_o304_se0.25",
            "r5_k3_s1_e6_i304_o512_se0.25",
        ),
        "stem_channels": 24,
        "resolution": 480,
        "dropout": 0.3,
    },
    "efficientnetv2-l": {
        "blocks": (
            "r4_k3_s1_e1_i32_o32_c1",
            "r7_k3_s2_e4_i32_o64_c1",
            "r7_k3_s2_e4_i64_o96_c1",
            "r10_k3_s2_e4_i96_o192_se0.25",
            "r19_k3_s1_e6_i192_o224_se0.25",
            "r25_k3_s2_e6_i224_o384_se0.25",
            "r7_k3_s1_e6_i384_o640_se0.25",
        ),
        "stem_channels": 32,
        "resolution": 480,
        "dropout": 0.4,
    },
    # The base of V2's B0-B3 (automl's efficientnetv2-b0, timm's tf_efficientnetv2_b0);
    # its first stage is a plain conv3x3-BN-SiLU, which is a fused block with e1.
    "efficientnetv2-b0": {
        "blocks": (
            "r1_k3_s1_e1_i32_o16_c1",
            "r2_k3_s2_e4_i16_o32_c1",
            "r2_k3_s2_e4_i32_o48_c1",
            "r3_k3_s2_e4_i48_o96_se0.25",
            "r5_k3_s1_e6_i96_o112_se0.25",
            "r8_k3_s2_e6_i112_o192_se0.25",
        ),
        "dropout": 0.2,
    },
}
for _name in ("efficientnetv2-s", "efficientnetv2-m", "efficientnetv2-l", "efficientnetv2-b0"):
    _DATA[_name]["activation"] = "swish"

_COMMON = {"stem_channels": 32, "head_channels": 1280, "resolution": 224, "num_classes": 1000}

BASE_ARCHITECTURES: MappingProxyType[str, NetworkSpec] = MappingProxyType(
    {name: NetworkSpec.from_dict({"name": name, **_COMMON, **data}) for name, data in _DATA.items()}
)


def base_architecture(name: str) -> NetworkSpec:
    """An unscaled reference architecture by name."""
    try:
        return BASE_ARCHITECTURES[name]
    except KeyError:
        known = ", ".join(BASE_ARCHITECTURES)
        raise SpecError(f"unknown architecture {name!r}; known: {known}") from None

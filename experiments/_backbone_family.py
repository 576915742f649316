"""cnas family for backbones that are not specs (ResNet, a user's module:function).

Their members are built models, so FLOPs come from fvcore's multiply-add count
(conv + linear) and parameters from PyTorch; no spec files are written.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from search_spaces import round_resolution

__all__ = ["backbone_family", "is_backbone_name"]


def is_backbone_name(text: str) -> bool:
    """ResNets and module:function targets; everything else is a preset or a spec file."""
    return text.startswith("resnet") or (":" in text and not text.endswith(".json"))


def backbone_family(
    args: argparse.Namespace, coefficients: Any, phis: tuple[int, ...]
) -> tuple[str, list[dict[str, Any]]]:
    """(title, rows) of a compound family of a non-spec backbone."""
    from experiments._common import load_spec
    from nas import load_backbone

    backbone = load_backbone(args.spec, spec_loader=load_spec)
    shape = {"num_classes": 1000, "in_channels": 3}
    base = backbone.base_resolution

    def flops_at(width: float, depth: float, resolution: int) -> int:
        return backbone.flops(width_mult=width, depth_mult=depth, resolution=resolution, **shape)

    base_flops = flops_at(1.0, 1.0, base)
    rows = []
    for phi in phis:
        depth, width, res_mult = coefficients.factors(phi)
        resolution = round_resolution(base * res_mult) if phi else base
        if args.match_flops is not None and phi:
            resolution = _matching_resolution(
                lambda r, w=width, d=depth: flops_at(w, d, r), args.match_flops**phi * base_flops
            )
        print(f"counting {backbone.name}-phi{phi} at {resolution} px ...", file=sys.stderr)
        flops = flops_at(width, depth, resolution)
        rows.append(
            {
                "name": f"{backbone.name}-phi{phi}",
                "phi": phi,
                "width_mult": round(width, 6),
                "depth_mult": round(depth, 6),
                "resolution": resolution,
                "params": backbone.params(width_mult=width, depth_mult=depth, **shape),
                "flops": flops,
                "flop_ratio": round(flops / base_flops, 4),
                "nominal_flop_ratio": round(coefficients.flops_base**phi, 4),
                "flops_source": "fvcore conv+linear",
            }
        )
    title = (
        f"{backbone.name} scaled by alpha={coefficients.alpha:g}, beta={coefficients.beta:g}, "
        f"gamma={coefficients.gamma:g}; FLOPs counted by fvcore on each built model"
    )
    return title, rows


def _matching_resolution(flops_at: Any, target: float, divisor: int = 4) -> int:
    """Smallest-gap multiple of ``divisor``; FLOPs rise with resolution, so bisect."""
    low, high = 1, 1
    while flops_at(high * divisor) < target and high < 1024:
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        if flops_at(middle * divisor) < target:
            low = middle
        else:
            high = middle
    gaps = {k: abs(flops_at(k * divisor) - target) for k in {low, high}}
    return min(gaps, key=gaps.__getitem__) * divisor

"""Any MBConv spec as a backbone: scaled by ``scale_network``, counted analytically."""

from __future__ import annotations

import dataclasses
from typing import Any

from torch import nn

from nas.models._backbone import Backbone, BackboneError, check_arguments, check_count
from nas.models._builder import build_model
from scaling import scale_network, with_repeats
from search_spaces import NetworkSpec, count_flops, count_params, is_int

__all__ = ["SpecBackbone"]


class SpecBackbone(Backbone):
    """An MBConv spec scaled by ``scale_network``; counts are the exact analytic ones."""

    def __init__(self, spec: NetworkSpec) -> None:
        if not isinstance(spec, NetworkSpec):
            raise BackboneError(f"SpecBackbone needs a NetworkSpec, got {type(spec).__name__}")
        self.spec = spec
        self.name = spec.name
        self.base_resolution = spec.resolution

    def identity(self) -> dict[str, Any]:
        # Two specs may share a name (every search writes "baseline.json"); not a fingerprint.
        return {"backbone": self.name, "backbone_fingerprint": self.spec.fingerprint()}

    def scaled_spec(
        self,
        *,
        width_mult: float,
        depth_mult: float,
        num_classes: int,
        in_channels: int,
        resolution: int | None = None,
        repeats: tuple[int, ...] | None = None,
    ) -> NetworkSpec:
        """The spec at these multipliers (resolution only changes the spec's own field).

        ``repeats`` sets the blocks of each stage instead of ``depth_mult``'s per-stage
        ceil (how ``scaling.match_flops`` places blocks to hit a FLOP target).
        """
        check_arguments(
            width_mult=width_mult,
            depth_mult=depth_mult,
            num_classes=num_classes,
            in_channels=in_channels,
        )
        spec = dataclasses.replace(self.spec, num_classes=num_classes, in_channels=in_channels)
        scaled = scale_network(
            spec,
            width_mult=width_mult,
            depth_mult=depth_mult,
            resolution=self.spec.resolution if resolution is None else resolution,
        )
        if repeats is None:
            return scaled
        if len(repeats) != len(scaled.stages) or not all(is_int(r) and r >= 1 for r in repeats):
            raise BackboneError(
                f"repeats must be {len(scaled.stages)} whole numbers >= 1 (one per stage), "
                f"got {repeats!r}"
            )
        return with_repeats(scaled, tuple(repeats))

    def build(
        self,
        *,
        width_mult: float,
        depth_mult: float,
        num_classes: int,
        in_channels: int,
        repeats: tuple[int, ...] | None = None,
    ) -> nn.Module:
        return build_model(
            self.scaled_spec(
                width_mult=width_mult,
                depth_mult=depth_mult,
                num_classes=num_classes,
                in_channels=in_channels,
                repeats=repeats,
            )
        )

    def flops(
        self,
        *,
        width_mult: float,
        depth_mult: float,
        resolution: int,
        num_classes: int,
        in_channels: int,
        repeats: tuple[int, ...] | None = None,
    ) -> int:
        check_count("resolution", resolution)
        spec = self.scaled_spec(
            width_mult=width_mult,
            depth_mult=depth_mult,
            num_classes=num_classes,
            in_channels=in_channels,
            repeats=repeats,
        )
        if resolution < spec.total_stride:
            raise BackboneError(
                f"resolution {resolution} is smaller than {spec.name}'s total stride "
                f"{spec.total_stride}; use a resolution >= {spec.total_stride}"
            )
        # At the resolution as given: the caller decides how it is rounded.
        return count_flops(spec, resolution)

    def params(
        self,
        *,
        width_mult: float,
        depth_mult: float,
        num_classes: int,
        in_channels: int,
        repeats: tuple[int, ...] | None = None,
    ) -> int:
        return count_params(
            self.scaled_spec(
                width_mult=width_mult,
                depth_mult=depth_mult,
                num_classes=num_classes,
                in_channels=in_channels,
                repeats=repeats,
            )
        )

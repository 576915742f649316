"""Scaled families B0..BN from a published table or from compound coefficients."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from scaling._compound import CompoundCoefficients, ScalingError, scale_network
from scaling._tables import ScalingTable
from search_spaces import NetworkSpec, count_flops, count_params
from search_spaces._rounding import round_resolution

__all__ = ["FamilyMember", "family_from_coefficients", "family_from_table"]


@dataclass(frozen=True)
class FamilyMember:
    name: str
    phi: int | None
    width_mult: float
    depth_mult: float
    resolution: int
    params: int
    flops: int  # conv + linear multiply-adds at ``resolution``
    flop_ratio: float  # actual FLOPs / the phi = 0 member's, after all rounding
    nominal_flop_ratio: float  # depth * width^2 * resolution^2 before rounding
    spec: NetworkSpec
    reference_params: int | None = None  # published count, for a table's own base only

    def row(self) -> dict[str, Any]:
        """The table row: everything but the spec."""
        return {
            "name": self.name,
            "phi": self.phi,
            "width_mult": round(self.width_mult, 6),
            "depth_mult": round(self.depth_mult, 6),
            "resolution": self.resolution,
            "params": self.params,
            "flops": self.flops,
            "flop_ratio": round(self.flop_ratio, 4),
            "nominal_flop_ratio": round(self.nominal_flop_ratio, 4),
            **(
                {} if self.reference_params is None else {"reference_params": self.reference_params}
            ),
        }


def _member(
    base: NetworkSpec,
    *,
    name: str,
    phi: int | None,
    width: float,
    depth: float,
    resolution: int,
    nominal: float,
    base_flops: int,
    family: str,
    dropout: float | None = None,
    resolution_divisor: int = 4,
    reference_params: int | None = None,
) -> FamilyMember:
    spec = scale_network(
        base,
        width_mult=width,
        depth_mult=depth,
        resolution=resolution,
        name=name,
        dropout=dropout,
        resolution_divisor=resolution_divisor,
    )
    # Recorded in the spec file so a member written to disk says where it came from.
    metadata = {
        "family": family,
        "base": base.name,
        "phi": phi,
        "width_mult": width,
        "depth_mult": depth,
    }
    spec = dataclasses.replace(spec, metadata=metadata)
    flops = count_flops(spec)
    return FamilyMember(
        name=name,
        phi=phi,
        width_mult=width,
        depth_mult=depth,
        resolution=spec.resolution,
        params=count_params(spec),
        flops=flops,
        flop_ratio=flops / base_flops,
        nominal_flop_ratio=nominal,
        spec=spec,
        reference_params=reference_params,
    )


def family_from_table(
    spec: NetworkSpec, table: ScalingTable, *, phis: Iterable[int] | None = None
) -> tuple[FamilyMember, ...]:
    """Apply a published table's multipliers to ``spec``.

    Resolutions scale with the spec's own: ``spec.resolution * row / row0``,
    rounded to a multiple of 4, which reproduces the table exactly for a spec
    at the table's base resolution (224 for EfficientNet).
    """
    rows = table.rows
    if phis is not None:
        wanted = set(phis)
        rows = tuple(row for row in rows if row.phi in wanted)
        missing = sorted(wanted - {row.phi for row in rows})
        if missing:
            available = ", ".join(str(row.phi) for row in table.rows if row.phi is not None)
            raise ScalingError(f"table {table.name!r} has no phi {missing}; it has phi {available}")
    first = table.rows[0]
    own_base = spec.name == table.base
    base_flops = count_flops(
        scale_network(
            spec,
            width_mult=first.width_mult,
            depth_mult=first.depth_mult,
            resolution=spec.resolution,
        )
    )
    members = []
    for row in rows:
        res_ratio = row.resolution / table.base_resolution
        name = f"{table.prefix}{row.suffix}" if own_base else f"{spec.name}-{row.suffix}"
        members.append(
            _member(
                spec,
                name=name,
                phi=row.phi,
                width=row.width_mult,
                depth=row.depth_mult,
                resolution=round_resolution(spec.resolution * res_ratio),
                nominal=row.depth_mult
                * row.width_mult**2
                * res_ratio**2
                / (first.depth_mult * first.width_mult**2),
                base_flops=base_flops,
                family=table.name,
                dropout=row.dropout,
                reference_params=row.reference_params if own_base else None,
            )
        )
    return tuple(members)


def family_from_coefficients(
    spec: NetworkSpec,
    coefficients: CompoundCoefficients,
    *,
    phis: Iterable[int] = range(8),
    resolution_divisor: int = 4,
    match_flops: float | None = None,
) -> tuple[FamilyMember, ...]:
    """Pure compound rule: depth alpha^phi, width beta^phi, resolution gamma^phi * base.

    With ``match_flops`` (e.g. 2.0), each member's resolution is instead the multiple of
    ``resolution_divisor`` whose actual FLOPs come closest to ``match_flops ** phi`` times
    the phi = 0 member's, which undoes what channel and depth rounding did to the ratio.
    """
    phis = tuple(phis)
    if not phis:
        raise ScalingError("phis is empty; give e.g. 0-7")
    base_flops = count_flops(
        scale_network(
            spec,
            width_mult=1.0,
            depth_mult=1.0,
            resolution=spec.resolution,
            resolution_divisor=1,
        )
    )
    label = f"compound({coefficients.alpha:g},{coefficients.beta:g},{coefficients.gamma:g})"
    members = []
    for phi in phis:
        depth, width, res_mult = coefficients.factors(phi)
        resolution = spec.resolution * res_mult if phi else spec.resolution
        if match_flops is not None and phi:
            resolution = _resolution_for_flops(
                spec, width, depth, match_flops**phi * base_flops, resolution_divisor
            )
        members.append(
            _member(
                spec,
                name=f"{spec.name}-phi{phi}",
                phi=phi,
                width=width,
                depth=depth,
                resolution=resolution,
                nominal=coefficients.flops_base**phi,
                base_flops=base_flops,
                family=label,
                resolution_divisor=resolution_divisor if phi else 1,
            )
        )
    return tuple(members)


def _resolution_for_flops(
    spec: NetworkSpec, width: float, depth: float, target_flops: float, divisor: int
) -> int:
    """The multiple of ``divisor`` at which the scaled spec's FLOPs are closest to the target."""
    scaled = scale_network(spec, width_mult=width, depth_mult=depth, resolution=spec.resolution)
    low = max(divisor, -(-scaled.total_stride // divisor) * divisor)
    best, best_gap = low, math.inf
    resolution = low
    # FLOPs grow with resolution, so the scan stops once it has passed the target.
    while True:
        flops = count_flops(scaled, resolution)
        gap = abs(flops - target_flops)
        if gap < best_gap:
            best, best_gap = resolution, gap
        if flops > target_flops:
            return best
        resolution += divisor

"""Scaled families B0..BN from a published table or from compound coefficients.

Compound families work for any network: a spec (members are specs, counted
analytically) or anything else that can count itself at a width, depth and
resolution (a ResNet or a user's module, counted by fvcore in ``nas``). One loop
decides every member's multipliers and resolution for both.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from scaling._compound import CompoundCoefficients, ScalingError, scale_network
from scaling._tables import ScalingTable
from search_spaces import NetworkSpec, count_flops, count_params, round_resolution

__all__ = [
    "FamilyMember",
    "ScalableNetwork",
    "family_from_coefficients",
    "family_from_table",
    "resolution_for_flops",
]


class ScalableNetwork(Protocol):
    """A network that is not a spec, as a family sees it: a name, a base size, counts."""

    name: str
    base_resolution: int
    flops_source: str  # e.g. "fvcore conv+linear", shown beside its rows

    def flops(self, *, width_mult: float, depth_mult: float, resolution: int) -> int:
        """Conv + linear multiply-adds of one image at these multipliers."""
        ...

    def params(self, *, width_mult: float, depth_mult: float) -> int:
        """Trainable parameters at these multipliers."""
        ...


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
    spec: NetworkSpec | None  # None for a network that is not a spec
    reference_params: int | None = None  # published count, for a table's own base only
    flops_source: str | None = None  # how a non-spec member was counted

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
            **({} if self.flops_source is None else {"flops_source": self.flops_source}),
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
    return spec_member(
        spec,
        base=base,
        phi=phi,
        width=width,
        depth=depth,
        nominal=nominal,
        base_flops=base_flops,
        family=family,
        reference_params=reference_params,
    )


def spec_member(
    spec: NetworkSpec,
    *,
    base: NetworkSpec,
    phi: int | None,
    width: float,
    depth: float,
    nominal: float,
    base_flops: int,
    family: str,
    reference_params: int | None = None,
    **metadata: Any,
) -> FamilyMember:
    """``spec`` (already scaled and named) as a family member, counted analytically."""
    # Recorded in the spec file so a member written to disk says where it came from.
    spec = dataclasses.replace(
        spec,
        metadata={
            "family": family,
            "base": base.name,
            "phi": phi,
            "width_mult": width,
            "depth_mult": depth,
            **metadata,
        },
    )
    flops = count_flops(spec)
    return FamilyMember(
        name=spec.name,
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


class _SpecCounts:
    """A spec seen as a ScalableNetwork, so specs and other networks share one family loop."""

    flops_source = "analytic"

    def __init__(self, spec: NetworkSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.base_resolution = spec.resolution

    def flops(self, *, width_mult: float, depth_mult: float, resolution: int) -> int:
        scaled = scale_network(
            self.spec,
            width_mult=width_mult,
            depth_mult=depth_mult,
            resolution=self.spec.resolution,
            resolution_divisor=1,
        )
        return count_flops(scaled, resolution)

    def params(self, *, width_mult: float, depth_mult: float) -> int:
        return count_params(
            scale_network(
                self.spec,
                width_mult=width_mult,
                depth_mult=depth_mult,
                resolution=self.spec.resolution,
                resolution_divisor=1,
            )
        )


def family_from_coefficients(
    network: NetworkSpec | ScalableNetwork,
    coefficients: CompoundCoefficients,
    *,
    phis: Iterable[int] = range(8),
    resolution_divisor: int = 4,
    match_flops: float | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> tuple[FamilyMember, ...]:
    """Pure compound rule: depth alpha^phi, width beta^phi, resolution gamma^phi * base.

    ``network`` is a spec (members are specs) or a ``ScalableNetwork`` (members carry
    counts only). With ``match_flops`` (e.g. 2.0), each member's resolution is instead
    the multiple of ``resolution_divisor`` whose actual FLOPs come closest to
    ``match_flops ** phi`` times the phi = 0 member's, which undoes what channel and
    depth rounding did to the ratio. ``progress(name, resolution)`` is called before
    each member is counted (counting a built model can take seconds).
    """
    phis = tuple(phis)
    if not phis:
        raise ScalingError("phis is empty; give e.g. 0-7")
    spec = network if isinstance(network, NetworkSpec) else None
    counts: ScalableNetwork = _SpecCounts(spec) if spec is not None else network
    base = counts.base_resolution
    base_flops = counts.flops(width_mult=1.0, depth_mult=1.0, resolution=base)
    # Strides below the input size leave no feature map; a spec knows its own.
    lowest = spec.total_stride if spec is not None else 1
    label = f"compound({coefficients.alpha:g},{coefficients.beta:g},{coefficients.gamma:g})"
    members = []
    for phi in phis:
        depth, width, res_mult = coefficients.factors(phi)
        if not phi:
            resolution = base
        elif match_flops is not None:
            resolution = resolution_for_flops(
                lambda r, w=width, d=depth: counts.flops(width_mult=w, depth_mult=d, resolution=r),
                match_flops**phi * base_flops,
                divisor=resolution_divisor,
                lowest=lowest,
            )
        else:
            resolution = round_resolution(base * res_mult, resolution_divisor)
        name = f"{counts.name}-phi{phi}"
        if progress is not None:
            progress(name, resolution)
        if spec is not None:
            members.append(
                _member(
                    spec,
                    name=name,
                    phi=phi,
                    width=width,
                    depth=depth,
                    resolution=resolution,
                    nominal=coefficients.flops_base**phi,
                    base_flops=base_flops,
                    family=label,
                    resolution_divisor=1,
                )
            )
            continue
        flops = counts.flops(width_mult=width, depth_mult=depth, resolution=resolution)
        members.append(
            FamilyMember(
                name=name,
                phi=phi,
                width_mult=width,
                depth_mult=depth,
                resolution=resolution,
                params=counts.params(width_mult=width, depth_mult=depth),
                flops=flops,
                flop_ratio=flops / base_flops,
                nominal_flop_ratio=coefficients.flops_base**phi,
                spec=None,
                flops_source=counts.flops_source,
            )
        )
    return tuple(members)


_MAX_STEPS = 1024  # 4096 px at the default divisor: far past any family member


def resolution_for_flops(
    flops_at: Callable[[int], float], target: float, *, divisor: int = 4, lowest: int = 1
) -> int:
    """The multiple of ``divisor`` (>= ``lowest``) whose FLOPs come closest to ``target``.

    FLOPs never fall as the resolution grows, so bisection finds the two multiples
    around the target; a tie, or a run of equal FLOPs, goes to the lowest resolution.
    """
    low = max(1, -(-lowest // divisor))  # in steps of ``divisor``
    if flops_at(low * divisor) >= target:
        return low * divisor
    high = low
    while flops_at(high * divisor) < target and high < _MAX_STEPS:
        low, high = high, high * 2
    while high - low > 1:  # flops(low) < target <= flops(high), unless capped
        middle = (low + high) // 2
        if flops_at(middle * divisor) < target:
            low = middle
        else:
            high = middle
    below, above = flops_at(low * divisor), flops_at(high * divisor)
    if abs(above - target) < abs(below - target):
        return high * divisor
    while low > 1 and low * divisor > lowest and flops_at((low - 1) * divisor) == below:
        low -= 1
    return low * divisor

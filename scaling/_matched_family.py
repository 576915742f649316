"""A compound family whose members cost what the rule says: growth^phi real FLOPs.

The paper's rule (``family_from_coefficients``) rounds channels to 8, repeats up per
stage and the resolution to 4, so on a small network member 1 can cost 2.7x member 0
instead of 2x. Coefficients that ``cnas coefficients`` chose at equal real FLOPs are
best used the same way: each member is the coefficients' scaling moved to the nearest
one that hits the target, exactly as the grid matched its candidates (blocks placed per
stage, whole pixels, no dimension below the backbone's).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from scaling._blocks import with_repeats
from scaling._compound import CompoundCoefficients, ScalingError, scale_network
from scaling._family import FamilyMember, spec_member
from scaling._matching import match_flops, spec_scaler
from search_spaces import NetworkSpec, count_flops

__all__ = ["matched_family"]


def matched_family(
    spec: NetworkSpec,
    coefficients: CompoundCoefficients,
    *,
    phis: Iterable[int] = range(8),
    growth: float = 2.0,
    tolerance: float = 0.03,
) -> tuple[FamilyMember, ...]:
    """Members whose real FLOPs are within ``tolerance`` of ``growth**phi`` x member 0's.

    Raises ``ScalingError`` naming the first member that cannot be matched.
    """
    phis = tuple(phis)
    if not phis:
        raise ScalingError("phis is empty; give e.g. 0-7")
    if not growth > 1:
        raise ScalingError(f"the FLOP growth per phi must be > 1, got {growth}")
    flops_at, allocate = spec_scaler(spec)
    base_flops = count_flops(spec)
    label = f"compound({coefficients.alpha:g},{coefficients.beta:g},{coefficients.gamma:g})"
    members = []
    for phi in phis:
        depth, width, res_mult = coefficients.factors(phi)
        if phi == 0:
            scaled, depth, width = spec, 1.0, 1.0
        else:
            match = match_flops(
                flops_at,
                depth_mult=depth,
                width_mult=width,
                resolution=spec.resolution * res_mult,
                target=growth**phi * base_flops,
                tolerance=tolerance,
                lowest_resolution=spec.total_stride,
                allocate=allocate,
                floor=(1.0, 1.0, spec.resolution),
            )
            if not match.matched:
                raise ScalingError(
                    f"phi {phi} cannot be matched to {growth**phi:g}x the FLOPs: {match.reason}; "
                    "give a larger --match-tolerance or fewer phis"
                )
            closest = match.closest
            depth, width = closest.depth_mult, closest.width_mult
            scaled = scale_network(
                spec,
                width_mult=width,
                depth_mult=1.0 if closest.repeats is not None else depth,
                resolution=closest.resolution,
                resolution_divisor=1,
            )
            if closest.repeats is not None:
                scaled = with_repeats(scaled, closest.repeats)
        name = f"{spec.name}-phi{phi}"
        members.append(
            spec_member(
                dataclasses.replace(scaled, name=name),
                base=spec,
                phi=phi,
                width=width,
                depth=depth,
                nominal=coefficients.flops_base**phi,
                base_flops=base_flops,
                family=label,
                matched_flops=f"{growth:g}^phi",
            )
        )
    return tuple(members)

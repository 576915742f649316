"""The points of the paper's scaling claim: each way of scaling, at each phi, at equal FLOPs.

EfficientNet's Figure 3 / Table 3 scale one backbone by depth only, width only,
resolution only and by compound coefficients, and compare accuracy at the same FLOPs.
Here every point at phi has counted FLOPs within ``match_tolerance`` of ``base^phi``
times the backbone's: the single-dimension points move only their own dimension, the
compound point starts at (alpha^phi, beta^phi, gamma^phi) and moves as little as it
must (``scaling.match_flops``). phi = 0 is the backbone itself, shared by every curve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from nas.coefficients import BackboneScaler, Candidate, CandidateSet, Unmatched
from scaling import CompoundCoefficients, Scaling
from search_spaces import InputError, is_int, is_number

__all__ = ["METHODS", "CurvesConfig", "build_curve_points"]

METHODS = ("depth", "width", "resolution", "compound")
PAPER = CompoundCoefficients(1.2, 1.1, 1.15)  # EfficientNet-B0's, found on ImageNet


@dataclass(frozen=True)
class CurvesConfig:
    phis: tuple[int, ...] = (0, 1, 2, 3)
    coefficients: CompoundCoefficients = field(default=PAPER)
    base: float = 2.0  # FLOPs grow by this per unit of phi
    match_tolerance: float = 0.03
    resolution: int = 32  # the backbone's input size at phi = 0
    seeds: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.phis or any(not is_int(p) or not 0 <= p <= 8 for p in self.phis):
            raise InputError(f"phis must be whole numbers in 0..8, got {self.phis!r}")
        if len(set(self.phis)) != len(self.phis):
            raise InputError(f"phis repeat a value: {self.phis!r}")
        if not is_int(self.seeds) or self.seeds < 1:
            raise InputError(f"seeds must be a whole number >= 1, got {self.seeds!r}")
        if not is_number(self.base) or self.base <= 1:
            raise InputError(f"base must be a number > 1 (2 in the paper), got {self.base!r}")
        if not is_number(self.match_tolerance) or not 0 < self.match_tolerance < 1:
            raise InputError(
                f"match tolerance must be a fraction in (0, 1) such as 0.03, "
                f"got {self.match_tolerance!r}"
            )
        if not is_int(self.resolution) or self.resolution < 1:
            raise InputError(f"resolution must be a whole number >= 1, got {self.resolution!r}")

    def identity(self) -> dict[str, Any]:
        c = self.coefficients
        return {
            "phis": list(self.phis),
            "coefficients": [c.alpha, c.beta, c.gamma],
            "base": self.base,
            "match_tolerance": self.match_tolerance,
            "resolution": self.resolution,
            "seeds": self.seeds,
            "seed": self.seed,
        }


def _nominal(method: str, phi: int, config: CurvesConfig) -> CompoundCoefficients:
    """(depth, width, resolution) multipliers of ``method`` at ``phi``, before matching."""
    grow = config.base**phi
    if method == "depth":
        return CompoundCoefficients(grow, 1.0, 1.0)
    if method == "width":
        return CompoundCoefficients(1.0, math.sqrt(grow), 1.0)
    if method == "resolution":
        return CompoundCoefficients(1.0, 1.0, math.sqrt(grow))
    depth, width, resolution = config.coefficients.factors(phi)
    return CompoundCoefficients(depth, width, resolution)


def build_curve_points(config: CurvesConfig, scaler: BackboneScaler) -> CandidateSet:
    """phi = 0 (the backbone), then every method at every other phi, matched to FLOPs.

    A point that cannot be matched is left out and reported; a phi whose compound
    point cannot be matched is refused, since the claim cannot be tested there.
    """
    base_flops = scaler.backbone.flops(
        width_mult=1.0, depth_mult=1.0, resolution=config.resolution, **scaler.shape
    )
    unit = CompoundCoefficients(1.0, 1.0, 1.0)
    points: list[Candidate] = []
    if 0 in config.phis:
        points.append(Candidate("base", unit, config.resolution, 1.0, 1.0, phi=0))
    unmatched: list[Unmatched] = []
    for phi in sorted(p for p in config.phis if p > 0):
        target = config.base**phi * base_flops
        for method in METHODS:
            nominal = _nominal(method, phi, config)
            match = scaler.match(method, nominal, config.resolution, target, config.match_tolerance)
            if match.matched:
                points.append(_point(method, nominal, match.closest, phi))
                continue
            if method == "compound":
                raise InputError(
                    f"phi {phi} cannot be matched at {config.resolution} px: {match.reason}; "
                    "raise --match-tolerance or leave that phi out of --phis"
                )
            unmatched.append(Unmatched(method, nominal, str(match.reason), phi=phi))
    return CandidateSet(tuple(points), tuple(unmatched), None)


def _point(method: str, nominal: CompoundCoefficients, s: Scaling, phi: int) -> Candidate:
    # Curves are compared per phi, never halved: "compound" is just one more curve.
    return Candidate(method, nominal, s.resolution, s.depth_mult, s.width_mult, s.repeats, phi=phi)

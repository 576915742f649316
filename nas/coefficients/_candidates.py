"""The networks a coefficient grid compares: each grid point, matched to equal real FLOPs.

At phi = 1 every candidate should cost ``base`` times the unscaled backbone. The
nominal rule (depth ceil per stage, widths to multiples of 8, resolution rounded) can
miss that by 2x on small proxies, so by default each candidate is moved, as little as
it can be, until its counted FLOPs are within ``match_tolerance`` of the target
(``scaling.match_flops``): the resolution first, then depth (blocks placed per stage
for a spec backbone), then width. The single-dimension references move only their own
dimension. A candidate that cannot be matched is left out and reported with the
reason; two grid points that end up as the same network train once.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from nas.models import Backbone, SpecBackbone
from scaling import (
    DIMENSIONS,
    Allocate,
    CompoundCoefficients,
    FlopsAt,
    Match,
    Scaling,
    coefficient_grid,
    filter_by_actual_ratio,
    match_flops,
    single_dimension_baselines,
    spec_scaler,
)
from search_spaces import round_resolution

__all__ = [
    "REFERENCE_KINDS",
    "BackboneScaler",
    "Candidate",
    "CandidateSet",
    "Unmatched",
    "build_candidates",
]

REFERENCE_KINDS = ("base", "depth", "width", "resolution")


@dataclass(frozen=True)
class Candidate:
    """One network to train: a grid point (or reference) and the scaling it is built at."""

    kind: str  # "base", "compound", or a single dimension: "depth", "width", "resolution"
    coefficients: CompoundCoefficients  # nominal: the grid point as the paper writes it
    resolution: int
    depth_mult: float  # as built; with ``repeats``, their total over the backbone's
    width_mult: float
    repeats: tuple[int, ...] | None = None  # blocks per stage, for a matched spec backbone
    also: tuple[str, ...] = ()  # other grid points that built this same network
    phi: int = 1  # the compound coefficient it stands for (a grid is phi = 1)

    @property
    def label(self) -> str:
        c = self.coefficients
        where = "" if self.phi == 1 else f"@phi{self.phi}"
        return f"{self.kind}({c.alpha:g},{c.beta:g},{c.gamma:g}){where}"

    def build_arguments(self) -> dict[str, Any]:
        """Keyword arguments for ``Backbone.build`` / ``flops`` / ``params``."""
        arguments: dict[str, Any] = {"width_mult": self.width_mult, "depth_mult": self.depth_mult}
        if self.repeats is not None:
            arguments["repeats"] = self.repeats
        return arguments


@dataclass(frozen=True)
class Unmatched:
    kind: str
    coefficients: CompoundCoefficients
    reason: str
    phi: int = 1

    @property
    def label(self) -> str:
        c = self.coefficients
        where = "" if self.phi == 1 else f"@phi{self.phi}"
        return f"{self.kind}({c.alpha:g},{c.beta:g},{c.gamma:g}){where}"


@dataclass(frozen=True)
class CandidateSet:
    candidates: tuple[Candidate, ...]  # references first, then the grid
    unmatched: tuple[Unmatched, ...] = ()
    target_flops: float | None = None  # what matched candidates hit (None: nominal mode)


def network_key(backbone: Backbone, candidate: Candidate, shape: Mapping[str, int]) -> Any:
    """Equal for two candidates that build the same network at the same resolution
    (whatever multipliers or block placements got them there): hashable, of strings and
    ints only, so it also goes into a result key."""
    arguments = {**candidate.build_arguments(), **shape}
    if isinstance(backbone, SpecBackbone):
        return (backbone.scaled_spec(**arguments).fingerprint(), candidate.resolution)
    # Another backbone's structure is its rounded shapes; its identity names which one.
    which = json.dumps(backbone.identity(), sort_keys=True)
    return (which, repr(backbone.structure(**arguments)), candidate.resolution)


class BackboneScaler:
    """FLOPs of a backbone at (depth, width, resolution), for ``match_flops``.

    A spec backbone is counted analytically and places blocks per stage; any other is
    counted by its ``flops`` (fvcore), once per distinct network and resolution.
    """

    def __init__(self, backbone: Backbone, shape: Mapping[str, int]) -> None:
        self.backbone = backbone
        self.shape = dict(shape)
        self.allocate: Allocate | None = None
        self._cache: dict[tuple[Any, int], float] = {}
        if isinstance(backbone, SpecBackbone):
            base = backbone.scaled_spec(width_mult=1.0, depth_mult=1.0, **self.shape)
            self.flops_at: FlopsAt
            self.flops_at, self.allocate = spec_scaler(base)
            self.lowest_resolution = base.total_stride
        else:
            self.flops_at = self._counted
            self.lowest_resolution = 1

    def match(
        self,
        kind: str,
        nominal: CompoundCoefficients,
        base_resolution: int,
        target: float,
        tolerance: float,
    ) -> Match:
        """``nominal`` (depth, width, resolution multipliers) moved to ``target`` FLOPs:
        a compound scaling may move all three, a reference only its own dimension."""
        return match_flops(
            self.flops_at,
            depth_mult=nominal.alpha,
            width_mult=nominal.beta,
            resolution=base_resolution * nominal.gamma,
            target=target,
            tolerance=tolerance,
            vary=DIMENSIONS if kind == "compound" else (kind,),
            lowest_resolution=self.lowest_resolution,
            allocate=self.allocate,
            # Compound scaling grows a backbone: no dimension below the backbone's own.
            floor=(1.0, 1.0, base_resolution),
        )

    def network_key(self, candidate: Candidate) -> Any:
        return network_key(self.backbone, candidate, self.shape)

    def _counted(self, depth_mult: float, width_mult: float, resolution: int) -> float:
        multipliers = {"width_mult": width_mult, "depth_mult": depth_mult}
        key = (self.backbone.structure(**multipliers, **self.shape), resolution)
        if key not in self._cache:
            self._cache[key] = self.backbone.flops(
                **multipliers, resolution=resolution, **self.shape
            )
        return self._cache[key]


def _nominal(kind: str, coefficients: CompoundCoefficients, resolution: int, divisor: int):
    return Candidate(
        kind,
        coefficients,
        round_resolution(resolution * coefficients.gamma, divisor),
        coefficients.alpha,
        coefficients.beta,
    )


def _from(kind: str, coefficients: CompoundCoefficients, s: Scaling, phi: int = 1) -> Candidate:
    return Candidate(
        kind, coefficients, s.resolution, s.depth_mult, s.width_mult, s.repeats, phi=phi
    )


def build_candidates(
    config: Any,
    scaler: BackboneScaler,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> CandidateSet:
    """The unscaled backbone, the single-dimension references, then the grid.

    ``config`` is a ``CoefficientConfig``. With ``config.match == "actual"`` (default)
    every candidate is matched to ``config.base`` times the backbone's FLOPs; with
    ``"nominal"`` they are scaled as the paper writes it (and ``filter_actual`` may drop
    those whose real ratio is off). ``progress(done, total)`` follows the matching.
    """
    grid = coefficient_grid(
        step=config.step,
        low=config.low,
        high=config.high,
        base=config.base,
        tolerance=config.tolerance,
    )
    unit = CompoundCoefficients(1.0, 1.0, 1.0)
    references = single_dimension_baselines(config.base)
    # Through the backbone itself: it refuses a resolution below its total stride.
    base_flops = scaler.backbone.flops(
        width_mult=1.0, depth_mult=1.0, resolution=config.resolution, **scaler.shape
    )
    if config.match == "nominal":
        if config.filter_actual:

            def ratio(c: CompoundCoefficients) -> float:
                n = _nominal("compound", c, config.resolution, config.resolution_divisor)
                return scaler.flops_at(n.depth_mult, n.width_mult, n.resolution) / base_flops

            grid = filter_by_actual_ratio(grid, ratio, base=config.base, tolerance=config.tolerance)
        points = [("base", unit), *references.items(), *(("compound", c) for c in grid)]
        return CandidateSet(
            tuple(
                _nominal(kind, c, config.resolution, config.resolution_divisor)
                for kind, c in points
            )
        )
    target = config.base * base_flops
    matched: list[Candidate] = [_from("base", unit, Scaling(1.0, 1.0, config.resolution, 0))]
    unmatched: list[Unmatched] = []
    points = [*references.items(), *(("compound", c) for c in grid)]
    for done, (kind, c) in enumerate(points):
        if progress is not None:
            progress(done, len(points))
        match = scaler.match(kind, c, config.resolution, target, config.match_tolerance)
        if match.matched:
            matched.append(_from(kind, c, match.closest))
        else:
            unmatched.append(Unmatched(kind, c, str(match.reason)))
    if progress is not None:
        progress(len(points), len(points))
    return CandidateSet(_merge_aliases(matched, scaler.network_key), tuple(unmatched), target)


def _merge_aliases(
    candidates: list[Candidate], key: Callable[[Candidate], Any]
) -> tuple[Candidate, ...]:
    """One candidate per network built: a grid point that matched to a network already
    listed is noted on it (``also``) instead of training the same network again.
    References are never merged: a reference stays a reference."""
    out: list[Candidate] = []
    first: dict[tuple[Any, ...], int] = {}
    for candidate in candidates:
        if candidate.kind != "compound":
            out.append(candidate)
            continue
        index = first.setdefault(key(candidate), len(out))
        if index == len(out):
            out.append(candidate)
        else:
            out[index] = dataclasses.replace(out[index], also=(*out[index].also, candidate.label))
    return tuple(out)

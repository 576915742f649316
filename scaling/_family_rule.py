"""Which family a rule makes: a published table, the paper's arithmetic, or members
matched to real FLOPs, for a spec or for a network known only by its counts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from scaling._compound import CompoundCoefficients, ScalingError
from scaling._family import (
    FamilyMember,
    ScalableNetwork,
    family_from_coefficients,
    family_from_table,
)
from scaling._matched_family import matched_family
from scaling._tables import ScalingTable
from search_spaces import NetworkSpec

__all__ = ["FamilyRule", "scaled_family"]

Match = Literal["actual", "nominal"]


@dataclass(frozen=True)
class FamilyRule:
    """How members are sized: exactly one of ``table`` and ``coefficients``.

    With coefficients, ``match`` "actual" sizes each member to within ``tolerance`` of
    ``growth``^phi times member 0's real FLOPs; "nominal" is the paper's arithmetic,
    with ``growth`` (if given) picking only each member's resolution. ``match`` None
    means actual for a spec and nominal for a network known by its counts, which has
    no blocks to move.
    """

    table: ScalingTable | None = None
    coefficients: CompoundCoefficients | None = None
    phis: tuple[int, ...] | None = None  # None: the table's rows, or 0-7
    match: Match | None = None
    growth: float | None = None  # FLOP growth per phi; None: 2 for actual matching
    tolerance: float = 0.03  # relative FLOP error allowed by actual matching

    def __post_init__(self) -> None:
        if (self.table is None) == (self.coefficients is None):
            raise ScalingError("a family rule is a published table or compound coefficients")
        if self.table is not None and (self.match is not None or self.growth is not None):
            raise ScalingError("FLOP matching works with coefficients; a table fixes sizes")
        if self.growth is not None and not self.growth > 1:
            raise ScalingError(f"the FLOP growth per phi must be > 1, got {self.growth}")
        if self.match not in (None, "actual", "nominal"):
            raise ScalingError(f"match is actual or nominal, got {self.match!r}")

    def title(self, name: str) -> str:
        """One line naming the network and the rule, for a table or a plot."""
        if self.table is not None:
            return f"{name} scaled by the published {self.table.name} table"
        c = self.coefficients
        assert c is not None
        return (
            f"{name} scaled by alpha={c.alpha:g}, beta={c.beta:g}, gamma={c.gamma:g} "
            f"(alpha*beta^2*gamma^2 = {c.flops_base:.4g})"
        )


def scaled_family(
    network: NetworkSpec | ScalableNetwork,
    rule: FamilyRule,
    *,
    progress: Callable[[str, int], None] | None = None,
) -> tuple[FamilyMember, ...]:
    """The members ``rule`` makes of ``network``.

    Raises ``ScalingError`` for a rule the network cannot take (a table or actual
    matching for a network that is not a spec) or a member that cannot be matched.
    """
    spec = network if isinstance(network, NetworkSpec) else None
    if rule.table is not None:
        if spec is None:
            raise ScalingError(
                f"{network.name} is not a spec, so a published table cannot scale it; "
                "give compound coefficients"
            )
        return family_from_table(spec, rule.table, phis=rule.phis)
    coefficients = rule.coefficients
    assert coefficients is not None
    phis = rule.phis if rule.phis is not None else tuple(range(8))
    match = rule.match or ("actual" if spec is not None else "nominal")
    if match == "actual":
        if spec is None:
            raise ScalingError(
                f"actual FLOP matching moves blocks of a spec; {network.name} is not one: "
                "match nominally, with a FLOP growth to pick each resolution"
            )
        return matched_family(
            spec,
            coefficients,
            phis=phis,
            growth=2.0 if rule.growth is None else rule.growth,
            tolerance=rule.tolerance,
        )
    return family_from_coefficients(
        network, coefficients, phis=phis, match_flops=rule.growth, progress=progress
    )

"""Candidate compound coefficients for the phi = 1 grid search (EfficientNet section 3.3).

The paper fixes phi = 1 and grid-searches alpha, beta, gamma >= 1 under
alpha * beta^2 * gamma^2 ~= 2. This module lists the grid points that satisfy
the nominal constraint, narrows them by the FLOP ratio the rounded networks
really have, and gives the single-dimension baselines at the same budget.
Pure arithmetic: no torch here, the ratio of built networks comes in as a callable.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable

from scaling._compound import CompoundCoefficients, ScalingError
from search_spaces import is_number, is_numeric

__all__ = [
    "MAX_GRID_VALUES",
    "SINGLE_DIMENSION",
    "coefficient_grid",
    "filter_by_actual_ratio",
    "single_dimension_baselines",
]

# Products equal to base +- tolerance in exact decimal arithmetic (1.1^2 = 1.21, ...) must not
# be dropped or admitted by float noise; 1e-9 is far below any step a user would pick.
_SLACK = 1e-9

# Values per coefficient: the search is ~n^2 log n and every candidate it returns may later be
# trained, so a step that gives thousands of values is a typo, not a plan.
MAX_GRID_VALUES = 401


def _check_number(name: str, value: object) -> float:
    if not is_number(value):
        raise ScalingError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _check_target(base: object, tolerance: object) -> tuple[float, float]:
    base = _check_number("base", base)
    tolerance = _check_number("tolerance", tolerance)
    if base <= 1:
        raise ScalingError(
            f"base must be > 1 (the FLOP growth per unit of phi, 2 in the paper), got {base:g}"
        )
    if tolerance < 0:
        raise ScalingError(f"tolerance must be >= 0, got {tolerance:g}; use e.g. --tolerance 0.1")
    return base, tolerance


def _grid_values(step: float, low: float, high: float) -> tuple[float, ...]:
    count = math.floor((high - low) / step + _SLACK) + 1
    if count > MAX_GRID_VALUES:
        smallest = (high - low) / (MAX_GRID_VALUES - 1)
        raise ScalingError(
            f"step {step:g} puts {count} values between {low:g} and {high:g}; at most "
            f"{MAX_GRID_VALUES} are searched: use --step {smallest:.6g} or more"
        )
    # Rounding each value (instead of accumulating steps) keeps 1.15 from becoming 1.1500000001.
    return tuple(round(low + index * step, 10) for index in range(count))


def _describe(coefficients: CompoundCoefficients) -> str:
    return f"({coefficients.alpha!r}, {coefficients.beta!r}, {coefficients.gamma!r})"


def _needed_tolerance(value: float, base: float) -> str:
    # Round the gap up at the 6th decimal, shaving float noise first, so the printed tolerance
    # admits the candidate (the comparison itself allows _SLACK).
    gap = abs(value - base)
    return f"{math.ceil(gap * 1e6 - 1e-6) / 1e6:g}"


def coefficient_grid(
    *,
    step: float = 0.05,
    low: float = 1.0,
    high: float = 2.0,
    base: float = 2.0,
    tolerance: float = 0.1,
) -> tuple[CompoundCoefficients, ...]:
    """Every (alpha, beta, gamma) on the grid with |alpha * beta^2 * gamma^2 - base| <= tolerance.

    The grid is low, low + step, ..., high (inclusive) for each coefficient; the
    result is ordered by alpha, then beta, then gamma, ascending.
    """
    step = _check_number("step", step)
    low = _check_number("low", low)
    high = _check_number("high", high)
    base, tolerance = _check_target(base, tolerance)
    if step <= 0:
        raise ScalingError(f"step must be > 0, got {step:g}; use e.g. --step 0.05")
    if low < 1:
        raise ScalingError(f"low must be >= 1 (compound scaling only grows), got {low:g}")
    if high < low:
        raise ScalingError(f"high ({high:g}) must be >= low ({low:g}); swap them")
    values = _grid_values(step, low, high)
    squares = [value**2 for value in values]

    found: list[CompoundCoefficients] = []
    closest: tuple[float, float, float, float] | None = None  # (gap, alpha, beta, gamma)
    for alpha in values:
        for beta in values:
            partial = alpha * beta**2
            # The product grows with gamma: jump near the lower bound instead of walking there.
            # Two places early, since division and multiplication may round apart.
            start = bisect.bisect_left(squares, (base - tolerance) / partial)
            for index in range(max(0, start - 2), len(values)):
                # Same expression as CompoundCoefficients.flops_base, so both agree to the bit.
                product = partial * squares[index]
                gap = abs(product - base)
                if closest is None or gap < closest[0]:
                    closest = (gap, alpha, beta, values[index])
                if gap <= tolerance + _SLACK:
                    found.append(CompoundCoefficients(alpha, beta, values[index]))
                elif product > base:
                    break
    if not found:
        assert closest is not None  # the grid always holds at least low itself
        best = CompoundCoefficients(*closest[1:])
        raise ScalingError(
            f"no (alpha, beta, gamma) on the grid is within {tolerance:g} of {base:g}; "
            f"the closest is {_describe(best)} with alpha*beta^2*gamma^2 = "
            f"{best.flops_base:.6g}: use --tolerance {_needed_tolerance(best.flops_base, base)} "
            "or more"
        )
    return tuple(found)


def filter_by_actual_ratio(
    candidates: Iterable[CompoundCoefficients],
    actual_ratio: Callable[[CompoundCoefficients], float],
    *,
    base: float,
    tolerance: float,
) -> tuple[CompoundCoefficients, ...]:
    """The candidates whose real FLOP ratio (rounded network / base network) is near ``base``.

    Rounding widths to multiples of 8, repeats up and the resolution to a
    multiple of 4 moves the real ratio away from alpha * beta^2 * gamma^2;
    ``actual_ratio`` measures it (e.g. count_flops of the scaled spec over the
    base's). Order is kept.
    """
    base, tolerance = _check_target(base, tolerance)
    candidates = tuple(candidates)
    if not candidates:
        raise ScalingError("no candidates to filter; widen the grid (--tolerance, --step)")
    kept: list[CompoundCoefficients] = []
    closest: tuple[float, CompoundCoefficients, float] | None = None  # (gap, candidate, ratio)
    for candidate in candidates:
        ratio = actual_ratio(candidate)
        if not is_numeric(ratio):
            raise ScalingError(
                f"the FLOP ratio of {_describe(candidate)} must be a number, got {ratio!r}"
            )
        if not math.isfinite(ratio) or ratio <= 0:
            raise ScalingError(
                f"the FLOP ratio of {_describe(candidate)} must be a finite number > 0, got {ratio}"
            )
        gap = abs(ratio - base)
        if closest is None or gap < closest[0]:
            closest = (gap, candidate, ratio)
        if gap <= tolerance + _SLACK:
            kept.append(candidate)
    if not kept:
        assert closest is not None
        _, best, ratio = closest
        raise ScalingError(
            f"no candidate's actual FLOP ratio (after rounding) is within {tolerance:g} of "
            f"{base:g}; the closest is {_describe(best)} with actual ratio {ratio:.6g} "
            f"(nominal {best.flops_base:.6g}): use --tolerance {_needed_tolerance(ratio, base)} "
            "or more"
        )
    return tuple(kept)


def single_dimension_baselines(base: float = 2.0) -> dict[str, CompoundCoefficients]:
    """Scale one dimension only, at the nominal FLOP budget of phi = 1 (paper Fig. 3, Table 3).

    FLOPs grow linearly with depth and quadratically with width and
    resolution, so each baseline multiplies FLOPs by ``base`` on its own.
    """
    base, _ = _check_target(base, 0.0)
    root = math.sqrt(base)
    return {
        "depth": CompoundCoefficients(base, 1.0, 1.0),
        "width": CompoundCoefficients(1.0, root, 1.0),
        "resolution": CompoundCoefficients(1.0, 1.0, root),
    }


SINGLE_DIMENSION: dict[str, CompoundCoefficients] = single_dimension_baselines(2.0)

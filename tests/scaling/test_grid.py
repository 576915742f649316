import itertools
import math
import re
from fractions import Fraction

import pytest

from scaling._compound import CompoundCoefficients, ScalingError
from scaling._grid import (
    MAX_GRID_VALUES,
    SINGLE_DIMENSION,
    coefficient_grid,
    filter_by_actual_ratio,
    single_dimension_baselines,
)

# len(coefficient_grid()) with the defaults (step 0.05 over [1, 2], base 2, tolerance 0.1);
# printed once and cross-checked by the exact brute force in test_grid_size_matches_brute_force.
DEFAULT_GRID_SIZE = 109


def brute_force_count(*, step: str, low: str, high: str, base: str, tolerance: str) -> int:
    """Grid points within tolerance, in exact integer arithmetic on hundredths."""
    step_i, low_i, high_i = (int(Fraction(text) * 100) for text in (step, low, high))
    values = range(low_i, high_i + 1, step_i)
    scale = 100**5  # alpha * beta^2 * gamma^2 on hundredths carries five factors of 100
    target, slack = Fraction(base) * scale, Fraction(tolerance) * scale
    return sum(
        abs(a * b * b * g * g - target) <= slack for a, b, g in itertools.product(values, repeat=3)
    )


@pytest.mark.parametrize(
    ("step", "low", "high", "base", "tolerance"),
    [
        ("0.05", "1", "2", "2", "0.1"),
        ("0.1", "1", "2", "2", "0.05"),
        ("0.05", "1", "2", "2", "0.01"),
        ("0.05", "1", "1.5", "1.5", "0.02"),
        ("0.1", "1", "2", "3", "0.2"),
    ],
)
def test_grid_size_matches_brute_force(step, low, high, base, tolerance):
    grid = coefficient_grid(
        step=float(step),
        low=float(low),
        high=float(high),
        base=float(base),
        tolerance=float(tolerance),
    )
    expected = brute_force_count(step=step, low=low, high=high, base=base, tolerance=tolerance)
    assert len(grid) == expected


def test_default_grid_size_is_pinned():
    assert len(coefficient_grid()) == DEFAULT_GRID_SIZE
    assert (
        brute_force_count(step="0.05", low="1", high="2", base="2", tolerance="0.1")
        == DEFAULT_GRID_SIZE
    )


def test_every_candidate_satisfies_the_constraint():
    for base, tolerance in [(2.0, 0.1), (2.0, 0.01), (1.5, 0.05)]:
        for candidate in coefficient_grid(base=base, tolerance=tolerance):
            assert abs(candidate.flops_base - base) <= tolerance + 1e-9
            assert min(candidate.alpha, candidate.beta, candidate.gamma) >= 1


def test_values_have_no_float_drift():
    grid = coefficient_grid()
    values = {c.alpha for c in grid} | {c.beta for c in grid} | {c.gamma for c in grid}
    assert values <= {round(1 + index * 0.05, 10) for index in range(21)}
    assert all(len(repr(value)) <= 4 for value in values)  # 1.15, never 1.1500000000000001


def test_the_papers_coefficients_are_in_the_default_grid():
    paper = CompoundCoefficients(1.2, 1.1, 1.15)
    assert paper.flops_base == pytest.approx(1.92, abs=1e-3)
    assert paper in coefficient_grid()


def test_high_is_inclusive():
    # (2, 1, 1) is the last point of [1, 2] and meets base 2 exactly.
    assert coefficient_grid()[-1] == CompoundCoefficients(2.0, 1.0, 1.0)


def test_order_is_alpha_then_beta_then_gamma():
    grid = coefficient_grid(step=0.1, tolerance=0.2)
    keys = [(c.alpha, c.beta, c.gamma) for c in grid]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)


def test_zero_tolerance_keeps_only_exact_products():
    # On hundredths, only points whose product is exactly 2 survive.
    grid = coefficient_grid(tolerance=0.0)
    assert CompoundCoefficients(2.0, 1.0, 1.0) in grid
    assert len(grid) == brute_force_count(step="0.05", low="1", high="2", base="2", tolerance="0")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"step": 0}, "step must be > 0"),
        ({"step": -0.05}, "step must be > 0"),
        ({"low": 0.9}, "low must be >= 1"),
        ({"low": 1.5, "high": 1.2}, "high (1.2) must be >= low (1.5)"),
        ({"base": 1.0}, "base must be > 1"),
        ({"tolerance": -0.1}, "tolerance must be >= 0"),
        ({"step": float("nan")}, "step must be a finite number"),
        ({"base": "2"}, "base must be a finite number"),
        ({"step": 0.001}, f"at most {MAX_GRID_VALUES} are searched"),
    ],
)
def test_validation_errors(kwargs, message):
    with pytest.raises(ScalingError, match=re.escape(message)):
        coefficient_grid(**kwargs)


def test_no_candidate_names_the_closest_and_the_tolerance_to_use():
    # Values 1.0 and 1.4 only: the best product is 1.4^2 = 1.96.
    with pytest.raises(ScalingError) as info:
        coefficient_grid(step=0.4, high=1.4, tolerance=0.001)
    assert str(info.value) == (
        "no (alpha, beta, gamma) on the grid is within 0.001 of 2; the closest is "
        "(1.0, 1.0, 1.4) with alpha*beta^2*gamma^2 = 1.96: use --tolerance 0.04 or more"
    )
    # The suggested tolerance really admits it.
    assert CompoundCoefficients(1.0, 1.0, 1.4) in coefficient_grid(
        step=0.4, high=1.4, tolerance=0.04
    )


def test_filter_by_actual_ratio_keeps_order_and_uses_the_callable():
    candidates = coefficient_grid(step=0.1, tolerance=0.1)
    # A fake "after rounding" ratio: beta rounds up, so it inflates the nominal product.
    calls = []

    def ratio(c):
        calls.append(c)
        return c.flops_base * (1.1 if c.beta > 1.2 else 1.0)

    kept = filter_by_actual_ratio(candidates, ratio, base=2.0, tolerance=0.1)
    assert calls == list(candidates)
    assert kept == tuple(c for c in candidates if abs(ratio(c) - 2.0) <= 0.1 + 1e-9)
    assert all(c.beta <= 1.2 for c in kept)
    assert 0 < len(kept) < len(candidates)


def test_filter_by_actual_ratio_names_the_closest_by_actual_ratio():
    candidates = (CompoundCoefficients(1.2, 1.1, 1.15), CompoundCoefficients(2.0, 1.0, 1.0))
    ratios = {candidates[0]: 2.3, candidates[1]: 2.5}
    with pytest.raises(ScalingError) as info:
        filter_by_actual_ratio(candidates, ratios.__getitem__, base=2.0, tolerance=0.1)
    assert str(info.value) == (
        "no candidate's actual FLOP ratio (after rounding) is within 0.1 of 2; the closest is "
        "(1.2, 1.1, 1.15) with actual ratio 2.3 (nominal 1.92027): use --tolerance 0.3 or more"
    )
    assert filter_by_actual_ratio(candidates, ratios.__getitem__, base=2.0, tolerance=0.3) == (
        candidates[0],
    )


@pytest.mark.parametrize(
    ("candidates", "ratio", "kwargs", "message"),
    [
        ((), lambda c: 2.0, {}, "no candidates to filter"),
        ((CompoundCoefficients(2, 1, 1),), lambda c: float("inf"), {}, "the FLOP ratio of"),
        ((CompoundCoefficients(2, 1, 1),), lambda c: "2", {}, "the FLOP ratio of"),
        ((CompoundCoefficients(2, 1, 1),), lambda c: 2.0, {"tolerance": -1}, "tolerance must"),
        ((CompoundCoefficients(2, 1, 1),), lambda c: 2.0, {"base": 0.5}, "base must be > 1"),
    ],
)
def test_filter_by_actual_ratio_validation(candidates, ratio, kwargs, message):
    arguments = {"base": 2.0, "tolerance": 0.1, **kwargs}
    with pytest.raises(ScalingError, match="^" + message):
        filter_by_actual_ratio(candidates, ratio, **arguments)


@pytest.mark.parametrize("base", [2.0, 1.5, 3.0])
def test_single_dimension_baselines_have_the_same_nominal_budget(base):
    baselines = single_dimension_baselines(base)
    assert set(baselines) == {"depth", "width", "resolution"}
    for coefficients in baselines.values():
        assert coefficients.flops_base == pytest.approx(base)
    assert baselines["depth"] == CompoundCoefficients(base, 1, 1)
    assert baselines["width"].alpha == baselines["width"].gamma == 1
    assert baselines["resolution"].alpha == baselines["resolution"].beta == 1
    assert baselines["resolution"].gamma == pytest.approx(math.sqrt(base))


def test_single_dimension_constant_is_the_base_2_baselines():
    assert single_dimension_baselines() == SINGLE_DIMENSION
    with pytest.raises(ScalingError, match=r"^base must be > 1"):
        single_dimension_baselines(1.0)


def test_grid_module_does_not_import_torch():
    import ast
    from pathlib import Path

    import scaling._grid as grid

    tree = ast.parse(Path(grid.__file__).read_text(encoding="utf-8"))
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(name.split(".")[0] == "torch" for name in imported)

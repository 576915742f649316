"""Pure math over specs: rounding rules, compound factors, tables, families."""

from scaling._compound import (
    MAX_PHI,
    CompoundCoefficients,
    ScalingError,
    parse_coefficients,
    parse_phis,
    read_coefficients_file,
    scale_network,
)
from scaling._family import FamilyMember, family_from_coefficients, family_from_table
from scaling._grid import (
    SINGLE_DIMENSION,
    coefficient_grid,
    filter_by_actual_ratio,
    single_dimension_baselines,
)
from scaling._presets import preset, preset_names
from scaling._tables import TABLES, ScalingTable, TableRow
from search_spaces._rounding import round_filters, round_repeats, round_resolution

__all__ = [
    "MAX_PHI",
    "SINGLE_DIMENSION",
    "TABLES",
    "CompoundCoefficients",
    "FamilyMember",
    "ScalingError",
    "ScalingTable",
    "TableRow",
    "coefficient_grid",
    "family_from_coefficients",
    "family_from_table",
    "filter_by_actual_ratio",
    "parse_coefficients",
    "parse_phis",
    "preset",
    "preset_names",
    "read_coefficients_file",
    "round_filters",
    "round_repeats",
    "round_resolution",
    "scale_network",
    "single_dimension_baselines",
]

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
from scaling._presets import preset, preset_names
from scaling._tables import TABLES, ScalingTable, TableRow
from search_spaces._rounding import round_filters, round_repeats, round_resolution

__all__ = [
    "MAX_PHI",
    "TABLES",
    "CompoundCoefficients",
    "FamilyMember",
    "ScalingError",
    "ScalingTable",
    "TableRow",
    "family_from_coefficients",
    "family_from_table",
    "parse_coefficients",
    "parse_phis",
    "preset",
    "preset_names",
    "read_coefficients_file",
    "round_filters",
    "round_repeats",
    "round_resolution",
    "scale_network",
]

"""Pure math over specs: rounding rules, compound factors, tables, families."""

from scaling._blocks import allocate_blocks, with_repeats
from scaling._compound import (
    MAX_PHI,
    CompoundCoefficients,
    ScalingError,
    parse_coefficients,
    parse_phis,
    read_coefficients_file,
    scale_network,
)
from scaling._family import (
    FamilyMember,
    ScalableNetwork,
    family_from_coefficients,
    family_from_table,
    resolution_for_flops,
)
from scaling._family_rule import FamilyRule, scaled_family
from scaling._grid import (
    SINGLE_DIMENSION,
    coefficient_grid,
    filter_by_actual_ratio,
    single_dimension_baselines,
)
from scaling._matched_family import matched_family
from scaling._matching import (
    DIMENSIONS,
    Allocate,
    FlopsAt,
    Match,
    Scaling,
    match_flops,
    spec_scaler,
)
from scaling._presets import load_spec, preset, preset_names
from scaling._proxy import SMALL_INPUT_BELOW, search_proxy, skeleton_for
from scaling._tables import TABLES, ScalingTable, TableRow
from search_spaces import round_filters, round_repeats, round_resolution

__all__ = [
    "DIMENSIONS",
    "MAX_PHI",
    "SINGLE_DIMENSION",
    "SMALL_INPUT_BELOW",
    "TABLES",
    "Allocate",
    "CompoundCoefficients",
    "FamilyMember",
    "FamilyRule",
    "FlopsAt",
    "Match",
    "ScalableNetwork",
    "Scaling",
    "ScalingError",
    "ScalingTable",
    "TableRow",
    "allocate_blocks",
    "coefficient_grid",
    "family_from_coefficients",
    "family_from_table",
    "filter_by_actual_ratio",
    "load_spec",
    "match_flops",
    "matched_family",
    "parse_coefficients",
    "parse_phis",
    "preset",
    "preset_names",
    "read_coefficients_file",
    "resolution_for_flops",
    "round_filters",
    "round_repeats",
    "round_resolution",
    "scale_network",
    "scaled_family",
    "search_proxy",
    "single_dimension_baselines",
    "skeleton_for",
    "spec_scaler",
    "with_repeats",
]

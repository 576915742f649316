"""Architecture specs: frozen, validated data that never imports torch."""

from search_spaces._architectures import BASE_ARCHITECTURES, base_architecture
from search_spaces._checks import is_int, is_number, is_numeric
from search_spaces._counting import (
    PartCount,
    count_by_part,
    count_flops,
    count_params,
    feature_size,
)
from search_spaces._files import write_atomic, write_text_atomic
from search_spaces._mbconv_space import (
    CHOICE_FIELDS,
    CONV_OPS,
    SKELETONS,
    MBConvSpace,
    StageChoices,
    skeleton,
)
from search_spaces._memory import (
    BYTES,
    MemoryPeak,
    peak_memory,
    peak_memory_by_part,
    peak_memory_by_stage,
)
from search_spaces._network import ACTIVATIONS, NetworkSpec
from search_spaces._part_shapes import PART_KINDS, PartShape, network_parts, space_parts
from search_spaces._rounding import round_filters, round_repeats, round_resolution
from search_spaces._stage import InputError, SpecError, StageSpec

__all__ = [
    "ACTIVATIONS",
    "BASE_ARCHITECTURES",
    "BYTES",
    "CHOICE_FIELDS",
    "CONV_OPS",
    "PART_KINDS",
    "SKELETONS",
    "InputError",
    "MBConvSpace",
    "MemoryPeak",
    "NetworkSpec",
    "PartCount",
    "PartShape",
    "SpecError",
    "StageChoices",
    "StageSpec",
    "base_architecture",
    "count_by_part",
    "count_flops",
    "count_params",
    "feature_size",
    "is_int",
    "is_number",
    "is_numeric",
    "network_parts",
    "peak_memory",
    "peak_memory_by_part",
    "peak_memory_by_stage",
    "round_filters",
    "round_repeats",
    "round_resolution",
    "skeleton",
    "space_parts",
    "write_atomic",
    "write_text_atomic",
]

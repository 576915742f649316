"""Peak activation memory, counted by hand on a network small enough to follow."""

from __future__ import annotations

from search_spaces import (
    NetworkSpec,
    count_by_part,
    peak_memory,
    peak_memory_by_part,
    peak_memory_by_stage,
)


def tiny(block: str) -> NetworkSpec:
    return NetworkSpec.from_dict({
        "name": "tiny", "blocks": [block], "stem_channels": 8, "head_channels": 16,
        "resolution": 4, "num_classes": 2, "in_channels": 1, "stem_stride": 1,
    })  # fmt: skip


def test_a_residual_block_keeps_its_input_alive_to_the_add():
    # 4x4 maps: the block input 8 x 16 = 128 elements, the expanded maps 16 x 16 = 256.
    # Expansion's batch norm: the input (kept for the add) + conv output + bn output.
    peak = peak_memory(tiny("r1_k3_s11_e2_i8_o8"))
    assert (peak.elements, peak.part, peak.operation) == (128 + 256 + 256, "stage 0 block 0", "bn")
    assert peak.bytes("float32") == 640 * 4 and peak.bytes("int8") == 640


def test_without_the_shortcut_the_input_is_freed_after_the_expansion():
    # Depthwise: expanded input + conv output, nothing kept for an add.
    peak = peak_memory(tiny("r1_k3_s11_e2_i8_o8_noskip"))
    assert peak.elements == 256 + 256


def test_squeeze_excitation_holds_the_map_its_gate_multiplies():
    # At the multiply: the block input (for the add), the activated depthwise map, the
    # gate (16) and the product: 128 + 256 + 16 + 256.
    peak = peak_memory(tiny("r1_k3_s11_e2_i8_o8_se0.25"))
    assert peak.elements == 128 + 256 + 16 + 256 and peak.operation == "se multiply"


def test_parts_are_in_execution_order_and_the_largest_is_the_peak():
    spec = tiny("r1_k3_s11_e2_i8_o8")
    parts = peak_memory_by_part(spec)
    assert list(parts) == ["stem", "stage 0 block 0", "head"]
    # The stem's batch norm: conv output + bn output (the image is freed after the conv).
    assert parts["stem"].elements == 256
    # The head's conv1x1 to 16 channels: its input, conv output, then bn output.
    assert parts["head"].elements == 256 + 256
    assert max(p.elements for p in parts.values()) == peak_memory(spec).elements


def test_stages_line_up_with_the_counts_parts():
    spec = NetworkSpec.from_dict({
        "name": "two", "blocks": ["r2_k3_s11_e2_i8_o8", "r1_k3_s22_e2_i8_o16"],
        "stem_channels": 8, "head_channels": 16, "resolution": 8, "num_classes": 2,
        "in_channels": 1, "stem_stride": 1,
    })  # fmt: skip
    stages = peak_memory_by_stage(spec)
    assert len(stages) == len(count_by_part(spec)) == 4
    by_block = peak_memory_by_part(spec)
    assert stages[1].elements == max(
        by_block["stage 0 block 0"].elements, by_block["stage 0 block 1"].elements
    )

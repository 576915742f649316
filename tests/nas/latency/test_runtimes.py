"""The int8 runtime times the part onnxruntime quantized, as the int8 export writes it."""

from __future__ import annotations

import math

import onnx
import torch

from nas.latency import DEFAULT_RUNTIMES, RUNTIMES, _runtimes, measure_module
from nas.models import build_part
from search_spaces import PartShape

BLOCK = PartShape(
    kind="block", in_channels=16, out_channels=24, size=16, activation="swish",
    kernel=3, stride=2, expand_ratio=4, se_ratio=0.25,
)  # fmt: skip


def test_int8_is_a_runtime_a_table_times_only_when_asked():
    assert "onnxruntime-int8" in RUNTIMES and "onnxruntime-int8" not in DEFAULT_RUNTIMES


def test_an_int8_part_is_quantized_and_timed(monkeypatch):
    sessions = []
    real = _runtimes._quantized

    def watched(model, example):
        quantized = real(model, example)
        sessions.append(quantized)
        return quantized

    monkeypatch.setattr(_runtimes, "_quantized", watched)
    example = torch.randn(1, 16, 16, 16)
    times = measure_module(build_part(BLOCK), example, runtime="onnxruntime-int8", runs=5)
    assert len(times) == 5 and all(math.isfinite(t) and t > 0 for t in times)
    (model,) = sessions
    ops = {node.op_type for node in onnx.load_from_string(model).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops

"""int8 by onnxruntime's static quantization, checked against the float32 model.

Static (not dynamic) quantization: activations get their int8 ranges from calibration
images once, so the runtime computes the convolutions in int8, which is what a device
without a float unit runs. QDQ format, weights per channel (a depthwise conv's channels
differ too much for one scale). The check: the int8 model runs, and its top-1 agrees
with the float32 model's on more than half of the validation images (the count is
reported: on a trained network it is nearly all of them).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CALIBRATION_BATCH", "int8_accuracy", "quantize_int8", "quantize_static_int8"]

CALIBRATION_BATCH = 32


def quantize_static_int8(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    batches: Iterator[dict[str, np.ndarray]],
) -> None:
    """onnxruntime's static int8 quantization of ``source`` into ``target``, its
    activation ranges from ``batches`` (input name -> array): QDQ, per-channel weights."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class _Batches(CalibrationDataReader):
        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(batches, None)

    quantize_static(
        str(source),
        str(target),
        _Batches(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
    )


def quantize_int8(
    float_path: str | os.PathLike[str],
    int8_path: str | os.PathLike[str],
    calibration: np.ndarray,
    validation: np.ndarray,
) -> tuple[int, int]:
    """Write ``float_path``'s model quantized to ``int8_path``; (images whose top-1
    agrees with float32, images compared) on ``validation``."""
    import onnxruntime
    from onnxruntime.quantization.shape_inference import quant_pre_process

    batches = iter(
        {"images": calibration[start : start + CALIBRATION_BATCH]}
        for start in range(0, len(calibration), CALIBRATION_BATCH)
    )
    with tempfile.TemporaryDirectory(dir=Path(int8_path).parent) as scratch:
        prepared = Path(scratch) / "prepared.onnx"
        # Shapes and constant folding first, as onnxruntime advises before quantizing.
        quant_pre_process(str(float_path), str(prepared), skip_symbolic_shape=True)
        quantize_static_int8(prepared, int8_path, batches)
    options = {"providers": ["CPUExecutionProvider"]}
    reference = onnxruntime.InferenceSession(str(float_path), **options)
    quantized = onnxruntime.InferenceSession(str(int8_path), **options)
    agree = 0
    for start in range(0, len(validation), 256):
        batch = {"images": validation[start : start + 256]}
        expected = reference.run(None, batch)[0].argmax(axis=1)
        agree += int((quantized.run(None, batch)[0].argmax(axis=1) == expected).sum())
    return agree, len(validation)


def int8_accuracy(
    spec: Any,
    weights: str | os.PathLike[str],
    calibration: np.ndarray,
    images: np.ndarray,
    labels: np.ndarray,
) -> float:
    """Top-1 accuracy on ``images`` of ``spec`` with ``weights``, quantized to int8 as
    ``cnas export --quantize int8`` does it (calibrated on ``calibration``)."""
    import onnxruntime

    from nas.models._export import export_network

    with tempfile.TemporaryDirectory() as scratch:
        float_path = Path(scratch) / "float.onnx"
        int8_path = Path(scratch) / "int8.onnx"
        export_network(spec, float_path, weights=weights)
        quantize_int8(float_path, int8_path, calibration, images[:1])
        session = onnxruntime.InferenceSession(str(int8_path), providers=["CPUExecutionProvider"])
        correct = 0
        for start in range(0, len(images), 256):
            logits = session.run(None, {"images": images[start : start + 256]})[0]
            correct += int((logits.argmax(axis=1) == labels[start : start + 256]).sum())
    return correct / len(images)

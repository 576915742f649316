"""int8 by onnxruntime: a trained network quantized keeps its top-1 on nearly every image."""

from __future__ import annotations

import onnx
import onnxruntime
import pytest

from nas import TrainingConfig, TrainingEvaluator, load_data
from nas.models import ExportError, export_network
from scaling import search_proxy

SPEC = search_proxy(resolution=16, in_channels=1, num_classes=10, width_mult=0.5, depth_mult=0.5)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    data = load_data("digits", resolution=16, max_samples=600, seed=0)
    weights = tmp_path_factory.mktemp("int8") / "weights.safetensors"
    evaluator = TrainingEvaluator(data=data, config=TrainingConfig(epochs=2, threads=1))
    accuracy = evaluator.evaluate(SPEC, seed=0, weights_to=weights).accuracy
    assert accuracy > 0.6  # trained: its logits separate the classes
    return data, weights


def test_a_trained_network_in_int8_agrees_with_float32_on_nearly_every_image(tmp_path, trained):
    data, weights = trained
    out = tmp_path / "net.int8.onnx"
    result = export_network(
        SPEC, out, weights=weights, quantize="int8",
        calibration=data.train.tensors[0][:128], validation=data.valid.tensors[0],
    )  # fmt: skip
    agree, compared = result.int8_agreement
    assert compared == len(data.valid.tensors[0]) and agree >= 0.9 * compared
    session = onnxruntime.InferenceSession(str(out))
    ops = {node.op_type for node in onnx.load(str(out)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops  # QDQ: int8 tensors between ops
    assert session.run(None, {"images": data.valid.tensors[0][:4].numpy()})[0].shape == (4, 10)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.int8.onnx"]


def test_int8_without_images_or_for_another_format_is_refused(tmp_path, trained):
    data, weights = trained
    with pytest.raises(ExportError, match="int8 needs calibration images"):
        export_network(SPEC, tmp_path / "a.onnx", weights=weights, quantize="int8")
    with pytest.raises(ExportError, match="use --format onnx with it"):
        export_network(
            SPEC, tmp_path / "a.pt", format="torchscript", quantize="int8",
            calibration=data.train.tensors[0][:8], validation=data.valid.tensors[0][:8],
        )  # fmt: skip
    assert list(tmp_path.iterdir()) == []

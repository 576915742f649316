"""Export to ONNX and TorchScript: files a runtime loads, outputs that match PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nas.models import ExportError, build_model, export_network
from scaling import scale_network
from search_spaces import skeleton

onnxruntime = pytest.importorskip("onnxruntime")

SPEC = scale_network(
    skeleton("small-input", in_channels=1, num_classes=10, resolution=16),
    width_mult=0.5,
    depth_mult=0.5,
    resolution=16,
    resolution_divisor=1,
)


def test_an_onnx_file_runs_in_onnxruntime_like_the_model_with_those_weights(tmp_path):
    # Weights of our own (trained weights stand-in), saved as a state dict.
    torch.manual_seed(3)
    model = build_model(SPEC)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(8, 1, 16, 16))  # real batch-norm statistics
    model.eval()
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    result = export_network(SPEC, tmp_path / "net.onnx", weights=tmp_path / "weights.pt")
    assert result.passed and result.output_scale > 1e-3
    # Another batch size than the check's: the batch axis is dynamic.
    images = torch.randn(5, 1, 16, 16)
    session = onnxruntime.InferenceSession(str(tmp_path / "net.onnx"))
    (got,) = session.run(None, {"images": images.numpy()})
    with torch.no_grad():
        expected = model(images).numpy()
    assert got.shape == (5, 10)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4 * np.abs(expected).max())
    # One self-contained file (no weights in a sidecar): it runs wherever it is moved.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.onnx", "weights.pt"]
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    (tmp_path / "net.onnx").rename(moved / "net.onnx")
    session = onnxruntime.InferenceSession(str(moved / "net.onnx"))
    assert session.run(None, {"images": images.numpy()})[0].shape == (5, 10)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # PyTorch deprecates torch.jit.load
def test_torchscript_loads_back_and_matches(tmp_path):
    result = export_network(SPEC, tmp_path / "net.pt", format="torchscript")
    assert result.passed and result.output_scale > 1e-3  # outputs of a real scale
    loaded = torch.jit.load(str(tmp_path / "net.pt"))
    assert loaded(torch.randn(3, 1, 16, 16)).shape == (3, 10)


def test_bad_weights_an_unwritable_path_and_a_bad_format_write_nothing(tmp_path):
    other = scale_network(SPEC, width_mult=2.0, depth_mult=1.0, resolution=16)
    torch.save(build_model(other).state_dict(), tmp_path / "other.pt")
    with pytest.raises(ExportError, match="do not fit this spec"):
        export_network(SPEC, tmp_path / "a.onnx", weights=tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a state dict")
    with pytest.raises(ExportError, match="cannot read weights"):
        export_network(SPEC, tmp_path / "b.onnx", weights=tmp_path / "junk.pt")
    with pytest.raises(ExportError, match="not a writable directory"):
        export_network(SPEC, tmp_path / "absent" / "c.onnx")
    with pytest.raises(ExportError, match="unknown format"):
        export_network(SPEC, tmp_path / "d.tflite", format="tflite")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.pt", "other.pt"]

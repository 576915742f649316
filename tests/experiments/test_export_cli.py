"""cnas export and cnas family --export: checked model files, one-line errors."""

from __future__ import annotations

import json

import pytest

from experiments.cli import main

onnxruntime = pytest.importorskip("onnxruntime")


def cnas(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_export_a_preset_at_a_small_resolution(tmp_path, capsys):
    out = tmp_path / "b0.onnx"
    code, stdout, _ = cnas(
        capsys, "export", "efficientnet-b0", "--resolution", "64", "--out", str(out), "--json"
    )
    assert code == 0
    document = json.loads(stdout)
    assert document["passed"] and document["max_abs_difference"] <= document["tolerance"]
    session = onnxruntime.InferenceSession(str(out))
    assert session.get_inputs()[0].shape[1:] == [3, 64, 64]


def test_a_family_exported_to_onnx_runs_member_by_member(tmp_path, capsys):
    import numpy as np

    out = tmp_path / "fam"
    code, stdout, _ = cnas(
        capsys, "family", "efficientnet-b0", "--table", "efficientnet", "--phis", "0-1",
        "--out", str(out), "--export", "onnx",
    )  # fmt: skip
    assert code == 0 and "2 onnx models" in stdout
    models = sorted(out.glob("*.onnx"))
    assert len(models) == 2
    for path in models:
        spec = json.loads(path.with_suffix(".json").read_text())
        session = onnxruntime.InferenceSession(str(path))
        size = spec["resolution"]
        (logits,) = session.run(None, {"images": np.zeros((1, 3, size, size), np.float32)})
        assert logits.shape == (1, 1000)


def test_export_as_a_timm_directory_says_how_to_load_it(tmp_path, capsys):
    pytest.importorskip("timm")
    out = tmp_path / "lite0"
    code, stdout, _ = cnas(capsys, "export", "efficientnet-lite0", "--format", "timm",
                           "--resolution", "64", "--out", str(out))  # fmt: skip
    assert code == 0 and f"python {out / 'load_with_timm.py'} {out}" in stdout
    written = {p.name for p in out.iterdir()} - {"commands.jsonl"}  # the command log
    assert written == {"config.json", "load_with_timm.py", "model.safetensors"}
    assert json.loads((out / "config.json").read_text())["timm_model"]["name"] == (
        "efficientnet_lite0"
    )


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["export", "no-such-net", "--out", "{tmp}/a.onnx"], "no-such-net"),
        (["export", "efficientnet-b0", "--out", "{tmp}/missing/a.onnx"], "--out"),
        (["family", "efficientnet-b0", "--table", "efficientnet", "--export", "onnx"], "--out DIR"),
        (
            ["export", "efficientnet-b0", "--quantize", "int8", "--out", "{tmp}/q.onnx"],
            "give --data",
        ),
        (
            ["export", "efficientnet-b0", "--data", "digits", "--out", "{tmp}/q.onnx"],
            "--data does nothing here: it calibrates --quantize int8",
        ),
        (
            [
                "export",
                "efficientnet-b0",
                "--quantize",
                "int8",
                "--data",
                "digits",
                "--out",
                "{tmp}/q.onnx",
            ],
            "--data digits has 1-channel images; the network takes 3",
        ),
        (
            [
                "export",
                "efficientnet-b0",
                "--format",
                "timm",
                "--out",
                "{tmp}/w",
                "--weights",
                "{tmp}/none.safetensors",
            ],
            "weights {tmp}/none.safetensors do not exist",
        ),
    ],
)
def test_bad_export_input_is_one_line_and_writes_nothing(tmp_path, capsys, argv, says):
    code, _, err = cnas(capsys, *[a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert code == 2 and says.replace("{tmp}", str(tmp_path)) in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []

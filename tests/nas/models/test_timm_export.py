"""Export as a timm model: timm's own EfficientNet, loaded by the written script, gives our
outputs; what timm cannot build is refused and nothing is written."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file, save_file

from nas.models import ExportError, build_model, export_network
from nas.models._timm import timm_arch_def
from scaling import preset, search_proxy
from search_spaces import MBConvSpace, NetworkSpec, StageChoices

timm = pytest.importorskip("timm")


def trained_like(spec: NetworkSpec, seed: int = 0) -> torch.nn.Module:
    """Initialised weights with real batch-norm statistics and non-trivial affine terms."""
    torch.manual_seed(seed)
    model = build_model(spec)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
        model.train()
        size = min(spec.resolution, 64)
        for _ in range(2):
            model(torch.randn(4, spec.in_channels, size, size))
    return model.eval()


def load_exported(directory):
    sys.path.insert(0, str(directory))
    try:
        import load_with_timm

        del sys.modules["load_with_timm"]  # each directory's own script
        return load_with_timm.load(directory).eval()
    finally:
        sys.path.remove(str(directory))


def assert_same_outputs(spec, model, directory, size):
    images = torch.randn(
        3, spec.in_channels, size, size, generator=torch.Generator().manual_seed(1)
    )
    with torch.no_grad():
        expected, got = model(images), load_exported(directory)(images)
    assert got.shape == expected.shape
    assert float((got - expected).abs().max()) <= 1e-5 * float(expected.abs().max())


@pytest.mark.parametrize("name", ["efficientnet-b0", "efficientnetv2-s", "mnasnet-a1"])
def test_a_preset_loads_in_timm_with_our_outputs_and_timms_own_entrypoint(tmp_path, name):
    spec = preset(name)
    model = trained_like(spec)
    save_file(model.state_dict(), str(tmp_path / "weights.safetensors"))
    out = tmp_path / "timm"
    result = export_network(spec, out, format="timm", weights=tmp_path / "weights.safetensors")
    assert result.passed and result.max_abs_difference <= 1e-5 * result.output_scale
    assert_same_outputs(spec, model, out, 64)  # at another size than the check's
    config = json.loads((out / "config.json").read_text())
    entry = config["timm_model"]
    created = timm.create_model(entry["name"], **entry["kwargs"])
    created.load_state_dict(load_file(str(out / "model.safetensors")))  # strict: every name
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(created.eval()(images), model(images), rtol=0, atol=1e-5)


SMALL = search_proxy(resolution=32, in_channels=3, num_classes=10, width_mult=0.5, depth_mult=0.5)
SEARCHED = {
    "se-on": StageChoices(se_ratios=(0.25,), skips=(True,)),
    "se-off": StageChoices(se_ratios=(0.0,), skips=(True,)),
    "noskip": StageChoices(skips=(False,)),
    "fused": StageChoices(convs=("fused",), expand_ratios=(1, 4), se_ratios=(0.0, 0.25)),
}


@pytest.mark.parametrize("kind", SEARCHED)
def test_a_searched_small_input_network_loads_in_timm_with_our_outputs(tmp_path, kind):
    space = MBConvSpace.uniform(SMALL, SEARCHED[kind])
    for index, spec in enumerate(space.sample_distinct(3, seed=7)):
        model = trained_like(spec, seed=index)
        torch.save(model.state_dict(), tmp_path / f"{index}.pt")
        out = tmp_path / f"net{index}"
        export_network(spec, out, format="timm", weights=tmp_path / f"{index}.pt")
        assert_same_outputs(spec, model, out, 32)
        config = json.loads((out / "config.json").read_text())
        assert config["stem_stride"] == 1 and config["timm_model"] is None
    blocks = [b for stages in timm_arch_def(spec) for b in stages]
    expected = {"noskip": "noskip", "fused": "_k", "se-on": "_se0.25"}.get(kind)
    if expected:
        assert any(expected in block for block in blocks)


def test_block_strings_name_each_kind_of_stage():
    spec = NetworkSpec.from_dict({
        "name": "kinds", "stem_channels": 16, "head_channels": 64, "resolution": 32,
        "num_classes": 10, "stem_stride": 1,
        "blocks": ["r1_k3_s11_e1_i16_o16_se0.25", "r2_k5_s22_e6_i16_o24_noskip",
                   "r1_k3_s11_e1_i24_o24_c1", "r2_k3_s22_e4_i24_o32_se0.25_c1"],
    })  # fmt: skip
    assert timm_arch_def(spec) == [
        ["ds_r1_k3_s1_c16_se0.25"],
        ["ir_r2_k5_s2_e6_c24_noskip"],
        ["cn_r1_k3_s1_c24_skip"],
        ["er_r2_k3_s2_e4_c32_se0.25"],
    ]


def test_the_loader_script_runs_alone_and_imports_nothing_of_ours(tmp_path):
    out = tmp_path / "b0"
    export_network(preset("efficientnet-lite0"), out, format="timm")
    source = (out / "load_with_timm.py").read_text()
    modules = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    assert modules <= {"__future__", "functools", "json", "sys", "pathlib", "torch",
                       "safetensors", "timm"}  # fmt: skip
    done = subprocess.run(
        [sys.executable, str(out / "load_with_timm.py"), str(out)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "EfficientNet with 4,652,008 parameters" in done.stdout


def test_a_spec_timm_cannot_express_is_refused_naming_the_tensor(tmp_path):
    # Expansion 3 of 12 channels is 36; timm rounds every expanded width to a multiple of 8.
    spec = NetworkSpec.from_dict({
        "name": "odd", "stem_channels": 12, "head_channels": 64, "resolution": 32,
        "num_classes": 10, "stem_stride": 1, "blocks": ["r1_k3_s11_e3_i12_o16"],
    })  # fmt: skip
    with pytest.raises(ExportError, match=r"timm builds blocks\.0\.0\.conv_pw\.weight as"):
        export_network(spec, tmp_path / "out", format="timm")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    with pytest.raises(ExportError, match="exists and is not an empty directory"):
        export_network(preset("efficientnet-lite0"), tmp_path / "taken", format="timm")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_weights_of_another_network_are_refused_in_either_format(tmp_path):
    other = search_proxy(resolution=32, in_channels=3, num_classes=10)
    save_file(build_model(other).state_dict(), str(tmp_path / "other.safetensors"))
    with pytest.raises(ExportError, match="do not fit this spec"):
        export_network(
            SMALL, tmp_path / "out", format="timm", weights=tmp_path / "other.safetensors"
        )
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 16)
    with pytest.raises(ExportError, match="cannot read weights"):
        export_network(
            SMALL, tmp_path / "out", format="timm", weights=tmp_path / "junk.safetensors"
        )
    assert not (tmp_path / "out").exists()

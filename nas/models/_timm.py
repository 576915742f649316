"""A spec's network as timm's EfficientNet: block strings, keyword arguments, weights.

timm builds MBConv networks from block strings (``ir_r2_k3_s2_e6_c24_se0.25``); a spec
maps onto them stage by stage: MBConv with expansion 1 is timm's ``ds`` block, with more
``ir``; Fused-MBConv with expansion 1 is ``cn`` (conv-bn-act), with more ``er``. The
weights are ours under timm's names: both networks register the same tensors in the
same order, so they are paired in order and every pair's shape checked, and the export
is kept only when timm's network gives our outputs. What timm builds differently (an
SE width it rounds another way, a width it rounds to 8) is refused in one line.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from nas.models._export import ExportError, ExportResult, compare
from search_spaces import NetworkSpec, StageSpec

__all__ = ["TIMM_MODELS", "timm_arch_def", "timm_config", "write_timm"]

# Presets timm also builds, with the same padding (timm's tf_ models pad like TF and
# would not give our outputs): timm.create_model(name, **kwargs) takes the weights.
TIMM_MODELS: dict[str, str] = {
    **{f"efficientnet-b{i}": f"efficientnet_b{i}" for i in range(9)},
    **{f"efficientnet-lite{i}": f"efficientnet_lite{i}" for i in range(5)},
    **{f"efficientnetv2-{size}": f"efficientnetv2_{size}" for size in "sml"},
    "mnasnet-a1": "semnasnet_100",
    "mnasnet-b1": "mnasnet_100",
    "mobilenetv2": "mobilenetv2_100",
}
_ACTIVATIONS = {"swish": "swish", "relu": "relu", "relu6": "relu6"}
# Within this share of the output scale: the same PyTorch kernels on the same weights.
TIMM_TOLERANCE = 1e-5
LOADER = "load_with_timm.py"


def _block_string(stage: StageSpec) -> str:
    expands = stage.expand_ratio > 1
    kind = ("er" if expands else "cn") if stage.fused else ("ir" if expands else "ds")
    parts = [kind, f"r{stage.repeats}", f"k{stage.kernel}", f"s{stage.stride}"]
    if expands:
        parts.append(f"e{stage.expand_ratio}")
    parts.append(f"c{stage.out_channels}")
    if stage.se_ratio and kind != "cn":  # a fused block without expansion has no SE
        parts.append(f"se{stage.se_ratio:g}")
    if kind == "cn":
        if stage.skip:
            parts.append("skip")  # timm's conv-bn-act adds a shortcut only when asked
    elif not stage.skip:
        parts.append("noskip")
    return "_".join(parts)


def timm_arch_def(spec: NetworkSpec) -> list[list[str]]:
    """One timm block string per stage."""
    return [[_block_string(stage)] for stage in spec.stages]


def timm_config(spec: NetworkSpec) -> dict[str, Any]:
    """What ``load_with_timm.py`` builds from: blocks, EfficientNet's arguments, the stem."""
    kwargs = {
        "num_classes": spec.num_classes,
        "num_features": spec.head_channels,
        "in_chans": spec.in_channels,
        "stem_size": spec.stem_channels,
        "act_layer": _ACTIVATIONS[spec.activation],
        "bn_eps": spec.bn_eps,
        "bn_momentum": spec.bn_momentum,
        "drop_rate": spec.dropout,
        "drop_path_rate": spec.drop_connect_rate,
    }
    config: dict[str, Any] = {
        "name": spec.name,
        "arch_def": timm_arch_def(spec),
        "efficientnet_kwargs": kwargs,
        "stem_stride": spec.stem_stride,
        "resolution": spec.resolution,
        "timm_model": None,
    }
    entrypoint = TIMM_MODELS.get(spec.name)
    if entrypoint is not None and spec.stem_stride == 2:
        config["timm_model"] = {
            "name": entrypoint,
            "kwargs": {
                "num_classes": spec.num_classes,
                "in_chans": spec.in_channels,
                "bn_eps": spec.bn_eps,
                "bn_momentum": spec.bn_momentum,
                "drop_rate": spec.dropout,
                "drop_path_rate": spec.drop_connect_rate,
            },
        }
    return config


def _loader_source() -> str:
    return resources.files("nas.models").joinpath("_timm_loader.py").read_text(encoding="utf-8")


def _timm_state(model: torch.nn.Module, timm_model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Our tensors under timm's names, paired in registration order, shapes checked."""
    ours, theirs = model.state_dict(), timm_model.state_dict()
    if len(ours) != len(theirs):
        raise ExportError(
            f"timm's network holds {len(theirs)} tensors where ours holds {len(ours)}: "
            "timm cannot express this spec"
        )
    state = {}
    for (our_name, tensor), (name, target) in zip(ours.items(), theirs.items(), strict=True):
        if tensor.shape != target.shape:
            raise ExportError(
                f"timm builds {name} as {tuple(target.shape)} where ours ({our_name}) is "
                f"{tuple(tensor.shape)}: timm cannot express this spec (it rounds SE and "
                "expanded widths its own way)"
            )
        state[name] = tensor.detach().clone().contiguous()
    return state


def write_timm(
    spec: NetworkSpec,
    model: torch.nn.Module,
    check: torch.Tensor,
    expected: torch.Tensor,
    target: Path,
) -> ExportResult:
    """Write ``target``/model.safetensors, config.json and load_with_timm.py, kept only
    when timm's network, loaded by that script, gives ``model``'s outputs."""
    try:
        import safetensors.torch  # noqa: F401
        import timm  # noqa: F401
    except ImportError:
        raise ExportError("--format timm needs timm and safetensors: pip install timm") from None
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ExportError(f"--out {target} exists and is not an empty directory")
    from safetensors.torch import save_file

    from nas.models import _timm_loader

    config = timm_config(spec)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        try:
            timm_model = _timm_loader.build(config)
        except (AssertionError, ValueError, KeyError, RuntimeError) as error:
            raise ExportError(f"timm cannot build this spec: {error}") from None
        save_file(_timm_state(model, timm_model), str(scratch / "model.safetensors"))
        (scratch / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        (scratch / LOADER).write_text(_loader_source(), encoding="utf-8")
        loaded = _timm_loader.load(scratch).eval()  # the very script the user gets
        with torch.no_grad():
            got = loaded(check)
        result = compare(target, "timm", got, expected, relative=TIMM_TOLERANCE)
        if target.exists():
            target.rmdir()  # empty, checked above
        os.replace(scratch, target)
        return result
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

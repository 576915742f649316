"""A spec's network as a file a runtime loads: ONNX (checked with onnxruntime) or TorchScript.

Every export is checked before it is kept: the file is loaded back by the runtime it
is for and its outputs on random input are compared with PyTorch's. The file is written
to a temporary name beside the target and renamed only when the check passes, so a
failed export leaves nothing behind.

A freshly built network in eval mode has batch-norm statistics of zero mean and unit
variance, under which activations shrink layer by layer to ~1e-14 at the logits; a
comparison at that scale would pass for any file. Without weights, the statistics are
therefore first set from two random batches (weights untouched), so the check compares
outputs of a real scale.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nas.models._builder import build_model
from search_spaces import InputError, NetworkSpec, write_atomic

__all__ = [
    "EXPORT_FORMATS",
    "ExportError",
    "ExportResult",
    "checked_model",
    "compare",
    "export_network",
    "read_weights",
    "save_weights",
]

EXPORT_FORMATS = ("onnx", "torchscript", "timm")
# float32 through ~100 layers in two runtimes: differences of a few 1e-6 of the output
# scale are rounding; a wrong graph is off by the output scale itself.
RELATIVE_TOLERANCE = 1e-4


class ExportError(InputError):
    """The network cannot be exported or checked as asked; the message says why."""


@dataclass(frozen=True)
class ExportResult:
    path: Path
    format: str
    max_abs_difference: float  # exported runtime vs PyTorch, on the check batch
    output_scale: float  # max |output| of PyTorch on that batch
    tolerance: float  # RELATIVE_TOLERANCE x output_scale
    # int8: (validation images whose top-1 agrees with float32, images compared)
    int8_agreement: tuple[int, int] | None = None

    @property
    def passed(self) -> bool:
        return self.max_abs_difference <= self.tolerance


def export_network(
    spec: NetworkSpec,
    path: str | os.PathLike[str],
    *,
    format: str = "onnx",
    weights: str | os.PathLike[str] | None = None,
    seed: int = 0,
    quantize: str | None = None,
    calibration: torch.Tensor | None = None,
    validation: torch.Tensor | None = None,
) -> ExportResult:
    """Build ``spec``, load ``weights`` (a state dict: .safetensors or .pt) if given,
    export and check it. For ``timm``, ``path`` is the directory to write.

    ``quantize="int8"`` (ONNX only) writes the model quantized by onnxruntime, its
    activation ranges calibrated on ``calibration`` images, kept only when its top-1
    agrees with float32's on most ``validation`` images (``int8_agreement``).
    """
    if format not in EXPORT_FORMATS:
        raise ExportError(f"unknown format {format!r}: choose {', '.join(EXPORT_FORMATS)}")
    if quantize not in (None, "int8"):
        raise ExportError(f"unknown quantization {quantize!r}: int8 is the one there is")
    if quantize and format != "onnx":
        raise ExportError("int8 quantization is by onnxruntime: use --format onnx with it")
    if quantize and (calibration is None or validation is None or not len(calibration)):
        raise ExportError(
            "int8 needs calibration images for its activation ranges: give --data "
            "(the images the network is for)"
        )
    target = Path(path)
    if not target.parent.is_dir() or not os.access(target.parent, os.W_OK):
        raise ExportError(f"cannot write {target}: {target.parent} is not a writable directory")
    model, check, expected = checked_model(spec, weights, seed)
    if format == "timm":
        from nas.models._timm import write_timm

        return write_timm(spec, model, check, expected, target)
    handle, scratch = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)
    try:
        if format == "onnx":
            got = _onnx(model, check, scratch)
        else:
            got = _torchscript(model, check, scratch)
        result = compare(target, format, got, expected)
        if quantize:
            assert calibration is not None and validation is not None
            result = _quantized(scratch, target, result, calibration, validation)
        else:
            os.replace(scratch, target)
        return result
    finally:
        if os.path.exists(scratch):
            os.unlink(scratch)


def _quantized(
    float_path: str,
    target: Path,
    result: ExportResult,
    calibration: torch.Tensor,
    validation: torch.Tensor,
) -> ExportResult:
    from nas.models._quantize import quantize_int8

    handle, scratch = tempfile.mkstemp(prefix=f".{target.name}.int8.", dir=target.parent)
    os.close(handle)
    try:
        agree, compared = quantize_int8(
            float_path,
            scratch,
            calibration.numpy().astype(np.float32),
            validation.numpy().astype(np.float32),
        )
        if 2 * agree <= compared:
            raise ExportError(
                f"the int8 model's top-1 agrees with float32's on only {agree} of {compared} "
                "validation images; nothing was written (an untrained network's logits are "
                "too close for int8: give --weights)"
            )
        os.replace(scratch, target)
    finally:
        if os.path.exists(scratch):
            os.unlink(scratch)
    return dataclasses.replace(result, int8_agreement=(agree, compared))


def checked_model(
    spec: NetworkSpec, weights: str | os.PathLike[str] | None, seed: int
) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """(the model in eval mode, a random check batch, its outputs on that batch)."""
    generator = torch.Generator().manual_seed(seed)
    shape = (2, spec.in_channels, spec.resolution, spec.resolution)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(spec)
    if weights is not None:
        _load_weights(model, Path(weights))
    check = torch.randn(shape, generator=generator)
    try:
        if weights is None:
            _set_batch_norm_statistics(model, shape, generator)
        model.eval()
        with torch.no_grad():
            expected = model(check)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[0]
        raise ExportError(f"{spec.name!r} does not run at {spec.resolution} px: {first}") from None
    return model, check, expected


def compare(
    target: Path,
    format: str,
    got: torch.Tensor,
    expected: torch.Tensor,
    *,
    relative: float = RELATIVE_TOLERANCE,
) -> ExportResult:
    """The check's result; raises ``ExportError`` (nothing kept) where outputs differ."""
    difference = float((got - expected).abs().max())
    scale = float(expected.abs().max())
    result = ExportResult(target, format, difference, scale, max(relative * scale, 1e-6))
    if not math.isfinite(difference) or not result.passed:
        raise ExportError(
            f"the {format} export does not match PyTorch: "
            f"outputs differ by {difference:.3g} (tolerance {result.tolerance:.3g}); "
            "nothing was written"
        )
    return result


def save_weights(model: torch.nn.Module, path: str | os.PathLike[str]) -> None:
    """``model``'s state dict as safetensors at ``path``, atomically (CPU, contiguous:
    a channels-last or GPU model saves the same file)."""
    from safetensors.torch import save_file

    state = {
        name: tensor.detach().to("cpu", copy=True).contiguous()
        for name, tensor in model.state_dict().items()
    }
    write_atomic(path, lambda tmp: save_file(state, str(tmp)))


def read_weights(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """A state dict from ``.safetensors`` or a ``.pt`` file (tensors only: no code runs)."""
    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ExportError(f"weights {path} do not exist") from None
    except Exception as error:  # a damaged or foreign file: both readers raise many kinds
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ExportError(f"cannot read weights {path}: {first}") from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ExportError(f"weights {path} hold no state dict")
    return state


def _load_weights(model: torch.nn.Module, path: Path) -> None:
    state = read_weights(path)
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError) as error:
        first = str(error).strip().splitlines()[0]
        raise ExportError(f"weights {path} do not fit this spec: {first}") from None


def _set_batch_norm_statistics(
    model: torch.nn.Module, shape: tuple[int, ...], generator: torch.Generator
) -> None:
    model.eval()  # dropout and drop-connect off: only the statistics change
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # a cumulative average over the batches below
            module.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(shape, generator=generator))


def _onnx(model: torch.nn.Module, check: torch.Tensor, path: str) -> torch.Tensor:
    try:
        import onnxruntime
    except ImportError:
        raise ExportError("ONNX export needs onnxruntime: pip install onnxruntime") from None
    # The torch.export-based exporter (PyTorch's default; the TorchScript one is
    # deprecated), with a batch axis of any size.
    torch.onnx.export(
        model,
        (check,),
        path,
        dynamo=True,
        input_names=["images"],
        output_names=["logits"],
        dynamic_shapes=({0: torch.export.Dim("batch", min=1)},),
        # One self-contained file: by default the weights go to a sidecar named after the
        # temporary file, which the renamed model would still point at.
        external_data=False,
        verbose=False,
        report=False,
    )
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"images": check.numpy()})
    return torch.from_numpy(out)


def _torchscript(model: torch.nn.Module, check: torch.Tensor, path: str) -> torch.Tensor:
    # PyTorch 2.14 deprecates TorchScript in favour of torch.export; it is still what
    # LibTorch (C++) and older mobile runtimes load, so it is offered, its warning hushed.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        traced = torch.jit.trace(model, (check,), check_trace=False)
        traced.save(path)
        loaded = torch.jit.load(path, map_location="cpu")
    with torch.no_grad():
        return loaded(check)

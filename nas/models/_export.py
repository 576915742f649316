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

import math
import os
import pickle
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from nas.models._builder import build_model
from search_spaces import InputError, NetworkSpec

__all__ = ["EXPORT_FORMATS", "ExportError", "ExportResult", "export_network"]

EXPORT_FORMATS = ("onnx", "torchscript")
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
) -> ExportResult:
    """Build ``spec``, load ``weights`` (a state dict) if given, export and check it."""
    if format not in EXPORT_FORMATS:
        raise ExportError(f"unknown format {format!r}: choose {' or '.join(EXPORT_FORMATS)}")
    target = Path(path)
    if not target.parent.is_dir() or not os.access(target.parent, os.W_OK):
        raise ExportError(f"cannot write {target}: {target.parent} is not a writable directory")
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
    handle, scratch = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)
    try:
        if format == "onnx":
            got = _onnx(model, check, scratch)
        else:
            got = _torchscript(model, check, scratch)
        difference = float((got - expected).abs().max())
        scale = float(expected.abs().max())
        result = ExportResult(
            target, format, difference, scale, max(RELATIVE_TOLERANCE * scale, 1e-6)
        )
        if not math.isfinite(difference) or not result.passed:
            raise ExportError(
                f"the {format} export of {spec.name!r} does not match PyTorch: outputs differ "
                f"by {difference:.3g} (tolerance {result.tolerance:.3g}); nothing was written"
            )
        os.replace(scratch, target)
        return result
    finally:
        if os.path.exists(scratch):
            os.unlink(scratch)


def _load_weights(model: torch.nn.Module, path: Path) -> None:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ExportError(f"cannot read weights {path}: {first}") from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
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

"""Batch-1 inference time of one module on PyTorch eager or on onnxruntime, on the CPU.

Every runtime gets the same thread count, set for the measurement only. onnxruntime
runs the module exported to ONNX in memory, with its default graph optimisations
(batch norm folded into the conv before it, as a deployment would run it), one
intra-op thread pool of ``threads`` and sequential execution. ``onnxruntime-int8`` runs
it after onnxruntime's static int8 quantization (QDQ, per-channel weights, as
``cnas export --quantize int8`` writes it), calibrated on random inputs: the time of
int8 kernels does not depend on the ranges, only the accuracy does.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from nas.models import build_model, measure_latency, time_calls
from search_spaces import NetworkSpec

__all__ = ["DEFAULT_RUNTIMES", "RUNTIMES", "measure_module", "measure_network"]

RUNTIMES: tuple[str, ...] = ("torch", "onnxruntime", "onnxruntime-int8")
# What a table times unless told: int8 quantizes every part (about a second each).
DEFAULT_RUNTIMES: tuple[str, ...] = ("torch", "onnxruntime")
CALIBRATION_BATCHES = 4  # random inputs that set an int8 part's activation ranges


def _quantized(model: bytes, example: torch.Tensor) -> bytes:
    import tempfile
    from pathlib import Path

    from nas.models import quantize_static_int8

    generator = torch.Generator().manual_seed(0)
    batches = iter(
        [
            {"x": torch.randn(example.shape, generator=generator).numpy()}
            for _ in range(CALIBRATION_BATCHES)
        ]
    )
    with tempfile.TemporaryDirectory() as scratch:
        source, target = Path(scratch) / "float.onnx", Path(scratch) / "int8.onnx"
        source.write_bytes(model)
        quantize_static_int8(source, target, batches)
        return target.read_bytes()


def _onnx_session(
    module: nn.Module, example: torch.Tensor, threads: int, *, int8: bool = False
) -> Callable[[], object]:
    import onnxruntime as ort

    buffer = io.BytesIO()
    # The TorchScript-based exporter: about 20 ms a part, where torch.export's takes 1-2 s,
    # and a table has a thousand parts or more. Both give the same operators for these
    # layers (conv, batch norm, SiLU, pooling, gemm), which is all the timing depends on.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, (example,), buffer, dynamo=False, input_names=["x"], output_names=["y"]
        )
    model = buffer.getvalue()
    if int8:
        model = _quantized(model, example)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # warnings about unused initialisers are noise here
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    feed = {"x": example.numpy()}
    return lambda: session.run(None, feed)


def measure_module(
    module: nn.Module,
    example: torch.Tensor,
    *,
    runtime: str,
    threads: int = 1,
    warmup: int = 5,
    runs: int = 30,
) -> np.ndarray:
    """``runs`` timings (ms) of the eval-mode forward pass of ``module`` on ``example``."""
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
    module = module.eval()
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            if runtime == "torch":
                return time_calls(lambda: module(example), warmup=warmup, runs=runs)
        call = _onnx_session(module, example, threads, int8=runtime == "onnxruntime-int8")
        return time_calls(call, warmup=warmup, runs=runs)
    finally:
        torch.set_num_threads(previous)


def measure_network(
    spec: NetworkSpec, *, runtime: str = "torch", threads: int = 1, warmup: int = 5, runs: int = 20
) -> float:
    """Median batch-1 latency (ms) of a freshly built ``spec``, timed whole on ``runtime``."""
    if runtime == "torch":
        return measure_latency(spec, threads=threads, warmup=warmup, runs=runs).median_ms
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build_model(spec)
    example = torch.zeros(1, spec.in_channels, spec.resolution, spec.resolution)
    times = measure_module(
        model, example, runtime=runtime, threads=threads, warmup=warmup, runs=runs
    )
    return float(np.median(times))

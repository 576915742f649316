"""Measured CPU inference latency of a spec, as a cost for the search reward.

MnasNet's cost was latency measured on a phone; on a workstation the closest honest
stand-in is single-image CPU latency with a fixed thread count. Timings depend on the
machine and its load: compare numbers taken on one machine in one session only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from nas.models._builder import build_model
from search_spaces import NetworkSpec, is_int

__all__ = ["LatencyResult", "measure_latency", "time_calls"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LatencyResult:
    """Per-forward-pass wall time of one batch, in milliseconds."""

    median_ms: float
    p90_ms: float  # 90th percentile (linear interpolation between runs)
    runs: int  # timed runs the statistics come from
    threads: int  # torch intra-op threads during the measurement
    batch_size: int


def time_calls(call: Callable[[], object], *, warmup: int, runs: int) -> np.ndarray:
    """Wall time of ``runs`` single calls of ``call`` after ``warmup`` untimed ones, in ms.

    Timed by hand: torch.utils.benchmark's Timer.timeit adds hidden warm-up calls to every
    measurement and blocked_autorange averages blocks, so neither gives single passes.
    """
    for _ in range(warmup):
        call()
    times = np.empty(runs)
    for run in range(runs):
        start = time.perf_counter()
        call()
        times[run] = time.perf_counter() - start
    return times * 1000.0


def measure_latency(
    spec: NetworkSpec,
    *,
    threads: int = 1,
    warmup: int = 5,
    runs: int = 20,
    batch_size: int = 1,
    seed: int = 0,
) -> LatencyResult:
    """Time the eval-mode forward pass of a freshly built model for ``spec`` on the CPU.

    The input is a zero batch ``(batch_size, in_channels, resolution, resolution)`` under
    ``torch.inference_mode``. ``torch.set_num_threads(threads)`` holds for the
    measurement only; the previous setting is restored afterwards. ``warmup`` untimed
    runs come first (allocator and kernel selection settle there). The median resists
    the odd run slowed by other processes; the 90th percentile shows how noisy it was.

    Raises:
        ValueError: on a bad argument.
    """
    for name, value, minimum in (
        ("threads", threads, 1),
        ("warmup", warmup, 0),
        ("runs", runs, 1),
        ("batch_size", batch_size, 1),
    ):
        if not is_int(value) or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if not is_int(seed):
        raise ValueError(f"seed must be an integer, got {seed!r}")

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(spec).eval()
    image = torch.zeros(batch_size, spec.in_channels, spec.resolution, spec.resolution)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            times = time_calls(lambda: model(image), warmup=warmup, runs=runs)
    finally:
        torch.set_num_threads(previous_threads)
    result = LatencyResult(
        median_ms=float(np.median(times)),
        p90_ms=float(np.percentile(times, 90)),
        runs=runs,
        threads=threads,
        batch_size=batch_size,
    )
    logger.debug("%s latency: %s", spec.name, result)
    return result

"""Measure every distinct part of a space once, on each runtime: a latency table.

Timings want a quiet machine: run it with nothing else busy on the cores, as any
latency measurement. A killed build resumes from its checkpoint file (the parts timed
so far, written every few seconds: a kill costs at most those seconds) when it is run
again with the same settings.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nas.latency._runtimes import DEFAULT_RUNTIMES, RUNTIMES, measure_module
from nas.latency._table import LatencyTable
from nas.models import build_part
from search_spaces import MBConvSpace, PartShape, space_parts, write_text_atomic

__all__ = ["build_table", "host_notes", "part_input", "time_part"]

logger = logging.getLogger(__name__)

_CHECKPOINT_EVERY_S = 5.0


def part_input(channels: int, size: int, *, seed: int = 0) -> torch.Tensor:
    """The batch-1 input a part (or a whole network) is timed on: seeded normal noise."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(1, channels, size, size, generator=generator)


def host_notes() -> dict[str, Any]:
    """What a timing depends on besides the network: machine, CPU, library versions."""
    import onnxruntime

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "host": platform.node(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
    }


def _settings(
    space: MBConvSpace, runtimes: Sequence[str], threads: int, warmup: int, runs: int, passes: int
) -> dict[str, Any]:
    return {
        "passes": passes,
        "skeleton": space.skeleton.fingerprint(),
        "space": {key: list(options) for key, options in space.parameters().items()},
        "runtimes": list(runtimes),
        "threads": threads,
        "warmup": warmup,
        "runs": runs,
    }


def _resume(checkpoint: Path | None, settings: dict[str, Any]) -> dict[str, list[dict[str, float]]]:
    if checkpoint is None or not checkpoint.is_file():
        return {}
    try:
        saved = json.loads(checkpoint.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    if saved.get("settings") != json.loads(json.dumps(settings)):
        logger.info("%s was made with other settings; measuring from the start", checkpoint)
        return {}
    return {key: list(value) for key, value in saved.get("timings", {}).items()}


def time_part(
    part: PartShape, *, runtimes: Sequence[str], threads: int, warmup: int, runs: int
) -> dict[str, float]:
    """Median time (ms) of one part on each runtime."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        module = build_part(part)
    example = part_input(part.in_channels, part.size)
    return {
        runtime: float(
            np.median(
                measure_module(
                    module, example, runtime=runtime, threads=threads, warmup=warmup, runs=runs
                )
            )
        )
        for runtime in runtimes
    }


def build_table(
    space: MBConvSpace,
    *,
    runtimes: Sequence[str] = DEFAULT_RUNTIMES,
    threads: int = 1,
    warmup: int = 5,
    runs: int = 30,
    passes: int = 2,
    checkpoint: str | os.PathLike[str] | None = None,
    on_part: Callable[[int, int], None] | None = None,
) -> LatencyTable:
    """Time every part ``space_parts(space)`` lists and return the table.

    Every part is timed in each of ``passes`` passes over all parts, and its entry is the
    least of its pass medians. On a shared or virtual machine a core slows down for
    seconds at a time (a median of 30 calls was seen jump by more than half);
    passes a minute apart rarely both fall in such a spell, and the least is the time
    the part takes when nothing else intrudes, which is what a table should predict.

    ``checkpoint`` is a file that holds the timings so far: a build run again with the
    same space and settings goes on from there. ``on_part(done, total)`` is told of each
    timing (those taken from the checkpoint count as done at once).
    """
    runtimes = tuple(runtimes)
    unknown = [runtime for runtime in runtimes if runtime not in RUNTIMES]
    if unknown or not runtimes:
        raise ValueError(f"runtimes must be some of {', '.join(RUNTIMES)}, got {list(runtimes)}")
    if passes < 1:
        raise ValueError(f"passes must be 1 or more, got {passes}")
    checkpoint = None if checkpoint is None else Path(checkpoint)
    settings = _settings(space, runtimes, threads, warmup, runs, passes)
    parts = sorted(space_parts(space), key=lambda part: part.key)
    wanted = {part.key for part in parts}
    # part key -> one dict of medians per pass done
    timings = {k: v for k, v in _resume(checkpoint, settings).items() if k in wanted}
    total = passes * len(parts)
    done = sum(len(value) for value in timings.values())
    started = time.perf_counter()
    saved_at = started
    if on_part is not None:
        on_part(done, total)
    for repeat in range(passes):
        for part in parts:
            if len(timings.get(part.key, ())) > repeat:
                continue
            timings.setdefault(part.key, []).append(
                time_part(part, runtimes=runtimes, threads=threads, warmup=warmup, runs=runs)
            )
            done += 1
            now = time.perf_counter()
            if checkpoint is not None and now - saved_at >= _CHECKPOINT_EVERY_S:
                document = {"settings": settings, "timings": timings}
                write_text_atomic(checkpoint, json.dumps(document))
                saved_at = now
            if on_part is not None:
                on_part(done, total)
    entries = {
        key: {runtime: min(one[runtime] for one in value) for runtime in runtimes}
        for key, value in timings.items()
    }
    # A ReLU on the network's input: what one call costs a runtime beyond its kernels.
    overhead = {
        runtime: float(
            np.median(
                measure_module(
                    torch.nn.ReLU(),
                    part_input(space.skeleton.in_channels, space.skeleton.resolution),
                    runtime=runtime,
                    threads=threads,
                    warmup=warmup,
                    runs=max(runs, 100),
                )
            )
        )
        for runtime in runtimes
    }
    measured = {
        **host_notes(),
        "warmup": warmup,
        "runs": runs,
        "passes": passes,
        "parts": len(parts),
        "seconds": round(time.perf_counter() - started, 1),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    return LatencyTable(
        entries=entries,
        runtimes=runtimes,
        resolution=space.skeleton.resolution,
        threads=threads,
        skeleton=space.skeleton.name,
        overhead_ms=overhead,
        measured=measured,
    )

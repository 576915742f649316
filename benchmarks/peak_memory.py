"""Peak activation memory: counted from the spec against measured on the built network.

For every preset at its own resolution and 30 networks drawn from the search space
around the small-input proxy (32 px, MBConv and Fused-MBConv, with and without SE and
shortcuts): ``search_spaces.peak_memory`` (float32, batch 1) against
``nas.models.measure_peak_memory`` (the built model run by torch.fx's Interpreter, which
frees each value after its last use), where each peaks, and how long each takes.

    .venv/bin/python benchmarks/peak_memory.py

Writes ``benchmarks/results/peak_memory.json``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from _machine import machine

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"
sys.path.insert(0, str(ROOT))


def main() -> None:
    import torch

    from nas.models import build_model, measure_peak_memory
    from scaling import preset, preset_names, search_proxy
    from search_spaces import MBConvSpace, StageChoices, peak_memory

    torch.set_num_threads(1)
    started = time.perf_counter()
    proxy = search_proxy(
        resolution=32, in_channels=3, num_classes=10, width_mult=0.5, depth_mult=0.5
    )
    space = MBConvSpace.uniform(proxy, StageChoices(convs=("mbconv", "fused")))
    networks = [(name, preset(name)) for name in preset_names() if name != "efficientnet-l2"] + [
        (spec.name, spec) for spec in space.sample_distinct(30, seed=0)
    ]
    rows = []
    for name, spec in networks:
        began = time.perf_counter()
        counted = peak_memory(spec)
        count_seconds = time.perf_counter() - began
        began = time.perf_counter()
        size = spec.resolution
        measured, node = measure_peak_memory(
            build_model(spec), torch.zeros(1, spec.in_channels, size, size)
        )
        rows.append(
            {
                "network": name,
                "resolution": size,
                "counted_bytes": counted.bytes("float32"),
                "measured_bytes": measured,
                "equal": counted.bytes("float32") == measured,
                "peaks_at": f"{counted.part} ({counted.operation})",
                "measured_at": node,
                "count_ms": round(1000 * count_seconds, 3),
                "measure_s": round(time.perf_counter() - began, 2),
            }
        )
        print(f"{name:24s} {counted.bytes() / 1024:10,.0f} KiB  equal={rows[-1]['equal']}")
    result = {
        "benchmark": "peak_memory",
        "command": ".venv/bin/python benchmarks/peak_memory.py",
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M %z"),
        "seconds": round(time.perf_counter() - started, 1),
        "networks": len(rows),
        "equal": sum(row["equal"] for row in rows),
        "count_ms_median": sorted(r["count_ms"] for r in rows)[len(rows) // 2],
        "rows": rows,
    }
    out = RESULTS / "peak_memory.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{result['equal']} of {len(rows)} equal; wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

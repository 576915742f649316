"""Fused-MBConv against MBConv in the early stages, timed on this CPU.

EfficientNetV2 puts Fused-MBConv in its first three stages because, on accelerators,
one regular 3x3 conv runs faster than a 1x1 expansion followed by a depthwise 3x3,
although it does more multiply-adds. This measures whether that holds on this CPU:
V2-S's first three stages (24 -> 24 e1, 24 -> 48 e4 stride 2, 48 -> 64 e4 stride 2,
one block each: the first block of each stage), built as Fused-MBConv and as MBConv
(same widths, kernel 3, expansion and stride), at several input sizes, on PyTorch
eager and onnxruntime, one thread, batch 1. Each time is the least of 3 pass medians
of 50 calls (``nas.latency.time_part``), the passes interleaved over all blocks.

Written to ``benchmarks/results/fused_vs_mbconv.json``.

    .venv/bin/python benchmarks/fused_vs_mbconv.py
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import sys
from pathlib import Path

import torch
from _machine import machine

from nas.latency import time_part
from search_spaces import NetworkSpec, PartShape, StageSpec, count_by_part, feature_size

RESULTS = Path(__file__).parent / "results"
# (in, out, expansion, stride): the first block of V2-S's stages 0-2.
STAGES = ((24, 24, 1, 1), (24, 48, 4, 2), (48, 64, 4, 2))
SIZES = (32, 64, 112, 192)  # side of the map entering stage 0 (the image's half)
PASSES = 3


def _macs(part: PartShape) -> int:
    """The block's multiply-adds, from the analytic counter (a one-stage network)."""
    stage = StageSpec(
        repeats=1, kernel=part.kernel, stride=part.stride, expand_ratio=part.expand_ratio,
        in_channels=part.in_channels, out_channels=part.out_channels, fused=part.fused,
    )  # fmt: skip
    spec = NetworkSpec(
        name="one-block", stages=(stage,), stem_channels=part.in_channels,
        resolution=part.size, stem_stride=1,
    )  # fmt: skip
    return count_by_part(spec)[1].flops


def main() -> int:
    torch.set_num_threads(1)
    rows = []
    for size in SIZES:
        side = size
        for index, (cin, cout, expand, stride) in enumerate(STAGES):
            mbconv = PartShape(
                "block", cin, cout, side, "swish", kernel=3, stride=stride, expand_ratio=expand,
                residual=stride == 1 and cin == cout,
            )  # fmt: skip
            rows.append({"size": size, "stage": index, "mbconv": mbconv,
                         "fused": dataclasses.replace(mbconv, fused=True)})  # fmt: skip
            side = feature_size(side, stride)
    best: dict[tuple[int, str], dict[str, float]] = {}
    for _ in range(PASSES):
        for number, row in enumerate(rows):
            for kind in ("mbconv", "fused"):
                times = time_part(
                    row[kind], runtimes=("torch", "onnxruntime"), threads=1, warmup=5, runs=50
                )
                previous = best.get((number, kind), times)
                best[(number, kind)] = {k: min(v, previous[k]) for k, v in times.items()}
        print(".", end="", flush=True, file=sys.stderr)
    table = []
    for number, row in enumerate(rows):
        entry = {"input_side": row["size"], "stage": row["stage"], "block": row["mbconv"].key}
        for kind in ("mbconv", "fused"):
            entry[f"{kind}_macs"] = _macs(row[kind])
            for runtime, value in best[(number, kind)].items():
                entry[f"{kind}_{runtime}_ms"] = round(value, 4)
        for runtime in ("torch", "onnxruntime"):
            entry[f"fused_over_mbconv_{runtime}"] = round(
                entry[f"fused_{runtime}_ms"] / entry[f"mbconv_{runtime}_ms"], 3
            )
        entry["fused_over_mbconv_macs"] = round(entry["fused_macs"] / entry["mbconv_macs"], 3)
        table.append(entry)
    result = {
        "machine": machine(),
        "date": datetime.date.today().isoformat(),
        "command": ".venv/bin/python benchmarks/fused_vs_mbconv.py",
        "rows": table,
    }
    (RESULTS / "fused_vs_mbconv.json").write_text(json.dumps(result, indent=1) + "\n")
    print(file=sys.stderr)
    header = "side stage  MACs fused/mb  torch fused/mb  ort fused/mb   torch ms (mb, fused)"
    print(header)
    for e in table:
        print(
            f"{e['input_side']:4d} {e['stage']:5d}  {e['fused_over_mbconv_macs']:13.2f}  "
            f"{e['fused_over_mbconv_torch']:14.2f}  {e['fused_over_mbconv_onnxruntime']:12.2f}   "
            f"{e['mbconv_torch_ms']:.3f}, {e['fused_torch_ms']:.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

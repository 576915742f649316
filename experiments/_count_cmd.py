"""cnas count: parameters and FLOPs of a spec, optionally cross-checked with fvcore."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from experiments._common import format_table, gflops, positive_int, print_json
from scaling import load_spec
from search_spaces import (
    NetworkSpec,
    count_by_part,
    count_flops,
    count_params,
    peak_memory,
    peak_memory_by_stage,
)

FLOP_CONVENTION = "multiply-adds of conv and linear layers (the EfficientNet paper's FLOPs)"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "count",
        help="parameters and FLOPs of a preset or spec file",
        description=f"Exact parameters and FLOPs from the spec alone. FLOPs are {FLOP_CONVENTION}.",
    )
    parser.add_argument("spec", help="preset name (see `cnas presets`) or path to a spec JSON file")
    parser.add_argument("--resolution", type=positive_int, help="count at this input size")
    parser.add_argument(
        "--verify",
        action="store_true",
        help="build the model and cross-check with PyTorch's parameters and fvcore's FLOPs",
    )
    parser.add_argument("--by-part", action="store_true", help="also show stem, each stage, head")
    parser.add_argument(
        "--memory",
        action="store_true",
        help="also the peak activation memory of inference at batch 1 (float32 and int8 "
        "bytes, and where it peaks; per part with --by-part; measured on the built model "
        "with --verify)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object and nothing else"
    )
    parser.set_defaults(run=run)


def memory_document(spec: NetworkSpec, *, verify: bool) -> dict[str, Any]:
    peak = peak_memory(spec)
    document: dict[str, Any] = {
        "float32_bytes": peak.bytes("float32"),
        "int8_bytes": peak.bytes("int8"),
        "part": peak.part,
        "operation": peak.operation,
    }
    if verify:
        import torch

        from nas.models import build_model, measure_peak_memory

        size = spec.resolution
        measured, _ = measure_peak_memory(
            build_model(spec), torch.zeros(1, spec.in_channels, size, size)
        )
        document["measured_float32_bytes"] = measured
        document["match"] = measured == document["float32_bytes"]
    return document


def count_document(spec: NetworkSpec, *, verify: bool) -> dict[str, Any]:
    document: dict[str, Any] = {
        "name": spec.name,
        "resolution": spec.resolution,
        "params": count_params(spec),
        "flops": count_flops(spec),
        "flops_convention": "conv+linear multiply-adds",
    }
    if verify:
        from nas import measure_spec

        torch_params, measured = measure_spec(spec)
        document.update(
            torch_params=torch_params,
            fvcore_flops=measured.conv_linear,
            fvcore_total=measured.total,
        )
        document["match"] = (
            document["torch_params"] == document["params"]
            and document["fvcore_flops"] == document["flops"]
        )
    return document


def run(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec)
    if args.resolution is not None:
        spec = dataclasses.replace(spec, resolution=args.resolution)
    document = count_document(spec, verify=args.verify)
    if args.memory:
        document["peak_memory"] = memory_document(spec, verify=args.verify)
        if "match" in document:
            document["match"] = document["match"] and document["peak_memory"]["match"]
    if args.by_part:
        document["parts"] = [dataclasses.asdict(part) for part in count_by_part(spec)]
        if args.memory:
            for row, peak in zip(document["parts"], peak_memory_by_stage(spec), strict=True):
                row["peak_memory_bytes"] = peak.bytes("float32")
    if args.json:
        print_json(document)
    else:
        print(_render(spec, document))
    return 0 if document.get("match", True) else 1


def _render(spec: NetworkSpec, doc: dict[str, Any]) -> str:
    lines = [
        f"{spec.name}: {spec.num_blocks} MBConv blocks in {len(spec.stages)} stages, "
        f"{spec.resolution}x{spec.resolution} input, {spec.num_classes} classes",
        f"FLOPs are {FLOP_CONVENTION}.",
        "",
    ]
    rows = [
        {"what": "params", "spec": doc["params"], "model": doc.get("torch_params")},
        {"what": "FLOPs", "spec": doc["flops"], "model": doc.get("fvcore_flops")},
    ]
    if "match" in doc:
        for row in rows:
            row["match"] = row["spec"] == row["model"]
        rows.append({"what": "fvcore total", "spec": None, "model": doc["fvcore_total"]})
        columns = [("what", ""), ("spec", "from spec"), ("model", "built model"), ("match", "same")]
        lines.append(format_table(rows, columns))
        lines.append(
            "built model: PyTorch's parameter count and fvcore's conv+linear count; "
            "fvcore total also counts batch norm and pooling."
        )
    else:
        lines.append(format_table(rows, [("what", ""), ("spec", "count")]))
    lines.append(f"= {doc['params'] / 1e6:.2f} M params, {gflops(doc['flops'])}FLOPs")
    memory = doc.get("peak_memory")
    if memory:
        measured = memory.get("measured_float32_bytes")
        lines.append(
            f"Peak activation memory at batch 1: {memory['float32_bytes'] / 1024:,.1f} KiB "
            f"float32, {memory['int8_bytes'] / 1024:,.1f} KiB int8, at {memory['part']} "
            f"({memory['operation']})"
            + (
                f"; measured on the built model: {measured / 1024:,.1f} KiB"
                if measured is not None
                else ""
            )
        )
    if "parts" in doc:
        columns = [("part", "part"), ("params", "params"), ("flops", "FLOPs"), ("out_size", "out")]
        if memory:
            columns.append(("peak_memory_bytes", "peak float32 bytes"))
        lines += ["", format_table(doc["parts"], columns)]
    return "\n".join(lines)

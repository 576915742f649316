"""cnas count: parameters and FLOPs of a spec, optionally cross-checked with fvcore."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from experiments._common import format_table, gflops, positive_int, print_json
from scaling import load_spec
from search_spaces import NetworkSpec, count_by_part, count_flops, count_params

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
        "--json", action="store_true", help="print one JSON object and nothing else"
    )
    parser.set_defaults(run=run)


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
    if args.by_part:
        document["parts"] = [dataclasses.asdict(part) for part in count_by_part(spec)]
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
    if "parts" in doc:
        lines += [
            "",
            format_table(
                doc["parts"],
                [("part", "part"), ("params", "params"), ("flops", "FLOPs"), ("out_size", "out")],
            ),
        ]
    return "\n".join(lines)

"""cnas export: a spec's network as ONNX, TorchScript or a timm model, checked against PyTorch."""

from __future__ import annotations

import argparse
from typing import Any

from experiments._common import check_writable_dir, check_writable_file, positive_int, print_json

__all__ = ["add_parser", "export_document"]


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write a spec's network as ONNX, TorchScript or a timm model, checked against PyTorch",
        description="Build the network of a preset, spec file, search baseline or family "
        "member and write it for a runtime. The file is loaded back (onnxruntime for ONNX, "
        "timm for timm) and its outputs on random input compared with PyTorch's before it "
        "is kept.",
    )
    parser.add_argument("spec", help="preset name or spec JSON file (baseline.json, a member)")
    parser.add_argument(
        "--format",
        choices=("onnx", "torchscript", "timm"),
        default="onnx",
        help="onnx (default); torchscript; timm: a directory with model.safetensors under "
        "timm's names, config.json and load_with_timm.py, which builds it with timm's "
        "EfficientNet (needs timm)",
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="PATH",
        help="the file to write (onnx, torchscript), or a new or empty directory (timm)",
    )
    parser.add_argument(
        "--weights",
        metavar="PATH",
        help="a state dict for the network, .safetensors or .pt (tensors only: no code is "
        "run); default: initialised weights",
    )
    parser.add_argument("--resolution", type=positive_int, help="export at this input size")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run)


def export_document(result: Any) -> dict[str, Any]:
    return {
        "path": str(result.path),
        "format": result.format,
        "max_abs_difference": result.max_abs_difference,
        "output_scale": result.output_scale,
        "tolerance": result.tolerance,
        "passed": result.passed,
    }


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from nas.models import export_network
    from scaling import load_spec

    spec = load_spec(args.spec)
    if args.resolution:
        spec = dataclasses.replace(spec, resolution=args.resolution)
    if args.format == "timm":
        out = check_writable_dir(args.out, "--out")
    else:
        out = check_writable_file(args.out, "--out")
    result = export_network(spec, out, format=args.format, weights=args.weights)
    if args.json:
        print_json(export_document(result))
    else:
        print(
            f"wrote {result.path} ({result.format}): outputs match PyTorch within "
            f"{result.max_abs_difference:.2g} (tolerance {result.tolerance:.2g})"
        )
        if result.format == "timm":
            print(f"load it with: python {result.path / 'load_with_timm.py'} {result.path}")
    return 0

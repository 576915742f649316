"""cnas export: a spec's network as ONNX, TorchScript or a timm model, checked against PyTorch."""

from __future__ import annotations

import argparse
from typing import Any

from experiments._common import (
    CliError,
    check_writable_dir,
    check_writable_file,
    positive_int,
    print_json,
)

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
    int8 = parser.add_argument_group(
        "int8", "Static quantization by onnxruntime, calibrated on images of the data."
    )
    int8.add_argument(
        "--quantize",
        choices=("int8",),
        help="write the ONNX model quantized to int8 (activations calibrated on --data's "
        "training images), kept only when its top-1 agrees with float32's on most "
        "validation images; the count is printed",
    )
    int8.add_argument(
        "--data",
        help="with --quantize: the data set whose images calibrate and check it (a name "
        "`cnas search --data` takes; digits is built in)",
    )
    int8.add_argument("--data-root", metavar="PATH", help="with --quantize: its directory")
    int8.add_argument(
        "--calibration-images",
        type=positive_int,
        default=256,
        metavar="N",
        help="with --quantize: training images that set the activation ranges (256)",
    )
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
        **(
            {}
            if result.int8_agreement is None
            else {
                "int8_agreement": dict(
                    zip(("agree", "compared"), result.int8_agreement, strict=True)
                )
            }
        ),
    }


def _agreement(pair: tuple[int, int]) -> dict[str, Any]:
    return {"int8_agreement": {"agree": pair[0], "compared": pair[1]}}


def _int8_images(args: argparse.Namespace, spec: Any) -> tuple[Any, Any]:
    """(calibration images, validation images) for --quantize, or (None, None)."""
    if args.quantize is None:
        for flag, value in (("--data", args.data), ("--data-root", args.data_root)):
            if value is not None:
                raise CliError(f"{flag} does nothing here: it calibrates --quantize int8")
        return None, None
    if args.data is None:
        raise CliError(
            "--quantize int8 needs calibration images for its activation ranges: give --data"
        )
    from nas import load_data

    data = load_data(args.data, resolution=spec.resolution, root=args.data_root, seed=0)
    if data.in_channels != spec.in_channels:
        raise CliError(
            f"--data {args.data} has {data.in_channels}-channel images; the network takes "
            f"{spec.in_channels}"
        )
    from nas.data import first_images

    return first_images(data.train, args.calibration_images), first_images(data.valid, 1000)


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
    calibration, validation = _int8_images(args, spec)
    result = export_network(
        spec,
        out,
        format=args.format,
        weights=args.weights,
        quantize=args.quantize,
        calibration=calibration,
        validation=validation,
    )
    if args.json:
        print_json(export_document(result))
    else:
        print(
            f"wrote {result.path} ({result.format}): outputs match PyTorch within "
            f"{result.max_abs_difference:.2g} (tolerance {result.tolerance:.2g})"
        )
        if result.int8_agreement is not None:
            agree, compared = result.int8_agreement
            print(
                f"int8 (onnxruntime, static, calibrated on {args.calibration_images} images): "
                f"top-1 agrees with float32 on {agree} of {compared} validation images"
            )
        if result.format == "timm":
            print(f"load it with: python {result.path / 'load_with_timm.py'} {result.path}")
    return 0

"""cnas latency-table: time every distinct part of a search space once, on this host."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from experiments._common import (
    CliError,
    ProgressBar,
    check_writable_file,
    format_table,
    nonnegative_int,
    positive_int,
    print_json,
)
from experiments._training_args import add_space_arguments, space_from_args

__all__ = ["add_parser"]


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "latency-table",
        help="time each distinct block of a search space once: a latency lookup table",
        description="Measure every distinct part a network of the space can contain (stem, "
        "each MBConv shape with its kernel, expansion, SE, stride, widths and feature size, "
        "head) on PyTorch and onnxruntime, batch 1 on this CPU, and write the table. `cnas "
        "search --target-latency-ms T --latency-table FILE` then costs candidates as the sum "
        "of their parts, timing none. Run it on a quiet machine: timings include whatever "
        "else the cores are doing.",
    )
    parser.add_argument(
        "--data",
        default="digits",
        help="the data set the search will use: it sets the image channels and classes",
    )
    parser.add_argument("--data-root", metavar="PATH", help="its directory (all but digits)")
    add_space_arguments(parser)
    parser.add_argument(
        "--runtimes",
        default="torch,onnxruntime",
        help="comma-separated: torch (eager PyTorch), onnxruntime, onnxruntime-int8 "
        "(static int8, as cnas export --quantize int8 writes it; each part quantized, "
        "about a second each) (default torch,onnxruntime)",
    )
    parser.add_argument("--threads", type=positive_int, default=1, help="intra-op threads (1)")
    parser.add_argument("--runs", type=positive_int, default=30, help="timed calls a part (30)")
    parser.add_argument("--warmup", type=nonnegative_int, default=5, help="untimed calls first (5)")
    parser.add_argument(
        "--passes",
        type=positive_int,
        default=2,
        help="passes over all parts; each entry is the least of its pass medians, which "
        "keeps out the spells in which a shared machine's core runs slow (default 2)",
    )
    parser.add_argument(
        "--calibrate",
        type=nonnegative_int,
        default=10,
        metavar="N",
        help="time N sampled networks whole and fit measured ~ scale x sum + offset "
        "per runtime (default 10; 0: predict the plain sum)",
    )
    parser.add_argument(
        "--validate",
        type=nonnegative_int,
        default=20,
        metavar="N",
        help="time N other sampled networks whole and report the prediction error and rank "
        "correlation (default 20; 0: skip)",
    )
    parser.add_argument("--seed", type=int, default=0, help="draws the networks timed whole")
    parser.add_argument(
        "--out", required=True, metavar="FILE", help="the table (JSON); a plot goes beside it"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(run=run)


def _runtimes(text: str) -> tuple[str, ...]:
    from nas.latency import RUNTIMES

    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in RUNTIMES]
    if unknown or not names or len(set(names)) != len(names):
        raise CliError(
            f"--runtimes takes some of {', '.join(RUNTIMES)}, comma-separated, each once; "
            f"got {text!r}"
        )
    return names


def run(args: argparse.Namespace) -> int:
    from nas import load_data
    from nas.latency import make_table

    runtimes = _runtimes(args.runtimes)
    if args.calibrate == 1:
        raise CliError("--calibrate fits a line: give 2 networks or more, or 0 for none")
    if 0 < args.validate < 3:
        raise CliError("--validate needs 3 networks or more for a rank correlation, or 0")
    out = check_writable_file(args.out, "--out")
    data = load_data(args.data, resolution=args.resolution, root=args.data_root, seed=args.seed)
    space = space_from_args(args, data)
    progress = not (args.no_progress or args.json)
    parts = ProgressBar("time parts", "part", enabled=progress)
    networks = ProgressBar("time whole networks", "net", enabled=progress)
    try:
        table, plot = make_table(
            space,
            out,
            runtimes=runtimes,
            threads=args.threads,
            warmup=args.warmup,
            runs=args.runs,
            passes=args.passes,
            calibrate=args.calibrate,
            validate=args.validate,
            seed=args.seed,
            on_part=parts,
            on_network=networks,
        )
    finally:
        parts.close()
        networks.close()
    if args.json:
        print_json({key: value for key, value in table.to_dict().items() if key != "entries"})
        return 0
    print(_render(table, out, plot))
    return 0


def _render(table: Any, out: Path, plot: Path | None) -> str:
    measured = table.measured
    lines = [
        f"\nTimed {len(table.entries)} parts on {', '.join(table.runtimes)} in "
        f"{measured['seconds']:.0f} s ({measured['cpu']}, {table.threads} thread(s), batch 1, "
        f"least of {measured['passes']} pass medians of {measured['runs']} calls)."
    ]
    if table.calibration:
        fits = ", ".join(
            f"{runtime} {fit['scale']:.3f} x sum {fit['offset_ms']:+.3f} ms"
            for runtime, fit in table.calibration.items()
        )
        lines.append(f"Calibrated on whole networks: {fits}.")
    validation = table.validation
    if validation is not None:
        rows = []
        for runtime, errors in validation["runtimes"].items():
            rows.append(
                {
                    "runtime": runtime,
                    "ms": "{:.3g}-{:.3g}".format(*errors["measured_ms"]),
                    "sum": f"{errors['sum_of_parts']['mape_pct']:.1f}%",
                    "calibrated": f"{errors['calibrated']['mape_pct']:.1f}%"
                    if "calibrated" in errors
                    else "-",
                    "noise": f"{errors['noise_ape_pct']:.1f}%",
                    "repeat": f"{errors['repeat_kendall_tau']:.2f}",
                    "tau": f"{errors['kendall_tau']:.2f} "
                    f"[{errors['kendall_low']:.2f}, {errors['kendall_high']:.2f}]",
                    "flops_tau": f"{errors['flops_kendall_tau']:.2f}",
                }
            )
        lines += [
            f"Prediction error on {validation['networks']} held-out networks (measured whole):",
            format_table(
                rows,
                [
                    ("runtime", "runtime"),
                    ("ms", "measured ms"),
                    ("sum", "MAPE sum"),
                    ("calibrated", "MAPE calibrated"),
                    ("noise", "re-measure"),
                    ("repeat", "re-measure tau"),
                    ("tau", "Kendall tau [95%]"),
                    ("flops_tau", "FLOPs tau"),
                ],
            ),
        ]
    lines.append(f"Table: {out}" + (f"; plot: {plot}" if plot else ""))
    lines.append(
        f"Use it: cnas search --target-latency-ms T --latency-table {out} (and the same "
        "space options)"
    )
    return "\n".join(lines)

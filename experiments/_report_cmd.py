"""cnas report: one HTML page (and a Markdown twin) of a run directory."""

from __future__ import annotations

import argparse
from typing import Any

from experiments._common import check_writable_file, print_json

__all__ = ["add_parser"]


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write one self-contained HTML page (and Markdown) of a run directory",
        description="Gather what a search, coefficients, scaling-curves, rank-check or "
        "family run wrote (the command that made it, verdicts with their intervals, "
        "tables, every plot, where each file is) into one HTML page with the plots "
        "embedded, and a Markdown twin. A directory holding several runs (make demo's) "
        "gets one page with a section each.",
    )
    parser.add_argument("run_dir", help="the --out directory of a cnas run, or one holding runs")
    parser.add_argument(
        "--out", metavar="FILE", help="the HTML file (default RUN_DIR/report.html); .md beside it"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from nas.report import write_run_report

    if args.out is not None:
        check_writable_file(args.out, "--out")
    page, twin, runs = write_run_report(args.run_dir, args.out)
    if args.json:
        print_json({"html": str(page), "markdown": str(twin), "runs": runs})
    else:
        print(f"Report of {runs} run(s): {page} (open it in a browser); Markdown: {twin}")
    return 0

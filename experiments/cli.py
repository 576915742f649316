"""The `cnas` command: a thin layer that parses arguments and calls the library."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from experiments import (
    _coefficients_cmd,
    _count_cmd,
    _curves_cmd,
    _export_cmd,
    _family_cmd,
    _latency_table_cmd,
    _presets_cmd,
    _rank_check_cmd,
    _report_cmd,
    _search_cmd,
)
from experiments._common import USER_ERRORS, OneLineParser

__all__ = ["main", "make_parser"]


def installed_version() -> str:
    """compound-nas's version as installed (pyproject's), or "unknown" from a bare tree."""
    import importlib.metadata

    try:
        return importlib.metadata.version("compound-nas")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed: pip install -e .)"


def make_parser() -> OneLineParser:
    parser = OneLineParser(
        prog="cnas",
        description="Neural architecture search and compound scaling (MnasNet, EfficientNet).",
    )
    parser.add_argument(
        "--version", action="version", version=f"cnas {installed_version()}",
        help="print the installed compound-nas version and exit",
    )  # fmt: skip
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    commands = (
        _presets_cmd,
        _count_cmd,
        _family_cmd,
        _search_cmd,
        _coefficients_cmd,
        _rank_check_cmd,
        _curves_cmd,
        _export_cmd,
        _latency_table_cmd,
        _report_cmd,
    )
    for command in commands:
        command.add_parser(subparsers)
    return parser


def _record_command(args: argparse.Namespace, argv: Sequence[str]) -> None:
    """Append the command line to its run directory's commands.jsonl (for `cnas report`)."""
    from nas.report import COMMANDS_FILE

    out = getattr(args, "out", None)
    if not out or args.command == "report" or not Path(out).is_dir():
        return
    line = {
        "command": "cnas " + shlex.join(argv),
        "cwd": os.getcwd(),
        "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds"),
    }
    with open(Path(out) / COMMANDS_FILE, "a", encoding="utf-8") as commands:
        commands.write(json.dumps(line) + "\n")


def interrupts_end_the_run() -> None:
    """Make SIGINT raise KeyboardInterrupt, even where cnas was started with it ignored.

    A shell starts a background job (`cnas ... &` in a script, a CI step) with SIGINT
    ignored, and Python keeps an ignored SIGINT; an interrupt sent to such a run (kill
    -INT, a job runner's cancel) then did nothing, and the run went on to finish and exit
    0. Every run is resumable and flags what the interrupt stopped, so cnas takes the
    interrupt wherever it comes from: exit 130, "interrupted" on stderr.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    interrupts_end_the_run()
    args = make_parser().parse_args(argv)
    try:
        code = args.run(args)
        if code == 0:
            _record_command(args, argv)
        return code
    except USER_ERRORS as error:
        print(f"cnas {args.command}: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`cnas ... | head`): stop quietly, as other Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print(f"cnas {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

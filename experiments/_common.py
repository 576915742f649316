"""What every command shares: spec lookup, one-line errors, output helpers."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from search_spaces import InputError

__all__ = [
    "USER_ERRORS",
    "CliError",
    "OneLineParser",
    "ProgressBar",
    "check_writable_dir",
    "check_writable_file",
    "format_table",
    "gflops",
    "nonnegative_int",
    "positive_int",
    "print_json",
]


class CliError(InputError):
    """Bad command-line input; the message says what and how to fix it."""


# Errors caused by what the user typed or gave (specs, scaling, data, search settings all
# derive from InputError): reported in one line, exit 2.
USER_ERRORS: tuple[type[Exception], ...] = (InputError,)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _whole_number(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {value}")
    return value


def positive_int(text: str) -> int:
    return _whole_number(text, 1)


def nonnegative_int(text: str) -> int:
    return _whole_number(text, 0)


def positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def percent(text: str) -> float:
    """A tolerance, which every option gives in percent ("3" or "3%"), as a fraction.

    A bare number below 1 is refused: tolerances were once fractions in some options, and
    0.03 read as 0.03% would silently demand an exact match. "0.5%" says it is meant.
    """
    value = text.strip()
    explicit = value.endswith("%")
    try:
        number = float(value.rstrip("%"))
    except ValueError:
        number = math.nan
    if not 0 < number < 100:
        raise argparse.ArgumentTypeError(f"expected a percentage such as 3 or 0.5%, got {text!r}")
    if number < 1 and not explicit:
        raise argparse.ArgumentTypeError(
            f"tolerances are in percent: {text} would mean {text}%; write {number * 100:g} "
            f"for {number * 100:g}%, or {text}% if you mean it"
        )
    return number / 100


def print_json(document: Any) -> None:
    """The single JSON document a --json run prints on stdout."""
    sys.stdout.write(json.dumps(document, indent=2) + "\n")


def check_writable_dir(path: str | os.PathLike[str], option: str) -> Path:
    """Validate an output directory before any work, so errors leave nothing behind."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise CliError(f"{option} {str(path)!r} is a file; give a directory path")
    parent = path.parent if not path.exists() else path
    while not parent.exists():
        parent = parent.parent
    if not os.access(parent, os.W_OK):
        raise CliError(f"{option} {str(path)!r} is not writable; choose another directory")
    return path


def check_writable_file(path: str | os.PathLike[str], option: str) -> Path:
    path = Path(path)
    if path.is_dir():
        raise CliError(
            f"{option} {str(path)!r} is a directory; give a file path such as family.csv"
        )
    if not path.parent.exists() or not path.parent.is_dir():
        raise CliError(f"{option} {str(path)!r}: directory {str(path.parent)!r} does not exist")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise CliError(f"{option} {str(path)!r} is not writable; choose another path")
    return path


def format_table(rows: Sequence[Mapping[str, Any]], columns: Iterable[tuple[str, str]]) -> str:
    """A plain aligned text table; integers get thousands separators."""
    columns = list(columns)

    def cell(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, bool):
            return "yes" if value else "NO"
        if isinstance(value, int):
            return f"{value:,}"
        if isinstance(value, float):
            return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
        return str(value)

    cells = [[cell(row.get(key)) for key, _ in columns] for row in rows]
    headers = [title for _, title in columns]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    left = {0}  # the first column holds names: left-aligned; numbers right-aligned

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            value.ljust(widths[i]) if i in left else value.rjust(widths[i])
            for i, value in enumerate(values)
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, cells)])


def gflops(flops: int) -> str:
    return f"{flops / 1e9:.3f} G"


class ProgressBar:
    """A tqdm bar on stderr that appears when its work starts, not when it is made (a
    later stage's bar would otherwise sit at 0 under the running one)."""

    def __init__(self, desc: str, unit: str, *, enabled: bool, total: int | None = None) -> None:
        self.desc, self.unit, self.enabled, self.total = desc, unit, enabled, total
        self.bar: Any = None

    def start(self) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(
                total=self.total,
                desc=self.desc,
                unit=self.unit,
                file=sys.stderr,
                disable=not self.enabled,
            )

    def __call__(self, done: int, total: int) -> None:
        """Show ``done`` of ``total`` (the library's progress callbacks)."""
        self.start()
        self.bar.total = total
        self.bar.n = done
        self.bar.refresh()

    def step(self) -> None:
        self.start()
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

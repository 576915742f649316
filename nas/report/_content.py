"""What a run directory holds, gathered for a report: commands, verdicts, tables, plots.

A run's kind is told by the file only that kind of run writes. The summary's numbers
are taken as the run wrote them (nothing is recomputed here): its verdict sentence,
every comparison that carries an interval, its scalar facts, and its dicts of records
(correlations, references) as tables. Every CSV is a table and every PNG a plot.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from search_spaces import InputError

__all__ = [
    "COMMANDS_FILE",
    "RUN_KINDS",
    "ReportError",
    "RunContent",
    "Table",
    "collect_runs",
    "run_kind",
]

COMMANDS_FILE = "commands.jsonl"  # `cnas` appends each successful command line here
# Kind -> (the file only that kind writes, its title).
RUN_KINDS: dict[str, tuple[str, str]] = {
    "search": ("pareto.csv", "Search for a baseline"),
    "coefficients": ("coefficients.json", "Compound coefficients (grid search)"),
    "scaling-curves": ("curves.csv", "Scaling curves: compound against single dimensions"),
    "rank-check": ("rank_check.csv", "Rank check: how well cheap scores rank networks"),
    "family": ("family.csv", "Scaled family"),
}
_TABLE_ROWS = 30  # rows of a CSV shown on the page; the file holds them all
_LONG_TEXT = 100  # a column with longer cells (specs as JSON) is left to the file
_SKIPPED_FILES = {"report.html", "report.md"}


class ReportError(InputError):
    """A report cannot be made of the directory given."""


@dataclass(frozen=True)
class Table:
    name: str  # what the table is (a file name, or a summary key)
    frame: pd.DataFrame  # the rows shown
    total_rows: int  # rows in all (more than shown when the file is long)
    source: Path | None = None  # the file it comes from, if any


@dataclass(frozen=True)
class RunContent:
    kind: str
    title: str
    path: Path
    commands: tuple[Mapping[str, Any], ...]  # command lines that made or continued it
    verdict: str | None  # the run's own verdict sentence(s)
    comparisons: Table | None  # every comparison with its interval
    facts: tuple[tuple[str, str], ...]  # scalar settings and results
    tables: tuple[Table, ...]  # summary records, then the CSVs
    plots: tuple[Path, ...]
    files: tuple[tuple[Path, int], ...]  # every file (relative path, bytes)


def run_kind(path: Path) -> str | None:
    for kind, (marker, _) in RUN_KINDS.items():
        if (path / marker).is_file():
            return kind
    return None


def _commands(path: Path) -> tuple[Mapping[str, Any], ...]:
    file = path / COMMANDS_FILE
    if not file.is_file():
        return ()
    lines = []
    for line in file.read_text(encoding="utf-8").splitlines():
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by a kill; the others still say what ran
    return tuple(lines)


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(item) for item in value)
    return "-" if value is None else str(value)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _facts(summary: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Top-level scalars, and the scalars of dicts one level down (``baseline.cost``)."""
    for key, value in summary.items():
        if key in ("files", "verdict", "verdicts", "run_dir"):
            continue
        if _is_scalar(value) and len(_text(value)) <= 200:
            yield key, _text(value)
        elif isinstance(value, Mapping):
            for inner, item in value.items():
                if _is_scalar(item) and len(_text(item)) <= 200:
                    yield f"{key}.{inner}", _text(item)


def _records(summary: Mapping[str, Any]) -> Iterator[Table]:
    """Dicts whose values are all dicts of scalars (correlations, references): tables."""
    for key, value in summary.items():
        if key == "verdicts" or not isinstance(value, Mapping) or not value:
            continue
        rows = list(value.values())
        if all(isinstance(row, Mapping) for row in rows) and all(
            all(_is_scalar(item) for item in row.values()) for row in rows
        ):
            frame = pd.DataFrame([{"": name, **row} for name, row in value.items()])
            yield Table(key, frame, len(frame))


def _comparisons(verdicts: Any) -> Table | None:
    """Every record with a verdict sentence, wherever it sits, with where it sat."""
    rows: list[dict[str, Any]] = []

    def walk(node: Any, where: tuple[str, ...]) -> None:
        if isinstance(node, Mapping):
            if "sentence" in node:
                rows.append(
                    {
                        "where": " / ".join(where) or "-",
                        "verdict": node["sentence"],
                        "difference (points)": node.get("difference_points"),
                        "95% low": node.get("low"),
                        "95% high": node.get("high"),
                        "seeds": node.get("seeds"),
                        "distinguishable": node.get("distinguishable"),
                    }
                )
                return
            for key, item in node.items():
                walk(item, (*where, str(key)))

    walk(verdicts, ())
    return Table("comparisons", pd.DataFrame(rows), len(rows)) if rows else None


def _csv_table(path: Path) -> Table | None:
    try:
        frame = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError):
        return None
    if "state" in frame.columns:
        # A search's proposals outside its cost band were never trained; trials.csv
        # keeps them, the page shows what ran (summary.json's band counts the rest).
        frame = frame[frame["state"] != "out-of-band"]
    long = [
        column
        for column in frame.columns
        if not pd.api.types.is_numeric_dtype(frame[column])
        and frame[column].astype(str).str.len().max() > _LONG_TEXT
    ]
    shown = frame.drop(columns=long).head(_TABLE_ROWS)
    return Table(path.name, shown, len(frame), source=path)


def _search_verdict(summary: Mapping[str, Any]) -> str | None:
    baseline = summary.get("baseline")
    if not baseline:
        return "No trial was evaluated successfully; trials.csv holds the errors."
    score = next((baseline[k] for k in ("accuracy", "score") if k in baseline), None)
    line = f"Baseline: trial {baseline['number']}"
    if score is not None:
        line += f", {summary.get('evaluator', {}).get('score_label', 'score')} {score:.4f}"
    alone = baseline.get("standalone_accuracy")
    if alone is not None:
        line += f", retrained alone {alone:.4f} (chosen by {baseline.get('chosen_by')})"
    int8 = baseline.get("standalone_int8_accuracy")
    if int8 is not None:
        line += f", {int8:.4f} after int8 quantization"
    ratio = baseline.get("target_ratio")
    if ratio is not None:
        line += f"; {ratio:.2f}x the {summary.get('target_text', '')} {summary['cost']} target"
    return line + "."


def _summary(path: Path) -> dict[str, Any]:
    file = path / "summary.json"
    if not file.is_file():
        return {}
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ReportError(f"cannot read {file}: {error}; run the command again") from None


def _collect(path: Path, kind: str) -> RunContent:
    summary = _summary(path)
    verdict = summary.get("verdict")
    if kind == "search":
        verdict = _search_verdict(summary)
    files = tuple(
        (file.relative_to(path), file.stat().st_size)
        for file in sorted(path.rglob("*"))
        if file.is_file() and file.name not in _SKIPPED_FILES
    )
    tables = [*_records(summary)]
    tables += [t for f in sorted(path.glob("*.csv")) if (t := _csv_table(f)) is not None]
    return RunContent(
        kind=kind,
        title=RUN_KINDS[kind][1],
        path=path,
        commands=_commands(path),
        verdict=verdict if isinstance(verdict, str) else None,
        comparisons=_comparisons(summary.get("verdicts")),
        facts=tuple(_facts(summary)),
        tables=tuple(tables),
        plots=tuple(sorted(path.glob("*.png"))),
        files=files,
    )


def collect_runs(path: str | Path) -> tuple[RunContent, ...]:
    """The run in ``path``, or each run directly inside it (a demo's directory), in the
    order they were made."""
    path = Path(path)
    if not path.is_dir():
        raise ReportError(f"{str(path)!r} is not a directory; give a run directory of cnas")
    kind = run_kind(path)
    if kind is not None:
        return (_collect(path, kind),)
    runs = [
        _collect(child, child_kind)
        for child in sorted(path.iterdir())
        if child.is_dir() and (child_kind := run_kind(child)) is not None
    ]
    if not runs:
        kinds = ", ".join(RUN_KINDS)
        raise ReportError(
            f"{str(path)!r} holds no run of a known kind ({kinds}) nor any directly inside it; "
            "give the --out directory of one of those commands"
        )
    return tuple(sorted(runs, key=_made_at))


def _made_at(run: RunContent) -> tuple[str, str]:
    first = run.commands[0].get("finished", "") if run.commands else ""
    return (first or "~", run.path.name)  # unrecorded runs last, by name

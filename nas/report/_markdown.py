"""The Markdown twin of the HTML page: the same sections, plots linked by path."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from nas.report._content import RunContent, Table

__all__ = ["render_markdown"]


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "-"
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _table(table: Table) -> str:
    frame = table.frame
    if frame.empty:
        return "(no rows)\n"
    header = "| " + " | ".join(_cell(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = [
        "| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)
    ]
    text = "\n".join([header, rule, *rows]) + "\n"
    if table.total_rows > len(frame):
        where = f"; all are in {table.source.name}" if table.source else ""
        text += f"\nThe first {len(frame)} of {table.total_rows} rows{where}.\n"
    return text


def _link(path: Path, page_dir: Path) -> str:
    return Path(os.path.relpath(path, page_dir)).as_posix()


def _section(run: RunContent, page_dir: Path) -> str:
    lines = [f"## {run.title}", "", f"Run directory: `{run.path}`", ""]
    if run.commands:
        lines += ["### Command", "", "```"]
        lines += [f"$ {c.get('command', '?')}   # {c.get('finished', '')}" for c in run.commands]
        lines += ["```", ""]
    else:
        lines += ["The command that made this run was not recorded.", ""]
    if run.verdict:
        lines += ["### Verdict", "", f"> {run.verdict}", ""]
    if run.comparisons is not None:
        lines += ["### Comparisons, with 95% intervals", "", _table(run.comparisons)]
    if run.plots:
        lines += ["### Plots", ""]
        lines += [f"![{plot.name}]({_link(plot, page_dir)})" for plot in run.plots]
        lines.append("")
    if run.facts:
        facts = pd.DataFrame(run.facts, columns=["setting or result", "value"])
        lines += ["### Summary", "", _table(Table("facts", facts, len(facts)))]
    for table in run.tables:
        lines += [f"### {table.name}", "", _table(table)]
    lines += ["### Files", ""]
    lines += [
        f"- [{name}]({_link(run.path / name, page_dir)}) ({size:,} bytes)"
        for name, size in run.files
    ]
    return "\n".join(lines) + "\n"


def render_markdown(runs: Sequence[RunContent], page: Path, *, title: str) -> str:
    return f"# {title}\n\n" + "\n".join(_section(run, page.parent) for run in runs)

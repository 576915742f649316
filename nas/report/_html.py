"""One self-contained HTML page: styles inline, plots embedded as data URIs.

The page opens from a mail attachment or another machine as it does from the run
directory; only the file links need the run directory beside it.
"""

from __future__ import annotations

import base64
import datetime
import html
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from nas.report._content import RunContent, Table

__all__ = ["render_html"]

_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em;
       padding: 0 1em; color: #1d1d1f; }
h1 { font-size: 1.6em; } h2 { margin-top: 2.2em; border-bottom: 2px solid #ddd; }
h3 { margin-top: 1.6em; font-size: 1.1em; }
pre { background: #f4f4f6; padding: .6em .8em; overflow-x: auto; white-space: pre-wrap; }
p.verdict { background: #eef6ee; border-left: 4px solid #3a8a3a; padding: .6em .9em; }
table { border-collapse: collapse; margin: .6em 0; font-size: 13px; }
th, td { border: 1px solid #d5d5da; padding: .25em .55em; text-align: right; }
th { background: #f0f0f3; } td:first-child, th:first-child { text-align: left; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #e2e2e6; }
figcaption { font-size: 13px; color: #555; }
.note { color: #666; font-size: 13px; }
nav a { margin-right: 1em; }
div.wide { overflow-x: auto; max-width: 100%; }
"""


def _e(text: object) -> str:
    return html.escape(str(text))


def _table(table: Table) -> str:
    frame = table.frame
    if frame.empty:
        return '<p class="note">(no rows)</p>'
    body = frame.to_html(
        index=False,
        border=0,
        na_rep="-",
        float_format=lambda value: f"{value:.4g}",
        escape=True,
    )
    note = ""
    if table.total_rows > len(frame):
        note = f'<p class="note">The first {len(frame)} of {table.total_rows} rows'
        note += f"; all are in {_e(table.source.name)}.</p>" if table.source else ".</p>"
    # Wide tables (a search's trials) scroll inside their box, not the page.
    return f'<div class="wide">{body}</div>{note}'


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{_e(path.name)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{_e(path.name)}</figcaption></figure>"
    )


def _link(path: Path, page_dir: Path) -> str:
    return Path(os.path.relpath(path, page_dir)).as_posix()


def _section(run: RunContent, page_dir: Path, anchor: str) -> str:
    parts = [f'<section id="{anchor}"><h2>{_e(run.title)}</h2>']
    parts.append(f'<p class="note">Run directory: <code>{_e(run.path)}</code></p>')
    if run.commands:
        lines = "\n".join(
            f"$ {c.get('command', '?')}   # {c.get('finished', '')}" for c in run.commands
        )
        parts.append(f"<h3>Command</h3><pre>{_e(lines)}</pre>")
    else:
        parts.append('<p class="note">The command that made this run was not recorded.</p>')
    if run.verdict:
        parts.append(f'<h3>Verdict</h3><p class="verdict">{_e(run.verdict)}</p>')
    if run.comparisons is not None:
        parts.append("<h3>Comparisons, with 95% intervals</h3>" + _table(run.comparisons))
    if run.plots:
        parts.append("<h3>Plots</h3>" + "".join(_image(plot) for plot in run.plots))
    if run.facts:
        facts = pd.DataFrame(run.facts, columns=["setting or result", "value"])
        parts.append("<h3>Summary</h3>" + _table(Table("facts", facts, len(facts))))
    for table in run.tables:
        parts.append(f"<h3>{_e(table.name)}</h3>" + _table(table))
    files = "".join(
        f'<li><a href="{_e(_link(run.path / name, page_dir))}">{_e(name)}</a> '
        f'<span class="note">({size:,} bytes)</span></li>'
        for name, size in run.files
    )
    parts.append(f"<h3>Files</h3><ul>{files}</ul></section>")
    return "\n".join(parts)


def render_html(runs: Sequence[RunContent], page: Path, *, title: str) -> str:
    """The page for ``runs``, to be written at ``page`` (file links are relative to it)."""
    anchors = [f"run-{index}" for index in range(len(runs))]
    nav = ""
    if len(runs) > 1:
        nav = (
            "<nav>"
            + "".join(
                f'<a href="#{anchor}">{_e(run.title)} ({_e(run.path.name)})</a>'
                for run, anchor in zip(runs, anchors, strict=True)
            )
            + "</nav>"
        )
    made = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    sections = "\n".join(
        _section(run, page.parent, anchor) for run, anchor in zip(runs, anchors, strict=True)
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>"
        f'<h1>{_e(title)}</h1><p class="note">Written by cnas report on {_e(made)}.</p>'
        f"{nav}\n{sections}\n</body></html>\n"
    )

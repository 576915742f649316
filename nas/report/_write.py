"""Write the report of a run directory: report.html and its Markdown twin report.md."""

from __future__ import annotations

from pathlib import Path

from nas.report._content import ReportError, collect_runs
from nas.report._html import render_html
from nas.report._markdown import render_markdown
from search_spaces import write_text_atomic

__all__ = ["write_run_report"]


def write_run_report(run_dir: str | Path, out: str | Path | None = None) -> tuple[Path, Path, int]:
    """(HTML path, Markdown path, runs reported) for ``run_dir``.

    ``out`` is the HTML file (default ``run_dir/report.html``); the Markdown twin takes
    its name with ``.md``. Everything is read before either file is written.
    """
    run_dir = Path(run_dir)
    runs = collect_runs(run_dir)
    page = Path(out) if out is not None else run_dir / "report.html"
    if page.suffix.lower() not in (".html", ".htm"):
        raise ReportError(f"--out {str(page)!r} must end in .html (the .md twin goes beside it)")
    twin = page.with_suffix(".md")
    title = f"{runs[0].title}: {run_dir.name}" if len(runs) == 1 else f"cnas runs in {run_dir}"
    html = render_html(runs, page, title=title)
    markdown = render_markdown(runs, twin, title=title)
    write_text_atomic(page, html)
    write_text_atomic(twin, markdown)
    return page, twin, len(runs)

"""Run reports: one self-contained HTML page (and a Markdown twin) of a run directory."""

from nas.report._content import (
    COMMANDS_FILE,
    RUN_KINDS,
    ReportError,
    RunContent,
    Table,
    collect_runs,
    run_kind,
)
from nas.report._plots import plot_family, plot_latency_validation
from nas.report._write import write_run_report

__all__ = [
    "COMMANDS_FILE",
    "RUN_KINDS",
    "ReportError",
    "RunContent",
    "Table",
    "collect_runs",
    "plot_family",
    "plot_latency_validation",
    "run_kind",
    "write_run_report",
]

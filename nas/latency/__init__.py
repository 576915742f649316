"""Latency lookup tables: every distinct part of a space timed once on this host, on
PyTorch and onnxruntime, and networks predicted as the sum of their parts."""

from nas.latency._build import build_table, host_notes, part_input, time_part
from nas.latency._make import make_table
from nas.latency._runtimes import DEFAULT_RUNTIMES, RUNTIMES, measure_module, measure_network
from nas.latency._table import TABLE_FORMAT, LatencyTable, LatencyTableError
from nas.latency._validate import check_table

__all__ = [
    "DEFAULT_RUNTIMES",
    "RUNTIMES",
    "TABLE_FORMAT",
    "LatencyTable",
    "LatencyTableError",
    "build_table",
    "check_table",
    "host_notes",
    "make_table",
    "measure_module",
    "measure_network",
    "part_input",
    "time_part",
]

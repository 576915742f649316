"""A latency table from nothing to a checked file: time the parts, fit and validate on
whole networks, save the table and its plot. What `cnas latency-table` runs."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from nas.latency._build import build_table
from nas.latency._runtimes import DEFAULT_RUNTIMES
from nas.latency._table import LatencyTable
from nas.latency._validate import check_table
from search_spaces import MBConvSpace

__all__ = ["make_table"]

Progress = Callable[[int, int], None]


def make_table(
    space: MBConvSpace,
    out: str | os.PathLike[str],
    *,
    runtimes: Sequence[str] = DEFAULT_RUNTIMES,
    threads: int = 1,
    warmup: int = 5,
    runs: int = 30,
    passes: int = 2,
    calibrate: int = 10,
    validate: int = 30,
    seed: int = 0,
    on_part: Progress | None = None,
    on_network: Progress | None = None,
) -> tuple[LatencyTable, Path | None]:
    """Build ``space``'s table into ``out`` and return it with its plot (None unvalidated).

    Parts timed so far are kept in ``out.partial``, so a killed build continues where it
    stopped; the file goes once the table is saved. ``calibrate`` and ``validate`` networks
    (0 for none) are timed whole after the parts.
    """
    out = Path(out)
    checkpoint = out.with_name(out.name + ".partial")
    table = build_table(
        space,
        runtimes=runtimes,
        threads=threads,
        warmup=warmup,
        runs=runs,
        passes=passes,
        checkpoint=checkpoint,
        on_part=on_part,
    )
    if calibrate or validate:
        table = check_table(
            table,
            space,
            calibrate=calibrate,
            validate=validate,
            seed=seed,
            warmup=warmup,
            runs=runs,
            on_network=on_network,
        )
    table.save(out)
    plot = None
    if table.validation is not None:
        from nas.report import plot_latency_validation

        plot = out.with_suffix(".png")
        plot_latency_validation(table.validation, plot)
    checkpoint.unlink(missing_ok=True)
    return table, plot

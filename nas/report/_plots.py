"""Figures written next to the tables, for a person to look at rather than read."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from search_spaces import write_atomic

__all__ = ["plot_family", "plot_latency_validation"]


def plot_family(
    rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str], title: str
) -> None:
    """Params vs FLOPs of each member (log-log), with the nominal FLOP growth beside it."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    flops = [row["flops"] / 1e9 for row in rows]
    params = [row["params"] / 1e6 for row in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    left.plot(flops, params, "o-", color="tab:blue")
    for row, x, y in zip(rows, flops, params, strict=True):
        left.annotate(row["name"], (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    left.set(
        xscale="log",
        yscale="log",
        xlabel="FLOPs (G multiply-adds, conv + linear)",
        ylabel="parameters (M)",
        title="members",
    )
    left.grid(True, which="both", alpha=0.3)
    plain = matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}")
    for axis in (left.xaxis, left.yaxis):
        axis.set_major_formatter(plain)
        axis.set_minor_formatter(plain)

    labels = [str(row["phi"]) if row["phi"] is not None else row["name"] for row in rows]
    positions = range(len(rows))
    right.plot(
        positions, [row["flop_ratio"] for row in rows], "o-", label="actual (after rounding)"
    )
    right.plot(positions, [row["nominal_flop_ratio"] for row in rows], "s--", label="nominal")
    right.set(yscale="log", xlabel="phi", ylabel="FLOPs / member 0", title="FLOP growth")
    right.set_xticks(list(positions), labels)
    right.grid(True, which="both", alpha=0.3)
    right.legend()
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=110))
    plt.close(fig)


def plot_latency_validation(validation: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Predicted against measured latency of the held-out networks, one panel per runtime."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runtimes = list(validation["runtimes"])
    fig, axes = plt.subplots(1, len(runtimes), figsize=(5.2 * len(runtimes), 4.6), squeeze=False)
    for axis, runtime in zip(axes[0], runtimes, strict=True):
        rows = validation["rows"]
        measured = [row[f"{runtime}_measured_ms"] for row in rows]
        summed = [row[f"{runtime}_sum_ms"] for row in rows]
        errors = validation["runtimes"][runtime]
        axis.scatter(measured, summed, s=18, label="sum of parts", color="tab:gray")
        fit = validation.get("calibration", {}).get(runtime)
        if fit:
            fitted = [fit["scale"] * value + fit["offset_ms"] for value in summed]
            axis.scatter(measured, fitted, s=18, label="calibrated", color="tab:blue")
        low, high = min(measured), max(measured)
        axis.plot([low, high], [low, high], "k--", lw=1, label="exact")
        line = f"MAPE {errors['sum_of_parts']['mape_pct']:.1f}% (sum)"
        if "calibrated" in errors:
            line += f", {errors['calibrated']['mape_pct']:.1f}% (calibrated)"
        axis.set(
            xlabel="measured whole network (ms, batch 1)",
            ylabel="predicted (ms)",
            title=f"{runtime}: {line}\nKendall tau {errors['kendall_tau']:.2f} "
            f"(FLOPs {errors['flops_kendall_tau']:.2f})",
        )
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=8)
    fig.suptitle(f"latency table on {validation['networks']} held-out networks", fontsize=10)
    fig.tight_layout()
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=110))
    plt.close(fig)

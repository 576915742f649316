"""The paper's claims on one data set as a figure, drawn only from its results document.

Left: the scaling curves of the backbone the curves part scaled (accuracy against real
FLOPs, phi 0-2, 95% intervals) of compound scaling with the paper's and the grid's
coefficients beside depth-, width- and resolution-only. Right: the searched baseline's
family against the hand-made skeleton's (matched FLOPs at each phi), with random
search's best baseline as one point. A part not yet run leaves its panel saying so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CURVE_STYLE = {  # method -> (label, matplotlib format)
    "compound": ("compound (paper's 1.2, 1.1, 1.15)", "o-"),
    "depth": ("depth only", "s--"),
    "width": ("width only", "^--"),
    "resolution": ("resolution only", "v--"),
}


def _errorbar(axis: Any, points: list[dict[str, Any]], label: str, fmt: str) -> None:
    points = sorted(points, key=lambda p: float(p["flops"]))
    flops = [float(p["flops"]) / 1e6 for p in points]
    mean = [100 * float(p["mean"]) for p in points]
    low = [m - 100 * float(p["low"]) for m, p in zip(mean, points, strict=True)]
    high = [100 * float(p["high"]) - m for m, p in zip(mean, points, strict=True)]
    axis.errorbar(flops, mean, yerr=[low, high], fmt=fmt, capsize=3, label=label)


def _curve(rows: list[dict[str, Any]], method: str) -> list[dict[str, Any]]:
    """One method's points of a curves run (phi 0, the shared base, belongs to each)."""
    chosen = [r for r in rows if r["method"] == method or int(r["phi"]) == 0]
    return [{**r, "mean": r["mean_accuracy"]} for r in chosen]


def _curves_panel(axis: Any, curves: dict[str, Any]) -> None:
    paper, grid = curves.get("paper", {}).get("points"), curves.get("grid", {}).get("points")
    if not paper:
        axis.text(0.5, 0.5, "scaling curves: not measured yet", ha="center",
                  transform=axis.transAxes)  # fmt: skip
        axis.set_axis_off()
        return
    for method, (label, fmt) in CURVE_STYLE.items():
        points = _curve(paper, method)
        if len(points) > 1:
            _errorbar(axis, points, label, fmt)
    if grid:
        _errorbar(axis, _curve(grid, "compound"), "compound (the grid's own)", "D-")
    axis.set_title(f"Scaling the {curves.get('backbone', 'searched')} baseline")


def _families_panel(axis: Any, searched: dict[str, Any]) -> None:
    points = searched.get("points")
    if not points:
        axis.text(0.5, 0.5, "searched against hand-made: not measured yet", ha="center",
                  transform=axis.transAxes)  # fmt: skip
        axis.set_axis_off()
        return
    for name, label, fmt in (("searched", "searched family", "o-"),
                             ("skeleton", "skeleton family (matched FLOPs)", "s--")):  # fmt: skip
        _errorbar(axis, [p for p in points.values() if p["name"] == name], label, fmt)
    _errorbar(axis, [p for p in points.values() if p["name"] == "random"],
              "random search's best", "x")  # fmt: skip
    axis.set_title("Searched against hand-made (paper's coefficients)")


def claims_plot(label: str, document: dict[str, Any], path: Path) -> None:
    """Write the figure of one data set's results document to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    _curves_panel(left, document.get("curves", {}))
    _families_panel(right, document.get("searched", {}))
    for axis in (left, right):
        axis.set_xscale("log")
        plain = matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}")
        axis.xaxis.set_major_formatter(plain)
        axis.xaxis.set_minor_formatter(plain)
        axis.set_xlabel("real FLOPs (millions, log scale)")
        axis.set_ylabel("validation accuracy (%, mean and 95% interval)")
        axis.grid(alpha=0.3)
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=8)
    figure.suptitle(f"EfficientNet's claims on {label}")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)

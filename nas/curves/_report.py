"""What a scaling-curves run leaves in its run directory, rebuilt from the study alone.

curves.csv (every point: method, phi, the scaling as built, FLOPs and their ratio to
the backbone's, accuracy per seed, mean and 95% interval), curves.png (accuracy
against actual FLOPs with error bars, one line per method: the analogue of
EfficientNet's Figure 3), summary.json with a verdict per phi: compound against each
single-dimension scaling, paired by seed.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from nas.coefficients import coefficient_table, reused_count
from nas.stats import Comparison, compare_by_seed, summarise_seeds
from search_spaces import write_atomic, write_text_atomic

__all__ = ["curve_table", "phi_verdicts", "write_curves_report"]

_NAMES = {"depth": "depth-only", "width": "width-only", "resolution": "resolution-only"}


def curve_table(study: optuna.Study) -> pd.DataFrame:
    """One row per point, with its accuracy per seed and their mean and interval."""
    trials = coefficient_table(study)
    phis = {t.number: t.user_attrs.get("phi") for t in study.get_trials(deepcopy=False)}
    trials["phi"] = trials["number"].map(phis)
    done = trials[trials["state"] == "complete"].dropna(subset=["candidate"])
    rows = []
    for (_, phi), group in done.groupby(["candidate", "phi"], sort=True):
        first = group.iloc[0]
        by_seed = {int(s): float(a) for s, a in zip(group["seed"], group["accuracy"], strict=True)}
        summary = summarise_seeds(list(by_seed.values()))
        rows.append(
            {
                "method": first["kind"],
                "phi": int(phi),
                "depth_mult": first["depth_mult"],
                "width_mult": first["width_mult"],
                "repeats": first["repeats"],
                "resolution": int(first["resolution"]),
                "flops": int(first["flops"]),
                "actual_ratio": float(first["actual_ratio"]),
                "params": int(first["params"]),
                "seeds": summary.n,
                "mean_accuracy": summary.mean,
                "low": summary.low,
                "high": summary.high,
                "accuracies": ";".join(f"{by_seed[s]:.4f}" for s in sorted(by_seed)),
                "by_seed": by_seed,
            }
        )
    columns = ["method", "phi", "depth_mult", "width_mult", "repeats", "resolution", "flops",
               "actual_ratio", "params", "seeds", "mean_accuracy", "low", "high",
               "accuracies", "by_seed"]  # fmt: skip
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values(["phi", "method"]).reset_index(drop=True)


def phi_verdicts(table: pd.DataFrame) -> dict[int, dict[str, Comparison]]:
    """Per phi > 0: compound minus each single-dimension scaling, paired by seed."""
    found: dict[int, dict[str, Comparison]] = {}
    for phi, group in table[table["phi"] > 0].groupby("phi"):
        compound = group[group["method"] == "compound"]
        if compound.empty:
            continue
        mine = compound.iloc[0]["by_seed"]
        found[int(phi)] = {
            str(row["method"]): compare_by_seed(
                mine, row["by_seed"], a_label="compound", b_label=_NAMES[str(row["method"])]
            )
            for _, row in group[group["method"] != "compound"].iterrows()
        }
    return found


def _phi_line(phi: int, comparisons: dict[str, Comparison]) -> str:
    if not comparisons:
        return f"phi={phi}: no single-dimension point to compare with."
    parts = [
        comparisons[m].sentence() for m in ("depth", "width", "resolution") if m in comparisons
    ]
    wins = sum(c.distinguishable and c.difference > 0 for c in comparisons.values())
    losses = sum(c.distinguishable and c.difference < 0 for c in comparisons.values())
    if wins == len(comparisons):
        head = "compound beats every single-dimension scaling"
    elif losses:
        head = "a single-dimension scaling beats compound"
    elif wins:
        head = "compound beats some, the rest are within noise"
    else:
        head = "within noise: no scaling is distinguishable at this budget"
    return f"phi={phi}: {head} ({'; '.join(parts)})."


def write_curves_report(
    study: optuna.Study,
    run_dir: str | os.PathLike[str],
    *,
    backbone: str,
    settings: dict[str, Any],
    plot: bool = True,
) -> dict[str, Any]:
    """Write the report files; returns the summary (also written as summary.json)."""
    run_dir = Path(run_dir)
    table = curve_table(study)
    write_text_atomic(run_dir / "curves.csv", table.drop(columns="by_seed").to_csv(index=False))
    found = phi_verdicts(table)
    lines = [_phi_line(phi, found[phi]) for phi in sorted(found)]
    trials = coefficient_table(study)
    write_text_atomic(run_dir / "trials.csv", trials.to_csv(index=False))
    summary = {
        "backbone": backbone,
        "settings": settings,
        "points": len(table),
        "unmatched": study.user_attrs.get("unmatched", []),
        "trials": {k: int(v) for k, v in trials["state"].value_counts().to_dict().items()},
        "reused": reused_count(trials),
        "verdicts": {
            str(phi): {method: c.as_dict() for method, c in comparisons.items()}
            for phi, comparisons in found.items()
        },
        "verdict": " ".join(lines) if lines else "No phi > 0 has finished yet.",
        "files": {
            "curves": str(run_dir / "curves.csv"),
            "trials": str(run_dir / "trials.csv"),
            "summary": str(run_dir / "summary.json"),
        },
    }
    if plot and not table.empty:
        plot_curves(table, run_dir / "curves.png", backbone=backbone)
        summary["files"]["plot"] = str(run_dir / "curves.png")
    write_text_atomic(run_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def plot_curves(table: pd.DataFrame, path: Path, *, backbone: str) -> None:
    """Mean accuracy against actual FLOPs (log), 95% intervals as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axis = plt.subplots(figsize=(6.4, 4.4))
    base = table[table["phi"] == 0]
    styles = {"compound": ("tab:red", "o"), "depth": ("tab:blue", "s"),
              "width": ("tab:green", "^"), "resolution": ("tab:purple", "D")}  # fmt: skip
    for method, (colour, marker) in styles.items():
        points = pd.concat([base, table[table["method"] == method]]).sort_values("flops")
        if len(points) <= len(base):
            continue
        half = ((points["high"] - points["low"]) / 2).fillna(0.0)
        label = "compound" if method == "compound" else _NAMES[method]
        axis.errorbar(points["flops"] / 1e6, points["mean_accuracy"], yerr=half, label=label,
                      color=colour, marker=marker, capsize=3, linewidth=1.5)  # fmt: skip
    axis.set_xscale("log")
    axis.set(
        xlabel="FLOPs (M multiply-adds, counted)",
        ylabel="validation accuracy (mean, 95% interval)",
        title=f"{backbone}: scaling at equal FLOPs",
    )
    axis.grid(alpha=0.3, which="both")
    axis.legend(fontsize=8)
    if not math.isnan(table["mean_accuracy"].min()):
        fig.tight_layout()
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=110))
    plt.close(fig)

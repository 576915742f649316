"""What a coefficient search leaves in its run directory.

coefficients.csv (every candidate), coefficients.json (the choice, in the
form ``cnas family --coefficients-file`` reads), heatmap.png (alpha vs beta,
colour = accuracy) and summary.json; all rebuilt from the study alone.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from nas.runs import interrupted_numbers, is_surplus, trial_state
from search_spaces import write_atomic, write_text_atomic

__all__ = ["choose_coefficients", "coefficient_table", "write_coefficient_report"]

_COLUMNS = [
    "number",
    "state",
    "kind",
    "alpha",
    "beta",
    "gamma",
    "nominal_ratio",
    "actual_ratio",
    "resolution",
    "flops",
    "params",
    "accuracy",
    "duration_s",
    "error",
]


def coefficient_table(study: optuna.Study) -> pd.DataFrame:
    rows = []
    interrupted = interrupted_numbers(study)
    for trial in study.get_trials(deepcopy=False):
        if is_surplus(trial):
            continue  # never ran: another process had taken the last slot
        attrs = trial.user_attrs
        state = trial_state(trial, interrupted)
        rows.append(
            {
                "number": trial.number,
                "state": state,
                **{key: attrs.get(key) for key in _COLUMNS[2:]},
            }
        )
    return pd.DataFrame(rows, columns=_COLUMNS)


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def choose_coefficients(table: pd.DataFrame) -> dict[str, Any] | None:
    """Best compound candidate by accuracy; ties go to the lower actual FLOPs."""
    done = table[(table["state"] == "complete") & table["accuracy"].notna()]
    compound = done[done["kind"] == "compound"]
    if compound.empty:
        return None
    best = compound.sort_values(["accuracy", "flops"], ascending=[False, True]).iloc[0]
    chosen = {
        key: _plain(best[key])
        for key in (
            "alpha",
            "beta",
            "gamma",
            "accuracy",
            "flops",
            "params",
            "resolution",
            "actual_ratio",
            "nominal_ratio",
        )
    }
    chosen["trial"] = int(best["number"])
    return chosen


def write_coefficient_report(
    study: optuna.Study,
    run_dir: str | os.PathLike[str],
    *,
    backbone: str,
    base_resolution: int,
    settings: dict[str, Any],
    plot: bool = True,
) -> dict[str, Any]:
    """Write the report files; returns the summary (also written as summary.json)."""
    run_dir = Path(run_dir)
    table = coefficient_table(study)
    write_text_atomic(run_dir / "coefficients.csv", table.to_csv(index=False))
    chosen = choose_coefficients(table)
    done = table[(table["state"] == "complete") & table["accuracy"].notna()]
    references = {
        str(row["kind"]): {
            key: _plain(row[key])
            for key in ("accuracy", "flops", "actual_ratio", "alpha", "beta", "gamma")
        }
        for _, row in done[done["kind"] != "compound"].iterrows()
    }
    summary = {
        "backbone": backbone,
        "base_resolution": base_resolution,
        "settings": settings,
        "candidates": int((table["kind"] == "compound").sum()),
        "trials": {k: int(v) for k, v in table["state"].value_counts().to_dict().items()},
        "chosen": chosen,
        "references": references,
        "files": {
            "table": str(run_dir / "coefficients.csv"),
            "summary": str(run_dir / "summary.json"),
        },
    }
    if chosen is not None:
        document = {
            "alpha": chosen["alpha"],
            "beta": chosen["beta"],
            "gamma": chosen["gamma"],
            "product": chosen["alpha"] * chosen["beta"] ** 2 * chosen["gamma"] ** 2,
            "accuracy": chosen["accuracy"],
            "actual_flop_ratio": chosen["actual_ratio"],
            "backbone": backbone,
            "base_resolution": base_resolution,
            "references": references,
            "settings": settings,
        }
        write_text_atomic(run_dir / "coefficients.json", json.dumps(document, indent=2) + "\n")
        summary["files"]["coefficients"] = str(run_dir / "coefficients.json")
    if plot and not done.empty:
        plot_heatmap(done, run_dir / "heatmap.png", backbone=backbone, chosen=chosen)
        summary["files"]["heatmap"] = str(run_dir / "heatmap.png")
    write_text_atomic(run_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def plot_heatmap(done: pd.DataFrame, path: Path, *, backbone: str, chosen: dict | None) -> None:
    """alpha vs beta, colour = best accuracy over gamma; references as horizontal lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    compound = done[done["kind"] == "compound"]
    fig, (heat, bars) = plt.subplots(1, 2, figsize=(11, 4.5), width_ratios=[3, 2])
    if not compound.empty:
        grid = compound.pivot_table(index="beta", columns="alpha", values="accuracy", aggfunc="max")
        image = heat.imshow(
            grid.values,
            origin="lower",
            aspect="auto",
            cmap="viridis",
            extent=(-0.5, len(grid.columns) - 0.5, -0.5, len(grid.index) - 0.5),
        )
        heat.set_xticks(
            range(len(grid.columns)), [f"{a:g}" for a in grid.columns], rotation=90, fontsize=7
        )
        heat.set_yticks(range(len(grid.index)), [f"{b:g}" for b in grid.index], fontsize=7)
        fig.colorbar(image, ax=heat, label="validation accuracy (best over gamma)")
        if chosen is not None:
            x = list(grid.columns).index(chosen["alpha"])
            y = list(grid.index).index(chosen["beta"])
            heat.scatter(
                [x],
                [y],
                marker="*",
                s=200,
                color="red",
                label=f"chosen ({chosen['alpha']:g}, {chosen['beta']:g}, {chosen['gamma']:g})",
            )
            heat.legend(fontsize=8, loc="upper right")
    heat.set(xlabel="alpha (depth)", ylabel="beta (width)", title=f"{backbone}: compound grid")
    names, values = [], []
    for kind in ("base", "depth", "width", "resolution"):
        row = done[done["kind"] == kind]
        if not row.empty:
            names.append(kind if kind == "base" else f"{kind} only")
            values.append(float(row["accuracy"].iloc[0]))
    if chosen is not None:
        names.append("compound")
        values.append(float(chosen["accuracy"]))
    bars.barh(names, values, color=["0.6"] * (len(values) - 1) + ["tab:red"])
    bars.set(xlabel="validation accuracy", title="same nominal FLOPs (phi = 1)")
    bars.set_xlim(max(0.0, min(values, default=0) - 0.1), 1.0)
    fig.tight_layout()
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=110))
    plt.close(fig)

"""What a coefficient search leaves in its run directory, rebuilt from the study alone.

trials.csv (every trial: a candidate at one seed), coefficients.csv (every candidate:
nominal and as-built scaling, nominal and actual FLOP ratio, accuracy per seed, mean
and 95% interval), coefficients.json (the choice, in the form ``cnas family
--coefficients-file`` reads, with its verdicts), heatmap.png and summary.json.

The choice is the best mean accuracy among the finalists (the candidates that trained
every seed); the verdicts compare it seed by seed with the runner-up and with each
reference, and say "not distinguishable" where the interval spans zero.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from nas.runs import interrupted_numbers, is_surplus, trial_node, trial_state
from nas.stats import Comparison, compare_by_seed, summarise_seeds
from search_spaces import write_atomic, write_text_atomic

__all__ = [
    "candidate_table",
    "choose_coefficients",
    "coefficient_table",
    "verdicts",
    "write_coefficient_report",
]

_TRIAL_COLUMNS = [
    "number",
    "state",
    "candidate",
    "seed",
    "kind",
    "label",
    "alpha",
    "beta",
    "gamma",
    "depth_mult",
    "width_mult",
    "repeats",
    "resolution",
    "nominal_ratio",
    "actual_ratio",
    "flops",
    "params",
    "accuracy",
    "duration_s",
    "error",
    "node",  # the Ray node id, or the host of a local run
    "reused_from",  # "<run dir> trial N": taken from another run (--reuse-results), not trained
]
_DESCRIBE = _TRIAL_COLUMNS[4:17]  # kind .. params: how a candidate was built and counted
NAMES = {
    "base": "base",
    "depth": "depth-only",
    "width": "width-only",
    "resolution": "resolution-only",
}
_REFERENCE_STATS = (
    *("mean_accuracy", "low", "high", "seeds", "flops", "actual_ratio"),
    *("depth_mult", "width_mult", "resolution", "alpha", "beta", "gamma"),
)


def coefficient_table(study: optuna.Study) -> pd.DataFrame:
    """One row per trial (a candidate at one seed)."""
    rows = []
    interrupted = interrupted_numbers(study)
    for trial in study.get_trials(deepcopy=False):
        if is_surplus(trial):
            continue  # never ran: another process had taken the last slot
        attrs = trial.user_attrs
        row = {key: attrs.get(key) for key in _TRIAL_COLUMNS}
        row["number"] = trial.number
        row["node"] = trial_node(attrs)
        row["state"] = trial_state(trial, interrupted)
        row["candidate"] = trial.params.get("candidate")
        row["seed"] = trial.params.get("seed")
        if isinstance(row["repeats"], list):
            row["repeats"] = "-".join(map(str, row["repeats"]))
        rows.append(row)
    return pd.DataFrame(rows, columns=_TRIAL_COLUMNS)


def reused_count(trials: pd.DataFrame) -> int:
    """How many finished trials were taken from another run rather than trained."""
    return int(trials["reused_from"].notna().sum())


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def candidate_table(trials: pd.DataFrame, base_resolution: int) -> pd.DataFrame:
    """One row per candidate: how it was built, its accuracy per seed, mean and interval."""
    done = trials[trials["state"] == "complete"].dropna(subset=["candidate"])
    rows = []
    for candidate, group in done.groupby("candidate", sort=True):
        first = group.iloc[0]
        by_seed = {int(s): float(a) for s, a in zip(group["seed"], group["accuracy"], strict=True)}
        summary = summarise_seeds(list(by_seed.values()))
        row = {key: _plain(first[key]) for key in _DESCRIBE}
        row["candidate"] = int(candidate)
        row["gamma_effective"] = round(int(first["resolution"]) / base_resolution, 4)
        row["seeds"] = summary.n
        row["mean_accuracy"] = summary.mean
        row["low"] = summary.low
        row["high"] = summary.high
        row["accuracies"] = ";".join(f"{by_seed[s]:.4f}" for s in sorted(by_seed))
        row["by_seed"] = by_seed
        rows.append(row)
    columns = ["candidate", *_DESCRIBE, "gamma_effective", "seeds", "mean_accuracy", "low",
               "high", "accuracies", "by_seed"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def choose_coefficients(candidates: pd.DataFrame) -> dict[str, Any] | None:
    """Best mean among the finalists (grid candidates with the most seeds); ties go to
    the lower FLOPs. Returns the winner's row as plain values, or None."""
    compound = candidates[candidates["kind"] == "compound"]
    if compound.empty:
        return None
    finalists = compound[compound["seeds"] == compound["seeds"].max()]
    best = finalists.sort_values(["mean_accuracy", "flops"], ascending=[False, True]).iloc[0]
    return {key: _plain(best[key]) for key in best.index if key != "by_seed"} | {
        "by_seed": dict(best["by_seed"])
    }


def _label(row: Any) -> str:
    if row["kind"] == "compound":
        return f"alpha={row['alpha']:g}, beta={row['beta']:g}, gamma={row['gamma']:g}"
    return NAMES.get(str(row["kind"]), str(row["kind"]))


def verdicts(candidates: pd.DataFrame, chosen: dict[str, Any] | None) -> dict[str, Comparison]:
    """The winner against the runner-up and each reference, paired by seed."""
    if chosen is None:
        return {}
    compound = candidates[candidates["kind"] == "compound"]
    finalists = compound[compound["seeds"] == compound["seeds"].max()]
    others = finalists[finalists["candidate"] != chosen["candidate"]]
    found: dict[str, Comparison] = {}
    mine = chosen["by_seed"]
    name = _label(chosen)
    if not others.empty:
        runner = others.sort_values(["mean_accuracy", "flops"], ascending=[False, True]).iloc[0]
        found["runner_up"] = compare_by_seed(
            mine, runner["by_seed"], a_label=name, b_label=f"the runner-up ({_label(runner)})"
        )
    for _, row in candidates[candidates["kind"] != "compound"].iterrows():
        found[str(row["kind"])] = compare_by_seed(
            mine, row["by_seed"], a_label=name, b_label=_label(row)
        )
    return found


def _headline(found: dict[str, Comparison], chosen: dict[str, Any] | None, grid: int) -> str:
    if chosen is None:
        return "No grid candidate was trained successfully; see trials.csv."
    runner = found.get("runner_up")
    if runner is None or not runner.distinguishable:
        return (
            f"No candidate is distinguishable from the others at this budget: the best mean is "
            f"{_label(chosen)} ({runner.sentence() if runner else 'no runner-up'})."
        )
    return f"{_label(chosen)} is the best of {grid} candidates: {runner.sentence()}."


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
    trials = coefficient_table(study)
    write_text_atomic(run_dir / "trials.csv", trials.to_csv(index=False))
    candidates = candidate_table(trials, base_resolution)
    write_text_atomic(
        run_dir / "coefficients.csv", candidates.drop(columns="by_seed").to_csv(index=False)
    )
    chosen = choose_coefficients(candidates)
    found = verdicts(candidates, chosen)
    references = {
        str(row["kind"]): {key: _plain(row[key]) for key in _REFERENCE_STATS}
        for _, row in candidates[candidates["kind"] != "compound"].iterrows()
    }
    grid = int((candidates["kind"] == "compound").sum())
    lines = [_headline(found, chosen, grid)]
    lines += [
        found[k].sentence() + "." for k in ("depth", "width", "resolution", "base") if k in found
    ]
    summary = {
        "backbone": backbone,
        "base_resolution": base_resolution,
        "settings": settings,
        "match": study.user_attrs.get("match"),
        "candidates": grid,
        "unmatched": study.user_attrs.get("unmatched", []),
        "trials": {k: int(v) for k, v in trials["state"].value_counts().to_dict().items()},
        "reused": reused_count(trials),
        "chosen": None if chosen is None else {k: v for k, v in chosen.items() if k != "by_seed"},
        "references": references,
        "verdicts": {key: c.as_dict() for key, c in found.items()},
        "verdict": " ".join(lines),
        "files": {
            "table": str(run_dir / "coefficients.csv"),
            "trials": str(run_dir / "trials.csv"),
            "summary": str(run_dir / "summary.json"),
        },
    }
    if chosen is not None:
        document = {
            "alpha": chosen["alpha"],
            "beta": chosen["beta"],
            "gamma": chosen["gamma"],
            "product": chosen["alpha"] * chosen["beta"] ** 2 * chosen["gamma"] ** 2,
            "as_built": {
                "depth_mult": chosen["depth_mult"],
                "width_mult": chosen["width_mult"],
                "resolution": chosen["resolution"],
                "gamma_effective": chosen["gamma_effective"],
                "repeats": chosen["repeats"],
            },
            "accuracy": chosen["mean_accuracy"],
            "accuracy_interval": [chosen["low"], chosen["high"]],
            "seeds": chosen["seeds"],
            "actual_flop_ratio": chosen["actual_ratio"],
            "nominal_flop_ratio": chosen["nominal_ratio"],
            "verdict": summary["verdict"],
            "verdicts": summary["verdicts"],
            "backbone": backbone,
            "base_resolution": base_resolution,
            "references": references,
            "settings": settings,
        }
        write_text_atomic(run_dir / "coefficients.json", json.dumps(document, indent=2) + "\n")
        summary["files"]["coefficients"] = str(run_dir / "coefficients.json")
    if plot and not candidates.empty:
        plot_heatmap(candidates, run_dir / "heatmap.png", backbone=backbone, chosen=chosen)
        summary["files"]["heatmap"] = str(run_dir / "heatmap.png")
    write_text_atomic(run_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def plot_heatmap(
    candidates: pd.DataFrame, path: Path, *, backbone: str, chosen: dict | None
) -> None:
    """alpha vs beta, colour = best mean accuracy over gamma; references beside, with
    95% intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    compound = candidates[candidates["kind"] == "compound"]
    fig, (heat, bars) = plt.subplots(1, 2, figsize=(11, 4.5), width_ratios=[3, 2])
    if not compound.empty:
        grid = compound.pivot_table(
            index="beta", columns="alpha", values="mean_accuracy", aggfunc="max"
        )
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
        fig.colorbar(image, ax=heat, label="mean validation accuracy (best over gamma)")
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
    names, means, errors = [], [], []
    rows = [
        candidates[candidates["kind"] == kind] for kind in ("base", "depth", "width", "resolution")
    ]
    if chosen is not None:
        rows.append(candidates[candidates["candidate"] == chosen["candidate"]])
    for row in rows:
        if row.empty:
            continue
        r = row.iloc[0]
        names.append("compound (chosen)" if r["kind"] == "compound" else NAMES[str(r["kind"])])
        means.append(float(r["mean_accuracy"]))
        half = (float(r["high"]) - float(r["low"])) / 2
        errors.append(0.0 if math.isnan(half) else half)
    colours = ["tab:red" if n.startswith("compound") else "0.6" for n in names]
    bars.barh(names, means, xerr=errors, color=colours, capsize=3)
    bars.set(xlabel="mean validation accuracy (95% interval)", title="equal FLOPs (phi = 1)")
    low = min((m - e for m, e in zip(means, errors, strict=True)), default=0.0)
    bars.set_xlim(max(0.0, low - 0.05), 1.0)
    fig.tight_layout()
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=110))
    plt.close(fig)

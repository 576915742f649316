"""What a rank check leaves in its run directory, rebuilt from the study alone.

rank_check.csv (every network: counts, reference accuracy, every cheap score),
summary.json (Kendall tau and Spearman rho of each score with 95% intervals, and a
one-line verdict), rank_check.png (one scatter per score against the reference).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from nas.rank_check._task import ANALYTIC, DERIVED, LOWER_IS_BETTER, REFERENCE_RUN
from nas.runs import interrupted_numbers, is_surplus, trial_node, trial_state
from nas.stats import (
    RankCorrelation,
    Reliability,
    TauDifference,
    rank_correlation,
    reference_reliability,
    tau_difference,
)
from search_spaces import write_atomic, write_text_atomic

__all__ = ["SCORE_OF_EVALUATOR", "measured_ranking", "rank_table", "verdict", "write_rank_report"]

# The rank-check score that measures each search evaluator.
SCORE_OF_EVALUATOR = {
    "train": "proxy",
    "zero-cost": "synflow",
    "naswot": "naswot",
    "supernet": "supernet",
}


def rank_table(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: the network, its counts, its reference accuracy, its scores."""
    interrupted = interrupted_numbers(study)
    rows = []
    for trial in study.get_trials(deepcopy=False):
        if is_surplus(trial):
            continue
        attrs = trial.user_attrs
        row: dict[str, Any] = {
            "number": trial.number,
            "state": trial_state(trial, interrupted),
            "network": trial.params.get("network"),
            "flops": attrs.get("flops"),
            "params": attrs.get("params"),
            "reference_accuracy": attrs.get("reference_accuracy"),
        }
        row.update(attrs.get("scores") or {})
        row["duration_s"] = attrs.get("duration_s")
        row["error"] = attrs.get("error")
        row["node"] = trial_node(attrs)
        row["spec"] = json.dumps(attrs["spec"]) if "spec" in attrs else None
        rows.append(row)
    return pd.DataFrame(rows, columns=None if rows else ["number", "state", "reference_accuracy"])


def _score_names(study: optuna.Study) -> list[str]:
    scorers = list(study.user_attrs.get("scorers", {}))
    derived = [name for name, (source, _) in DERIVED.items() if source in scorers]
    return [*scorers, *derived, *ANALYTIC]


def _ranking(done: pd.DataFrame, name: str) -> pd.Series:
    """The score as a ranking: higher ranks a network higher (a loss sum is negated)."""
    values = done[name].astype(float)
    return -values if name in LOWER_IS_BETTER else values


def correlations(table: pd.DataFrame, names: list[str]) -> dict[str, RankCorrelation]:
    done = _done(table)
    return {
        name: rank_correlation(_ranking(done, name), done["reference_accuracy"].astype(float))
        for name in names
        if name in done
    }


def _of_ceiling(found: RankCorrelation, reliability: Reliability | None) -> dict[str, float]:
    """A score's tau as a share of the highest tau any score could reach (k >= 3 seeds)."""
    if reliability is None or not reliability.ceiling > 0 or math.isnan(found.kendall_tau):
        return {}
    return {"share_of_ceiling": round(found.kendall_tau / reliability.ceiling, 4)}


def verdict(
    found: dict[str, RankCorrelation],
    reference: str,
    *,
    versus_flops: TauDifference | None = None,
    repeatability: RankCorrelation | None = None,
    reliability: Reliability | None = None,
) -> str:
    """One line: which score ranks like the reference, and whether it beats FLOPs.

    ``versus_flops`` is the best score's tau minus FLOPs' tau, paired over networks;
    ``repeatability`` how well one reference run ranks like another; ``reliability``
    (3+ reference seeds) the ceiling a perfect score would reach against their mean.
    """
    ranked = [(name, c) for name, c in found.items() if not math.isnan(c.kendall_tau)]
    if not ranked:
        return "No score could be ranked yet: too few networks finished."
    name, best = max(ranked, key=lambda item: item[1].kendall_tau)
    line = (
        f"{name} ranks networks most like {reference}: Kendall tau {best.kendall_tau:.2f} "
        f"[{best.kendall_low:.2f}, {best.kendall_high:.2f}] over {best.n} networks"
    )
    flops = found.get("flops")
    if name != "flops" and flops is not None and not math.isnan(flops.kendall_tau):
        gap = f"FLOPs tau {flops.kendall_tau:.2f}"
        if versus_flops is not None and not math.isnan(versus_flops.difference):
            gap += (
                f"; difference {versus_flops.difference:+.2f} "
                f"[{versus_flops.low:+.2f}, {versus_flops.high:+.2f}], paired"
            )
            beats = versus_flops.low > 0
        else:  # no paired difference: only intervals that do not overlap count
            beats = best.kendall_low > flops.kendall_high
        line += f"; better than FLOPs ({gap})" if beats else f"; within noise of FLOPs ({gap})"
    if reliability is not None and not math.isnan(reliability.ceiling):
        share = _of_ceiling(best, reliability).get("share_of_ceiling")
        line += (
            f". The mean of {reliability.runs} reference runs allows at most tau "
            f"{reliability.ceiling:.2f} [{reliability.ceiling_low:.2f}, "
            f"{reliability.ceiling_high:.2f}]"
            + (f" ({name} reaches {share:.0%} of it)" if share is not None else "")
            + f"; one run ranks like the mean of the others with tau "
            f"{reliability.one_vs_rest:.2f} [{reliability.one_vs_rest_low:.2f}, "
            f"{reliability.one_vs_rest_high:.2f}]"
        )
    elif repeatability is not None and not math.isnan(repeatability.kendall_tau):
        line += (
            f". One reference run ranks like another with tau {repeatability.kendall_tau:.2f} "
            f"[{repeatability.kendall_low:.2f}, {repeatability.kendall_high:.2f}]"
        )
    return line + "."


def _versus_flops(
    table: pd.DataFrame, found: dict[str, RankCorrelation]
) -> tuple[str, TauDifference] | None:
    ranked = [(n, c) for n, c in found.items() if not math.isnan(c.kendall_tau)]
    if not ranked or "flops" not in found:
        return None
    name = max(ranked, key=lambda item: item[1].kendall_tau)[0]
    if name == "flops":
        return None
    done = _done(table)
    return name, tau_difference(
        _ranking(done, name), done["flops"].astype(float), done["reference_accuracy"]
    )


def _repeatability(table: pd.DataFrame) -> RankCorrelation | None:
    first, second = f"{REFERENCE_RUN}0", f"{REFERENCE_RUN}1"
    if first not in table or second not in table:
        return None
    done = _done(table)
    return rank_correlation(done[first].astype(float), done[second].astype(float))


def _reference_runs(table: pd.DataFrame) -> pd.DataFrame:
    columns = sorted(
        (c for c in table if c.startswith(REFERENCE_RUN) and c[len(REFERENCE_RUN) :].isdigit()),
        key=lambda c: int(c[len(REFERENCE_RUN) :]),
    )
    return _done(table)[columns].astype(float)


def _reliability(table: pd.DataFrame) -> Reliability | None:
    """The reference's reliability and ceiling, from 3 or more reference seeds."""
    runs = _reference_runs(table)
    if runs.shape[1] < 3:
        return None
    return reference_reliability(runs.to_numpy())


def _seconds(study: optuna.Study, table: pd.DataFrame, names: list[str]) -> dict[str, Any]:
    """Wall time of each score over the networks done, plus any one-off preparation
    (training a supernet), and of the reference trainings: what the cheap scores save."""
    done = _done(table)
    out: dict[str, Any] = {}
    for name in [*names, "reference"]:
        column = f"{name}_seconds"
        if column not in done:
            continue
        prepared = study.user_attrs.get(f"prepared_seconds:{name}")
        scoring = float(done[column].astype(float).sum())
        out[name] = {
            "per_network": round(scoring / max(1, len(done)), 3),
            "networks": round(scoring, 1),
            "prepared": None if prepared is None else round(float(prepared), 1),
            "total": round(scoring + float(prepared or 0.0), 1),
        }
    return out


def _done(table: pd.DataFrame) -> pd.DataFrame:
    return table[(table["state"] == "complete") & table["reference_accuracy"].notna()]


def write_rank_report(
    study: optuna.Study,
    run_dir: str | os.PathLike[str],
    *,
    reference: str,
    settings: dict[str, Any],
    plot: bool = True,
) -> dict[str, Any]:
    """Write the report files; returns the summary (also written as summary.json)."""
    run_dir = Path(run_dir)
    table = rank_table(study)
    write_text_atomic(run_dir / "rank_check.csv", table.to_csv(index=False))
    names = _score_names(study)
    found = correlations(table, names)
    compared = _versus_flops(table, found)
    repeatability = _repeatability(table)
    reliability = _reliability(table)
    axes = {
        "flops": "FLOPs (M)",
        "params": "parameters (M)",
        "proxy": "proxy accuracy",
        "tse": "TSE: sum of epoch training losses (lower ranks higher)",
    }
    summary: dict[str, Any] = {
        "reference": reference,
        "settings": settings,
        # Ranked networks: an interrupted trial's row is its point's first try, not another.
        "networks": int((table["state"] == "complete").sum()),
        "trials": {k: int(v) for k, v in table["state"].value_counts().to_dict().items()},
        "correlations": {
            name: {"label": name, **c.as_dict(), **_of_ceiling(c, reliability)}
            for name, c in found.items()
        },
        "versus_flops": None,
        "reference_repeatability": None if repeatability is None else repeatability.as_dict(),
        "reference_reliability": None if reliability is None else reliability.as_dict(),
        "verdict": verdict(
            found,
            reference,
            versus_flops=None if compared is None else compared[1],
            repeatability=repeatability,
            reliability=reliability,
        ),
        "files": {
            "table": str(run_dir / "rank_check.csv"),
            "summary": str(run_dir / "summary.json"),
        },
    }
    summary["seconds"] = _seconds(study, table, names)
    if compared is not None:
        name, diff = compared
        summary["versus_flops"] = {
            "score": name,
            "difference": round(diff.difference, 4),
            "low": round(diff.low, 4),
            "high": round(diff.high, 4),
            "distinguishable": diff.distinguishable,
        }
    if plot and found:
        plot_ranks(table, found, axes, run_dir / "rank_check.png", reference=reference)
        summary["files"]["plot"] = str(run_dir / "rank_check.png")
    write_text_atomic(run_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def plot_ranks(
    table: pd.DataFrame,
    found: dict[str, RankCorrelation],
    labels: dict[str, str],
    path: Path,
    *,
    reference: str,
) -> None:
    """One scatter per score: the score against the reference accuracy, tau in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = _done(table)
    names = list(found)
    columns = min(3, len(names))
    rows = math.ceil(len(names) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.6 * rows), squeeze=False)
    for axis, name in zip(axes.flat, names, strict=False):
        c = found[name]
        scale = 1e6 if name in ANALYTIC else 1.0
        axis.scatter(
            done[name].astype(float) / scale, done["reference_accuracy"], s=16, color="tab:blue"
        )
        axis.set(
            xlabel=labels.get(name, name),
            ylabel=f"accuracy ({reference})",
            title=f"tau {c.kendall_tau:.2f} [{c.kendall_low:.2f}, {c.kendall_high:.2f}]",
        )
        axis.grid(alpha=0.3)
    for axis in list(axes.flat)[len(names) :]:
        axis.set_visible(False)
    fig.suptitle(f"Cheap scores against {reference}, {found[names[0]].n} networks", fontsize=10)
    fig.tight_layout()
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=110))
    plt.close(fig)


def measured_ranking(run_dir: str | os.PathLike[str], evaluator: str) -> dict[str, Any] | None:
    """What the rank check in ``run_dir`` measured of a search evaluator, or None.

    Kendall tau with its interval, the reference budget, and where it comes from; None
    when the check has no score for that evaluator (or no summary yet).
    """
    path = Path(run_dir) / "summary.json"
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    found = summary.get("correlations", {}).get(SCORE_OF_EVALUATOR.get(evaluator, evaluator))
    if not found:
        return None
    keys = ("kendall_tau", "kendall_low", "kendall_high", "n")
    return {
        **{key: found[key] for key in keys},
        "reference": summary.get("reference"),
        "settings": summary.get("settings"),
        "source": str(path),
    }

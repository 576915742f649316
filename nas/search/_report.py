"""Everything a finished (or interrupted) search leaves in its run directory.

Built from the study alone, so it can be rewritten after every trial and by
any later command: trials.csv, pareto.csv, pareto.png, baseline.json,
summary.json.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from nas.predict import MIN_TRAINED, leave_one_out
from nas.runs import interrupted_numbers, is_surplus, trial_node, trial_state
from nas.search._objectives import hypervolume, pareto_front
from nas.search._predictor_sampler import PREDICTED_ATTR, trained_results
from nas.search._search import SearchConfig, format_cost
from nas.search._standalone import confirmed_results
from search_spaces import NetworkSpec, write_atomic, write_text_atomic

__all__ = ["SearchReport", "build_report", "predictor_summary", "write_report"]

_COST_LABEL = {
    "flops": "FLOPs (conv + linear multiply-adds)",
    "params": "parameters",
    "latency": "latency (ms, batch 1, this CPU)",
    "memory": "peak activation memory (float32, batch 1)",
}


# What a study without an evaluator record (made before it was kept) was scored by.
_TRAINED = {"name": "train", "gives_accuracy": True, "score_label": "validation accuracy"}


@dataclass(frozen=True)
class SearchReport:
    trials: pd.DataFrame  # one row per trial, every state
    front: pd.DataFrame  # evaluated trials no other beats on both accuracy and cost
    baseline: dict[str, Any] | None  # the chosen trial's row, or None if nothing was evaluated
    summary: dict[str, Any]
    # The evaluator's values sit in the "accuracy" column inside; the files call them
    # "score" when the evaluator gives a ranking score rather than an accuracy.
    evaluator: dict[str, Any] = dataclasses.field(default_factory=lambda: dict(_TRAINED))

    @property
    def value_column(self) -> str:
        return "accuracy" if self.evaluator["gives_accuracy"] else "score"

    def for_files(self, table: pd.DataFrame) -> pd.DataFrame:
        """``table`` with its value column named for what the evaluator gives."""
        return table.rename(columns={"accuracy": self.value_column})


def _trial_row(
    trial: optuna.trial.FrozenTrial,
    interrupted: set[int],
    confirmed: Mapping[int, Mapping[str, Any]],
) -> dict[str, Any]:
    attrs = trial.user_attrs
    state = trial_state(trial, interrupted)
    if state == "complete" and attrs.get("screened"):
        if attrs.get("out_of_band"):
            state = "out-of-band"
        else:
            state = "over-memory" if attrs.get("over_memory") else "screened"
    row: dict[str, Any] = {"number": trial.number, "state": state}
    row.update(trial.params)
    for key in ("flops", "params", "latency_ms", "cost", "accuracy", "reward", "duration_s"):
        row[key] = attrs.get(key)
    if "peak_memory_bytes" in attrs:
        row["peak_memory_bytes"] = attrs["peak_memory_bytes"]
    # Retrained alone to confirm a cheap evaluator's choice (nas.search._confirm).
    standalone = confirmed.get(trial.number, {})
    row["standalone_accuracy"] = standalone.get("accuracy")
    row["standalone_reward"] = standalone.get("reward")
    if "int8_accuracy" in standalone:
        row["standalone_int8_accuracy"] = standalone["int8_accuracy"]
    row["stopped_at_epoch"] = attrs.get("stopped_at_epoch")
    row["duplicate_of"] = attrs.get("duplicate_of")
    row["error"] = attrs.get("error")
    row["node"] = trial_node(attrs)
    for key, value in (attrs.get("metrics") or {}).items():
        row[f"metric_{key}"] = value
    row["spec"] = json.dumps(attrs["spec"]) if "spec" in attrs else None
    return row


def _latency_source(config: SearchConfig) -> dict[str, Any]:
    """Where the latency costs came from: a table (which, measured where) or timing."""
    table = config.latency_table
    if table is None:
        return {"source": "measured per candidate", "runtime": config.latency_runtime}
    return {
        "source": "latency table",
        "runtime": config.latency_runtime,
        "table": table.digest(),
        "calibrated": config.latency_runtime in table.calibration,
        "measured_on": {key: table.measured.get(key) for key in ("host", "cpu", "date")},
        "validation": (table.validation or {}).get("runtimes", {}).get(config.latency_runtime),
    }


def build_report(
    study: optuna.Study,
    config: SearchConfig,
    *,
    space_size: int,
    rank_check: Mapping[str, Any] | None = None,
) -> SearchReport:
    """The report of ``study``; ``rank_check`` is what a rank check measured of the
    evaluator that scored it (``nas.rank_check.measured_ranking``), shown with the baseline."""
    interrupted = interrupted_numbers(study)
    confirmed = confirmed_results(study)
    trials = pd.DataFrame(
        [
            _trial_row(t, interrupted, confirmed)
            for t in study.get_trials(deepcopy=False)
            if not is_surplus(t)  # never ran: another process had taken the last slot
        ]
    )
    if trials.empty:
        trials = pd.DataFrame(columns=["number", "state", "accuracy", "cost", "reward", "spec"])
    evaluated = trials[(trials["state"] == "complete") & trials["accuracy"].notna()]
    # Duplicates repeat an earlier trial's network and numbers: one point per network.
    unique = (
        evaluated[evaluated["duplicate_of"].isna()] if "duplicate_of" in evaluated else evaluated
    )
    points = list(zip(unique["accuracy"].astype(float), unique["cost"].astype(float), strict=True))
    front = unique.iloc[pareto_front(points)] if points else unique
    baseline = _choose_baseline(unique, front, config)
    counts = trials["state"].value_counts().to_dict()
    evaluator = {**_TRAINED, **study.user_attrs.get("evaluator", {})}
    value = "accuracy" if evaluator["gives_accuracy"] else "score"
    summary: dict[str, Any] = {
        "target": config.target,
        "target_text": format_cost(config.target, config.cost),
        "cost": config.cost,
        "objective": config.objective,
        "constraint": config.constraint,
        "strategy": config.strategy,
        "seed": config.seed,
        "trials_requested": config.trials,
        "trials": {state: int(count) for state, count in counts.items()},
        "space_size": space_size,
        "pareto_size": len(front),
        "evaluator": evaluator,
        # Cost in units of the target, bounded at twice the target: 0 (nothing) to 2 (a
        # perfect network at zero cost), comparable across runs with the same target. An
        # area under a score that is no accuracy (unbounded, any offset) means nothing.
        "hypervolume": hypervolume(
            [(accuracy, cost / config.target) for accuracy, cost in points], max_cost=2.0
        )
        if evaluator["gives_accuracy"]
        else None,
        "baseline": None,
    }
    if config.cost == "latency":
        summary["latency"] = _latency_source(config)
    band = config.screening_band()
    if band is not None:
        # Only candidates in the band trained; the others were proposed and turned away.
        summary["band"] = {
            "low": band[0],
            "high": band[1],
            "share_of_space": study.user_attrs.get("band_share"),
            "proposed_outside": int(counts.get("out-of-band", 0)),
        }
    if baseline is not None:
        summary["baseline"] = {
            (value if key == "accuracy" else key): _plain(baseline.get(key))
            for key in ("number", "accuracy", "reward", "cost", "flops", "params", "latency_ms")
        }
        summary["baseline"]["chosen_by"] = evaluator["name"]
        summary["baseline"]["rank_check"] = dict(rank_check) if rank_check else None
        if config.objective == "reward":
            summary["baseline"].update(_placement(baseline, unique, config))
    if confirmed:
        by_number = trials.set_index("number")
        summary["confirmed"] = [
            {
                "number": number,
                value: _plain(row["accuracy"]),
                "standalone_accuracy": result.get("accuracy"),
                "standalone_reward": result.get("reward"),
                "cost": _plain(row["cost"]),
                "seconds": result.get("seconds"),
                **({"error": result["error"]} if "error" in result else {}),
                **(
                    {"standalone_int8_accuracy": result["int8_accuracy"]}
                    if "int8_accuracy" in result
                    else {}
                ),
            }
            for number, result in sorted(confirmed.items())
            for row in [by_number.loc[number]]
        ]
        if baseline is not None and baseline.get("standalone_accuracy") is not None:
            summary["baseline"]["standalone_accuracy"] = _plain(baseline["standalone_accuracy"])
            summary["baseline"]["standalone_reward"] = _plain(baseline["standalone_reward"])
            if baseline.get("standalone_int8_accuracy") is not None:
                summary["baseline"]["standalone_int8_accuracy"] = _plain(
                    baseline["standalone_int8_accuracy"]
                )
            summary["baseline"]["chosen_by"] = (
                f"stand-alone training of the top {len(confirmed)} by {evaluator['name']}"
            )
    if config.strategy == "predictor":
        summary["predictor"] = predictor_summary(study)
    return SearchReport(
        trials=trials, front=front, baseline=baseline, summary=summary, evaluator=evaluator
    )


def predictor_summary(study: optuna.Study) -> dict[str, Any]:
    """How well the predictor ranks this run's own trained candidates: each predicted by
    a predictor fitted on all the others (leave-one-out), Kendall tau with its interval."""
    trained = trained_results(study)
    proposed = sum(PREDICTED_ATTR in t.user_attrs for t in trained)
    result: dict[str, Any] = {"trained": len(trained), "proposed_by_predictor": proposed}
    if len(trained) <= MIN_TRAINED:
        return {**result, "loo_tau": None, "loo_tau_low": None, "loo_tau_high": None}
    _, tau = leave_one_out(
        [NetworkSpec.from_dict(t.user_attrs["spec"]) for t in trained],
        [float(t.user_attrs["accuracy"]) for t in trained],
    )
    return {
        **result,
        "loo_tau": _plain(round(tau.kendall_tau, 4)),
        "loo_tau_low": _plain(round(tau.kendall_low, 4)),
        "loo_tau_high": _plain(round(tau.kendall_high, 4)),
    }


def _choose_baseline(
    evaluated: pd.DataFrame, front: pd.DataFrame, config: SearchConfig
) -> dict[str, Any] | None:
    """Best reward; for a Pareto search, the most accurate front point within the target.

    Where candidates were retrained alone, the choice is among them, on those results.
    """
    if evaluated.empty:
        return None
    confirmed = evaluated[evaluated["standalone_accuracy"].notna()]
    if not confirmed.empty:
        if config.objective == "reward":
            confirmed = near_target(confirmed, config)
            key = ["standalone_reward", "cost"]
        else:
            within = confirmed[confirmed["cost"] <= config.target]
            confirmed = within if not within.empty else confirmed.sort_values("cost").head(1)
            key = ["standalone_accuracy", "cost"]
        return confirmed.sort_values(key, ascending=[False, True]).iloc[0].to_dict()
    if config.objective == "reward":
        pool = near_target(evaluated, config)
        best = pool.sort_values(["reward", "cost"], ascending=[False, True]).iloc[0]
    else:
        within = front[front["cost"] <= config.target]
        pool = within if not within.empty else front.sort_values("cost").head(1)
        best = pool.sort_values(["accuracy", "cost"], ascending=[False, True]).iloc[0]
    return best.to_dict()


def near_target(candidates: pd.DataFrame, config: SearchConfig) -> pd.DataFrame:
    """The candidates within the target's tolerance band, or all when none is."""
    band = config.target_band()
    if band is None:
        return candidates
    cost = candidates["cost"].astype(float)
    within = candidates[(cost >= band[0]) & (cost <= band[1])]
    return within if not within.empty else candidates


def _placement(
    baseline: dict[str, Any], evaluated: pd.DataFrame, config: SearchConfig
) -> dict[str, Any]:
    """Where the baseline sits against the target, and what the band cost in reward."""
    band = config.target_band()
    ratio = float(baseline["cost"]) / config.target
    placement: dict[str, Any] = {
        "target_ratio": round(ratio, 4),
        "target_tolerance": config.target_tolerance if band is not None else None,
        "within_tolerance": None if band is None else bool(band[0] <= baseline["cost"] <= band[1]),
    }
    if band is not None:
        # Among the same pool the baseline came from: the retrained, when there are any.
        key = "reward"
        if _plain(baseline.get("standalone_reward")) is not None:
            evaluated, key = evaluated[evaluated["standalone_reward"].notna()], "standalone_reward"
        best = evaluated.sort_values([key, "cost"], ascending=[False, True]).iloc[0]
        if int(best["number"]) != int(baseline["number"]):
            placement["best_reward_elsewhere"] = {
                "number": int(best["number"]),
                "reward": _plain(best[key]),
                "cost": _plain(best["cost"]),
                "target_ratio": round(float(best["cost"]) / config.target, 4),
            }
    return placement


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def write_report(
    report: SearchReport,
    run_dir: str | os.PathLike[str],
    config: SearchConfig,
    *,
    plot: bool = True,
) -> dict[str, str]:
    """Write the run directory's result files; returns name -> path."""
    run_dir = Path(run_dir)
    files = {
        "trials": run_dir / "trials.csv",
        "pareto": run_dir / "pareto.csv",
        "summary": run_dir / "summary.json",
    }
    write_text_atomic(files["trials"], report.for_files(report.trials).to_csv(index=False))
    write_text_atomic(files["pareto"], report.for_files(report.front).to_csv(index=False))
    if report.baseline is not None:
        spec = NetworkSpec.from_dict(json.loads(report.baseline["spec"]))
        metadata = {
            "source": "cnas search",
            "trial": int(report.baseline["number"]),
            report.value_column: report.baseline["accuracy"],
            **(
                {"standalone_accuracy": report.baseline["standalone_accuracy"]}
                if _plain(report.baseline.get("standalone_accuracy")) is not None
                else {}
            ),
            "chosen_by": report.summary["baseline"]["chosen_by"],
            "cost": config.cost,
            "target": config.target,
        }
        baseline = NetworkSpec.from_dict(
            {**spec.to_dict(), "name": "baseline", "metadata": metadata}
        )
        files["baseline"] = run_dir / "baseline.json"
        baseline.save(files["baseline"])
    if plot:
        files["plot"] = run_dir / "pareto.png"
        plot_search(report, files["plot"], config)
    summary = {
        **report.summary,
        "run_dir": str(run_dir),
        "files": {name: str(path) for name, path in files.items()},
    }
    write_text_atomic(files["summary"], json.dumps(summary, indent=2) + "\n")
    return {name: str(path) for name, path in files.items()}


def plot_search(report: SearchReport, path: Path, config: SearchConfig) -> None:
    """Accuracy vs cost of every evaluated trial, the front highlighted, the target marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trials = report.trials
    evaluated = trials[(trials["state"] == "complete") & trials["accuracy"].notna()]
    scale = {"flops": 1e6, "params": 1e6, "memory": 1024.0}.get(config.cost, 1.0)
    unit = {1e6: " (M)", 1024.0: " (KiB)"}.get(scale, "")
    fig, axis = plt.subplots(figsize=(7, 4.5))
    axis.scatter(
        evaluated["cost"] / scale,
        evaluated["accuracy"],
        s=18,
        color="0.6",
        label=f"evaluated ({len(evaluated)})",
    )
    screened = trials[trials["state"] == "screened"]
    if not screened.empty:
        axis.scatter(
            screened["cost"] / scale,
            [0] * len(screened),
            marker="x",
            s=18,
            color="tab:orange",
            label=f"screened ({len(screened)})",
        )
    band = config.screening_band()
    if band is not None:
        outside = int((trials["state"] == "out-of-band").sum())
        axis.axvspan(
            band[0] / scale,
            band[1] / scale,
            color="tab:green",
            alpha=0.12,
            label=f"band trained ({outside} proposed outside it, not trained)",
        )
    front = report.front.sort_values("cost")
    if not front.empty:
        axis.step(front["cost"] / scale, front["accuracy"], where="post", color="tab:red", lw=1)
        axis.scatter(
            front["cost"] / scale,
            front["accuracy"],
            s=30,
            color="tab:red",
            label=f"Pareto front ({len(front)})",
        )
    if report.baseline is not None:
        axis.scatter(
            [report.baseline["cost"] / scale],
            [report.baseline["accuracy"]],
            marker="*",
            s=220,
            color="gold",
            edgecolor="black",
            zorder=5,
            label=f"baseline (trial {int(report.baseline['number'])})",
        )
    axis.axvline(
        config.target / scale,
        color="tab:blue",
        ls="--",
        lw=1,
        label=f"target {format_cost(config.target, config.cost)}",
    )
    axis.set(
        xlabel=(
            "latency (ms, batch 1, from the latency table)"
            if config.latency_table is not None
            else _COST_LABEL[config.cost]
        )
        + unit,
        ylabel=report.evaluator["score_label"],
        title=f"{config.strategy} search, {config.objective} objective",
    )
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=110))
    plt.close(fig)

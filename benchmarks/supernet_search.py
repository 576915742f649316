"""A supernet search of a thousand candidates, against the cost of 30 stand-alone trials.

Runs ``cnas search --evaluator supernet`` on the search-proxy space (the one ``make demo``
searches, every shortcut kept) for ``--trials`` candidates with ``--strategy`` on one core
(``--backend local``), then retrains the top 3 alone at the rank check's reference budget.
The supernet is the one ``benchmarks/rank_check.py <data> --supernet`` trained and ranked:
its file is copied into this run directory (same data, space, schedule and seed, so the
search accepts it), and its training time is taken from that run's record. Without it the
search trains its own.

Reported: seconds to train the supernet once, to score the candidates (the search's trials
from first to last, sampling and storage included), to retrain the winners; and the cost of
30 stand-alone trainings at the reference budget, from the rank check's median per
training. Recorded in ``benchmarks/results/supernet_search_<data>.json``.

    .venv/bin/python benchmarks/supernet_search.py digits [--trials 1000]
    .venv/bin/python benchmarks/supernet_search.py notmnist
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _machine import machine

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"

# The results files were made with the recipe from before issue 25.
SPACE = [
    *("--resolution", "16", "--width-mult", "0.5", "--depth-mult", "0.5"),
    *("--recipe", "legacy"),
]
# The rank check's supernet data, and its reference budget for the retraining.
SETTINGS = {
    "digits": ["--data", "digits", "--epochs", "15"],
    "notmnist": ["--data", "mnist", "--max-samples", "2000", "--epochs", "8"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", choices=sorted(SETTINGS))
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--strategy", default="tpe")
    parser.add_argument("--data-root", default=str(ROOT.parent / "shared/data/notmnist"))
    parser.add_argument("--fresh", action="store_true", help="start the run directory anew")
    args = parser.parse_args()
    out = ROOT / "runs" / f"bench-supernet-search-{args.data}-{args.strategy}"
    if args.fresh and out.exists():
        shutil.rmtree(out)
    ranked = ROOT / "runs" / f"bench-rank-{args.data}-supernet"
    out.mkdir(parents=True, exist_ok=True)
    for name in ("supernet.safetensors", "supernet.pt", "supernet.json"):
        if (ranked / name).is_file() and not (out / name).exists():
            shutil.copy2(ranked / name, out / name)
    options = [
        *SPACE,
        *SETTINGS[args.data],
        *("--evaluator", "supernet", "--target-flops", "5M", "--strategy", args.strategy),
        *("--trials", str(args.trials), "--backend", "local", "--confirm-top", "3"),
    ]
    if args.data == "notmnist":
        options += ["--data-root", args.data_root]
    command = [sys.executable, "-m", "experiments.cli", "search", *options]
    started = time.perf_counter()
    done = subprocess.run(
        [*command, "--out", str(out), "--json", "--no-progress"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    wall = time.perf_counter() - started
    summary = json.loads(done.stdout)
    with (out / "trials.csv").open(newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["state"] == "complete"]
    trained = json.loads((out / "supernet.json").read_text(encoding="utf-8"))
    retrained = [entry["seconds"] for entry in summary["confirmed"]]
    durations = [float(row["duration_s"]) for row in rows if row["duration_s"]]
    reference = _reference_training_seconds(args.data)
    scoring = sum(durations)
    search_wall = _search_wall_seconds(out)
    result = {
        "benchmark": "supernet_search",
        "command": "cnas search " + " ".join(options),
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M %z"),
        "run_dir": str(out.relative_to(ROOT)),
        "wall_seconds_this_run": round(wall, 1),
        "candidates": len(rows),
        "distinct_networks": sum(1 for row in rows if not row["duplicate_of"]),
        "search_wall_seconds": search_wall,
        "supernet_training_seconds": trained["seconds"],
        "candidate_seconds": {
            "total": round(scoring, 1),
            "median": round(statistics.median(durations), 3),
            "p90": round(sorted(durations)[int(0.9 * (len(durations) - 1))], 3),
        },
        "retraining_seconds": retrained,
        "standalone_training_seconds_median": reference,
        "thirty_standalone_trials_seconds": None if reference is None else round(30 * reference),
        "supernet_plus_candidates_seconds": round(trained["seconds"] + search_wall, 1),
        "baseline": summary["baseline"],
        "confirmed": summary["confirmed"],
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"supernet_search_{args.data}.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k not in ("baseline", "confirmed")}))
    print(f"written: {path}")


def _search_wall_seconds(run_dir: Path) -> float:
    """First candidate's start to last candidate's end, from the study (so a rerun that
    only reports still gives the search's own time); the retraining comes after."""
    import optuna

    storage = f"sqlite:///{run_dir / 'study.db'}"
    study = optuna.load_study(study_name=optuna.get_all_study_names(storage)[0], storage=storage)
    trials = [t for t in study.get_trials(deepcopy=False) if t.datetime_complete is not None]
    began = min(t.datetime_start for t in trials)
    ended = max(t.datetime_complete for t in trials)
    return round((ended - began).total_seconds(), 1)


def _reference_training_seconds(data: str) -> float | None:
    """One stand-alone training at the reference budget: the rank check's median, per seed."""
    path = RESULTS / f"rank_check_{data}_supernet.json"
    if not path.is_file():
        return None
    check = json.loads(path.read_text(encoding="utf-8"))
    run_dir = ROOT / check["run_dir"]
    with (run_dir / "rank_check.csv").open(newline="", encoding="utf-8") as handle:
        seconds = [
            float(r["reference_seconds"]) for r in csv.DictReader(handle) if r["reference_seconds"]
        ]
    return round(statistics.median(seconds) / check["settings"]["reference_seeds"], 1)


if __name__ == "__main__":
    main()

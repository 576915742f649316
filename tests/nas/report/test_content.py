"""Gathering a run for its report: kinds, verdict records wherever they sit, tables."""

from __future__ import annotations

import json

import pandas as pd

from nas.report import COMMANDS_FILE, collect_runs, run_kind


def _curves_run(path):
    path.mkdir()
    pd.DataFrame({"phi": [1, 1], "kind": ["compound", "depth"], "accuracy": [0.91, 0.88]}).to_csv(
        path / "curves.csv", index=False
    )
    summary = {
        "settings": {"data": "digits", "seeds": 3},
        "verdict": "phi=1: compound beats depth-only by 3.00 +- 1.00 points over 3 seeds.",
        "verdicts": {
            "1": {
                "depth": {
                    "sentence": "compound beats depth-only by 3.00 +- 1.00 points over 3 seeds",
                    "difference_points": 3.0, "low": 2.0, "high": 4.0, "seeds": 3,
                    "distinguishable": True,
                }
            }
        },
        "references": {
            "base": {"mean_accuracy": 0.9, "seeds": 3},
            "depth": {"mean_accuracy": 0.88, "seeds": 3},
        },
        "files": {"curves": str(path / "curves.csv")},
    }  # fmt: skip
    (path / "summary.json").write_text(json.dumps(summary))
    (path / COMMANDS_FILE).write_text(
        json.dumps({"command": "cnas scaling-curves b.json", "finished": "2026-12-01T00:00:00"})
        + "\n{cut short by a kill"
    )
    return path


def test_a_run_is_told_by_the_file_only_its_kind_writes(tmp_path):
    run = _curves_run(tmp_path / "curves")
    assert run_kind(run) == "scaling-curves"
    assert run_kind(tmp_path) is None


def test_verdicts_facts_and_records_come_from_the_summary(tmp_path):
    (content,) = collect_runs(_curves_run(tmp_path / "curves"))
    assert content.verdict.startswith("phi=1: compound beats depth-only")
    rows = content.comparisons.frame.to_dict("records")
    assert rows == [
        {
            "where": "1 / depth",
            "verdict": "compound beats depth-only by 3.00 +- 1.00 points over 3 seeds",
            "difference (points)": 3.0, "95% low": 2.0, "95% high": 4.0, "seeds": 3,
            "distinguishable": True,
        }
    ]  # fmt: skip
    assert ("settings.seeds", "3") in content.facts
    references = next(t for t in content.tables if t.name == "references")
    assert list(references.frame[""]) == ["base", "depth"]
    curves = next(t for t in content.tables if t.name == "curves.csv")
    assert curves.total_rows == 2 and curves.source.name == "curves.csv"
    # The good line of commands.jsonl is kept; the cut one is skipped.
    assert [c["command"] for c in content.commands] == ["cnas scaling-curves b.json"]


def test_runs_inside_a_directory_come_in_the_order_they_were_made(tmp_path):
    first = _curves_run(tmp_path / "b-later-name")
    second = _curves_run(tmp_path / "a-earlier-name")
    (second / COMMANDS_FILE).write_text(
        json.dumps({"command": "cnas x", "finished": "2026-12-02T00:00:00"}) + "\n"
    )
    runs = collect_runs(tmp_path)
    assert [run.path for run in runs] == [first, second]


def test_long_text_columns_and_long_files_are_left_to_the_file(tmp_path):
    run = _curves_run(tmp_path / "curves")
    spec = json.dumps({"blocks": ["r1_k3_s11_e1_i32_o16_se0.25"] * 10})
    pd.DataFrame({"phi": range(50), "kind": ["x"] * 50, "accuracy": [0.5] * 50,
                  "spec": [spec] * 50}).to_csv(run / "curves.csv", index=False)  # fmt: skip
    (content,) = collect_runs(run)
    curves = next(t for t in content.tables if t.name == "curves.csv")
    assert curves.total_rows == 50 and len(curves.frame) == 30
    assert "spec" not in curves.frame.columns


def test_a_search_verdict_gives_the_baselines_int8_accuracy_beside_its_float32_one(tmp_path):
    run = tmp_path / "search"
    run.mkdir()
    pd.DataFrame({"number": [3], "standalone_int8_accuracy": [0.951]}).to_csv(
        run / "pareto.csv", index=False
    )
    baseline = {
        "number": 3, "accuracy": 0.94, "standalone_accuracy": 0.962,
        "standalone_int8_accuracy": 0.951, "chosen_by": "stand-alone training",
    }  # fmt: skip
    (run / "summary.json").write_text(json.dumps({"baseline": baseline, "cost": "flops"}))
    (content,) = collect_runs(run)
    assert "retrained alone 0.9620 (chosen by stand-alone training), 0.9510 after int8" in (
        content.verdict
    )

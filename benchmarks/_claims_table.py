"""The paper's claims as one Markdown table, built only from paper_claims' results files.

Each row: the claim, the data set, what was measured (differences in points with 95%
intervals over paired seeds), the verdict, and the command that reproduces it. A verdict
is "reproduced" where every comparison the claim makes is beyond noise in the paper's
direction, "refuted" where one is beyond noise against it, and otherwise "within noise
at this budget". Parts not yet run say so.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

DATA_LABELS = {"fashion-mnist": "Fashion-MNIST 28 px", "cifar10": "CIFAR-10 32 px"}
DIMENSIONS = ("depth", "width", "resolution")


def _points(value: dict[str, Any]) -> str:
    return f"{value['difference_points']:+.2f} [{value['low']:+.2f}, {value['high']:+.2f}]"


def verdict(comparisons: list[dict[str, Any]]) -> str:
    """The verdict of comparisons that each say the paper's side minus the other."""
    if any(c["distinguishable"] and c["difference_points"] < 0 for c in comparisons):
        return "refuted"
    if comparisons and all(
        c["distinguishable"] and c["difference_points"] > 0 for c in comparisons
    ):
        return "reproduced"
    return "within noise at this budget"


def _paired(a: list[float], b: list[float]) -> dict[str, Any]:
    """``a`` minus ``b`` by seed, in points, with the 95% t interval (nas.stats)."""
    from nas.stats import compare_by_seed

    return compare_by_seed(
        dict(enumerate(a)), dict(enumerate(b)), a_label="a", b_label="b"
    ).as_dict()


def _accuracies(points: list[dict[str, Any]], method: str, phi: int) -> list[float] | None:
    for row in points:
        if row["method"] == method and int(row["phi"]) == phi:
            return [float(v) for v in str(row["accuracies"]).split(";") if v]
    return None


def _command(part: dict[str, Any]) -> str:
    """The benchmark command that wrote a part (the cnas commands are in the JSON)."""
    return part.get("benchmark_command") or part["command"]


def curve_rows(part: dict[str, Any], which: str, label: str) -> list[list[str]]:
    """Compound against each single dimension, per phi > 0, from one curves run."""
    run = part.get(which)
    if not run:
        return []
    rows = []
    for phi, versus in sorted(run["summary"]["verdicts"].items()):
        found = [versus[d] for d in DIMENSIONS if d in versus]
        measured = "; ".join(f"vs {d}-only {_points(versus[d])}" for d in DIMENSIONS if d in versus)
        result = verdict(found)
        unmatched = [d for d in DIMENSIONS if d not in versus]
        if unmatched:  # a dimension that cannot reach the FLOPs alone is not compared
            result += f" ({', '.join(unmatched)}-only not matched at this phi)"
        rows.append(
            [f"compound ({label}) beats single-dimension scaling at equal FLOPs, phi {phi}",
             measured, result, _command(part)]
        )  # fmt: skip
    return rows


def grid_rows(document: dict[str, Any]) -> list[list[str]]:
    grid, curves = document.get("grid"), document.get("curves", {})
    if not grid:
        return []
    chosen = grid["summary"]["chosen"]
    name = f"alpha {chosen['alpha']:g}, beta {chosen['beta']:g}, gamma {chosen['gamma']:g}"
    runner_up = grid["summary"]["verdicts"].get("runner_up")
    measured = f"grid chose {name}"
    if runner_up:
        measured += f" (minus runner-up {_points(runner_up)})"
    comparisons = []
    paper, ours = curves.get("paper"), curves.get("grid")
    if paper and ours and "points" in paper and "points" in ours:
        for phi in (1, 2):
            a = _accuracies(paper["points"], "compound", phi)
            b = _accuracies(ours["points"], "compound", phi)
            if a and b:
                comparison = _paired(a, b)
                comparisons.append(comparison)
                measured += f"; paper's minus grid's compound, phi {phi}: {_points(comparison)}"
    same = all(
        abs(chosen[k] - v) < 0.051 for k, v in (("alpha", 1.2), ("beta", 1.1), ("gamma", 1.15))
    )
    if same:
        result = "reproduced"
    elif any(c["distinguishable"] and c["difference_points"] < 0 for c in comparisons):
        result = "refuted"
    elif comparisons and all(not c["distinguishable"] for c in comparisons):
        result = "within noise at this budget (the grid's choice trains no better)"
    else:
        result = "within noise at this budget"
    claim = "the paper's coefficients (1.2, 1.1, 1.15) are the grid's best"
    return [[claim, measured, result, _command(grid)]]


def searched_rows(part: dict[str, Any]) -> list[list[str]]:
    if not part:
        return []
    command = _command(part)
    families = part["families"]
    return [
        ["a searched baseline beats the hand-made skeleton at equal FLOPs",
         f"searched minus skeleton {_points(part['searched_minus_skeleton'])}",
         verdict([part["searched_minus_skeleton"]]), command],
        ["the search beats random search at equal cost",
         f"searched minus random's best {_points(part['searched_minus_random'])}",
         verdict([part["searched_minus_random"]]), command],
        ["the searched family dominates the skeleton's when both are scaled (phi 0-2)",
         "; ".join(f"phi {phi}: {_points(c)}" for phi, c in sorted(families.items())),
         verdict(list(families.values())), command],
    ]  # fmt: skip


def budget_rows(part: dict[str, Any]) -> list[list[str]]:
    if not part:
        return []
    longer = part["longer_minus_shorter"]
    shorter = min(int(e) for e in part["epochs"])
    if not part["near_convergence"]:
        enough = f"no: every training uses {2 * shorter} epochs"
    elif longer["difference_points"] > 1:  # within noise, yet say the mean still climbs
        enough = "within noise (the mean still rises): every training uses it"
    else:
        enough = "yes: every training uses it"
    return [
        [f"(ours) {shorter} epochs train the largest network (phi 2) near convergence",
         f"{longer['a']} minus {longer['b']} {_points(longer)}", enough, _command(part)]
    ]  # fmt: skip


def claims_table(documents: dict[str, dict[str, Any]]) -> str:
    """The Markdown table over every data set's results document."""
    out = io.StringIO()
    out.write("| Claim | Data | Measured (points, 95% interval) | Verdict | Command |\n")
    out.write("|---|---|---|---|---|\n")
    for data, document in documents.items():
        label = DATA_LABELS.get(data, data)
        curves = document.get("curves", {})
        rows = [
            *budget_rows(document.get("budget", {})),
            *curve_rows(curves, "paper", "the paper's 1.2, 1.1, 1.15"),
            *curve_rows(curves, "grid", "the grid's own"),
            *grid_rows(document),
            *searched_rows(document.get("searched", {})),
        ]
        missing = [p for p in ("budget", "searched", "grid", "curves") if p not in document]
        for claim, measured, result, command in rows:
            out.write(f"| {claim} | {label} | {measured} | {result} | `{command}` |\n")
        if missing:
            out.write(f"| (not measured yet: {', '.join(missing)}) | {label} | | | |\n")
    return out.getvalue()


def curve_points(path: Any) -> list[dict[str, Any]]:
    """The rows of a curves run's ``curves.csv``: each point's per-seed accuracies."""
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


START = "<!-- paper-claims-table: written by benchmarks/paper_claims.py --part table -->"
END = "<!-- /paper-claims-table -->"


def with_table(text: str, table: str) -> str:
    """``text`` (README.md, BENCHMARKS.md) with the table between its markers replaced,
    so the figures there are the results files' and nothing copied by hand."""
    block = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
    if not block.search(text):
        return text
    return block.sub(lambda _: f"{START}\n{table}{END}", text, count=1)

"""Does the accuracy predictor rank real networks? Measured on a rank check's bed.

Reads the networks of ``proxy_recipe.py``'s rank check from its results file (each
network's proxy accuracy, its reference runs and its mean; the networks themselves are
redrawn from the same space and seed, and their FLOPs checked against the file), then
asks what ``--strategy predictor`` would have said of each network before it was
trained: a predictor (``nas.predict``) fitted on every other network's proxy result
(leave-one-out), its Kendall tau against the reference mean, with its interval; beside
it the proxy itself, FLOPs, and the same predictor fitted on the others' reference means
(what it could do with perfect training); where ``supernet_variants.py`` and
``zero_cost_bed.py`` have scored the bed, the predictor with those scores as features.
No training: seconds on one core.

    .venv/bin/python benchmarks/predictor_rank.py fashion-mnist
    .venv/bin/python benchmarks/predictor_rank.py cifar10

Writes ``benchmarks/results/predictor_rank_<data>.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from _bed import RESOLUTION, RESULTS, ROOT, read_bed
from _machine import machine


def _with_supernet_scores(
    data: str,
    specs: list[Any],
    rows: list[dict[str, Any]],
    proxy: list[float],
    reference: list[float],
) -> dict[str, Any]:
    """For each supernet variant ``supernet_variants.py`` scored the bed with: the
    predictor with that score as a feature (fitted on the others' proxy results), and the
    score alone. Nothing where no variant has run."""
    from nas.predict import leave_one_out
    from nas.stats import rank_correlation

    path = RESULTS / f"supernet_variants_{data.replace('-', '_')}.json"
    measured = json.loads(path.read_text()).get("variants", {}) if path.exists() else {}
    found = {}
    for name, variant in measured.get("variants", {}).items():
        by_network = variant.get("scores", {})
        score = [by_network.get(str(int(row["network"]))) for row in rows]
        if None in score:
            continue  # scored on another bed
        predicted, _ = leave_one_out(specs, proxy, scores=[[value] for value in score])
        found[f"predictor + supernet score ({name}), fitted on the others' proxy results"] = (
            rank_correlation(predicted, reference)
        )
        found[f"supernet score ({name}) alone"] = rank_correlation(score, reference)
    return found


def _with_zero_cost_scores(
    data: str,
    specs: list[Any],
    rows: list[dict[str, Any]],
    proxy: list[float],
    reference: list[float],
) -> dict[str, Any]:
    """The predictor with ``zero_cost_bed.py``'s SynFlow and NASWOT scores (each the mean
    over its initialisations) as features, one at a time and both. Nothing where they
    have not run."""
    from nas.predict import leave_one_out
    from nas.stats import rank_correlation

    path = RESULTS / f"zero_cost_bed_{data.replace('-', '_')}.json"
    measured = json.loads(path.read_text()).get("scores", {}) if path.exists() else {}
    columns = {}
    for name, score in measured.items():
        by_network = score.get("scores", {})
        column = [by_network.get(str(int(row["network"]))) for row in rows]
        if None not in column:  # else scored on another bed
            columns[name] = [sum(values) / len(values) for values in column]
    chosen = {name: [name] for name in columns}
    if len(columns) > 1:
        chosen[" and ".join(columns)] = list(columns)
    found = {}
    for label, names in chosen.items():
        features = [[columns[name][i] for name in names] for i in range(len(rows))]
        predicted, _ = leave_one_out(specs, proxy, scores=features)
        found[f"predictor + {label}, fitted on the others' proxy results"] = rank_correlation(
            predicted, reference
        )
    return found


def _tau(result: Any) -> dict[str, float]:
    return {
        "kendall_tau": round(result.kendall_tau, 4),
        "kendall_low": round(result.kendall_low, 4),
        "kendall_high": round(result.kendall_high, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", choices=sorted(RESOLUTION))
    args = parser.parse_args()
    from nas.predict import leave_one_out
    from nas.stats import rank_correlation

    started = time.perf_counter()
    _, specs, _, rank = read_bed(args.data, "predictor_rank")
    rows = rank["per_network"]
    reference = [r["reference_accuracy"] for r in rows]
    proxy = [r["proxy"] for r in rows]
    from_proxy, _ = leave_one_out(specs, proxy)
    from_reference, _ = leave_one_out(specs, reference)
    ceiling = rank["reference_reliability"]["ceiling"]
    scores = {
        "predictor, fitted on the others' proxy results": rank_correlation(from_proxy, reference),
        **_with_supernet_scores(args.data, specs, rows, proxy, reference),
        **_with_zero_cost_scores(args.data, specs, rows, proxy, reference),
        "predictor, fitted on the others' reference means": rank_correlation(
            from_reference, reference
        ),
        "proxy (3 epochs)": rank_correlation(proxy, reference),
        "flops": rank_correlation([r["flops"] for r in rows], reference),
    }
    result = {
        "benchmark": "predictor_rank",
        "command": f".venv/bin/python benchmarks/predictor_rank.py {args.data}",
        "data_files": [
            f"benchmarks/results/{name}_{args.data.replace('-', '_')}.json"
            for name in ("proxy_recipe", "supernet_variants", "zero_cost_bed")
            if (RESULTS / f"{name}_{args.data.replace('-', '_')}.json").exists()
        ],
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M %z"),
        "seconds": round(time.perf_counter() - started, 1),
        "networks": len(rows),
        "reference": rank["reference"],
        "reference_ceiling": ceiling,
        "against_reference": {
            name: {**_tau(tau), "share_of_ceiling": round(tau.kendall_tau / ceiling, 3)}
            for name, tau in scores.items()
        },
        "note": "leave-one-out reads below 0 where nothing is learnable (each prediction "
        "is shrunk toward the other networks' mean, which leaving a good one out lowers)",
    }
    out = RESULTS / f"predictor_rank_{args.data.replace('-', '_')}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    for name, tau in result["against_reference"].items():
        print(
            f"{name:50s} tau {tau['kendall_tau']:+.2f} "
            f"[{tau['kendall_low']:+.2f}, {tau['kendall_high']:+.2f}]"
        )
    print(f"ceiling {ceiling:.2f}; wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

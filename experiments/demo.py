"""`make demo`: the most complete job the toolkit does, end to end, in minutes on 2 cores.

1. Search a baseline for a FLOP target on digits (sklearn's built-in images):
   MnasNet's reward with TPE over per-stage MBConv choices, each candidate
   trained for two epochs (a narrow 16 px proxy skeleton keeps it fast), two
   trials at a time as Ray Tune trials on a local Ray instance; the two best
   are retrained alone for 8 epochs, side by side, and the baseline is the
   better of them by that retraining.
2. Grid-search compound coefficients alpha, beta, gamma for the found
   baseline (alpha * beta^2 * gamma^2 ~= 2): every candidate and the depth-,
   width- and resolution-only references matched to twice the baseline's real
   FLOPs, trained over seeds by successive halving, the winner compared seed by
   seed with the runner-up and each reference (on Ray too).
3. The paper's claim on this baseline: depth-, width-, resolution-only and
   compound scaling with the found coefficients at 2x its FLOPs, every point
   over three seeds, a verdict.
4. Scale the baseline into a family with those coefficients, each member matched
   to 2^phi times the baseline's real FLOPs as the grid matched its candidates
   (member 1 is the network the grid chose), every member built and cross-checked
   with fvcore.
5. Reproduce the official EfficientNet B0..B7 table from B0, also verified.
6. Write the report of all five runs: one HTML page with every plot, table and
   verdict, and its Markdown twin.

Running it again continues the same runs (nothing is retrained).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from experiments.cli import main as cnas

# Two trials at a time on a local Ray instance: both cores train (1 torch thread each).
RAY = ["--backend", "ray", "--max-concurrent", "2"]
# How every step trains a network: 2 epochs on all 1,437 training digits at 16 px. The
# rank check on digits (BENCHMARKS.md) found this ranks networks no worse than 5 epochs,
# and it reaches ~92% where 2 epochs on 480 images reach ~70%. Digits barely tells these
# networks apart even at 15 epochs, so the verdicts are expected to say "within noise".
TRAINING = [*("--data", "digits", "--resolution", "16", "--epochs", "2", "--seed", "0")]


def steps(out: Path) -> list[tuple[str, list[str]]]:
    search = out / "search"
    coefficients = out / "coefficients"
    return [
        (
            "1. Search a baseline for 5M FLOPs on digits (TPE, MnasNet reward, 2 epochs on all "
            "digits a trial, 2 trials at a time on Ray Tune; the best 2 retrained for 8 epochs)",
            [
                "search",
                "--target-flops",
                "5M",
                *TRAINING,
                "--width-mult",
                "0.5",
                "--depth-mult",
                "0.5",
                "--trials",
                "10",
                "--strategy",
                "tpe",
                # The winners of the 2-epoch proxy, retrained longer: the baseline is
                # chosen on (and reports) what it reaches when trained properly.
                *("--confirm-top", "2", "--confirm-epochs", "8"),
                *RAY,
                "--out",
                str(search),
            ],
        ),
        (
            "2. Grid-search alpha, beta, gamma for the baseline (step 0.2, |product - 2| <= 0.1), "
            "each candidate at 2x the baseline's real FLOPs, 3 seeds for the finalists",
            [
                "coefficients",
                str(search / "baseline.json"),
                *TRAINING,
                "--step",
                "0.2",
                "--tolerance",
                "5",
                *RAY,
                "--out",
                str(coefficients),
            ],
        ),
        (
            "3. The scaling claim on the baseline: depth, width, resolution and compound at "
            "2x its FLOPs, 3 seeds each (the grid of step 2 trained these very networks with "
            "these seeds: taken from it, not trained again)",
            [
                "scaling-curves",
                str(search / "baseline.json"),
                "--coefficients-file",
                str(coefficients / "coefficients.json"),
                "--reuse-results",
                str(coefficients),
                "--phis",
                "0-1",
                "--seeds",
                "3",
                *TRAINING,
                *RAY,
                "--out",
                str(out / "scaling-curves"),
            ],
        ),
        (
            "4. Scale the baseline into a family with the found coefficients (phi 0-4), "
            "each member at 2^phi its real FLOPs",
            [
                "family",
                str(search / "baseline.json"),
                "--coefficients-file",
                str(coefficients / "coefficients.json"),
                "--match",
                "actual",
                "--phis",
                "0-4",
                "--verify",
                "--out",
                str(out / "baseline-family"),
            ],
        ),
        (
            "5. The published EfficientNet table, reproduced from B0 and checked against fvcore",
            [
                "family",
                "efficientnet-b0",
                "--table",
                "efficientnet",
                "--phis",
                "0-7",
                "--verify",
                "--out",
                str(out / "efficientnet-table"),
            ],
        ),
    ]


def _stop_ray() -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.demo", description=__doc__)
    parser.add_argument("--out", default="runs/demo", help="run directory (default: runs/demo)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    started = time.perf_counter()
    try:
        return _run(out, started)
    finally:
        _stop_ray()


def _run(out: Path, started: float) -> int:
    # One local Ray for every step: each command joins it rather than starting and
    # stopping its own (a few seconds each, and its workers' start-up).
    from nas import RayOptions, connect_ray

    connect_ray(RayOptions())
    for title, command in steps(out):
        print(f"\n=== {title}\n$ cnas {' '.join(command)}\n", flush=True)
        code = cnas(command)
        if code != 0:
            print(f"demo: step failed with exit code {code}", file=sys.stderr)
            return code
    print(f"\n=== 6. The report of these runs\n$ cnas report {out}\n", flush=True)
    code = cnas(["report", str(out)])
    if code != 0:
        print(f"demo: the report failed with exit code {code}", file=sys.stderr)
        return code
    print(f"\n=== Done in {time.perf_counter() - started:.0f} s. Where everything is:")
    print(f"  {out}/report.html         everything below on one page (open it in a browser)")
    print(
        f"  {out}/search/            trials.csv, pareto.csv, pareto.png, baseline.json, "
        "summary.json, study.db (resumable)"
    )
    print(
        f"  {out}/coefficients/      coefficients.json, coefficients.csv, trials.csv, "
        "heatmap.png, summary.json"
    )
    print(
        f"  {out}/scaling-curves/    curves.csv, trials.csv, curves.png, summary.json "
        "(verdict per phi)"
    )
    print(f"  {out}/baseline-family/   family.csv, family.png, one spec JSON per member")
    print(f"  {out}/efficientnet-table/ the B0..B7 specs, family.csv, family.png")
    print(f"  Try: cnas count {out}/search/baseline.json --verify --by-part")
    return 0


if __name__ == "__main__":
    sys.exit(main())

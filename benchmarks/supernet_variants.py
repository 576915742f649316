"""Which supernet ranks? Each training variant scored against one multi-seed reference.

Two parts (``--part``, default both):

``bed``: ``cnas rank-check`` on the search space around the proxy skeleton with every
shortcut kept (the only networks one supernet can hold), 30 networks, each trained at
the reference budget from 3 seeds (their mean is the reference), scored by the proxy:
the bed, its ceiling and the proxy's tau, as ``proxy_recipe.py``'s rank part measures
them. Run directory ``runs/bench-supernet-bed-<data>`` (resumable; about 6 h on 2 cores
for Fashion-MNIST).

``variants``: each supernet variant below trained once on the proxy's images (the
bed's own split), saved in ``runs/bench-supernet-variants-<data>/<variant>/`` (reused
when there), then every bed network scored by its inherited weights after batch-norm
recalibration: Kendall tau against the reference with its interval, its share of the
ceiling, and the cost (training seconds, and per candidate amortised over 1,000
candidates, beside the proxy's seconds per network).

    .venv/bin/python benchmarks/supernet_variants.py fashion-mnist [--part bed|variants]
    .venv/bin/python benchmarks/supernet_variants.py cifar10 --data-root ../shared/data/cifar10

Writes ``benchmarks/results/supernet_variants_<data>.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _bed import EPOCHS as PROXY_EPOCHS
from _bed import (
    PROXY_SAMPLES,
    RESOLUTION,
    RESULTS,
    ROOT,
    proxy_skeleton,
    rank_check_options,
)
from _machine import machine

# Variant -> SandwichConfig settings (with the proxy recipe's training at EPOCHS) and the
# images that recalibrate batch norm before a network is scored.
EPOCHS = 10
VARIANTS: dict[str, dict[str, Any]] = {
    "sandwich": {"random_subnets": 4, "distill": True},
    "sandwich-no-distill": {"random_subnets": 4, "distill": False},
    "sandwich-2x-epochs": {"random_subnets": 4, "distill": True, "epochs": 2 * EPOCHS},
    "uniform": {"sampling": "uniform"},
    "uniform-2x-epochs": {"sampling": "uniform", "epochs": 2 * EPOCHS},
    "sandwich-calibrate-128": {"random_subnets": 4, "distill": True, "calibration": 128},
    # Few-shot (arXiv 2006.06863): a supernet per kernel of the middle stage, each for a
    # third of the epochs.
    "few-shot-s3-kernel": {"random_subnets": 4, "distill": True, "split_by": "s3_kernel"},
}
AMORTISED_OVER = 1000


def _dirs(args: argparse.Namespace) -> tuple[Path, Path]:
    """(the bed's run directory, the variants' root): apart for a smoke run."""
    tail = "-smoke" if args.smoke else ""
    return (
        ROOT / "runs" / f"bench-supernet-bed-{args.data}{tail}",
        ROOT / "runs" / f"bench-supernet-variants-{args.data}{tail}",
    )


def _bed_command(args: argparse.Namespace, out: Path, space: Path) -> list[str]:
    small = {"max_samples": 300, "epochs": 1, "reference_samples": 300, "reference_epochs": 1}
    options = rank_check_options(
        args.data,
        args.networks,
        data_root=args.data_root,
        **(small if args.smoke else {"max_samples": PROXY_SAMPLES, "epochs": PROXY_EPOCHS}),
    )
    return [
        sys.executable, "-m", "experiments.cli", "rank-check", *options,
        "--space", str(space), "--out", str(out), "--json", "--no-progress",
    ]  # fmt: skip


def bed(args: argparse.Namespace) -> dict[str, Any]:
    out = _dirs(args)[0]
    out.mkdir(parents=True, exist_ok=True)
    space = out / "space.json"
    if not space.exists():
        space.write_text(json.dumps({"skips": [True]}) + "\n")  # every shortcut kept
    command = _bed_command(args, out, space)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"supernet_variants: the bed's rank check stopped:\n{done.stderr[-2000:]}")
    summary = json.loads(done.stdout)
    return {
        "command": " ".join(["cnas", *command[3:]]),
        "run_dir": str(out.relative_to(ROOT)),
        "wall_seconds_this_run": round(time.perf_counter() - started, 1),
        "summary": summary,
    }


def _bed_networks(out: Path) -> tuple[list[Any], list[float], dict[str, Any]]:
    import pandas as pd

    from search_spaces import NetworkSpec

    table = out / "rank_check.csv"
    if not table.is_file():
        sys.exit(f"supernet_variants: no bed at {out}: run --part bed first")
    rows = pd.read_csv(table)
    rows = rows[(rows["state"] == "complete") & rows["reference_accuracy"].notna()]
    specs = [NetworkSpec.from_dict(json.loads(text)) for text in rows["spec"]]
    summary = json.loads((out / "summary.json").read_text())
    return specs, [float(v) for v in rows["reference_accuracy"]], summary


def variants(args: argparse.Namespace) -> dict[str, Any]:
    import dataclasses

    import torch

    from nas import TrainingConfig, load_data
    from nas.stats import rank_correlation
    from nas.supernet import SandwichConfig, SupernetEvaluator, default_supernet_space

    torch.set_num_threads(1)
    bed_dir, variants_dir = _dirs(args)
    specs, reference, bed_summary = _bed_networks(bed_dir)
    max_samples = 300 if args.smoke else PROXY_SAMPLES
    epochs_each = 1 if args.smoke else EPOCHS
    ceiling = bed_summary["reference_reliability"]["ceiling"]
    proxy_seconds = bed_summary["seconds"]["proxy"]["per_network"]
    data = load_data(
        args.data, resolution=RESOLUTION[args.data], root=args.data_root,
        max_samples=max_samples, seed=0,
    )  # fmt: skip
    space = default_supernet_space(proxy_skeleton(args.data))
    results = {}
    chosen = list(VARIANTS.items())[:2] if args.smoke else list(VARIANTS.items())
    for name, settings in chosen:
        settings = dict(settings)
        calibration = settings.pop("calibration", 512)
        epochs = settings.pop("epochs", EPOCHS) * epochs_each // EPOCHS
        config = SandwichConfig(
            training=dataclasses.replace(TrainingConfig(threads=1), epochs=epochs), **settings
        )
        run_dir = variants_dir / name
        run_dir.mkdir(parents=True, exist_ok=True)
        evaluator = SupernetEvaluator(
            data, space=space, config=config, seed=0, calibration_images=calibration
        )
        evaluator.prepare(run_dir)  # trains it, or loads the one an earlier run saved
        started = time.perf_counter()
        scores = [evaluator.evaluate(spec, seed=0).accuracy for spec in specs]
        scoring = (time.perf_counter() - started) / len(specs)
        tau = rank_correlation(scores, reference)
        trained = evaluator.prepared_seconds or 0.0
        results[name] = {
            "settings": {**settings, "epochs": epochs, "calibration_images": calibration},
            "kendall_tau": round(tau.kendall_tau, 4),
            "kendall_low": round(tau.kendall_low, 4),
            "kendall_high": round(tau.kendall_high, 4),
            # A ceiling at or below 0 (a bed whose references do not agree) shares nothing.
            "share_of_ceiling": round(tau.kendall_tau / ceiling, 3) if ceiling > 0 else None,
            "training_seconds": round(trained, 1),
            "seconds_per_candidate": round(trained / AMORTISED_OVER + scoring, 3),
        }
        print(f"{name:24s} tau {tau.kendall_tau:+.2f} [{tau.kendall_low:+.2f}, "
              f"{tau.kendall_high:+.2f}], {trained:.0f} s to train", flush=True)  # fmt: skip
    return {
        "networks": len(specs),
        "ceiling": ceiling,
        "proxy": {
            **{
                k: bed_summary["correlations"]["proxy"][k]
                for k in ("kendall_tau", "kendall_low", "kendall_high")
            },
            "seconds_per_candidate": proxy_seconds,
        },
        "amortised_over": AMORTISED_OVER,
        "variants": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", choices=sorted(RESOLUTION))
    parser.add_argument("--data-root", help="the data's directory (fashion-mnist: Debian's)")
    parser.add_argument("--part", choices=("bed", "variants", "all"), default="all")
    parser.add_argument("--networks", type=int, default=30, help="bed networks (30)")
    # Tiny budgets, their own run directories, results in /tmp: checks the code path.
    parser.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    results = Path("/tmp") if args.smoke else RESULTS
    out = results / f"supernet_variants_{args.data.replace('-', '_')}.json"
    result = json.loads(out.read_text()) if out.exists() else {"benchmark": "supernet_variants"}
    result.update(machine=machine(), date=time.strftime("%Y-%m-%d %H:%M %z"))
    if args.part in ("bed", "all"):
        result["bed"] = bed(args)
        out.write_text(json.dumps(result, indent=2) + "\n")
    if args.part in ("variants", "all"):
        result["variants"] = variants(args)
        out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

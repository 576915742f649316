"""Zero-cost scores on the rank bed (issue 27): do SynFlow or NASWOT rank its networks?

The bed is the proxy recipe's (``proxy_recipe.py --part rank``: 30 networks, a 3-seed
reference and its ceiling). Each network is scored from ``--seeds`` initialisations
(SynFlow needs no data; NASWOT takes one batch of 64 of the proxy's training images),
and each score's Kendall tau against the reference is given for one initialisation
(seed 0) and for the mean over them, with 95% intervals over the networks, beside the
proxy's and FLOPs'. No training: a minute or two on one core.

    .venv/bin/python benchmarks/zero_cost_bed.py cifar10 --data-root ../shared/data/cifar10
    .venv/bin/python benchmarks/zero_cost_bed.py fashion-mnist

Writes ``benchmarks/results/zero_cost_bed_<data>.json`` (every network's scores too: the
predictor benchmark can take them as features).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from _bed import RESULTS, add_bed_arguments, read_bed
from _machine import machine
from supernet_variants import bed_images


def _scores(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from nas.evaluate import NaswotEvaluator, SynflowEvaluator
    from nas.stats import rank_correlation
    from search_spaces import count_flops

    torch.set_num_threads(1)
    names, specs, reference, summary = read_bed(args.data, "zero_cost_bed")
    evaluators = {
        "synflow": SynflowEvaluator(),
        "naswot": NaswotEvaluator(data=bed_images(args.data, args.data_root)),
    }
    found: dict[str, Any] = {}
    for score, evaluator in evaluators.items():
        started = time.perf_counter()
        by_seed = [
            [evaluator.evaluate(spec, seed=seed).accuracy for spec in specs]
            for seed in range(args.seeds)
        ]
        seconds = (time.perf_counter() - started) / (len(specs) * args.seeds)
        mean = [statistics.fmean(values) for values in zip(*by_seed, strict=True)]
        found[score] = {
            "seconds_per_network": round(seconds, 3),
            "seed0": rank_correlation(by_seed[0], reference).as_dict(),
            f"mean_of_{args.seeds}": rank_correlation(mean, reference).as_dict(),
            # How alike two initialisations rank the networks: the score's own noise.
            "seed0_vs_seed1": rank_correlation(by_seed[0], by_seed[1]).as_dict()
            if args.seeds > 1
            else None,
            "scores": {
                name: [round(values[i], 6) for values in by_seed] for i, name in enumerate(names)
            },
        }
        tau = found[score][f"mean_of_{args.seeds}"]
        print(f"{score}: tau {tau['kendall_tau']:+.2f} [{tau['kendall_low']:+.2f}, "
              f"{tau['kendall_high']:+.2f}] (mean of {args.seeds}), {seconds:.2f} s a network",
              flush=True)  # fmt: skip
    flops = [float(count_flops(spec)) for spec in specs]
    return {
        "networks": len(names),
        "ceiling": summary["reference_reliability"]["ceiling"],
        "proxy": {
            **{
                k: summary["correlations"]["proxy"][k]
                for k in ("kendall_tau", "kendall_low", "kendall_high")
            },
            "seconds_per_network": summary["seconds"]["proxy"]["per_network"],
        },
        "flops": rank_correlation(flops, reference).as_dict(),
        "seeds": args.seeds,
        "scores": found,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_bed_arguments(parser)
    parser.add_argument("--seeds", type=int, default=3, help="initialisations a network (3)")
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error(f"--seeds must be 1 or more, got {args.seeds}")
    started = time.perf_counter()
    found = _scores(args)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"zero_cost_bed_{args.data.replace('-', '_')}.json"
    command = f".venv/bin/python benchmarks/zero_cost_bed.py {args.data} --seeds {args.seeds}"
    if args.data_root:
        command += f" --data-root {args.data_root}"
    document = {
        "benchmark": "zero_cost_bed",
        "command": command,
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M %z"),
        "wall_seconds": round(time.perf_counter() - started, 1),
        **found,
    }
    out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

"""int8 against float32 on the rank bed's networks: accuracy, latency, and the ranking.

The 30 networks of ``proxy_recipe.py``'s rank check (the same space and seed), each
trained once with the proxy recipe (3 epochs on the bed's 2,400-3,000 images, its
trained weights kept), then:

- accuracy on the validation split in float32 (PyTorch) and after int8 quantization
  (``cnas export --quantize int8``'s way: onnxruntime static, calibrated on 256 training
  images): the drop per network, its mean with a 95% t interval;
- batch-1 latency on onnxruntime, float32 and int8 (``onnxruntime-int8``, the search's
  runtime), each network timed whole, both runtimes in alternation, the fastest of
  ``--passes`` passes, each the median of 20 calls, one thread, after all training has
  finished (an idle machine: nothing else may run);
- whether a search for int8 latency would rank networks as one for float32 latency: the
  Kendall tau between the two latencies over the networks, with its interval.

Resumable: each network's training and timing is kept in ``runs/bench-int8-<data>/``
(ignored); run the command again after a kill.

    .venv/bin/python benchmarks/int8.py fashion-mnist
    .venv/bin/python benchmarks/int8.py cifar10 --data-root ../shared/data/cifar10

Writes ``benchmarks/results/int8_<data>.json``.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from _bed import EPOCHS, PROXY_SAMPLES, RESOLUTION, RESULTS, ROOT, add_bed_arguments, bed_networks
from _machine import machine

CALIBRATION_IMAGES = 256


@functools.lru_cache(maxsize=1)
def _data(name: str, root: str | None, max_samples: int) -> Any:
    from nas import load_data

    return load_data(name, resolution=RESOLUTION[name], root=root, max_samples=max_samples, seed=0)


def _train(job: dict[str, Any]) -> dict[str, Any]:
    """Train one network, keep its weights, and measure float32 and int8 accuracy."""
    import torch

    torch.set_num_threads(1)
    from nas import TrainingConfig, TrainingEvaluator
    from nas.models import int8_accuracy

    data = _data(job["data"], job["root"], job["max_samples"])
    spec = bed_networks(job["data"], job["index"] + 1)[job["index"]]
    weights = Path(job["dir"]) / f"net-{job['index']}.safetensors"
    evaluator = TrainingEvaluator(data=data, config=TrainingConfig(epochs=job["epochs"], threads=1))
    accuracy = evaluator.evaluate(spec, seed=job["index"], weights_to=weights).accuracy
    images, labels = data.valid.tensors
    int8 = int8_accuracy(
        spec,
        weights,
        data.train.tensors[0][:CALIBRATION_IMAGES].numpy(),
        images.numpy(),
        labels.numpy(),
    )
    return {"network": job["index"], "float32_accuracy": accuracy, "int8_accuracy": int8}


def _time(spec: Any, passes: int) -> dict[str, float]:
    from nas.latency import measure_network

    times: dict[str, list[float]] = {"onnxruntime": [], "onnxruntime-int8": []}
    for _ in range(passes):
        for runtime in times:  # alternated, so a slow spell of the core hits both
            times[runtime].append(measure_network(spec, runtime=runtime, threads=1, runs=20))
    return {f"{runtime}_ms": round(min(values), 4) for runtime, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_bed_arguments(parser)
    parser.add_argument("--networks", type=int, default=30, help="networks of the bed (30)")
    parser.add_argument("--workers", type=int, default=2, help="trainings at once (2)")
    parser.add_argument("--passes", type=int, default=3, help="timing passes a network (3)")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help=argparse.SUPPRESS)
    parser.add_argument("--max-samples", type=int, default=PROXY_SAMPLES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    from nas.stats import rank_correlation, summarise_seeds

    started = time.perf_counter()
    out_dir = ROOT / "runs" / f"bench-int8-{args.data}"
    out_dir.mkdir(parents=True, exist_ok=True)
    specs = bed_networks(args.data, args.networks)
    done = {
        int(p.stem.split("-")[1]): json.loads(p.read_text()) for p in out_dir.glob("net-*.json")
    }
    jobs = [
        {"data": args.data, "root": args.data_root, "index": index, "dir": str(out_dir),
         "epochs": args.epochs, "max_samples": args.max_samples}
        for index in range(args.networks)
        if index not in done
    ]  # fmt: skip
    with ProcessPoolExecutor(args.workers) as pool:
        for row in pool.map(_train, jobs):
            done[row["network"]] = row
            (out_dir / f"net-{row['network']}.json").write_text(json.dumps(row) + "\n")
            print(f"net-{row['network']}: float32 {row['float32_accuracy']:.4f}, "
                  f"int8 {row['int8_accuracy']:.4f}", flush=True)  # fmt: skip
    for index, spec in enumerate(specs):  # timed alone, after every training has ended
        if "onnxruntime_ms" not in done[index]:
            done[index].update(_time(spec, args.passes))
            (out_dir / f"net-{index}.json").write_text(json.dumps(done[index]) + "\n")
    rows = [done[index] for index in range(args.networks)]
    drops = [100 * (r["float32_accuracy"] - r["int8_accuracy"]) for r in rows]
    drop = summarise_seeds(drops)
    ratio = [r["onnxruntime-int8_ms"] / r["onnxruntime_ms"] for r in rows]
    tau = rank_correlation(
        [r["onnxruntime_ms"] for r in rows], [r["onnxruntime-int8_ms"] for r in rows]
    )
    result = {
        "benchmark": "int8",
        "command": " ".join(sys.argv).replace(sys.argv[0], ".venv/bin/python benchmarks/int8.py"),
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M %z"),
        "wall_seconds_this_run": round(time.perf_counter() - started, 1),
        "networks": len(rows),
        "training": f"{args.epochs} epochs, proxy recipe, {args.max_samples} images (80% train)",
        "accuracy_drop_points": {
            "mean": round(drop.mean, 3),
            "low": round(drop.low, 3),
            "high": round(drop.high, 3),
        },
        "int8_over_float32_latency": {
            "median": round(statistics.median(ratio), 3),
            "min": round(min(ratio), 3),
            "max": round(max(ratio), 3),
        },
        "latency_rank_tau": {
            "kendall_tau": round(tau.kendall_tau, 4),
            "low": round(tau.kendall_low, 4),
            "high": round(tau.kendall_high, 4),
        },
        "per_network": rows,
    }
    out = RESULTS / f"int8_{args.data.replace('-', '_')}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "per_network"}, indent=2))


if __name__ == "__main__":
    main()

"""Training throughput of the proxy-training evaluator against the loop it replaced.

For each fixed spec (the search proxy at 16 and 32 px, and the full small-input
skeleton at 32 px), on all of digits (1,437 train images), the same seeds run through:

- ``reference``: the loop as it was (NCHW tensors, a DataLoader, batch-norm
  recalibration and a validation pass after every epoch), written out below;
- ``evaluator``: ``nas.TrainingEvaluator`` as a search calls it (no per-epoch reader);
- ``evaluator_nchw``: the same with ``channels_last=False`` and ``fast_depthwise=False``,
  which shows the new loop itself computes what the reference did (same batches, same
  steps, same kernels: the same accuracies to the image);
- ``evaluator_native_depthwise``: the evaluator with ``fast_depthwise=False`` (PyTorch's
  own depthwise backward), which shows what ``nas.models.DepthwiseConv2d`` adds.

Reported per spec: training images/s of each (train images x epochs / wall time of the
whole evaluation, recalibration and validation included), the speed-up, achieved
GFLOP/s (training FLOPs taken as 6 x multiply-adds per image, the usual forward +
backward estimate), and the final validation accuracy of both at each seed with the
largest difference in validation images, and the mean difference over seeds with a 95%
t interval: a change of kernels rounds differently, which a few hundred SGD steps
amplify into a different network, so "equal results" is a statement about the mean
over seeds, not about one seed.
The machine's dense peak on one thread (a 3x3 convolution and a matrix product, fp32)
is measured in the same run. One torch thread throughout; run it on an otherwise idle
machine. Prints one JSON line and writes it to ``benchmarks/results/training_throughput.json``.

    .venv/bin/python benchmarks/training_throughput.py [--epochs 3] [--seeds 0 1 2 3 4]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
import time
from pathlib import Path

import torch
from _machine import machine
from _proxy import digits_proxy
from scipy import stats
from torch import nn
from torch.utils.data import DataLoader

from nas import DataSplits, TrainingConfig, TrainingEvaluator, build_model, load_data
from nas.evaluate import LEGACY_RECIPE  # the results file's recipe
from scaling import search_proxy
from search_spaces import NetworkSpec, count_flops

RESULTS = Path(__file__).parent / "results"


def specs() -> dict[str, NetworkSpec]:
    full = search_proxy(skeleton_name="small-input", resolution=32, in_channels=1, num_classes=10)
    return {
        "proxy@16 (search proxy, small)": digits_proxy(16),
        "proxy@32 (search proxy, small)": digits_proxy(32),
        "small-input@32 (full skeleton, medium)": full,
    }


def reference_loop(spec: NetworkSpec, data: DataSplits, config: TrainingConfig, seed: int) -> float:
    """The evaluator before this change: NCHW, DataLoader, validation after every epoch."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(spec)
        loader = DataLoader(
            data.train,
            batch_size=config.batch_size,
            shuffle=True,
            generator=torch.Generator().manual_seed(seed),
        )
        decay = [p for p in model.parameters() if p.ndim > 1]
        rest = [p for p in model.parameters() if p.ndim <= 1]
        optimizer = torch.optim.SGD(
            [{"params": decay, "weight_decay": config.weight_decay}, {"params": rest}],
            lr=config.learning_rate,
            momentum=0.9,
            nesterov=True,
        )
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=config.epochs * len(loader)
        )
        criterion = nn.CrossEntropyLoss()
        accuracy = math.nan
        for _ in range(config.epochs):
            model.train()
            for images, labels in loader:
                loss = criterion(model(images), labels)
                if not math.isfinite(loss.item()):
                    raise RuntimeError("diverged")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
            accuracy = _recalibrated_accuracy(model, data)
    return accuracy


def _recalibrated_accuracy(model: nn.Module, data: DataSplits) -> float:
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    model.eval()
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
        norm.train()
    with torch.no_grad():
        images = data.train.tensors[0][:1024]
        for begin in range(0, len(images), 64):
            model(images[begin : begin + 64])
        for norm in norms:
            norm.momentum = 0.01
        model.eval()
        images, labels = data.valid.tensors
        correct = sum(
            int((model(images[b : b + 64]).argmax(1) == labels[b : b + 64]).sum())
            for b in range(0, len(labels), 64)
        )
    return correct / len(labels)


def paired_difference(ours: list[float], theirs: list[float], valid: int) -> list[float]:
    """Mean of (ours - theirs) over seeds in validation images, with a 95% t interval."""
    gaps = [(a - b) * valid for a, b in zip(ours, theirs, strict=True)]
    mean = statistics.fmean(gaps)
    if len(gaps) < 2:
        return [round(mean, 1), math.nan, math.nan]
    half = stats.t.ppf(0.975, len(gaps) - 1) * statistics.stdev(gaps) / math.sqrt(len(gaps))
    return [round(mean, 1), round(mean - half, 1), round(mean + half, 1)]


def dense_peak_gflops() -> dict[str, float]:
    """fp32 GFLOP/s of a 3x3 convolution and a 1024^3 matrix product, best of 5, one thread."""
    results = {}
    conv = nn.Conv2d(128, 128, 3, padding=1, bias=False).eval()
    image = torch.randn(32, 128, 28, 28).contiguous(memory_format=torch.channels_last)
    conv = conv.to(memory_format=torch.channels_last)
    conv_flops = 2 * 32 * 128 * 128 * 9 * 28 * 28
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    for name, run, flops in (
        ("conv3x3", lambda: conv(image), conv_flops),
        ("matmul", lambda: a @ b, 2 * 1024**3),
    ):
        with torch.no_grad():
            run()
            best = min(_timed(run) for _ in range(5))
        results[name] = round(flops / best / 1e9, 1)
    return results


def _timed(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = TrainingConfig(**{**LEGACY_RECIPE, "epochs": args.epochs, "threads": 1})
    started = time.perf_counter()
    peak = dense_peak_gflops()
    rows = {}
    for label, spec in specs().items():
        data = load_data("digits", resolution=spec.resolution, seed=0)
        images = len(data.train) * args.epochs
        evaluators = {
            "evaluator": TrainingEvaluator(data=data, config=config),
            "evaluator_nchw": TrainingEvaluator(
                data=data,
                config=dataclasses.replace(config, channels_last=False, fast_depthwise=False),
            ),
            "evaluator_native_depthwise": TrainingEvaluator(
                data=data, config=dataclasses.replace(config, fast_depthwise=False)
            ),
        }
        kinds = ("reference", *evaluators)
        timings: dict[str, list[float]] = {kind: [] for kind in kinds}
        accuracies: dict[str, list[float]] = {kind: [] for kind in kinds}
        for seed in args.seeds:
            for kind in kinds:
                tick = time.perf_counter()
                if kind == "reference":
                    accuracy = reference_loop(spec, data, config, seed)
                else:
                    accuracy = evaluators[kind].evaluate(spec, seed=seed).accuracy
                timings[kind].append(time.perf_counter() - tick)
                accuracies[kind].append(accuracy)
        macs = count_flops(spec)
        speed = {kind: images / statistics.median(t) for kind, t in timings.items()}
        valid = len(data.valid)
        rows[label] = {
            "spec": spec.block_strings,
            "resolution": spec.resolution,
            "multiply_adds": macs,
            "images_per_s": {kind: round(v, 1) for kind, v in speed.items()},
            "speedup": round(speed["evaluator"] / speed["reference"], 2),
            "train_gflops": {kind: round(6 * macs * v / 1e9, 2) for kind, v in speed.items()},
            "accuracy": {kind: [round(a, 4) for a in acc] for kind, acc in accuracies.items()},
            "max_accuracy_gap_images": {
                kind: max(
                    round(abs(a - b) * valid)
                    for a, b in zip(accuracies["reference"], accuracies[kind], strict=True)
                )
                for kind in evaluators
            },
            "mean_difference_images": {
                kind: paired_difference(accuracies[kind], accuracies["reference"], valid)
                for kind in evaluators
            },
            "seeds": list(args.seeds),
            "valid_images": valid,
        }
        print(f"{label}: {rows[label]['images_per_s']} x{rows[label]['speedup']}", flush=True)
    result = {
        "benchmark": "training_throughput",
        "command": "python benchmarks/training_throughput.py "
        f"--epochs {args.epochs} --seeds {' '.join(map(str, args.seeds))}",
        "machine": machine(),
        "torch": torch.__version__,
        "torch_threads": 1,
        "date": time.strftime("%Y-%m-%d %H:%M %z"),
        "dense_peak_gflops": peak,
        "results": rows,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "training_throughput.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""How well a latency table predicts whole networks, and a fitted line that corrects it.

A sum of parts timed alone is not the whole network: alone, a part runs on warm caches
and, on onnxruntime, in its own session. ``check_table`` times networks drawn uniformly
from the space, whole, on every runtime. The first ``calibrate`` of them fit a line
(measured ~ scale x sum + offset, least squares) per runtime; the other ``validate``,
which the fit never saw, give the error of the plain sum and of the fitted line, and
the rank correlation (which a line with positive scale does not change).

Each network is timed twice, in two passes over all of them, so that a slow spell of
the machine touches the two timings of many networks rather than both of one. The
measured latency is the lesser of the two medians, as a table entry is the least of
its parts' passes (``build_table``). How much the two passes disagree, and how well
one ranks networks like the other, is the noise floor no predictor can beat.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from nas.latency._build import part_input
from nas.latency._runtimes import measure_module
from nas.latency._table import LatencyTable
from nas.models import build_model
from nas.stats import rank_correlation, tau_difference
from search_spaces import InputError, MBConvSpace, NetworkSpec, count_flops

__all__ = ["check_table"]

_PASSES = 2


def _time_networks(
    specs: Sequence[NetworkSpec],
    table: LatencyTable,
    *,
    warmup: int,
    runs: int,
    on_network: Callable[[int, int], None] | None,
) -> np.ndarray:
    """(runtime, pass, network) medians in ms."""
    timings = np.empty((len(table.runtimes), _PASSES, len(specs)))
    total = _PASSES * len(specs)
    for repeat in range(_PASSES):
        for index, spec in enumerate(specs):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                model = build_model(spec)
            example = part_input(spec.in_channels, spec.resolution)
            for r, runtime in enumerate(table.runtimes):
                times = measure_module(
                    model, example, runtime=runtime, threads=table.threads, warmup=warmup, runs=runs
                )
                timings[r, repeat, index] = np.median(times)
            if on_network is not None:
                on_network(repeat * len(specs) + index + 1, total)
    return timings


def _error(predicted: np.ndarray, measured: np.ndarray) -> dict[str, float]:
    ape = np.abs(predicted - measured) / measured * 100
    return {
        "mape_pct": round(float(ape.mean()), 2),
        "median_ape_pct": round(float(np.median(ape)), 2),
        "max_ape_pct": round(float(ape.max()), 2),
        # Mean of predicted / measured - 1: a prediction systematically high or low.
        "bias_pct": round(float((predicted / measured - 1).mean() * 100), 2),
    }


def _versus(difference: Any) -> dict[str, Any]:
    return {
        "difference": round(difference.difference, 4),
        "low": round(difference.low, 4),
        "high": round(difference.high, 4),
        "distinguishable": bool(difference.distinguishable),
    }


def _fit(sums: np.ndarray, measured: np.ndarray) -> dict[str, float]:
    scale, offset = np.polyfit(sums, measured, 1)
    if not scale > 0:  # a line that reverses the ranking would be worse than none
        scale, offset = float(measured.sum() / sums.sum()), 0.0
    return {"scale": round(float(scale), 6), "offset_ms": round(float(offset), 6)}


def check_table(
    table: LatencyTable,
    space: MBConvSpace,
    *,
    calibrate: int = 10,
    validate: int = 30,
    seed: int = 0,
    warmup: int = 5,
    runs: int = 30,
    on_network: Callable[[int, int], None] | None = None,
) -> LatencyTable:
    """The table with its calibration (``calibrate`` > 0) and validation (``validate`` > 0).

    Raises:
        InputError: when the space holds too few distinct networks.
    """
    if calibrate < 0 or validate < 0 or calibrate == 1 or calibrate + validate == 0:
        raise InputError(
            "calibrate needs 2 networks or more (0: none), validate 0 or more, not both 0; "
            f"got {calibrate} and {validate}"
        )
    if validate and validate < 3:
        raise InputError(
            f"validate needs 3 networks or more for a rank correlation, got {validate}"
        )
    table.check_covers(space)
    specs = space.sample_distinct(calibrate + validate, seed)
    timings = _time_networks(specs, table, warmup=warmup, runs=runs, on_network=on_network)
    held_out = slice(calibrate, None)
    calibration: dict[str, dict[str, float]] = {}
    report: dict[str, Any] = {}
    for r, runtime in enumerate(table.runtimes):
        measured = timings[r].min(axis=0)
        sums = np.array([table.parts_sum(spec, runtime) for spec in specs])
        if calibrate:
            calibration[runtime] = _fit(sums[:calibrate], measured[:calibrate])
        if not validate:
            continue
        truth, raw = measured[held_out], sums[held_out]
        noise = np.abs(timings[r, 0, held_out] - timings[r, 1, held_out]) / truth * 100
        flops = np.array([count_flops(spec) for spec in specs[calibrate:]], dtype=float)
        ranks = rank_correlation(raw, truth)
        fit = calibration.get(runtime)
        report[runtime] = {
            "sum_of_parts": _error(raw, truth),
            **({"calibrated": _error(fit["scale"] * raw + fit["offset_ms"], truth)} if fit else {}),
            "noise_ape_pct": round(float(noise.mean()), 2),
            # One pass against the other: the best tau a prediction could hope to show.
            "repeat_kendall_tau": round(
                rank_correlation(timings[r, 0, held_out], timings[r, 1, held_out]).kendall_tau, 4
            ),
            **{key: value for key, value in ranks.as_dict().items() if key != "n"},
            # What the table must beat: ranking by FLOPs, the cost a search has without it.
            "flops_kendall_tau": round(rank_correlation(flops, truth).kendall_tau, 4),
            # Paired over the same networks: whether the table ranks better than FLOPs.
            "versus_flops": _versus(tau_difference(raw, flops, truth)),
            "measured_ms": [round(float(truth.min()), 4), round(float(truth.max()), 4)],
        }
    validation = None
    if validate:
        validation = {
            "networks": validate,
            "calibration_networks": calibrate,
            "seed": seed,
            "calibration": calibration,
            "runtimes": report,
            "rows": [
                {
                    "network": spec.fingerprint(),
                    "flops": count_flops(spec),
                    **{
                        f"{runtime}_{name}_ms": round(float(value), 4)
                        for r, runtime in enumerate(table.runtimes)
                        for name, value in (
                            ("sum", table.parts_sum(spec, runtime)),
                            ("measured", timings[r, :, calibrate + index].min()),
                        )
                    },
                }
                for index, spec in enumerate(specs[calibrate:])
            ],
        }
    return dataclasses.replace(table, calibration=calibration, validation=validation)

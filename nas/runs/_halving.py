"""Successive halving over seeds: every candidate once, the best again, until finalists
have ``seeds`` seeds each.

Round r trains seed r of its survivors. Round 0's survivors are every candidate; round
r's are the best ``keep`` fraction (at least ``FINALISTS``) of round r - 1's, ranked by
their mean accuracy over the seeds they have. References (in a coefficient grid, the
unscaled backbone and the single-dimension scalings) survive every round, so each is
compared with the winner seed by seed. Pure bookkeeping: which (candidate, seed) pairs a round needs
follows from the results so far, so a resumed run asks for exactly what is missing.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["FINALISTS", "Round", "next_round", "survivors"]

FINALISTS = 2  # the winner and a runner-up to compare it with

# candidate index -> {seed index: accuracy (NaN for a failed trial)}
Results = Mapping[int, Mapping[int, float]]


@dataclass(frozen=True)
class Round:
    index: int  # the seed index this round trains
    survivors: tuple[int, ...]  # candidates in it, best first, references included
    needed: tuple[tuple[int, int], ...]  # (candidate, seed) pairs not yet finished


def _mean(results: Results, candidate: int, seeds: int) -> float:
    values = [results.get(candidate, {}).get(s, math.nan) for s in range(seeds)]
    if not values or any(not math.isfinite(v) for v in values):
        return -math.inf  # a failed seed: ranked last, never chosen over a trained one
    return statistics.fmean(values)


def survivors(
    results: Results,
    candidates: Sequence[int],
    references: Collection[int],
    round_index: int,
    *,
    keep: float,
    tie_break: Callable[[int], float] = float,
) -> tuple[int, ...]:
    """Who trains seed ``round_index``: the references and the best of the grid.

    Round r > 0 needs round r - 1 finished for its survivors (see ``next_round``);
    ``tie_break(candidate)`` orders equal means (e.g. by FLOPs, lowest first).
    """
    grid = [c for c in candidates if c not in references]
    for r in range(1, round_index + 1):
        ranked = sorted(grid, key=lambda c: (-_mean(results, c, r), tie_break(c), c))
        grid = ranked[: max(min(FINALISTS, len(ranked)), math.ceil(keep * len(ranked)))]
    ranked = sorted(grid, key=lambda c: (-_mean(results, c, round_index), tie_break(c), c))
    return (*ranked, *(c for c in candidates if c in references))


def next_round(
    results: Results,
    candidates: Sequence[int],
    references: Collection[int],
    *,
    seeds: int,
    keep: float,
    tie_break: Callable[[int], float] = float,
) -> Round | None:
    """The first round with pairs still to train, or None when the finalists are done."""
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    if not 0 < keep <= 1:
        raise ValueError(f"keep must be in (0, 1], got {keep}")
    for r in range(seeds):
        alive = survivors(results, candidates, references, r, keep=keep, tie_break=tie_break)
        needed = tuple((c, r) for c in alive if r not in results.get(c, {}))
        if needed:
            return Round(r, alive, needed)
    return None

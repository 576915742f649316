"""Successive halving over seeds, on results where the answer is known."""

from __future__ import annotations

import math

import pytest

from nas.runs import next_round


def run_all(accuracy, candidates, references, *, seeds=3, keep=0.5):
    """Play the schedule to the end with a fixed accuracy(candidate, seed)."""
    results: dict[int, dict[int, float]] = {}
    rounds = []
    while (step := next_round(results, candidates, references, seeds=seeds, keep=keep)) is not None:
        rounds.append(step)
        for c, s in step.needed:
            results.setdefault(c, {})[s] = accuracy(c, s)
    return results, rounds


def test_halving_schedule_sizes_and_finalists():
    candidates = list(range(14))  # 0-3 references, 4-13 the grid
    results, rounds = run_all(lambda c, s: c / 100 + s / 1000, candidates, {0, 1, 2, 3})
    assert [len(r.needed) for r in rounds] == [14, 5 + 4, 3 + 4]
    finalists = [c for c in rounds[-1].survivors if c >= 4]
    assert finalists == [13, 12, 11]  # the best by mean, best first
    assert all(len(results[c]) == 3 for c in (0, 1, 2, 3, 11, 12, 13))
    assert all(len(results[c]) == 1 for c in range(4, 9))


def test_a_resumed_schedule_asks_only_for_what_is_missing():
    candidates, refs = list(range(8)), {0}
    full, _ = run_all(lambda c, s: c / 10, candidates, refs)
    partial = {c: {s: a for s, a in seeds.items() if s == 0} for c, seeds in full.items()}
    del partial[5][0]
    step = next_round(partial, candidates, refs, seeds=3, keep=0.5)
    assert step.index == 0 and step.needed == ((5, 0),)


def test_a_failed_seed_ranks_last_and_at_least_two_finalists_remain():
    _, rounds = run_all(
        lambda c, s: math.nan if c == 3 else 0.5 + c / 100, [0, 1, 2, 3], set(), keep=0.1
    )
    assert [r.needed for r in rounds][1:] == [((2, 1), (1, 1)), ((2, 2), (1, 2))]
    assert 3 not in rounds[-1].survivors


def test_bad_schedule_settings():
    with pytest.raises(ValueError, match="seeds must be >= 1"):
        next_round({}, [0], set(), seeds=0, keep=0.5)
    with pytest.raises(ValueError, match="keep must be in"):
        next_round({}, [0], set(), seeds=2, keep=1.5)

"""The predictor strategy: it trains what it predicted best, learns, and resumes as if unbroken."""

from __future__ import annotations

import math

import optuna
import pytest
from optuna.trial import TrialState

from nas import Evaluation, Evaluator, SearchConfig, SearchError, run_search
from nas.search._predictor_sampler import POOL_ATTR, PREDICTED_ATTR, trained_results
from scaling import search_proxy
from search_spaces import MBConvSpace, StageChoices

SKELETON = search_proxy(
    resolution=16, in_channels=1, num_classes=10, width_mult=0.5, depth_mult=0.5
)
SPACE = MBConvSpace.uniform(
    SKELETON, StageChoices(kernels=(3, 5, 7), expand_ratios=(1, 6), se_ratios=(0.0, 0.25))
)
TARGET = 4e6
WARMUP = 8


class Learnable(Evaluator):
    """An accuracy the architecture decides: kernel 5 and expansion 6 help in every stage."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def evaluate(self, spec, *, seed, progress=None):
        self.calls.append(spec.fingerprint())
        good = sum((s.kernel == 5) + (s.expand_ratio == 6) for s in spec.stages)
        return Evaluation(accuracy=0.4 + 0.03 * good)


def search(run_dir, evaluator=None, **config) -> optuna.Study:
    settings = {
        "target": TARGET,
        "trials": 20,
        "strategy": "predictor",
        "predictor_warmup": WARMUP,
        "predictor_pool": 200,
        "target_tolerance": 0.5,
        **config,
    }
    return run_search(
        space=SPACE,
        evaluator=evaluator or Learnable(),
        config=SearchConfig(**settings),
        run_dir=run_dir,
    )


def test_it_trains_what_it_predicted_and_learns_what_random_proposals_do_not(tmp_path):
    evaluator = Learnable()
    study = search(tmp_path / "predictor", evaluator, trials=40)
    trained = trained_results(study)
    assert len(trained) == 40 == len(evaluator.calls)  # every trial trained, none screened
    assert len({t.user_attrs["fingerprint"] for t in trained}) == 40
    assert all(2e6 <= t.user_attrs["cost"] <= 6e6 for t in trained)  # in the band
    warmup, proposed = trained[:WARMUP], trained[WARMUP:]
    assert not any(PREDICTED_ATTR in t.user_attrs for t in warmup)
    for trial in proposed:
        assert math.isfinite(trial.user_attrs[PREDICTED_ATTR])
        assert 1 <= trial.user_attrs[POOL_ATTR] <= 200
    uniform = trained_results(search(tmp_path / "random", strategy="random", trials=40))

    def late(results):
        return sum(t.user_attrs["accuracy"] for t in results[-10:]) / 10

    # Two more good choices per network than uniform proposals, at the same budget.
    assert late(trained) > late(uniform) + 0.05


def test_the_predictor_proposes_nothing_over_the_memory_limit(tmp_path):
    from search_spaces import peak_memory

    limit = 200_000  # bytes: about a third of the space's networks lie over it
    evaluator = Learnable()
    study = search(tmp_path, evaluator, trials=12, max_peak_memory=limit)
    trained = trained_results(study)
    assert len(trained) == 12 == len(evaluator.calls)
    assert sum(PREDICTED_ATTR in t.user_attrs for t in trained) == 12 - WARMUP
    for trial in trained:
        assert peak_memory(SPACE.decode(trial.params)).bytes() <= limit


def test_a_run_cut_short_and_continued_proposes_what_an_unbroken_one_did(tmp_path):
    unbroken = search(tmp_path / "a", trials=14)
    search(tmp_path / "b", trials=11)
    continued = search(tmp_path / "b", trials=14)
    assert [t.params for t in unbroken.trials] == [t.params for t in continued.trials]


def test_a_trial_lost_to_a_kill_is_trained_again_and_the_proposals_go_on_unchanged(tmp_path):
    unbroken = [t.params for t in trained_results(search(tmp_path / "a", trials=12))]
    calls = {"n": 0}

    class Killed(Learnable):
        def evaluate(self, spec, *, seed, progress=None):
            calls["n"] += 1
            if calls["n"] == 10:  # after the warmup, in a proposed trial
                raise KeyboardInterrupt
            return super().evaluate(spec, seed=seed, progress=progress)

    with pytest.raises(KeyboardInterrupt):
        search(tmp_path / "b", Killed(), trials=12)
    study = search(tmp_path / "b", trials=12)
    assert [t.state for t in study.trials].count(TrialState.FAIL) == 1
    assert [t.params for t in trained_results(study)] == unbroken


@pytest.mark.parametrize(
    ("settings", "phrase"),
    [
        ({"objective": "pareto"}, "ranks its pool by one reward"),
        ({"predictor_warmup": 7}, "needs 8 trained candidates or more"),
        ({"trials": 8}, "raise --trials above --predictor-warmup"),
        ({"predictor_pool": 0}, "pool must be a whole number >= 1"),
        ({"cost": "latency", "target": 5.0}, "cannot time: use a FLOP, params or memory target"),
    ],
)
def test_a_predictor_it_cannot_fit_is_refused_in_one_line(settings, phrase):
    with pytest.raises(SearchError, match=phrase):
        SearchConfig(**{"target": TARGET, "strategy": "predictor", "trials": 20, **settings})


def test_the_predictor_settings_enter_the_identity_only_with_the_strategy():
    assert "predictor_pool" not in SearchConfig(target=TARGET).identity()
    identity = SearchConfig(target=TARGET, strategy="predictor", trials=20).identity()
    assert identity["predictor_pool"] == 500 and identity["predictor_warmup"] == 10


@pytest.mark.subprocess
def test_a_predictor_search_killed_with_sigkill_resumes_with_the_same_proposals(tmp_path):
    import csv
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    from experiments.cli import main

    options = "--evaluator zero-cost --target-flops 12M --strategy predictor --trials 14 "
    options += "--predictor-warmup 8 --predictor-pool 40 --resolution 16 --width-mult 0.5 "
    options += "--depth-mult 0.5 --max-samples 200 --backend local --no-progress --json --out"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def arguments(out):
        return ["search", *options.split(), str(out)]

    def trained(out):
        with (out / "trials.csv").open(newline="") as file:
            rows = [r for r in csv.DictReader(file) if r["state"] == "complete"]
        return [json.loads(r["spec"])["blocks"] for r in rows]

    # Only the run to kill needs a process of its own; the others run here (no start-up).
    unbroken = tmp_path / "unbroken"
    assert main(arguments(unbroken)) == 0
    broken = tmp_path / "broken"
    command = [sys.executable, "-m", "experiments.cli", *arguments(broken)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while process.poll() is None and time.monotonic() < deadline:
        path = broken / "trials.csv"
        if path.exists() and len(trained(broken)) >= 10:  # past the warmup: proposing
            break
        time.sleep(0.02)
    assert process.poll() is None, "the search ended (or stalled) before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert main(arguments(broken)) == 0
    assert trained(broken) == trained(unbroken) and len(trained(unbroken)) == 14

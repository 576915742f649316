"""search_baseline, the whole first job in one call, and its policies."""

from __future__ import annotations

import json

import pytest

import nas.search._baseline as baseline_module
from nas import Evaluation, Evaluator, SearchConfig, SearchError
from nas.runs import RayOptions
from nas.search import Confirm, check_target, confirm_workers, default_constraint, search_baseline
from scaling import search_proxy
from search_spaces import InputError, MBConvSpace, StageChoices, count_flops

SKELETON = search_proxy(
    resolution=16, in_channels=1, num_classes=10, width_mult=0.5, depth_mult=0.5
)
SPACE = MBConvSpace.uniform(SKELETON, StageChoices(kernels=(3, 5), expand_ratios=(1, 6)))
TARGET = 4e6


class ByFlops(Evaluator):
    """An accuracy that is a fixed function of FLOPs; counts its calls."""

    def __init__(self, name: str = "train", offset: float = 0.0) -> None:
        self.name, self.offset, self.calls = name, offset, 0

    def identity(self):
        return {"evaluator": self.name, "offset": self.offset}

    def evaluate(self, spec, *, seed, progress=None):
        self.calls += 1
        return Evaluation(accuracy=0.5 + self.offset + 0.003 * (count_flops(spec) // 1000 % 97))


class Ranker(ByFlops):
    gives_accuracy = False


def test_one_call_searches_confirms_and_writes_the_report(tmp_path):
    config = SearchConfig(target=TARGET, trials=5, strategy="random")
    trainer = ByFlops(offset=0.1)  # the stand-alone retraining scores each 0.1 higher
    landed, confirming, confirmed = [], [], []
    report = search_baseline(
        space=SPACE, evaluator=ByFlops(), config=config, run_dir=tmp_path,
        confirm=Confirm(trainer, top_k=2),
        on_trial=lambda study, trial: landed.append(trial.number),
        on_confirming=confirming.append,
        on_confirmed=lambda number, result: confirmed.append(number),
    )  # fmt: skip
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert {"trials.csv", "pareto.csv", "baseline.json", "pareto.png"} <= {
        p.name for p in tmp_path.iterdir()
    }
    assert confirming == [2] and trainer.calls == 2 and len(confirmed) == 2
    assert summary["baseline"]["number"] in confirmed
    assert summary["baseline"]["standalone_accuracy"] == pytest.approx(
        summary["baseline"]["accuracy"] + 0.1
    )
    assert report.summary["baseline"] == summary["baseline"] and len(landed) >= 5
    # The retraining is part of the run: continuing with another is refused.
    with pytest.raises(InputError, match="different search"):
        search_baseline(
            space=SPACE, evaluator=ByFlops(), config=config, run_dir=tmp_path,
            confirm=Confirm(ByFlops(offset=0.2), top_k=2),
        )  # fmt: skip


def test_the_report_is_rewritten_as_trials_land(tmp_path, monkeypatch):
    seen = []
    real = baseline_module.write_report

    def spy(report, run_dir, config, plot=True):
        seen.append(len(report.trials))
        return real(report, run_dir, config, plot=plot)

    monkeypatch.setattr(baseline_module, "write_report", spy)
    # Cheap reports are rewritten after every trial; no share of the time is too much here.
    throttle = baseline_module._Throttle
    monkeypatch.setattr(baseline_module, "_Throttle", lambda: throttle(share=1e12))
    config = SearchConfig(target=TARGET, trials=3, strategy="random", target_tolerance=None)
    search_baseline(space=SPACE, evaluator=ByFlops(), config=config, run_dir=tmp_path)
    assert seen[:3] == [1, 2, 3] and seen[-1] == 3


def test_policies_live_in_the_library():
    assert default_constraint(ByFlops()) == "soft" and default_constraint(Ranker()) == "hard"
    assert confirm_workers(None) == 1
    assert confirm_workers(RayOptions(max_concurrent=3), cores=8) == 3
    assert confirm_workers(RayOptions(cpus_per_trial=2.0), cores=8) == 4
    with pytest.raises(SearchError, match="confirm top-k must be 0"):
        Confirm(ByFlops(), top_k=-1)


def test_a_target_below_the_space_is_refused_naming_both_ends(tmp_path):
    config = SearchConfig(target=1e5, trials=2)
    with pytest.raises(SearchError, match=r"target 100K is below the smallest network .*largest"):
        check_target(SPACE, config)
    with pytest.raises(SearchError, match="below the smallest"):
        search_baseline(space=SPACE, evaluator=ByFlops(), config=config, run_dir=tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_the_throttle_keeps_a_costly_task_to_its_share_of_the_time(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(baseline_module.time, "perf_counter", lambda: clock[0])
    ran = []

    def report(cost: float):
        def task():
            ran.append(round(clock[0], 1))
            clock[0] += cost

        return task

    throttle = baseline_module._Throttle(share=0.1)
    for now in (0.0, 2.0, 9.9, 10.0, 10.5):  # a 1 s task: at most once in 10 s
        clock[0] = max(clock[0], now)
        throttle(report(1.0))
    assert ran == [0.0, 10.0]
    clock[0] = 20.0
    for _ in range(3):  # a cheap task runs at every call
        clock[0] += 1.0
        throttle(report(0.01))
    assert ran == [0.0, 10.0, 21.0, 22.0, 23.0]

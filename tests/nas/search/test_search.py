"""run_search and its report with a fake evaluator: files, resumption, recovery, screening."""

from __future__ import annotations

import csv
import json
import math
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

import nas
from nas import Evaluation, Evaluator, SearchConfig, SearchError, TrialError, run_search
from nas.runs import requeued_numbers
from nas.search import STUDY_NAME
from scaling import scale_network, search_proxy
from search_spaces import (
    InputError,
    MBConvSpace,
    NetworkSpec,
    StageChoices,
    count_flops,
    count_params,
)

SKELETON = search_proxy(
    resolution=16, in_channels=1, num_classes=10, width_mult=0.5, depth_mult=0.5
)
SPACE = MBConvSpace.uniform(
    SKELETON, StageChoices(kernels=(3, 5, 7), expand_ratios=(1, 6), se_ratios=(0.0, 0.25))
)
TARGET = 4e6  # the space spans 0.6M to 24.8M FLOPs; random points are mostly 1M to 8M
SMALLEST = SPACE.extreme(largest=False)
PNG = b"\x89PNG\r\n\x1a\n"


class Fake(Evaluator):
    """Accuracy from FLOPs alone (deterministic, not monotone in cost); records every call.

    ``hook(spec)`` may raise, or return a float to report instead.
    """

    def __init__(self, hook=lambda spec: None) -> None:
        self.calls: list[str] = []
        self.hook = hook

    def evaluate(self, spec, *, seed, progress=None):
        self.calls.append(spec.fingerprint())
        score = self.hook(spec)
        if isinstance(score, float):
            return Evaluation(accuracy=score)
        return Evaluation(accuracy=0.5 + 0.004 * (count_flops(spec) // 1000 % 101))


# Most tests here train every candidate (no band); the band's own tests ask for one.
DEFAULTS = {"target": TARGET, "trials": 6, "strategy": "random", "target_tolerance": None}


def search(run_dir, evaluator=None, **config) -> optuna.Study:
    config = {**DEFAULTS, **config}
    return run_search(
        space=SPACE, evaluator=evaluator or Fake(), config=SearchConfig(**config), run_dir=run_dir
    )


def report(study, run_dir, plot=False, **config) -> tuple[list[dict], list[dict], dict]:
    """Write the report; (trials.csv rows, pareto.csv rows, summary.json)."""
    config = SearchConfig(**{**DEFAULTS, **config})
    built = nas.build_report(study, config, space_size=SPACE.size)
    nas.write_report(built, run_dir, config, plot=plot)
    summary = json.loads((run_dir / "summary.json").read_text())
    return read_csv(run_dir / "trials.csv"), read_csv(run_dir / "pareto.csv"), summary


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as file:
        return list(csv.DictReader(file))


def open_study(run_dir: Path) -> optuna.Study:
    run_dir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{run_dir / 'study.db'}"
    return optuna.create_study(study_name=STUDY_NAME, storage=url, load_if_exists=True)


def snapshot(study: optuna.Study) -> dict[int, tuple]:
    return {
        t.number: (t.params, t.values, t.user_attrs.get("accuracy"))
        for t in study.get_trials(states=(TrialState.COMPLETE,))
    }


def test_report_files_hold_every_trial_the_front_and_the_baseline(tmp_path):
    study = search(tmp_path, trials=8, strategy="tpe")
    trials, front, summary = report(study, tmp_path, True, trials=8, strategy="tpe")
    assert [int(r["number"]) for r in trials] == list(range(8))
    columns = {"number", "state", "flops", "params", "accuracy", "reward", "spec", "error"}
    assert columns | set(SPACE.parameters()) <= set(trials[0])
    for row in trials:
        spec = NetworkSpec.from_dict(json.loads(row["spec"]))
        assert (row["state"], int(row["flops"])) == ("complete", count_flops(spec))
        accuracy, cost = float(row["accuracy"]), float(row["cost"])
        expected = nas.mnas_reward(accuracy, cost, TARGET, nas.REWARD_FORMS["soft"])
        assert float(row["reward"]) == pytest.approx(expected, rel=1e-12)
    unique = [r for r in trials if not r["duplicate_of"]]
    points = [(float(r["accuracy"]), float(r["cost"])) for r in unique]
    assert [r["number"] for r in front] == [unique[i]["number"] for i in nas.pareto_front(points)]
    assert 1 <= len(front) < len(unique)
    assert (tmp_path / "pareto.png").read_bytes()[:8] == PNG
    # No band: the best reward anywhere.
    best = max(unique, key=lambda r: (float(r["reward"]), -float(r["cost"])))
    baseline = NetworkSpec.load(tmp_path / "baseline.json")
    assert count_flops(baseline) == int(best["flops"]) == summary["baseline"]["flops"]
    assert (baseline.name, baseline.metadata["trial"]) == ("baseline", int(best["number"]))
    keys = {"target", "cost", "objective", "strategy", "trials", "baseline", "hypervolume"}
    assert keys <= set(summary) and summary["target"] == TARGET
    assert set(summary["files"]) == {"trials", "pareto", "summary", "baseline", "plot"}
    assert (summary["cost"], summary["trials"]) == ("flops", {"complete": 8})
    normalised = [(a, c / TARGET) for a, c in points]
    assert summary["hypervolume"] == pytest.approx(nas.hypervolume(normalised, max_cost=2.0))


def test_a_second_run_continues_the_study_to_the_new_total(tmp_path):
    first = snapshot(search(tmp_path, trials=4))
    assert sorted(first) == [0, 1, 2, 3]
    evaluator = Fake()
    study = search(tmp_path, evaluator, trials=7)
    assert len(study.trials) == 7 and len(snapshot(study)) == 7
    assert {n: v for n, v in snapshot(study).items() if n < 4} == first
    assert 1 <= len(evaluator.calls) <= 3
    again = Fake()
    assert len(search(tmp_path, again, trials=7).trials) == 7 and again.calls == []


@pytest.mark.subprocess
def test_a_trial_whose_process_died_is_failed_and_its_point_run_once_more(tmp_path):
    search(tmp_path, trials=2)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    study = open_study(tmp_path)
    lost = {**SPACE.extreme(largest=True), "s0_skip": False}
    study.enqueue_trial(lost)
    trial = study.ask()
    for key, options in SPACE.parameters().items():
        trial.suggest_categorical(key, options)
    trial.set_user_attr("host", socket.gethostname())
    trial.set_user_attr("pid", dead.pid)
    assert trial.number == 2 and study.trials[2].state == TrialState.RUNNING

    evaluator = Fake()
    study = search(tmp_path, evaluator, trials=4)
    died = study.trials[2]
    assert died.state == TrialState.FAIL and died.user_attrs["interrupted"] is True
    assert [t.number for t in study.trials if t.params == lost] == [2, 3]
    assert study.trials[3].state == TrialState.COMPLETE and len(study.trials) == 5
    assert evaluator.calls[0] == SPACE.decode(lost).fingerprint()
    assert requeued_numbers(study) == {2}
    rows, _, summary = report(study, tmp_path, trials=4)
    assert rows[2]["state"] == "interrupted" and summary["trials"]["complete"] == 4

    study = search(tmp_path, trials=4)  # nothing to recover, nothing left to run
    assert len(study.trials) == 5 and requeued_numbers(study) == {2}


@pytest.mark.subprocess
def test_a_trial_killed_while_choosing_its_point_is_not_queued_again(tmp_path):
    search(tmp_path, trials=1)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    study = open_study(tmp_path)
    trial = study.ask()
    key, options = next(iter(SPACE.parameters().items()))
    trial.suggest_categorical(key, options)  # one of 42 choices: it never reached training
    trial.set_user_attr("host", socket.gethostname())
    trial.set_user_attr("pid", dead.pid)

    evaluator = Fake()
    study = search(tmp_path, evaluator, trials=3)
    assert study.trials[1].state == TrialState.FAIL and study.trials[1].user_attrs["interrupted"]
    assert not requeued_numbers(study)
    assert len(evaluator.calls) == 2 and len(study.trials) == 4  # 3 counted + the interrupted


def test_a_keyboard_interrupt_leaves_a_trial_the_next_run_repeats(tmp_path):
    def stop_on_second_call(spec):
        if len(evaluator.calls) == 2:
            raise KeyboardInterrupt

    evaluator = Fake(stop_on_second_call)
    with pytest.raises(KeyboardInterrupt):
        search(tmp_path, evaluator, trials=4)
    study = search(tmp_path, trials=4)
    assert study.trials[1].user_attrs["interrupted"] is True
    assert study.trials[2].params == study.trials[1].params
    states = [t.state for t in study.trials]
    assert states.count(TrialState.COMPLETE) == 4 and len(states) == 5


@pytest.mark.slow
@pytest.mark.subprocess
def test_sigkill_mid_search_then_rerun_completes_the_budget(tmp_path):
    out = tmp_path / "run"
    options = "--evaluator zero-cost --target-flops 30M --target-tolerance none --trials 40 "
    options += "--resolution 16 --json "
    options += "--width-mult 0.5 --depth-mult 0.5 --max-samples 200 --no-progress --out"
    command = [sys.executable, "-m", "experiments.cli", "search", *options.split(), str(out)]
    # One torch thread: cnas search ignores --threads for the zero-cost evaluator.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while process.poll() is None and time.monotonic() < deadline:
        path = out / "trials.csv"
        if path.exists() and len(read_csv(path)) >= 3:
            break
        time.sleep(0.02)
    assert process.poll() is None, "the search ended (or stalled) before it could be killed"
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
    before = snapshot(open_study(out))
    assert 3 <= len(before) < 40

    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, timeout=400)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    trials = open_study(out).trials
    interrupted = [t for t in trials if t.user_attrs.get("interrupted")]
    finished = [t for t in trials if t.state.is_finished() and t not in interrupted]
    assert len(finished) == 40 and all(t.state == TrialState.COMPLETE for t in finished)
    assert {n: v for n, v in snapshot(open_study(out)).items() if n in before} == before
    left = interrupted + [t for t in trials if t.state == TrialState.RUNNING]
    assert len(left) <= 1
    n_params = len(SPACE.parameters())
    for lost in interrupted:
        later = [t.params for t in finished if t.number > lost.number]
        if len(lost.params) == n_params:  # it was evaluating: the same point runs again
            assert lost.params in later
        else:  # killed while still choosing: it had not started, nothing is queued
            assert lost.number not in requeued_numbers(open_study(out))
    assert json.loads(done.stdout)["trials"]["complete"] == 40


def test_failing_trials_are_recorded_and_the_search_goes_on(tmp_path):
    def fail(spec):
        if spec.stages[0].kernel == 7:
            raise TrialError("kernel 7 diverged")
        if spec.stages[1].kernel == 7:
            raise ValueError("a bug in the evaluator")

    study = open_study(tmp_path)
    for kernels in ((7, 3), (3, 7), (3, 3)):
        study.enqueue_trial({**SMALLEST, "s0_kernel": kernels[0], "s1_kernel": kernels[1]})
    evaluator = Fake(fail)
    study = search(tmp_path, evaluator, trials=6)
    rows, front, summary = report(study, tmp_path, trials=6)
    assert len(rows) == 6 and len(evaluator.calls) >= 6 - 1
    for row in rows:
        bad = "7" in (row["s0_kernel"], row["s1_kernel"])
        assert row["state"] == ("fail" if bad else "complete")
        if row["s0_kernel"] == "7":
            assert row["error"] == "TrialError: kernel 7 diverged"
        elif bad:
            assert row["error"] == "ValueError: a bug in the evaluator"
        else:
            assert row["error"] == "" and row["accuracy"] != ""
    failed = {r["number"] for r in rows if r["state"] == "fail"}
    assert {"0", "1"} <= failed and "2" not in failed
    assert str(summary["baseline"]["number"]) not in failed
    assert not failed & {r["number"] for r in front}


def test_a_non_finite_accuracy_fails_the_trial(tmp_path):
    study = search(tmp_path, Fake(lambda spec: math.nan), trials=2)
    assert [t.state for t in study.trials] == [TrialState.FAIL] * 2
    message = study.trials[0].user_attrs["error"]
    assert message == "TrialError: the evaluator returned a non-finite score nan"
    _, front, summary = report(study, tmp_path, trials=2)
    assert summary["baseline"] is None and front == []
    assert not (tmp_path / "baseline.json").exists()


def test_hard_constraint_screens_over_target_candidates_before_evaluation(tmp_path):
    target = 2e6
    open_study(tmp_path).enqueue_trial(SMALLEST)
    evaluator = Fake()
    study = search(tmp_path, evaluator, trials=8, target=target, constraint="hard")
    rows, front, summary = report(study, tmp_path, trials=8, target=target, constraint="hard")
    screened = [r for r in rows if r["state"] == "screened"]
    evaluated = [r for r in rows if r["state"] == "complete"]
    assert len(screened) >= 3 and len(screened) + len(evaluated) == 8
    assert all(float(r["cost"]) > target and r["accuracy"] == "" for r in screened)
    assert all(float(r["cost"]) <= target for r in evaluated)
    fresh = [r for r in evaluated if not r["duplicate_of"]]
    fingerprints = [NetworkSpec.from_dict(json.loads(r["spec"])).fingerprint() for r in fresh]
    assert evaluator.calls == fingerprints
    assert not {r["number"] for r in screened} & {r["number"] for r in front}
    assert summary["baseline"]["cost"] <= target and summary["trials"]["screened"] == len(screened)


def test_a_repeated_network_is_evaluated_once(tmp_path):
    study = open_study(tmp_path)
    study.enqueue_trial(SMALLEST)
    study.enqueue_trial(SMALLEST)
    evaluator = Fake()
    study = search(tmp_path, evaluator, trials=3)
    assert evaluator.calls.count(SPACE.decode(SMALLEST).fingerprint()) == 1
    first, second = study.trials[:2]
    assert second.user_attrs["duplicate_of"] == 0 and "duplicate_of" not in first.user_attrs
    assert second.value == first.value
    rows, front, _ = report(study, tmp_path, trials=3)
    assert rows[1]["duplicate_of"] == "0.0" or rows[1]["duplicate_of"] == "0"
    assert "1" not in {r["number"] for r in front}


def test_aliases_share_a_fingerprint_and_are_trained_once(tmp_path):
    # Stage 0 of the skeleton (one block, 16 -> 8 channels) can have no shortcut, so its skip
    # choice builds the same network either way: a space of two points and one network.
    fixed = {"kernels": (3,), "expand_ratios": (1,), "se_ratios": (0.0,), "layer_deltas": (0,)}
    choices = [StageChoices(**fixed, width_mults=(1.0,), skips=(True, False))]
    choices += [StageChoices(**fixed, width_mults=(1.0,), skips=(True,))] * 6
    space = MBConvSpace(SKELETON, tuple(choices))
    assert space.size == 2
    with_skip, without = (
        space.decode({**space.extreme(largest=False), "s0_skip": v}) for v in (True, False)
    )
    assert with_skip.stages[0].skip != without.stages[0].skip
    assert with_skip.fingerprint() == without.fingerprint()
    assert count_params(with_skip) == count_params(without)
    built = [nas.build_model(spec) for spec in (with_skip, without)]
    assert nas.torch_param_count(built[0]) == nas.torch_param_count(built[1])
    assert [m.use_residual for m in built[0].modules() if isinstance(m, nas.MBConv)] == [
        m.use_residual for m in built[1].modules() if isinstance(m, nas.MBConv)
    ]
    evaluator = Fake()
    config = SearchConfig(**DEFAULTS)
    study = run_search(space=space, evaluator=evaluator, config=config, run_dir=tmp_path)
    assert {t.params["s0_skip"] for t in study.trials} == {True, False}  # both points came up
    assert len(evaluator.calls) == 1  # the second point was known, not retrained
    assert sum("duplicate_of" in t.user_attrs for t in study.trials) == 5


def test_pareto_objective_records_accuracy_and_cost_and_picks_within_target(tmp_path):
    study = search(tmp_path, trials=8, objective="pareto")
    assert len(study.directions) == 2
    for trial in study.trials:
        assert trial.values == [trial.user_attrs["accuracy"], trial.user_attrs["cost"]]
    _, front, summary = report(study, tmp_path, trials=8, objective="pareto")
    assert summary["objective"] == "pareto"
    within = [r for r in front if float(r["cost"]) <= TARGET]
    best = max(within, key=lambda r: (float(r["accuracy"]), -float(r["cost"])))
    assert summary["baseline"]["number"] == int(best["number"])


def test_a_run_dir_refuses_a_different_search_and_writes_nothing(tmp_path):
    search(tmp_path, trials=2)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(InputError, match=r"different search \(target 4000000.0 -> 5000000.0\)"):
        search(tmp_path, trials=3, target=5e6)
    with pytest.raises(InputError, match=r"strategy 'random' -> 'tpe'"):
        search(tmp_path, trials=3, strategy="tpe")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


class Trained(Fake):
    """A Fake that says it trains on some data for some epochs."""

    def __init__(self, **identity) -> None:
        super().__init__()
        self.settings = identity

    def identity(self):
        return {"evaluator": "train", **self.settings}


def test_the_library_refuses_to_continue_with_other_data_training_or_space(tmp_path):
    config = SearchConfig(target=TARGET, trials=2, strategy="random")
    run = dict(config=config, run_dir=tmp_path)
    run_search(space=SPACE, evaluator=Trained(data="digits", epochs=2), **run)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(InputError, match="epochs 2 -> 3"):
        run_search(space=SPACE, evaluator=Trained(data="digits", epochs=3), **run)
    with pytest.raises(InputError, match="data 'digits' -> 'cifar10'"):
        run_search(space=SPACE, evaluator=Trained(data="cifar10", epochs=2), **run)
    narrower = MBConvSpace.uniform(SKELETON, StageChoices(kernels=(3, 5)))
    with pytest.raises(InputError, match="different search \\(space"):
        run_search(space=narrower, evaluator=Trained(data="digits", epochs=2), **run)
    other_skeleton = MBConvSpace.uniform(
        scale_network(SKELETON, width_mult=2.0, depth_mult=1.0, resolution=16),
        SPACE.choices[0],
    )
    with pytest.raises(InputError, match="different search \\(skeleton"):
        run_search(space=other_skeleton, evaluator=Trained(data="digits", epochs=2), **run)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


class Ranking(Fake):
    name = "ranker"
    gives_accuracy = False
    score_label = "a ranking score"


def test_a_ranking_score_is_never_an_accuracy(tmp_path):
    with pytest.raises(SearchError, match="ranks networks, not an accuracy"):
        search(tmp_path / "soft", Ranking())
    assert not (tmp_path / "soft").exists()
    study = search(tmp_path, Ranking(), constraint="hard", trials=8)
    rows, front, summary = report(study, tmp_path, constraint="hard", trials=8)
    assert "score" in rows[0] and "accuracy" not in rows[0] and "score" in front[0]
    assert summary["hypervolume"] is None and summary["evaluator"]["name"] == "ranker"
    assert summary["baseline"]["chosen_by"] == "ranker" and "score" in summary["baseline"]
    within = [r for r in rows if r["state"] == "complete"]
    assert all(float(r["reward"]) == float(r["score"]) for r in within)  # the score, no cost term
    assert summary["baseline"]["number"] == int(
        max(within, key=lambda r: float(r["score"]))["number"]
    )
    assert NetworkSpec.load(tmp_path / "baseline.json").metadata["chosen_by"] == "ranker"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"cost": "energy"}, "unknown cost 'energy'"),
        ({"objective": "fast"}, "unknown objective 'fast'"),
        ({"strategy": "grid"}, "unknown strategy 'grid'"),
        ({"strategy": "rl", "objective": "pareto"}, "strategy rl learns from one reward"),
        ({"constraint": "medium"}, "unknown reward form 'medium'"),
        ({"target": 0}, "target must be a positive number"),
        ({"target": math.inf}, "target must be a positive number"),
        ({"trials": 0}, "trials must be a whole number >= 1"),
        ({"trials": True}, "trials must be a whole number >= 1"),
    ],
)
def test_search_config_rejects_bad_settings(settings, message):
    with pytest.raises(SearchError, match=message):
        SearchConfig(**{"target": 1e6, **settings})


def test_a_run_with_tuple_identity_extra_can_be_continued(tmp_path):
    # A tuple is recorded as a JSON list: the continued run must compare equal to it,
    # go on to the new total, and train nothing the first run finished.
    for trials, calls in ((1, 1), (2, 1)):
        evaluator = Fake()
        study = run_search(
            space=SPACE,
            evaluator=evaluator,
            config=SearchConfig(**{**DEFAULTS, "trials": trials}),
            run_dir=tmp_path,
            identity_extra={"k": (3,)},
        )
        assert nas.runs.finished_count(study) == trials and len(evaluator.calls) == calls
    with pytest.raises(InputError, match="different search"):
        run_search(
            space=SPACE, evaluator=Fake(), config=SearchConfig(**DEFAULTS), run_dir=tmp_path,
            identity_extra={"k": (4,)},
        )  # fmt: skip


def in_band(cost, low, high):
    return low <= cost <= high


@pytest.mark.parametrize(("constraint", "band"), [("soft", (0.9, 1.1)), ("hard", (0.9, 1.0))])
def test_candidates_outside_the_band_are_proposed_again_and_never_trained(
    tmp_path, constraint, band
):
    low, high = band[0] * TARGET, band[1] * TARGET
    evaluator = Fake()
    study = search(tmp_path, evaluator, trials=6, target_tolerance=0.1, constraint=constraint)
    trained = [t for t in study.trials if not t.user_attrs.get("screened")]
    outside = [t for t in study.trials if t.user_attrs.get("out_of_band")]
    # Six trained, all in the band; the others were turned away, counted by nobody.
    assert len(trained) == 6 and nas.runs.finished_count(study) == 6
    assert all(in_band(t.user_attrs["cost"], low, high) for t in trained)
    assert outside and not any(in_band(t.user_attrs["cost"], low, high) for t in outside)
    # Scored below every trained one, the lower the further outside the band.
    assert all(t.value < 0 and "accuracy" not in t.user_attrs for t in outside)
    by_fingerprint = {t.user_attrs["fingerprint"]: t for t in trained}
    assert set(evaluator.calls) <= set(by_fingerprint)
    assert len(study.trials) == len(trained) + len(outside)
    rows, _, summary = report(
        study, tmp_path, trials=6, target_tolerance=0.1, constraint=constraint
    )
    assert summary["trials"] == {"complete": 6, "out-of-band": len(outside)}
    assert [r["accuracy"] for r in rows if r["state"] == "out-of-band"] == [""] * len(outside)
    assert summary["band"]["proposed_outside"] == len(outside)
    assert (summary["band"]["low"], summary["band"]["high"]) == pytest.approx((low, high))
    assert 0 < summary["band"]["share_of_space"] < 1
    assert summary["baseline"]["within_tolerance"] is True


def test_a_continued_band_search_trains_only_what_is_missing(tmp_path):
    search(tmp_path, trials=3, target_tolerance=0.1)
    evaluator = Fake()
    study = search(tmp_path, evaluator, trials=5, target_tolerance=0.1)
    trained = [t for t in study.trials if not t.user_attrs.get("screened")]
    assert len(trained) == 5 and len(evaluator.calls) <= 2


def test_a_band_no_network_reaches_is_refused_before_anything_is_written(tmp_path):
    # The space spans 0.6M to 24.8M FLOPs: 30M is above all of it.
    with pytest.raises(SearchError, match=r"target 30M is above the largest network .*24\.8M"):
        search(tmp_path / "run", trials=2, target=30e6, target_tolerance=0.1)
    assert not (tmp_path / "run").exists()
    # Two networks (stage 0's kernel 3 or 7) and a band between them that holds neither.
    fixed = {"expand_ratios": (1,), "se_ratios": (0.0,), "layer_deltas": (0,), "skips": (True,)}
    first = StageChoices(kernels=(3, 7), width_mults=(1.0,), **fixed)
    rest = StageChoices(kernels=(3,), width_mults=(1.0,), **fixed)
    two = MBConvSpace(SKELETON, (first,) + (rest,) * (len(SKELETON.stages) - 1))
    low, high = (
        count_flops(two.decode({**two.extreme(largest=False), "s0_kernel": k})) for k in (3, 7)
    )
    config = SearchConfig(target=(low + high) / 2, trials=2, target_tolerance=0.01)
    with pytest.raises(SearchError, match=r"no network of the space costs .* spans"):
        run_search(space=two, evaluator=Fake(), config=config, run_dir=tmp_path / "two")
    assert not (tmp_path / "two").exists()
    # Without a band every candidate trains, and the baseline is the nearest there is.
    study = search(tmp_path / "none", trials=2, target=30e6)
    assert nas.runs.finished_count(study) == 2


def test_the_band_enters_the_identity_only_where_it_decides_what_trains(tmp_path):
    screened = SearchConfig(target=TARGET, target_tolerance=0.1).identity()
    assert screened["target_tolerance"] == 0.1
    for config in (
        SearchConfig(target=TARGET, target_tolerance=None),
        SearchConfig(target=TARGET, objective="pareto"),
        SearchConfig(target=5.0, cost="latency"),  # timed per candidate: trains to know
    ):
        assert "target_tolerance" not in config.identity()
    search(tmp_path, trials=2)  # made without a band, as runs were before it
    with pytest.raises(InputError, match="target_tolerance"):
        search(tmp_path, trials=3, target_tolerance=0.1)


def test_band_share_is_the_share_of_drawn_networks_in_the_band():
    config = SearchConfig(target=TARGET, target_tolerance=0.1)
    share = nas.search.band_share(SPACE, config, samples=500)
    rng = random.Random(0)
    costs = [count_flops(SPACE.decode(SPACE.sample(rng))) for _ in range(500)]
    assert share == sum(0.9 * TARGET <= c <= 1.1 * TARGET for c in costs) / 500
    assert nas.search.band_share(SPACE, SearchConfig(target=TARGET, target_tolerance=None)) == 1


def test_a_band_the_proposals_keep_missing_stops_the_run_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(nas.search._search, "MAX_OUTSIDE_IN_A_ROW", 3)
    with pytest.raises(
        nas.runs.RunStopped, match=r"^3 proposals in a row cost outside 3\.96M-4\.04M: widen"
    ):
        search(tmp_path, trials=4, target_tolerance=0.01)
    study = optuna.load_study(study_name=STUDY_NAME, storage=f"sqlite:///{tmp_path / 'study.db'}")
    assert sum(bool(t.user_attrs.get("out_of_band")) for t in study.trials) >= 3


def test_no_candidate_over_the_peak_memory_limit_is_trained(tmp_path):
    from search_spaces import peak_memory

    limit = 200_000  # bytes: about a third of the space's networks lie over it
    evaluator = Fake()
    study = search(tmp_path, evaluator, trials=8, max_peak_memory=limit)
    over = [t for t in study.trials if t.user_attrs.get("over_memory")]
    trained = [t for t in study.trials if not t.user_attrs.get("screened")]
    assert over and len(trained) == 8 == len(evaluator.calls)  # over ones are not counted
    for trial in study.trials:
        spec = NetworkSpec.from_dict(trial.user_attrs["spec"])
        assert trial.user_attrs["peak_memory_bytes"] == peak_memory(spec).bytes()
        assert (trial in over) == (trial.user_attrs["peak_memory_bytes"] > limit)
    rows, _, _ = report(study, tmp_path, trials=8, max_peak_memory=limit)
    assert {r["state"] for r in rows} == {"complete", "over-memory"}


def test_a_peak_memory_target_searches_in_its_band_like_any_cost(tmp_path):
    # Peaks take few values here (most networks peak at 192 or 208 KiB): a band round them.
    study = search(tmp_path, trials=4, cost="memory", target=200_000, target_tolerance=0.1)
    trained = [t for t in study.trials if not t.user_attrs.get("screened")]
    assert len(trained) == 4
    assert all(180_000 <= t.user_attrs["cost"] <= 220_000 for t in trained)
    assert any(t.user_attrs.get("out_of_band") for t in study.trials)
    from nas.search import check_target

    low = SearchConfig(target=1_000, cost="memory")
    with pytest.raises(SearchError, match=r"target 1 KiB is below the smallest .* \(32 KiB"):
        check_target(SPACE, low)
    limit = SearchConfig(target=TARGET, max_peak_memory=1_024)
    with pytest.raises(SearchError, match="peak memory limit 1 KiB is below the smallest"):
        check_target(SPACE, limit)

"""A stateful strategy on one study shared by two processes, one of them killed with SIGKILL:
the budget is met exactly, no finished trial is lost or repeated, and the RL controller
ends with the policy a fresh replay of the study gives (its incremental cache, built as
trials of two processes landed out of order, agrees with the history)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from nas.runs import finished_count, is_surplus, open_storage
from nas.search import STRATEGIES, STUDY_NAME, make_sampler

CHILD = Path(__file__).with_name("_shared_search_child.py")
TRIALS = 24


def start(tmp_path: Path, name: str, strategy: str, url: str) -> subprocess.Popen:
    command = [sys.executable, str(CHILD), str(tmp_path / name), url, strategy, str(TRIALS)]
    command.append(str(tmp_path / f"{name}.policy.json"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with (tmp_path / f"{name}.err").open("ab") as err:
        return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=err)


def finish(process: subprocess.Popen, tmp_path: Path, name: str) -> None:
    process.wait(timeout=300)
    assert process.returncode == 0, (tmp_path / f"{name}.err").read_text()[-2000:]


def reap(process: subprocess.Popen) -> None:
    """Whatever the test's outcome, no process of it outlives it."""
    if process.poll() is None:
        process.kill()
    process.wait(timeout=60)


def load(url: str) -> optuna.Study:
    return optuna.load_study(study_name=STUDY_NAME, storage=open_storage(url))


# The samplers that keep state between trials: the RL controller's policy cache and
# NSGA-II's generations. Random and TPE compute each proposal from the finished trials
# alone, so for them this is the runner's recovery, which test_storage and test_search
# check (two processes on one study; a SIGKILL mid-search and the rerun).
STATEFUL = ("nsga2", "rl")


def test_the_stateful_strategies_are_known_strategies():
    assert set(STATEFUL) < set(STRATEGIES)


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.parametrize("strategy", STATEFUL)
def test_a_shared_study_survives_sigkill_with_a_stateful_strategy(tmp_path, strategy, request):
    url = f"journal:{tmp_path}/shared.log"
    victim = start(tmp_path, "a", strategy, url)
    request.addfinalizer(lambda: reap(victim))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if (tmp_path / "shared.log").exists():
            try:
                trials = load(url).get_trials(deepcopy=False)
            except KeyError:  # the log exists a moment before the study is in it
                time.sleep(0.05)
                continue
            if (
                sum(t.user_attrs.get("pid") == victim.pid for t in trials if t.state.is_finished())
                >= 3
            ):
                break
        time.sleep(0.05)
    survivor = start(tmp_path, "b", strategy, url)
    time.sleep(2.0)  # both at work on the study
    assert victim.poll() is None, "the first process ended before it could be killed"
    victim.send_signal(signal.SIGKILL)
    assert victim.wait(timeout=30) == -signal.SIGKILL
    finish(survivor, tmp_path, "b")
    finish(start(tmp_path, "a", strategy, url), tmp_path, "a")  # the killed command, again

    study = load(url)
    trials = study.get_trials(deepcopy=False)
    interrupted = [t for t in trials if t.user_attrs.get("interrupted")]
    counted = [
        t for t in trials if t.state.is_finished() and not is_surplus(t) and t not in interrupted
    ]
    assert finished_count(study) == TRIALS
    assert len(counted) == TRIALS and all(t.state == TrialState.COMPLETE for t in counted)
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    pids = {t.user_attrs["pid"] for t in counted}
    assert victim.pid in pids and survivor.pid in pids
    for lost in interrupted:  # a point killed mid-evaluation runs again, once
        later = [t.params for t in counted if t.number > lost.number]
        if len(lost.params) == len(trials[0].params):
            assert later.count(lost.params) >= 1

    if strategy == "rl":
        fresh = make_sampler("rl", seed=0, multi_objective=False, n_trials=TRIALS)
        replayed = fresh.policy(study)
        for name in ("b", "a"):
            policy = json.loads((tmp_path / f"{name}.policy.json").read_text())
            assert policy.keys() == replayed.keys() and policy
            for key in policy:
                np.testing.assert_allclose(policy[key], replayed[key], rtol=0, atol=1e-12)

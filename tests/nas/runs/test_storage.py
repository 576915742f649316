"""Storage URLs, journal and PostgreSQL studies, budgets shared by processes, heartbeats."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

import nas.runs._storage
import nas.runs._trials
from nas import Evaluation, Evaluator, SearchConfig, run_search
from nas.runs import (
    StorageError,
    check_storage,
    finished_count,
    interrupted_numbers,
    open_storage,
    over_budget,
    requeued_numbers,
)
from nas.search import STUDY_NAME
from scaling import search_proxy
from search_spaces import MBConvSpace, StageChoices, count_flops

SKELETON = search_proxy(
    resolution=16, in_channels=1, num_classes=10, width_mult=0.5, depth_mult=0.5
)
SPACE = MBConvSpace.uniform(SKELETON, StageChoices(kernels=(3, 5), expand_ratios=(1, 6)))


class Fake(Evaluator):
    def __init__(self) -> None:
        self.calls = 0

    def evaluate(self, spec, *, seed, progress=None):
        self.calls += 1
        return Evaluation(accuracy=0.5 + 0.004 * (count_flops(spec) // 1000 % 101))


def search(run_dir: Path, storage: str | None, trials: int, evaluator=None) -> optuna.Study:
    return run_search(
        space=SPACE,
        evaluator=evaluator or Fake(),
        config=SearchConfig(target=4e6, trials=trials, strategy="random", target_tolerance=None),
        run_dir=run_dir,
        storage=storage,
    )


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("", "empty storage URL"),
        ("not a url", "malformed storage URL"),
        ("nosuchdb://host/db", "unknown database 'nosuchdb'"),
        ("journal:", "names no file"),
        ("journal:/no/such/folder/study.log", "does not exist"),
        ("sqlite:////no/such/folder/study.db", "does not exist"),
    ],
)
def test_bad_storage_urls_are_refused_before_anything_is_written(url, says, tmp_path):
    with pytest.raises(StorageError, match=says) as caught:
        check_storage(url)
    assert "\n" not in str(caught.value)
    if url:  # the library takes no URL (None or "") as "SQLite in the run directory"
        with pytest.raises(StorageError):
            search(tmp_path / "run", url, trials=1)
        assert not (tmp_path / "run").exists()


def test_good_urls_pass_the_check(tmp_path):
    for url in (
        f"sqlite:///{tmp_path}/a.db",
        f"journal:{tmp_path}/a.log",
        f"journal://{tmp_path}/b.log",
        "postgresql://user:secret@localhost:5432/cnas",
        "mysql+pymysql://user@localhost/cnas",
    ):
        check_storage(url)


def test_an_unreachable_server_fails_fast_with_the_url_and_no_password(tmp_path):
    started = time.monotonic()
    with pytest.raises(StorageError, match="cannot reach storage") as caught:
        search(tmp_path / "run", "postgresql://cnas:secret@127.0.0.1:1/cnas", trials=1)
    assert time.monotonic() - started < 30
    assert "127.0.0.1:1" in str(caught.value) and "secret" not in str(caught.value)
    assert not (tmp_path / "run").exists()


def test_a_journal_study_resumes_and_reports(tmp_path):
    url = f"journal:{tmp_path}/study.log"
    search(tmp_path / "run", url, trials=3)
    evaluator = Fake()
    study = search(tmp_path / "run", url, trials=5, evaluator=evaluator)
    assert finished_count(study) == 5 and evaluator.calls <= 2
    assert not (tmp_path / "run" / "study.db").exists()


def test_over_budget_lets_the_lower_numbered_trial_win(tmp_path):
    storage = open_storage(f"sqlite:///{tmp_path}/s.db")
    study = optuna.create_study(storage=storage, study_name="s")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # heartbeat storage used outside optimize
        first, second = study.ask(), study.ask()
    # Budget 3: two finished; of the two running, the first takes the last slot.
    assert not over_budget(study, first.number, 3)
    assert over_budget(study, second.number, 3)
    assert not over_budget(study, second.number, 4)


def test_a_trial_orphaned_before_it_recorded_its_process_is_waited_out(tmp_path, monkeypatch):
    # A kill between Optuna creating a trial and the trial recording its pid leaves a
    # RUNNING trial nothing claims. It holds its slot until it is old enough to be
    # declared dead; then the run fills the slot and ends with the count asked for.
    monkeypatch.setattr(nas.runs._trials, "_UNCLAIMED_SECONDS", 1.5)
    search(tmp_path, None, trials=2)
    storage = open_storage(f"sqlite:///{tmp_path / 'study.db'}")
    study = optuna.load_study(study_name=STUDY_NAME, storage=storage)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        orphan = study.ask()
    study = search(tmp_path, None, trials=4)
    trials = study.get_trials(deepcopy=False)
    assert trials[orphan.number].state == TrialState.FAIL
    assert orphan.number in interrupted_numbers(study)
    assert finished_count(study) == 4
    assert not [t for t in trials if t.state == TrialState.RUNNING]


def test_a_trial_killed_between_recording_its_host_and_its_pid_is_waited_out(tmp_path, monkeypatch):
    # Host and pid are two writes. A trial with a host and no pid once read as pid -1,
    # and os.kill(-1, 0) succeeds while any process runs: the trial looked alive
    # forever and a rerun waited on it without end (seen in CI).
    monkeypatch.setattr(nas.runs._trials, "_UNCLAIMED_SECONDS", 1.5)
    search(tmp_path, None, trials=2)
    storage = open_storage(f"sqlite:///{tmp_path / 'study.db'}")
    study = optuna.load_study(study_name=STUDY_NAME, storage=storage)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        orphan = study.ask()
    orphan.set_user_attr("host", socket.gethostname())
    study = search(tmp_path, None, trials=4)
    trials = study.get_trials(deepcopy=False)
    assert trials[orphan.number].state == TrialState.FAIL
    assert finished_count(study) == 4
    assert not [t for t in trials if t.state == TrialState.RUNNING]


@pytest.mark.slow
@pytest.mark.subprocess
def test_two_processes_share_one_journal_study_without_losing_or_repeating(tmp_path):
    url = f"journal:{tmp_path}/shared.log"
    options = [
        "--target-flops", "3M", "--trials", "10", "--resolution", "16", "--epochs", "1",
        "--width-mult", "0.5", "--depth-mult", "0.5", "--max-samples", "200",
        "--strategy", "random", "--target-tolerance", "none", "--no-progress", "--json",
        "--storage", url,
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "experiments.cli", "search", *options, "--out", str(out)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for out in (tmp_path / "a", tmp_path / "b")
    ]
    for process in processes:
        _, err = process.communicate(timeout=400)
        assert process.returncode == 0, err.decode()[-2000:]
    study = optuna.load_study(study_name=STUDY_NAME, storage=open_storage(url))
    trials = study.get_trials(deepcopy=False)
    real = [t for t in trials if not t.user_attrs.get("surplus")]
    assert finished_count(study) == 10
    assert [t.state for t in real] == [TrialState.COMPLETE] * 10
    assert len({t.number for t in real}) == 10
    pids = {t.user_attrs["pid"] for t in real}
    assert len(pids) == 2, "both processes should have run trials"
    for out in ("a", "b"):  # each run directory reports the whole shared study
        lines = (tmp_path / out / "trials.csv").read_text().strip().splitlines()
        assert len(lines) == 11


def test_postgres_study_with_heartbeat_recovers_a_trial_killed_on_another_host(
    tmp_path, postgres_url, monkeypatch
):
    monkeypatch.setattr(nas.runs._storage, "HEARTBEAT_SECONDS", 1)
    monkeypatch.setattr(nas.runs._storage, "GRACE_SECONDS", 2)
    url = postgres_url
    study_dir = tmp_path / "run"
    search(study_dir, url, trials=2)
    storage = open_storage(url)
    study = optuna.load_study(study_name=STUDY_NAME, storage=storage)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lost = study.ask()
    point = {
        key: lost.suggest_categorical(key, options) for key, options in SPACE.parameters().items()
    }
    # Its process lives on another machine (so no pid check can tell) and stops beating.
    lost.set_user_attr("host", "another-host")
    lost.set_user_attr("pid", 1)
    storage.record_heartbeat(lost._trial_id)
    time.sleep(3)
    study = search(study_dir, url, trials=4)
    trials = study.get_trials(deepcopy=False)
    assert trials[lost.number].state == TrialState.FAIL
    assert lost.number in interrupted_numbers(study) and lost.number in requeued_numbers(study)
    assert finished_count(study) == 4
    assert point in [t.params for t in trials if t.number > lost.number]

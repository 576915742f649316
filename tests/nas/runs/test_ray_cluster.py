"""A real two-node Ray cluster on loopback: joined as the README says, trials on both
nodes, a lost node, a killed driver.

The head and the second node are two raylets on this machine, each with one CPU and its
own temporary directory, started in token mode as ``ray start --head`` starts them. The
driver (``cnas``) is given the token through ``RAY_AUTH_TOKEN`` only: it must turn token
mode on by itself.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from nas.runs import (
    StorageError,
    finished_count,
    interrupted_numbers,
    open_storage,
    requeued_numbers,
)
from nas.search import STUDY_NAME

pytestmark = pytest.mark.slow

RAY = str(Path(sys.executable).with_name("ray"))
SEARCH = [
    *("--target-flops", "3M", "--resolution", "16", "--width-mult", "0.5", "--depth-mult"),
    *("0.5", "--max-samples", "300", "--epochs", "2", "--strategy", "random"),
    *("--target-tolerance", "none", "--no-progress", "--json", "--backend", "ray"),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Cluster:
    address: str
    env: dict[str, str]  # what the driver gets: the token, not the mode
    node_env: dict[str, str]
    roots: list[str]

    def start_second_node(self) -> None:
        root = tempfile.mkdtemp(prefix="rn", dir="/tmp")  # short: Ray's socket paths
        self.roots.append(root)
        command = [RAY, "start", f"--address={self.address}", "--num-cpus=1"]
        command += [f"--temp-dir={root}", "--disable-usage-stats"]
        subprocess.run(command, env=self.node_env, check=True, capture_output=True, timeout=120)

    def pids(self, root: str) -> list[int]:
        """Processes started with ``root`` on their command line: one node's daemons."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if root in cmdline:
                found.append(int(entry.name))
        return found

    def kill_node(self, root: str) -> None:
        for pid in self.pids(root):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def node_ids(self) -> list[str]:
        code = (
            "import ray; from nas.runs import RayOptions, connect_ray; "
            f"connect_ray(RayOptions(address={self.address!r})); "
            "print(' '.join(n['NodeID'] for n in ray.nodes() if n['Alive']))"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], env=self.env, capture_output=True, timeout=120
        )
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        return done.stdout.decode().split()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    if shutil.which(RAY) is None:
        pytest.skip("the ray command is not installed")
    token = secrets.token_hex(32)
    base = {**os.environ, "OMP_NUM_THREADS": "1", "RAY_AUTH_TOKEN": token}
    base.pop("RAY_AUTH_MODE", None)
    node_env = {**base, "RAY_AUTH_MODE": "token"}
    port = free_port()
    head_root = tempfile.mkdtemp(prefix="rh", dir="/tmp")
    command = [RAY, "start", "--head", f"--port={port}", "--num-cpus=1"]
    command += ["--include-dashboard=false", f"--temp-dir={head_root}", "--disable-usage-stats"]
    subprocess.run(command, env=node_env, check=True, capture_output=True, timeout=120)
    found = Cluster(f"127.0.0.1:{port}", base, node_env, [head_root])
    try:
        found.start_second_node()
        yield found
    finally:
        for root in reversed(found.roots):
            found.kill_node(root)
            shutil.rmtree(root, ignore_errors=True)


def cnas(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "experiments.cli", *args], env=env, capture_output=True, timeout=600
    )


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def study_of(out: Path) -> optuna.Study:
    return optuna.load_study(
        study_name=STUDY_NAME, storage=open_storage(f"sqlite:///{out}/study.db")
    )


def test_search_and_grid_join_the_cluster_and_run_on_both_nodes(cluster, tmp_path):
    nodes = cluster.node_ids()
    assert len(nodes) == 2
    out = tmp_path / "search"
    done = cnas("search", *SEARCH, "--trials", "6", "--ray-address", cluster.address,
                "--out", str(out), env=cluster.env)  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert json.loads(done.stdout)["trials"] == {"complete": 6}
    ran_on = [row["node"] for row in rows(out / "trials.csv")]
    assert set(ran_on) == set(nodes), "each node has one CPU: both must have run trials"

    grid = tmp_path / "grid"
    done = cnas(
        "coefficients", str(out / "baseline.json"), "--data", "digits", "--max-samples", "300",
        "--epochs", "1", "--step", "0.5", "--tolerance", "15", "--seeds", "1", "--resolution",
        "16", "--backend", "ray",
        "--ray-address", cluster.address, "--no-progress", "--json", "--out", str(grid),
        env=cluster.env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    grid_nodes = {row["node"] for row in rows(grid / "trials.csv") if row["state"] == "complete"}
    assert grid_nodes == set(nodes)


def test_a_wrong_token_is_refused_in_one_line(cluster, tmp_path):
    env = {**cluster.env, "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    out = tmp_path / "r"
    done = cnas("search", *SEARCH, "--trials", "2", "--ray-address", cluster.address,
                "--out", str(out), env=env)  # fmt: skip
    err = done.stderr.decode()
    assert done.returncode == 2, err[-2000:]
    assert "refused the authentication token from RAY_AUTH_TOKEN" in err and "auth_token" in err
    assert err.count("\n") == 1 and not out.exists()


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def complete_on(out: Path, node: str | None = None) -> int:
    # trials.csv appears after the first trial: by then the run has made the study's
    # tables, and opening the study here cannot race it doing so.
    if not (out / "trials.csv").exists():
        return 0
    try:
        trials = study_of(out).get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    except (KeyError, optuna.exceptions.StorageInternalError, StorageError):
        return 0
    return sum(1 for t in trials if node is None or t.user_attrs.get("node") == node)


@pytest.fixture
def drivers() -> Iterator[list[subprocess.Popen]]:
    """Driver processes a test starts: killed and reaped whatever the test's outcome."""
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=60)


def test_a_lost_node_and_a_killed_driver_lose_and_repeat_nothing(cluster, tmp_path, drivers):
    second = cluster.roots[-1]
    head = cluster.node_ids()
    out = tmp_path / "run"
    command = [sys.executable, "-m", "experiments.cli", "search", *SEARCH, "--trials", "8"]
    command += ["--ray-address", cluster.address, "--out", str(out)]

    # The driver killed while both nodes work: the rerun finishes the budget.
    driver = subprocess.Popen(command, env=cluster.env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # fmt: skip
    drivers.append(driver)
    wait_for(lambda: complete_on(out) >= 2, 300, "two trials")
    driver.send_signal(signal.SIGKILL)
    assert driver.wait(timeout=30) == -signal.SIGKILL
    before = {t.number: t.user_attrs.get("accuracy") for t in study_of(out).trials
              if t.state == TrialState.COMPLETE}  # fmt: skip

    # Rerun; mid-way the second node dies with the trial it runs.
    driver = subprocess.Popen(command, env=cluster.env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)  # fmt: skip
    drivers.append(driver)
    nodes = set(head)
    wait_for(lambda: complete_on(out) >= len(before) + 1, 300, "a trial of the rerun")
    wait_for(
        lambda: any(
            t.state == TrialState.RUNNING and t.user_attrs.get("pid") == driver.pid
            for t in study_of(out).get_trials(deepcopy=False)
        ),
        120,
        "a running trial",
    )
    time.sleep(1.0)
    cluster.kill_node(second)
    _stdout, stderr = driver.communicate(timeout=600)
    assert driver.returncode == 0, stderr.decode()[-3000:]
    cluster.start_second_node()  # for any test after this one

    study = study_of(out)
    trials = study.get_trials(deepcopy=False)
    interrupted = interrupted_numbers(study)
    assert finished_count(study) == 8
    counted = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(counted) == 8, [(t.number, t.state, t.user_attrs.get("error")) for t in trials]
    assert {t.number: t.user_attrs.get("accuracy") for t in counted if t.number in before} == before
    # Every trial the killed driver or the lost node left is marked and its point ran again.
    assert interrupted, "the killed driver left a running trial"
    for number in interrupted:
        lost = trials[number]
        assert lost.state == TrialState.FAIL
        if len(lost.params) == len(counted[0].params):
            assert number in requeued_numbers(study)
            assert lost.params in [t.params for t in counted if t.number > number]
    lost_on_node = [t for t in trials if "node died" in (t.user_attrs.get("error") or "")]
    assert lost_on_node, "the second node's trial must be marked as lost with its node"
    assert {t.user_attrs.get("node") for t in counted} <= nodes
    report = rows(out / "trials.csv")
    assert sum(r["state"] == "complete" for r in report) == 8
    assert {r["state"] for r in report} <= {"complete", "interrupted"}

"""Ctrl-C at each moment of a run ends it with exit 130 and a whole record.

``interrupt_at.py`` sends the interrupt from inside the run at a chosen moment, so each
timing is met every time: as the backend starts, just after a trial is asked, as it starts
training, inside and just after the tell of a finished trial (on Ray, a trial's training is
interrupted by a real Ctrl-C in test_ray_backend). Before the fix, an interrupt just after the ask
left that trial RUNNING for good (both backends), and one inside the local backend's tell
ended in Optuna's UnboundLocalError (exit 1) with the trial RUNNING. The runs start with
SIGINT ignored, as a shell starts a background job: that alone once let a search run on to
exit 0.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

DRIVER = Path(__file__).with_name("interrupt_at.py")
ROOT = Path(__file__).resolve().parents[3]
PHASES = ("start", "ask", "train", "tell", "told")


def search_args(out: Path, backend: str) -> list[str]:
    options = "--target-flops 3M --trials 3 --resolution 16 --epochs 1 --strategy random "
    options += "--width-mult 0.5 --depth-mult 0.5 --max-samples 100 --target-tolerance none "
    options += f"--no-progress --json --backend {backend} --out"
    return ["search", *options.split(), str(out)]


def grid_args(out: Path, backend: str, spec: Path) -> list[str]:
    options = "--data digits --max-samples 100 --resolution 16 --epochs 1 --step 0.5 "
    options += f"--tolerance 15 --seeds 1 --json --no-progress --backend {backend} --out"
    return ["coefficients", str(spec), *options.split(), str(out)]


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def interrupted_at(phase: str, argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, str(DRIVER), phase, *argv],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_ignore_sigint,
    )


def every_trial(out: Path) -> list[optuna.trial.FrozenTrial]:
    db = out / "study.db"
    if not db.exists():
        return []
    storage = optuna.storages.RDBStorage(f"sqlite:///{db}")
    return [
        trial
        for study in storage.get_all_studies()
        for trial in storage.get_all_trials(study._study_id, deepcopy=False)
    ]


def assert_ended_whole(done: subprocess.CompletedProcess, out: Path, command: str) -> list:
    assert done.returncode == 130, done.stderr[-2000:]
    assert done.stderr.strip().splitlines()[-1] == f"cnas {command}: interrupted"
    trials = every_trial(out)
    assert not [t.number for t in trials if t.state == TrialState.RUNNING]
    # WAITING: points queued for their turn (the grid queues its candidates).
    trials = [t for t in trials if t.state != TrialState.WAITING]
    unfinished = [t for t in trials if t.state != TrialState.COMPLETE]
    assert all(t.user_attrs.get("interrupted") for t in unfinished)
    return trials


@pytest.mark.subprocess
@pytest.mark.parametrize("phase", PHASES)
def test_an_interrupt_at_any_moment_of_a_local_search(tmp_path, phase):
    out = tmp_path / "run"
    done = interrupted_at(phase, search_args(out, "local"), tmp_path)
    trials = assert_ended_whole(done, out, "search")
    if phase == "start":
        assert trials == []  # nothing asked yet
    elif phase in ("ask", "train"):
        assert [t.state for t in trials] == [TrialState.FAIL]  # flagged, runs again
    else:  # the finished trial is kept, whether its tell was under way or just done
        assert [t.state for t in trials] == [TrialState.COMPLETE]


@pytest.mark.slow
@pytest.mark.ray
@pytest.mark.subprocess
@pytest.mark.parametrize("phase", ["ask", "tell"])
def test_an_interrupt_at_any_moment_of_a_ray_search(tmp_path, phase):
    out = tmp_path / "run"
    done = interrupted_at(phase, search_args(out, "ray"), tmp_path)
    trials = assert_ended_whole(done, out, "search")
    states = [t.state for t in trials]
    if phase == "tell":  # the trial being told is kept; the other one running is flagged
        assert TrialState.COMPLETE in states
    else:
        assert states and TrialState.COMPLETE not in states


@pytest.mark.subprocess
def test_an_interrupt_inside_a_tell_of_the_coefficient_grid(tmp_path):
    # The grid, the curves and the rank check run their trials through the same runner.
    from scaling import scale_network
    from search_spaces import skeleton

    spec = skeleton("small-input", in_channels=1, num_classes=10, resolution=16)
    tiny = scale_network(spec, width_mult=0.25, depth_mult=0.5, resolution=16, resolution_divisor=1)
    tiny.save(tmp_path / "tiny.json")
    out = tmp_path / "grid"
    done = interrupted_at("tell", grid_args(out, "local", tmp_path / "tiny.json"), tmp_path)
    trials = assert_ended_whole(done, out, "coefficients")
    assert [t.state for t in trials] == [TrialState.COMPLETE]


def _ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)


def test_an_uncut_section_finishes_then_raises_the_interrupt():
    from nas.runs._interrupts import uncut, watching_interrupts

    steps = []
    with pytest.raises(KeyboardInterrupt), watching_interrupts():
        with uncut():
            _ctrl_c()
            steps.append("the record is finished")
        steps.append("never")
    assert steps == ["the record is finished"]


def test_training_inside_an_uncut_section_stops_at_once_even_for_a_held_interrupt():
    from nas.runs._interrupts import interruptible, uncut, watching_interrupts

    steps = []
    with pytest.raises(KeyboardInterrupt), watching_interrupts(), uncut():
        _ctrl_c()  # held: the section is uncut
        steps.append("asked")
        with interruptible():
            steps.append("never trained")
    assert steps == ["asked"]


def test_an_interrupt_a_library_swallowed_is_raised_where_it_returns():
    from nas.runs._interrupts import raise_swallowed, watching_interrupts

    with pytest.raises(KeyboardInterrupt), watching_interrupts():
        with contextlib.suppress(KeyboardInterrupt):  # a library's graceful stop
            _ctrl_c()
        raise_swallowed()


def test_an_ignored_sigint_stays_ignored_for_library_users():
    from nas.runs._interrupts import uncut, watching_interrupts

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with watching_interrupts(), uncut():
            _ctrl_c()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_another_error_inside_an_uncut_section_keeps_the_held_interrupt():
    from nas.runs._interrupts import interruptible, uncut, watching_interrupts

    steps = []
    with pytest.raises(KeyboardInterrupt), watching_interrupts():
        with contextlib.suppress(ValueError), uncut():
            _ctrl_c()  # held
            raise ValueError("a storage error while telling")
        steps.append("the error handled")
        with interruptible():  # the held interrupt is raised here, not lost
            steps.append("never trained")
    assert steps == ["the error handled"]

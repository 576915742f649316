"""`--backend`, `--storage` and friends on the command line: one-line errors, nothing written."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import time

import pytest
import torch

from experiments.cli import main

SMALL = "--resolution 16 --width-mult 0.5 --depth-mult 0.5 --max-samples 200 --no-progress"
SEARCH = ["search", "--evaluator", "zero-cost", "--target-flops", "12M", *SMALL.split()]
COEFFICIENTS = ["coefficients", "efficientnet-b0", "--resolution", "32", "--max-samples", "200"]


def cnas(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exit_:
            code = exit_.code
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("command", [SEARCH, COEFFICIENTS], ids=["search", "coefficients"])
@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--backend", "ray", "--ray-address", "127.0.0.1:1"], "cannot reach Ray at 127.0.0.1:1"),
        (["--backend", "ray", "--ray-address", "no-port"], "is not auto or HOST:PORT"),
        (["--storage", "not a url"], "malformed storage URL 'not a url'"),
        (["--storage", "journal:/no/such/dir/s.log"], "/no/such/dir does not exist"),
        (["--backend", "ray", "--max-concurrent", "0"], "expected a whole number >= 1"),
        (["--cpus-per-trial", "2"], "--cpus-per-trial only apply to Ray; add --backend ray"),
        (["--backend", "ray", "--cpus-per-trial", "0"], "--cpus-per-trial must be more than 0"),
    ],
)
def test_bad_backend_input_is_one_line_exit_2_and_nothing_written(command, options, says, tmp_path):
    out = tmp_path / "run"
    started = time.monotonic()
    code, stdout, stderr = cnas(*command, *options, "--out", str(out))
    assert code == 2 and stdout == ""
    assert says in stderr and stderr.count("\n") == 1, stderr
    assert not out.exists()
    assert time.monotonic() - started < 30  # an unreachable address fails fast


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_gpus_per_trial_without_a_gpu_is_refused(tmp_path):
    code, _, stderr = cnas(
        *SEARCH, "--backend", "ray", "--gpus-per-trial", "1", "--out", str(tmp_path / "r")
    )
    assert code == 2 and "this machine has none" in stderr and stderr.count("\n") == 1
    assert not (tmp_path / "r").exists()


def test_early_stopping_needs_the_reward_objective(tmp_path):
    code, _, stderr = cnas(
        *SEARCH, "--objective", "pareto", "--early-stopping", "asha", "--out", str(tmp_path / "r")
    )
    assert code == 2 and "use it with --objective reward" in stderr
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
@pytest.mark.subprocess
def test_search_on_ray_from_the_command_line_prints_one_json_document(tmp_path):
    out = tmp_path / "run"
    argv = [*SEARCH, "--trials", "3", "--backend", "ray", "--json", "--out", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "experiments.cli", *argv],
        capture_output=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    summary = json.loads(done.stdout)  # the whole of stdout: Ray printed nothing there
    assert summary["trials"]["complete"] == 3 and summary["baseline"]["within_tolerance"]
    assert (out / "baseline.json").exists() and (out / "pareto.png").exists()


def test_the_default_backend_is_auto_unless_the_environment_says_otherwise(monkeypatch):
    from experiments.cli import make_parser

    argv = ["search", "--target-flops", "5M"]
    monkeypatch.delenv("CNAS_BACKEND", raising=False)
    assert make_parser().parse_args(argv).backend == "auto"
    monkeypatch.setenv("CNAS_BACKEND", "local")
    assert make_parser().parse_args(argv).backend == "local"


def test_pareto_halving_needs_the_pareto_objective(tmp_path):
    code, _, stderr = cnas(
        *SEARCH, "--early-stopping", "pareto-halving", "--out", str(tmp_path / "r")
    )
    assert code == 2 and "use it with --objective pareto" in stderr and stderr.count("\n") == 1
    assert not (tmp_path / "r").exists()

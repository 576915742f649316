"""`cnas scaling-curves` end to end on digits made small: files, resumption, bad input."""

from __future__ import annotations

import csv
import json

import pytest

from experiments.cli import main
from scaling import search_proxy


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory):
    spec = search_proxy(
        resolution=16, in_channels=1, num_classes=10, width_mult=0.5, depth_mult=0.5
    )
    path = tmp_path_factory.mktemp("spec") / "proxy.json"
    spec.save(path)
    return str(path)


def curves_args(backbone, out, *extra):
    return [
        "scaling-curves", backbone, "--data", "digits", "--max-samples", "200",
        "--resolution", "16", "--epochs", "1", "--phis", "0-1", "--seeds", "2",
        "--match-tolerance", "5", "--threads", "1", "--backend", "local",
        "--no-progress", "--out", str(out), *extra,
    ]  # fmt: skip


def run(capsys, argv):
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_curves_train_every_point_and_continue(capsys, tmp_path, spec_path):
    out = tmp_path / "curves"
    code, stdout, stderr = run(capsys, curves_args(spec_path, out, "--json"))
    assert (code, stderr) == (0, "")
    summary = json.loads(stdout)
    with (out / "curves.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    methods = {(r["method"], r["phi"]) for r in rows}
    assert ("base", "0") in methods and ("compound", "1") in methods
    assert all(r["seeds"] == "2" for r in rows)
    for row in rows:
        assert abs(float(row["actual_ratio"]) - 2 ** int(row["phi"])) <= 0.05 * 2 ** int(row["phi"])
        assert 0 <= float(row["mean_accuracy"]) <= 1
    assert summary["trials"] == {"complete": 2 * len(rows)}
    assert summary["verdict"].startswith("phi=1: ")
    assert "2 seed(s)" in summary["verdict"]  # two seeds are too few to tell anything apart
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    code, stdout, _ = run(capsys, curves_args(spec_path, out))  # finished: nothing retrains
    assert code == 0 and "phi=1:" in stdout and "95% interval" in stdout

    # Another run of the same networks, data, training and seeds takes every trial from
    # this one (they are the numbers it would measure: training here is deterministic,
    # tests/nas/coefficients/test_training.py).
    reused_dir = tmp_path / "reused"
    args = curves_args(spec_path, reused_dir, "--reuse-results", str(out))
    code, stdout, stderr = run(capsys, args)
    assert (code, stderr) == (0, "")
    assert f"({2 * len(rows)} complete trials, {2 * len(rows)} of them reused" in stdout
    assert _accuracies(out) == _accuracies(reused_dir)
    with (reused_dir / "trials.csv").open(newline="") as handle:
        sources = [r["reused_from"] for r in csv.DictReader(handle)]
    assert all(s.startswith(f"{out} trial ") for s in sources)


def _accuracies(run_dir):
    with (run_dir / "curves.csv").open(newline="") as handle:
        return {(r["method"], r["phi"]): r["accuracies"] for r in csv.DictReader(handle)}


@pytest.mark.parametrize(
    ("extra", "phrase"),
    [
        (["--seeds", "0"], "seeds must be a whole number >= 1"),
        (["--phis", "0-x"], "phis"),
        (["--phis", "0"], "--phis needs at least one phi > 0"),
        (["--match-tolerance", "0.00001%"], "phi 1 cannot be matched at 16 px"),
        (["--coefficients", "1.2,oops,1"], "coefficients"),
        (["--reuse-results", "nowhere"], "--reuse-results nowhere: no study.db there"),
        (["--train-images", "5000"], "train images 5000 must be between the 10 classes"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(
    capsys, tmp_path, spec_path, extra, phrase
):
    out = tmp_path / "curves"
    code, stdout, stderr = run(capsys, curves_args(spec_path, out, *extra))
    assert (code, stdout) == (2, "")
    assert stderr.startswith("cnas scaling-curves: error: ") and stderr.count("\n") == 1
    assert phrase in stderr and not out.exists()

"""`cnas coefficients`: a real (tiny) search, a user module backbone, and bad input."""

from __future__ import annotations

import csv
import itertools
import json
import sys
import textwrap

import pytest

import search_spaces
from experiments.cli import main
from nas import Evaluation
from scaling import scale_network

MODULE = """
from torch import nn


def tiny(width_mult, depth_mult, num_classes):
    width = round(8 * width_mult)
    return nn.Sequential(
        nn.Conv2d(3, width, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(width, num_classes),
    )


tiny.base_resolution = 16


def wrong(width, depth):
    return tiny(width, depth, 10)


def boom(width_mult, depth_mult, num_classes):
    raise RuntimeError("boom")
"""

_names = (f"cnas_test_coefficients_cli_{index}" for index in itertools.count())


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory):
    spec = search_spaces.skeleton("small-input", in_channels=1, num_classes=10, resolution=16)
    tiny = scale_network(spec, width_mult=0.25, depth_mult=0.5, resolution=16, resolution_divisor=1)
    path = tmp_path_factory.mktemp("spec") / "tiny.json"
    tiny.save(path)
    return str(path)


@pytest.fixture
def module(tmp_path, monkeypatch):
    """The name of a fresh importable copy of MODULE."""
    name = next(_names)
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(MODULE), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def tiny_args(backbone, out, *extra):
    return [
        "coefficients", backbone, "--data", "digits", "--max-samples", "100",
        "--resolution", "16", "--epochs", "1", "--step", "0.5", "--tolerance", "15",
        "--out", str(out), "--json", *extra,
    ]  # fmt: skip


@pytest.mark.slow
def test_search_then_family_from_its_coefficients(capsys, tmp_path, spec_path):
    out = tmp_path / "run"
    argv = [
        "coefficients", spec_path, "--data", "digits", "--max-samples", "200",
        "--resolution", "16", "--epochs", "1", "--step", "0.2", "--tolerance", "5",
        "--match-tolerance", "5", "--seeds", "2", "--out", str(out), "--json",
    ]  # fmt: skip
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)  # exactly one JSON document
    assert summary["match"] == "actual"
    assert set(summary["references"]) | {u["kind"] for u in summary["unmatched"]} == {
        "base", "depth", "width", "resolution"
    }  # fmt: skip
    with (out / "coefficients.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert summary["trials"] == {"complete": sum(int(r["seeds"]) for r in rows)}
    for row in rows:  # every candidate costs twice the base, within 5%
        assert abs(float(row["actual_ratio"]) - (1 if row["kind"] == "base" else 2)) <= 0.1
        assert int(row["seeds"]) in (1, 2) and (row["kind"] == "compound" or row["seeds"] == "2")
    chosen = summary["chosen"]
    alpha, beta, gamma = chosen["alpha"], chosen["beta"], chosen["gamma"]
    assert abs(alpha * beta**2 * gamma**2 - 2) <= 0.1 + 1e-9
    assert chosen["seeds"] == 2 and 0 <= chosen["mean_accuracy"] <= 1
    assert summary["verdict"] and "verdicts" in summary
    for name in ("coefficients.csv", "trials.csv", "coefficients.json", "heatmap.png"):
        assert (out / name).is_file()
    document = json.loads((out / "coefficients.json").read_text())
    assert (document["alpha"], document["beta"], document["gamma"]) == (alpha, beta, gamma)
    assert document["verdict"] == summary["verdict"]

    family = ["family", spec_path, "--coefficients-file", str(out / "coefficients.json")]
    assert main([*family, "--phis", "0-2", "--json"]) == 0  # matched, as the grid was
    rows = json.loads(capsys.readouterr().out)
    assert [row["phi"] for row in rows] == [0, 1, 2]
    for row in rows:
        assert abs(row["flop_ratio"] / 2 ** row["phi"] - 1) <= 0.03
    assert main([*family, "--phis", "0-2", "--match", "nominal", "--json"]) == 0
    for row in json.loads(capsys.readouterr().out):
        assert row["width_mult"] == pytest.approx(beta ** row["phi"], abs=1e-6)
        assert row["depth_mult"] == pytest.approx(alpha ** row["phi"], abs=1e-6)


@pytest.mark.slow
def test_module_backbone_on_grayscale_digits(capsys, tmp_path, module):
    out = tmp_path / "run"
    assert main(tiny_args(f"{module}:tiny", out, "--seeds", "1", "--match", "nominal")) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["backbone"] == "tiny"
    assert summary["trials"] == {"complete": 7}  # 3 grid candidates + 4 references
    document = json.loads((out / "coefficients.json").read_text())
    product = document["alpha"] * document["beta"] ** 2 * document["gamma"] ** 2
    assert abs(product - 2) <= 0.3 + 1e-9


def run_bad(capsys, argv):
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse errors
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


BAD = {
    "no-candidate": (
        "SPEC",
        ["--tolerance", "0.005%", "--step", "0.3"],
        "the closest is (1.9, 1.0, 1.0) with alpha*beta^2*gamma^2 = 1.9",
    ),
    "no-module": ("nosuchmodule_xyz:f", [], "cannot import module 'nosuchmodule_xyz'"),
    "wrong-signature": ("MODULE:wrong", [], "does not accept width_mult, depth_mult, num_classes"),
    "raises-when-built": ("MODULE:boom", [], "raised RuntimeError: boom; fix the function"),
    "step-not-a-number": ("SPEC", ["--step", "abc"], "argument --step: invalid float value: 'abc'"),
    "low-below-1": ("SPEC", ["--low", "0.5"], "low must be >= 1"),
    "unknown-data": ("SPEC", ["--data", "nosuch"], "unknown dataset 'nosuch'"),
    "no-seeds": ("SPEC", ["--seeds", "0"], "seeds must be a whole number >= 1"),
    "more-train-images-than-the-split": (
        "SPEC",
        ["--train-images", "5000"],
        "train images 5000 must be between the 10 classes (one image each) and the training "
        "split's 80",
    ),
    "unmatchable": (
        "SPEC",
        ["--match-tolerance", "0.001%"],
        "no grid candidate can be matched to 2x the backbone's FLOPs within 0%",
    ),
}


@pytest.mark.parametrize(("backbone", "extra", "phrase"), BAD.values(), ids=list(BAD))
def test_bad_input_is_one_line_exit_2(capsys, tmp_path, spec_path, module, backbone, extra, phrase):
    backbone = backbone.replace("SPEC", spec_path).replace("MODULE", module)
    out = tmp_path / "run"
    code, stdout, stderr = run_bad(capsys, tiny_args(backbone, out, *extra))
    assert code == 2
    assert stdout == ""
    assert stderr.startswith("cnas coefficients: error: ")
    assert stderr.count("\n") == 1
    assert phrase in stderr
    assert "Traceback" not in stderr
    assert not out.exists()


class InstantTraining:
    """Stands in for proxy training, so a search that should not start ends in seconds."""

    def __init__(self, *, data, config):
        pass

    def evaluate_model(self, build, *, name, seed):
        return Evaluation(accuracy=0.5)


def test_resolution_below_the_total_stride_is_refused(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr("nas.TrainingEvaluator", InstantTraining)
    out = tmp_path / "run"
    code, _, stderr = run_bad(capsys, tiny_args("efficientnet-b0", out))
    assert code == 2
    assert stderr.startswith("cnas coefficients: error: ")
    assert "total stride 32" in stderr
    assert not out.exists()

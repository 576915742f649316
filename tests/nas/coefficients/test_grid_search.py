"""The phi = 1 coefficient grid search, with a fake evaluator (no training)."""

from __future__ import annotations

import csv
import itertools
import json
import sys
import textwrap
from types import SimpleNamespace

import pytest
import torch

import search_spaces
from nas import Evaluation
from nas.coefficients import (
    CoefficientConfig,
    RepeatChannels,
    build_candidates,
    coefficient_table,
    run_coefficient_search,
    write_coefficient_report,
)
from nas.models import CallableBackbone, SpecBackbone
from scaling import coefficient_grid, scale_network
from search_spaces import InputError, count_flops, round_resolution

CONFIG = CoefficientConfig(step=0.1, tolerance=0.05, resolution=16)  # 10 grid candidates
SMALL = CoefficientConfig(step=0.5, tolerance=0.3, resolution=16)  # (1,1,1.5) (1,1.5,1) (2,1,1)
SHAPE = {"num_classes": 10, "in_channels": 1}
REFERENCES = ["base", "depth", "width", "resolution"]


@pytest.fixture(scope="module")
def tiny():
    spec = search_spaces.skeleton("small-input", in_channels=1, num_classes=10, resolution=16)
    return scale_network(spec, width_mult=0.25, depth_mult=0.5, resolution=16, resolution_divisor=1)


def no_ratio(candidate):
    raise AssertionError("actual_ratio is only asked for with filter_actual=True")


class FakeEvaluator:
    """accuracy = parameters of the built model / 1e6; records every call."""

    def __init__(self, fail=None, interrupt_on=None, accuracy=None):
        self.calls, self.fail, self.interrupt_on, self.accuracy = [], fail, interrupt_on, accuracy

    def __call__(self, build, *, resolution, name, seed):
        self.calls.append((name, resolution))
        if len(self.calls) == self.interrupt_on:
            raise KeyboardInterrupt
        if self.fail is not None and name.endswith(self.fail):
            raise ValueError("boom in " + name)
        params = sum(p.numel() for p in build().parameters())
        return Evaluation(accuracy=params / 1e6 if self.accuracy is None else self.accuracy)


def search(backbone, run_dir, evaluate, config=CONFIG, shape=SHAPE):
    candidates = build_candidates(config, no_ratio)
    study = run_coefficient_search(
        backbone=backbone,
        candidates=candidates,
        evaluate=evaluate,
        config=config,
        run_dir=run_dir,
        **shape,
    )
    return candidates, study


def triple(c):
    return (c.alpha, c.beta, c.gamma)


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def completed(study):
    return sorted(t.params["candidate"] for t in study.trials if t.state.name == "COMPLETE")


def test_build_candidates_lists_base_references_then_grid():
    candidates = build_candidates(CONFIG, no_ratio)
    grid = coefficient_grid(step=0.1, tolerance=0.05)
    assert len(grid) == 10
    assert [c.kind for c in candidates] == [*REFERENCES, *["compound"] * 10]
    assert [c.coefficients for c in candidates[4:]] == list(grid)
    r = 2**0.5
    references = [(1, 1, 1), (2, 1, 1), (1, r, 1), (1, 1, r)]
    assert [triple(c.coefficients) for c in candidates[:4]] == references
    assert [c.resolution for c in candidates[:4]] == [16, 16, 16, 23]  # round(16 * 1.414)
    for c in candidates:
        assert c.resolution == round_resolution(16 * c.coefficients.gamma, 1)
        a, b, g = triple(c.coefficients)
        assert c.kind != "compound" or abs(a * b**2 * g**2 - 2) <= 0.05 + 1e-9
    assert candidates[4].resolution == 22  # (1, 1, 1.4): 22.4 -> 22


def test_filter_actual_keeps_candidates_whose_given_ratio_is_near_base():
    config = CoefficientConfig(step=0.1, tolerance=0.05, resolution=16, filter_actual=True)

    def ratio(candidate):  # the rounded resolution moves the ratio away from the nominal one
        c = candidate.coefficients
        return c.alpha * c.beta**2 * (candidate.resolution / 16) ** 2

    kept = build_candidates(config, ratio)[4:]
    grid = build_candidates(CONFIG, no_ratio)[4:]
    expected = [c for c in grid if abs(ratio(c) - 2) <= 0.05]
    assert kept == tuple(expected)
    assert 0 < len(kept) < len(grid)  # (1, 1.1, 1.3): 1.21 * (21/16)^2 = 2.08 is dropped


def test_search_evaluates_each_candidate_once_and_reports(tiny, tmp_path):
    backbone, evaluate = SpecBackbone(tiny), FakeEvaluator()
    candidates, study = search(backbone, tmp_path, evaluate)
    by_label = {f"small-input-{c.label}": c for c in candidates}
    assert len(evaluate.calls) == len(candidates) == 14
    assert sorted(name for name, _ in evaluate.calls) == sorted(by_label)
    assert all(res == by_label[name].resolution for name, res in evaluate.calls)
    assert completed(study) == list(range(14))
    base_flops = count_flops(tiny, 16)
    for trial in study.trials:
        c = candidates[trial.params["candidate"]]
        k = c.coefficients
        scaled = scale_network(tiny, width_mult=k.beta, depth_mult=k.alpha, resolution=16)
        attrs = trial.user_attrs
        assert (attrs["kind"], attrs["resolution"]) == (c.kind, c.resolution)
        assert attrs["flops"] == count_flops(scaled, c.resolution)
        assert attrs["params"] == search_spaces.count_params(scaled)
        assert attrs["actual_ratio"] == pytest.approx(attrs["flops"] / base_flops, rel=1e-12)
        assert attrs["accuracy"] == pytest.approx(attrs["params"] / 1e6)  # analytic == torch

    summary = write_coefficient_report(
        study, tmp_path, backbone="small-input", base_resolution=16, settings={}
    )
    rows = read_csv(tmp_path / "coefficients.csv")
    assert len(rows) == 14
    assert {row["state"] for row in rows} == {"complete"}
    best = max(
        (t for t in study.trials if t.user_attrs["kind"] == "compound"),
        key=lambda t: (t.user_attrs["accuracy"], -t.user_attrs["flops"]),
    )
    chosen = json.loads((tmp_path / "coefficients.json").read_text())
    assert triple(SimpleNamespace(**chosen)) == triple(SimpleNamespace(**best.user_attrs))
    assert abs(chosen["product"] - 2) <= 0.05 + 1e-9
    assert summary["chosen"]["trial"] == best.number
    assert (tmp_path / "heatmap.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    written = json.loads((tmp_path / "summary.json").read_text())
    assert set(written["references"]) == set(REFERENCES)
    assert written["references"]["base"]["actual_ratio"] == 1.0
    assert written["candidates"] == 10


def test_accuracy_ties_go_to_the_lower_flops(tiny, tmp_path):
    _, study = search(SpecBackbone(tiny), tmp_path, FakeEvaluator(accuracy=0.5), config=SMALL)
    write_coefficient_report(study, tmp_path, backbone="t", base_resolution=16, settings={})
    compound = [t for t in study.trials if t.user_attrs["kind"] == "compound"]
    cheapest = min(compound, key=lambda t: t.user_attrs["flops"])
    assert sorted(t.user_attrs["flops"] for t in compound)[1] > cheapest.user_attrs["flops"]
    chosen = json.loads((tmp_path / "coefficients.json").read_text())
    assert chosen["actual_flop_ratio"] == pytest.approx(cheapest.user_attrs["actual_ratio"])
    assert triple(SimpleNamespace(**chosen)) == triple(SimpleNamespace(**cheapest.user_attrs))


def test_an_interrupted_search_continues_and_a_finished_one_is_not_rerun(tiny, tmp_path):
    backbone, first = SpecBackbone(tiny), FakeEvaluator(interrupt_on=4)
    with pytest.raises(KeyboardInterrupt):
        search(backbone, tmp_path, first)
    assert len(first.calls) == 4
    second = FakeEvaluator()
    _, study = search(backbone, tmp_path, second)
    assert len(second.calls) == 14 - 3  # the interrupted candidate runs again
    assert first.calls[3] in second.calls
    names = [name for name, _ in first.calls[:3] + second.calls]
    assert len(names) == len(set(names)) == 14
    assert completed(study) == list(range(14))  # each candidate once, no duplicates
    states = coefficient_table(study)["state"].value_counts().to_dict()
    assert states == {"complete": 14, "interrupted": 1}
    third = FakeEvaluator()
    _, study = search(backbone, tmp_path, third)  # a finished search is not run again
    assert third.calls == []
    assert completed(study) == list(range(14))


def test_a_failing_candidate_is_recorded_and_never_chosen(tiny, tmp_path):
    evaluate = FakeEvaluator(fail="compound(2,1,1)")  # the deepest: the most parameters
    _, study = search(SpecBackbone(tiny), tmp_path, evaluate, config=SMALL)
    assert len(evaluate.calls) == 7  # the search went on
    summary = write_coefficient_report(
        study, tmp_path, backbone="t", base_resolution=16, settings={}
    )
    failed = [row for row in read_csv(tmp_path / "coefficients.csv") if row["state"] == "fail"]
    assert len(failed) == 1
    assert (failed[0]["alpha"], failed[0]["beta"], failed[0]["gamma"]) == ("2.0", "1.0", "1.0")
    assert failed[0]["error"] == "ValueError: boom in small-input-compound(2,1,1)"
    assert failed[0]["accuracy"] == ""
    assert summary["trials"] == {"complete": 6, "fail": 1}
    chosen = summary["chosen"]
    assert (chosen["alpha"], chosen["beta"], chosen["gamma"]) == (1.0, 1.5, 1.0)
    assert int(failed[0]["params"]) > chosen["params"]  # it would have won


def test_a_run_dir_with_other_settings_is_refused_untouched(tiny, tmp_path):
    backbone = SpecBackbone(tiny)
    search(backbone, tmp_path, FakeEvaluator(), config=SMALL)
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    other = CoefficientConfig(step=0.5, tolerance=0.31, resolution=16)
    evaluate = FakeEvaluator()
    with pytest.raises(InputError, match=r"tolerance 0\.3 -> 0\.31"):
        search(backbone, tmp_path, evaluate, config=other)
    assert evaluate.calls == []
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before


class WithIdentity(FakeEvaluator):
    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def identity(self):
        return {"evaluator": "fake", "training": {"epochs": self.epochs}}


def test_the_library_refuses_to_continue_with_other_training_or_backbone(tiny, tmp_path):
    search(SpecBackbone(tiny), tmp_path, WithIdentity(epochs=2), config=SMALL)
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    with pytest.raises(InputError, match=r"training \{'epochs': 2\} -> \{'epochs': 3\}"):
        search(SpecBackbone(tiny), tmp_path, WithIdentity(epochs=3), config=SMALL)
    # Another spec under the same name (every search writes baseline.json) is another grid.
    wider = scale_network(tiny, width_mult=2.0, depth_mult=1.0, resolution=16, name=tiny.name)
    with pytest.raises(InputError, match="backbone_fingerprint"):
        search(SpecBackbone(wider), tmp_path, WithIdentity(epochs=2), config=SMALL)
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before
    search(SpecBackbone(tiny), tmp_path, WithIdentity(epochs=2), config=SMALL)  # the same: goes on


def test_repeat_channels_makes_grayscale_rgb():
    x = torch.arange(2 * 64, dtype=torch.float32).reshape(2, 1, 8, 8)
    y = RepeatChannels(3)(x)
    assert y.shape == (2, 3, 8, 8)
    assert all(torch.equal(y[:, i], x[:, 0]) for i in range(3))


TINY_MODULE = """
from torch import nn

def tiny(width_mult, depth_mult, num_classes):
    width = round(8 * width_mult)
    layers = [nn.Conv2d(3, width, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*layers, nn.Linear(width, num_classes))

tiny.base_resolution = 16
"""

_names = (f"cnas_test_coefficients_{index}" for index in itertools.count())


def test_callable_backbone_search(tmp_path, monkeypatch):
    module = next(_names)
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(TINY_MODULE), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        backbone = CallableBackbone(f"{module}:tiny")
        calls = []

        def evaluate(build, *, resolution, name, seed):
            model = torch.nn.Sequential(RepeatChannels(3), build())
            with torch.no_grad():
                out = model(torch.zeros(2, 1, resolution, resolution))
            calls.append(out.shape)
            return Evaluation(accuracy=float(sum(p.numel() for p in model.parameters())))

        shape = {"num_classes": 10, "in_channels": 3}
        candidates, study = search(backbone, tmp_path / "run", evaluate, SMALL, shape)
    finally:
        sys.modules.pop(module, None)
    assert calls == [(2, 10)] * len(candidates)
    assert completed(study) == list(range(len(candidates)))
    for trial in study.trials:
        width, res = round(8 * trial.user_attrs["beta"]), trial.user_attrs["resolution"]
        assert trial.user_attrs["flops"] == 27 * width * res * res + 10 * width  # conv + linear
    at_16 = sorted((t.user_attrs["beta"], t.user_attrs["flops"]) for t in study.trials
                   if t.user_attrs["resolution"] == 16)  # fmt: skip
    assert len({beta for beta, _ in at_16}) == 3  # 1, sqrt(2), 1.5
    flops = [f for _, f in at_16]
    assert flops == sorted(flops) and flops[-1] > flops[0]  # width alone grows FLOPs

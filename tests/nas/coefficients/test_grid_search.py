"""The phi = 1 coefficient grid search, with a fake evaluator (no training)."""

from __future__ import annotations

import csv
import dataclasses
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
    BackboneScaler,
    CoefficientConfig,
    RepeatChannels,
    build_candidates,
    coefficient_table,
    run_coefficient_search,
    write_coefficient_report,
)
from nas.models import CallableBackbone, SpecBackbone
from scaling import CompoundCoefficients, coefficient_grid, matched_family, scale_network
from search_spaces import InputError, count_flops, round_resolution

NOMINAL = CoefficientConfig(step=0.1, tolerance=0.05, resolution=16, match="nominal", seeds=1)
# Matched to equal FLOPs within 5% (the tiny net's FLOPs move in coarse steps), two seeds.
CONFIG = CoefficientConfig(step=0.1, tolerance=0.05, resolution=16, match_tolerance=0.05, seeds=2)
SMALL = CoefficientConfig(step=0.5, tolerance=0.3, resolution=16, match="nominal", seeds=1)
SHAPE = {"num_classes": 10, "in_channels": 1}
REFERENCES = ["base", "depth", "width", "resolution"]


@pytest.fixture(scope="module")
def tiny():
    spec = search_spaces.skeleton("small-input", in_channels=1, num_classes=10, resolution=16)
    return scale_network(spec, width_mult=0.25, depth_mult=0.5, resolution=16, resolution_divisor=1)


class FakeEvaluator:
    """accuracy = parameters of the built model / 1e6 (+ noise by seed); records calls."""

    def __init__(self, fail=None, interrupt_on=None, accuracy=None, noise=0.0):
        self.calls, self.fail, self.interrupt_on, self.accuracy = [], fail, interrupt_on, accuracy
        self.noise = noise

    def __call__(self, build, *, resolution, name, seed):
        self.calls.append((name, resolution, seed))
        if len(self.calls) == self.interrupt_on:
            raise KeyboardInterrupt
        if self.fail is not None and name.endswith(self.fail):
            raise ValueError("boom in " + name)
        params = sum(p.numel() for p in build().parameters())
        accuracy = params / 1e6 if self.accuracy is None else self.accuracy
        return Evaluation(accuracy=accuracy + self.noise * ((seed * 7919) % 13 - 6) / 6)


def candidates_for(backbone, config=CONFIG, shape=SHAPE):
    return build_candidates(config, BackboneScaler(backbone, shape))


def search(backbone, run_dir, evaluate, config=CONFIG, shape=SHAPE):
    found = candidates_for(backbone, config, shape)
    study = run_coefficient_search(
        backbone=backbone,
        candidates=found.candidates,
        evaluate=evaluate,
        config=config,
        run_dir=run_dir,
        unmatched=found.unmatched,
        **shape,
    )
    return found.candidates, study


def report(study, run_dir):
    return write_coefficient_report(
        study, run_dir, backbone="small-input", base_resolution=16, settings={}
    )


def triple(c):
    return (c.alpha, c.beta, c.gamma)


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def completed(study):
    return sorted(
        (t.params["candidate"], t.params["seed"])
        for t in study.trials
        if t.state.name == "COMPLETE"
    )


def test_nominal_candidates_list_base_references_then_grid(tiny):
    candidates = candidates_for(SpecBackbone(tiny), NOMINAL).candidates
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
        assert (c.depth_mult, c.width_mult) == (c.coefficients.alpha, c.coefficients.beta)
    assert candidates[4].resolution == 22  # (1, 1, 1.4): 22.4 -> 22


def test_filter_actual_keeps_nominal_candidates_whose_real_ratio_is_near_base(tiny):
    # Nominal scaling misses 2x badly on a tiny net: at tolerance 0.15, 3 of 25 stay.
    config = CoefficientConfig(
        step=0.1, tolerance=0.15, resolution=16, match="nominal", filter_actual=True
    )
    kept = candidates_for(SpecBackbone(tiny), config).candidates[4:]
    base = count_flops(tiny, 16)
    for c in kept:
        scaled = scale_network(tiny, width_mult=c.width_mult, depth_mult=c.depth_mult,
                               resolution=16, resolution_divisor=1)  # fmt: skip
        assert abs(count_flops(scaled, c.resolution) / base - 2) <= 0.15 + 1e-9
    assert len(kept) == 3


@pytest.mark.parametrize("tolerance", [0.03, 0.05])
def test_matched_candidates_cost_what_they_should_and_misses_are_counted(tiny, tolerance):
    config = CoefficientConfig(step=0.1, tolerance=0.05, resolution=16, match_tolerance=tolerance)
    backbone = SpecBackbone(tiny)
    found = candidates_for(backbone, config)
    base = count_flops(tiny, 16)
    for c in found.candidates[1:]:
        flops = backbone.flops(**c.build_arguments(), resolution=c.resolution, **SHAPE)
        assert abs(flops / (2 * base) - 1) <= tolerance
        if c.kind in ("width", "resolution"):
            assert c.repeats is None and c.depth_mult == 1.0
        if c.kind in ("depth", "resolution"):
            assert c.width_mult == 1.0
        if c.kind in ("depth", "width"):
            assert c.resolution == 16
    seen = {c.label for c in found.candidates} | {u.label for u in found.unmatched}
    aliases = {label for c in found.candidates for label in c.also}
    assert len(seen | aliases) == 14  # every grid point and reference is accounted for
    assert all("within" in u.reason and "closest is" in u.reason for u in found.unmatched)


def test_halving_trains_every_candidate_once_the_best_again_and_reports(tiny, tmp_path):
    backbone, evaluate = SpecBackbone(tiny), FakeEvaluator()
    candidates, study = search(backbone, tmp_path, evaluate)
    grid = [i for i, c in enumerate(candidates) if c.kind == "compound"]
    refs = [i for i, c in enumerate(candidates) if c.kind != "compound"]
    pairs = completed(study)
    assert len(evaluate.calls) == len(pairs) == len(set(pairs))
    seeds_of = {i: sorted(s for c, s in pairs if c == i) for i in range(len(candidates))}
    assert all(seeds_of[i] == [0, 1] for i in refs)  # references train every seed
    finalists = [i for i in grid if seeds_of[i] == [0, 1]]
    assert len(finalists) == max(2, -(-len(grid) // 2))
    # Seed index s trains every candidate with the same torch seed (the same batch order).
    assert len({seed for _, _, seed in evaluate.calls}) == 2
    summary = report(study, tmp_path)
    rows = read_csv(tmp_path / "coefficients.csv")
    assert len(rows) == len(candidates)
    assert len(read_csv(tmp_path / "trials.csv")) == len(pairs)
    best = max(
        (r for r in rows if r["kind"] == "compound" and r["seeds"] == "2"),
        key=lambda r: (float(r["mean_accuracy"]), -int(r["flops"])),
    )
    chosen = json.loads((tmp_path / "coefficients.json").read_text())
    assert (chosen["alpha"], chosen["beta"], chosen["gamma"]) == (
        float(best["alpha"]), float(best["beta"]), float(best["gamma"])
    )  # fmt: skip
    assert chosen["seeds"] == 2 and abs(chosen["actual_flop_ratio"] - 2) <= 0.05
    assert set(summary["verdicts"]) == {"runner_up", *REFERENCES}
    assert (tmp_path / "heatmap.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert summary["references"]["base"]["actual_ratio"] == 1.0


def test_verdicts_on_known_answers(tiny, tmp_path):
    # Accuracy = parameters, identical on every seed: every gap is exact, so the winner
    # (the most parameters at equal FLOPs) is distinguishable from all.
    three = dataclasses.replace(CONFIG, seeds=3)
    _, study = search(SpecBackbone(tiny), tmp_path / "exact", FakeEvaluator(), config=three)
    summary = report(study, tmp_path / "exact")
    assert summary["verdict"].startswith(
        f"alpha={summary['chosen']['alpha']:g}, beta={summary['chosen']['beta']:g}"
    )
    assert all(v["distinguishable"] for v in summary["verdicts"].values())
    # The same accuracy everywhere, with seed noise: nothing can be told apart.
    _, study = search(
        SpecBackbone(tiny),
        tmp_path / "noise",
        FakeEvaluator(accuracy=0.5, noise=0.05),
        config=three,
    )
    summary = report(study, tmp_path / "noise")
    assert summary["verdict"].startswith("No candidate is distinguishable from the others")
    assert not any(v["distinguishable"] for v in summary["verdicts"].values())
    assert "is not distinguishable from width-only" in summary["verdict"]


def test_accuracy_ties_go_to_the_lower_flops(tiny, tmp_path):
    _, study = search(SpecBackbone(tiny), tmp_path, FakeEvaluator(accuracy=0.5), config=SMALL)
    report(study, tmp_path)
    compound = [t for t in study.trials if t.user_attrs["kind"] == "compound"]
    cheapest = min(compound, key=lambda t: t.user_attrs["flops"])
    assert sorted(t.user_attrs["flops"] for t in compound)[1] > cheapest.user_attrs["flops"]
    chosen = json.loads((tmp_path / "coefficients.json").read_text())
    assert chosen["actual_flop_ratio"] == pytest.approx(cheapest.user_attrs["actual_ratio"])
    assert triple(SimpleNamespace(**chosen)) == triple(SimpleNamespace(**cheapest.user_attrs))


def test_an_interrupted_grid_continues_without_repeating_a_finished_seed(tiny, tmp_path):
    backbone, first = SpecBackbone(tiny), FakeEvaluator(interrupt_on=6)
    with pytest.raises(KeyboardInterrupt):
        search(backbone, tmp_path, first)
    assert len(first.calls) == 6
    second = FakeEvaluator()
    _, study = search(backbone, tmp_path, second)
    assert first.calls[5] in second.calls  # the interrupted one runs again
    everything = first.calls[:5] + second.calls
    assert len(everything) == len(set(everything)) == len(completed(study))
    states = coefficient_table(study)["state"].value_counts().to_dict()
    assert states == {"complete": len(completed(study)), "interrupted": 1}
    third = FakeEvaluator()
    search(backbone, tmp_path, third)  # a finished grid is not run again
    assert third.calls == []


def test_a_failing_candidate_is_recorded_and_never_chosen(tiny, tmp_path):
    evaluate = FakeEvaluator(fail="compound(2,1,1)")  # the deepest: the most parameters
    _, study = search(SpecBackbone(tiny), tmp_path, evaluate, config=SMALL)
    assert len(evaluate.calls) == 7  # the search went on
    summary = report(study, tmp_path)
    failed = [row for row in read_csv(tmp_path / "trials.csv") if row["state"] == "fail"]
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
    other = CoefficientConfig(step=0.5, tolerance=0.31, resolution=16, match="nominal", seeds=1)
    evaluate = FakeEvaluator()
    with pytest.raises(InputError, match=r"tolerance 0\.3 -> 0\.31"):
        search(backbone, tmp_path, evaluate, config=other)
    assert evaluate.calls == []
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before


def test_bad_grid_settings_are_refused():
    for bad, phrase in (
        ({"seeds": 0}, "seeds must be a whole number >= 1"),
        ({"match": "exact"}, "match must be one of actual, nominal"),
        ({"match_tolerance": 0.0}, "match tolerance must be a fraction"),
        ({"keep": 0.0}, "keep must be a fraction"),
    ):
        with pytest.raises(InputError, match=phrase):
            CoefficientConfig(**bad)


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


def test_a_resnet_is_matched_to_equal_flops_by_fvcore():
    from nas.models import ResNetBackbone

    backbone = ResNetBackbone(depth=18)
    config = CoefficientConfig(step=0.5, tolerance=0.3, resolution=32)
    found = candidates_for(backbone, config)
    base = backbone.flops(width_mult=1.0, depth_mult=1.0, resolution=32, **SHAPE)
    matched = [c for c in found.candidates if c.kind != "base"]
    assert len(matched) + len(found.unmatched) == 6
    assert any(c.kind == "compound" for c in matched)
    for c in matched:
        flops = backbone.flops(**c.build_arguments(), resolution=c.resolution, **SHAPE)
        assert abs(flops / (2 * base) - 1) <= 0.03


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
        matched = candidates_for(backbone, CoefficientConfig(step=0.5, tolerance=0.3,
                                                             resolution=16), shape)  # fmt: skip
    finally:
        sys.modules.pop(module, None)
    assert calls == [(2, 10)] * len(candidates)
    assert completed(study) == [(i, 0) for i in range(len(candidates))]
    base = 27 * 8 * 16 * 16 + 10 * 8
    for c in matched.candidates[1:]:  # matched by fvcore counts: within 3% of twice the base
        width = round(8 * c.width_mult)
        assert abs((27 * width * c.resolution**2 + 10 * width) / (2 * base) - 1) <= 0.03
    for trial in study.trials:
        width, res = round(8 * trial.user_attrs["beta"]), trial.user_attrs["resolution"]
        assert trial.user_attrs["flops"] == 27 * width * res * res + 10 * width  # conv + linear
    at_16 = sorted((t.user_attrs["beta"], t.user_attrs["flops"]) for t in study.trials
                   if t.user_attrs["resolution"] == 16)  # fmt: skip
    assert len({beta for beta, _ in at_16}) == 3  # 1, sqrt(2), 1.5
    flops = [f for _, f in at_16]
    assert flops == sorted(flops) and flops[-1] > flops[0]  # width alone grows FLOPs


def test_a_matched_family_member_one_is_the_network_the_grid_trains():
    proxy = search_spaces.skeleton("small-input", in_channels=1, num_classes=10, resolution=16)
    proxy = scale_network(
        proxy, width_mult=0.5, depth_mult=0.5, resolution=16, resolution_divisor=1
    )
    coefficients = CompoundCoefficients(1.0, 1.2, 1.2)
    grid = BackboneScaler(SpecBackbone(proxy), SHAPE).match(
        "compound", coefficients, 16, target=2 * count_flops(proxy), tolerance=0.03
    )
    member = matched_family(proxy, coefficients, phis=[1])[0]
    assert grid.matched
    built = grid.closest
    assert (member.width_mult, member.resolution, member.flops) == (
        built.width_mult,
        built.resolution,
        built.flops,
    )
    assert (
        member.spec.block_strings
        == SpecBackbone(proxy)
        .scaled_spec(
            width_mult=built.width_mult,
            depth_mult=built.depth_mult,
            **({"repeats": built.repeats} if built.repeats else {}),
            **SHAPE,
        )
        .block_strings
    )

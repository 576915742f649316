"""Scaling curves with a fake evaluator: matched points, every seed, resumption, verdicts."""

from __future__ import annotations

import csv
import json

import pytest

import search_spaces
from nas import Evaluation
from nas.coefficients import BackboneScaler
from nas.curves import (
    CurvesConfig,
    build_curve_points,
    curve_table,
    run_scaling_curves,
    write_curves_report,
)
from nas.models import ResNetBackbone, SpecBackbone
from nas.runs import ReuseError, read_reusable
from scaling import CompoundCoefficients, scale_network
from search_spaces import InputError, count_flops

SHAPE = {"num_classes": 10, "in_channels": 1}
CONFIG = CurvesConfig(phis=(0, 1, 2), resolution=32, seeds=3, match_tolerance=0.05)


@pytest.fixture(scope="module")
def proxy():
    spec = search_spaces.skeleton("small-input", in_channels=1, num_classes=10, resolution=32)
    return scale_network(spec, width_mult=0.5, depth_mult=0.5, resolution=32, resolution_divisor=1)


class Fake:
    """accuracy by method (compound best) plus a seed effect shared by every point."""

    def __init__(self, gaps=None, noise=0.0, interrupt_on=None):
        self.calls, self.gaps, self.noise, self.interrupt_on = [], gaps or {}, noise, interrupt_on

    def __call__(self, build, *, resolution, name, seed):
        self.calls.append((name, seed))
        if len(self.calls) == self.interrupt_on:
            raise KeyboardInterrupt
        build()
        method = name.split("-")[-1].split("(")[0]
        index = seed // 7919  # job_seed(0, index): seed index -> torch seed
        shared = index / 100  # the same for every point at one seed: cancels in pairs
        jitter = self.noise * NOISE.get(method, (0, 0, 0))[index % 3]
        return Evaluation(accuracy=0.5 + self.gaps.get(method, 0.0) + shared + jitter)


# Per-seed deviations whose differences average zero: any gap between two is pure noise.
NOISE = {"compound": (1, -1, 0), "depth": (-1, 1, 0), "width": (0, 1, -1), "resolution": (1, 0, -1)}


def run(backbone, run_dir, evaluate, config=CONFIG):
    found = build_curve_points(config, BackboneScaler(backbone, SHAPE))
    study = run_scaling_curves(
        backbone=backbone, points=found.candidates, evaluate=evaluate, config=config,
        run_dir=run_dir, unmatched=found.unmatched, **SHAPE,
    )  # fmt: skip
    return found, study


def test_points_are_matched_per_phi_and_single_dimensions_move_alone(proxy):
    backbone = SpecBackbone(proxy)
    found = build_curve_points(CONFIG, BackboneScaler(backbone, SHAPE))
    base = count_flops(proxy, 32)
    assert found.candidates[0].kind == "base" and found.candidates[0].phi == 0
    by = {(c.kind, c.phi): c for c in found.candidates}
    for (kind, phi), c in by.items():
        flops = backbone.flops(**c.build_arguments(), resolution=c.resolution, **SHAPE)
        assert abs(flops / (2**phi * base) - 1) <= 0.05, (kind, phi)
        if kind == "depth":
            assert (c.width_mult, c.resolution) == (1.0, 32)
        if kind == "width":
            assert (c.depth_mult, c.resolution, c.repeats) == (1.0, 32, None)
        if kind == "resolution":
            assert (c.depth_mult, c.width_mult) == (1.0, 1.0) and c.resolution > 32
    matched = {(c.kind, c.phi) for c in found.candidates} | {
        (u.kind, u.phi) for u in found.unmatched
    }
    assert matched == {("base", 0)} | {
        (m, p) for m in ("depth", "width", "resolution", "compound") for p in (1, 2)
    }


def test_every_point_trains_every_seed_and_the_verdict_knows_the_answer(proxy, tmp_path):
    evaluate = Fake(gaps={"compound": 0.03, "depth": 0.0, "width": 0.01, "resolution": 0.0})
    found, study = run(SpecBackbone(proxy), tmp_path, evaluate)
    assert len(evaluate.calls) == 3 * len(found.candidates)
    summary = write_curves_report(study, tmp_path, backbone="proxy", settings={})
    with (tmp_path / "curves.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(found.candidates) and all(r["seeds"] == "3" for r in rows)
    for phi in ("1", "2"):
        verdicts = summary["verdicts"][phi]
        assert all(v["distinguishable"] and v["difference_points"] > 0 for v in verdicts.values())
        assert verdicts.get("width", {"difference_points": 2.0})["difference_points"] == (
            pytest.approx(2.0)
        )
    assert "phi=1: compound beats every single-dimension scaling" in summary["verdict"]
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((tmp_path / "summary.json").read_text()) == summary


def test_noise_gives_within_noise(proxy, tmp_path):
    _, study = run(SpecBackbone(proxy), tmp_path, Fake(noise=0.05))
    summary = write_curves_report(study, tmp_path, backbone="proxy", settings={})
    assert "within noise" in summary["verdict"] or "not distinguishable" in summary["verdict"]
    assert not any(v["distinguishable"] for p in summary["verdicts"].values() for v in p.values())


def test_a_killed_run_resumes_without_repeating_a_finished_seed(proxy, tmp_path):
    first = Fake(interrupt_on=5)
    with pytest.raises(KeyboardInterrupt):
        run(SpecBackbone(proxy), tmp_path, first)
    second = Fake()
    found, _ = run(SpecBackbone(proxy), tmp_path, second)
    everything = first.calls[:4] + second.calls
    assert len(everything) == len(set(everything)) == 3 * len(found.candidates)
    third = Fake()
    run(SpecBackbone(proxy), tmp_path, third)
    assert third.calls == []


def test_a_phi_whose_compound_point_cannot_be_matched_is_refused(proxy):
    tight = CurvesConfig(phis=(0, 1), resolution=32, match_tolerance=1e-6)
    with pytest.raises(InputError, match=r"phi 1 cannot be matched at 32 px: .*--match-tolerance"):
        build_curve_points(tight, BackboneScaler(SpecBackbone(proxy), SHAPE))


def test_bad_settings():
    for bad, phrase in (
        ({"seeds": 0}, "seeds must be a whole number >= 1"),
        ({"phis": ()}, "phis must be whole numbers"),
        ({"phis": (0, 0)}, "repeat a value"),
        ({"base": 1.0}, "base must be a number > 1"),
    ):
        with pytest.raises(InputError, match=phrase):
            CurvesConfig(**bad)


def test_a_resnet_curve_is_matched_with_fvcore_counts():
    backbone = ResNetBackbone(depth=18)
    config = CurvesConfig(
        phis=(0, 1), resolution=32, coefficients=CompoundCoefficients(1.2, 1.1, 1.15)
    )
    found = build_curve_points(config, BackboneScaler(backbone, SHAPE))
    base = backbone.flops(width_mult=1.0, depth_mult=1.0, resolution=32, **SHAPE)
    assert any(c.kind == "compound" for c in found.candidates)
    for c in found.candidates[1:]:
        flops = backbone.flops(**c.build_arguments(), resolution=c.resolution, **SHAPE)
        assert abs(flops / (2 * base) - 1) <= 0.03
    assert all("within 3%" in u.reason for u in found.unmatched)


class Identified(Fake):
    """A fake whose identity says how it trains, as ``CandidateTrainer``'s does."""

    def __init__(self, epochs=1, **kwargs):
        super().__init__(**kwargs)
        self.epochs = epochs

    def identity(self):
        return {"evaluator": "fake", "epochs": self.epochs}


def reuse_run(backbone, run_dir, evaluate, reuse, config):
    found = build_curve_points(config, BackboneScaler(backbone, SHAPE))
    return run_scaling_curves(
        backbone=backbone, points=found.candidates, evaluate=evaluate, config=config,
        run_dir=run_dir, unmatched=found.unmatched, reuse=reuse, **SHAPE,
    )  # fmt: skip


def test_a_run_takes_what_another_trained_alike_and_trains_the_rest(proxy, tmp_path):
    backbone = SpecBackbone(proxy)
    small = CurvesConfig(phis=(0, 1), resolution=32, seeds=2, match_tolerance=0.05)
    first = Identified(gaps={"compound": 0.03})
    reuse_run(backbone, tmp_path / "a", first, None, small)
    recorded = _trials(tmp_path / "a")

    # phi 0-2 with a third seed: phi 0-1 at seeds 0-1 come from the first run.
    wider = CurvesConfig(phis=(0, 1, 2), resolution=32, seeds=3, match_tolerance=0.05)
    second = Identified(gaps={"compound": 0.03})
    reuse = read_reusable([tmp_path / "a"])
    assert len(reuse) == len(first.calls)
    study = reuse_run(backbone, tmp_path / "b", second, reuse, wider)
    assert not set(second.calls) & set(first.calls)
    summary = write_curves_report(study, tmp_path / "b", backbone="proxy", settings={})
    assert summary["reused"] == len(first.calls)
    assert summary["trials"] == {"complete": len(first.calls) + len(second.calls)}
    table = curve_table(study)
    assert (table["seeds"] == 3).all()
    # Read, never written. (Not its bytes: SQLite may fold its write-ahead log into the
    # file whenever the first run's last connection closes.)
    assert _trials(tmp_path / "a") == recorded

    # Another training: nothing of the first run is this run's number.
    third = Identified(epochs=2)
    reuse_run(backbone, tmp_path / "c", third, reuse, small)
    assert sorted(third.calls) == sorted(first.calls)


def _trials(run_dir):
    import optuna

    storage = f"sqlite:///{run_dir / 'study.db'}"
    study = optuna.load_study(study_name=None, storage=storage)
    return [(t.number, t.state, t.params, t.user_attrs) for t in study.get_trials()]


def test_reuse_refuses_a_directory_without_a_study(tmp_path):
    with pytest.raises(ReuseError, match=r"--reuse-results .*: no study.db there"):
        read_reusable([tmp_path])
    (tmp_path / "study.db").write_text("not a database")
    with pytest.raises(ReuseError, match=r"cannot read its study.db"):
        read_reusable([tmp_path])

"""`cnas search` end to end: one JSON summary, the run directory, one-line errors."""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
from pathlib import Path

import pytest
import torch

import nas
from experiments._search_cmd import parse_quantity
from experiments.cli import main
from search_spaces import NetworkSpec, count_flops

# A small, fast space: small-input skeleton at 16 px, half width and depth.
SMALL = "--resolution 16 --width-mult 0.5 --depth-mult 0.5 --max-samples 200 --no-progress"
ZERO_COST = ["--evaluator", "zero-cost", *SMALL.split()]
FILES = {"trials.csv", "pareto.csv", "pareto.png", "baseline.json", "summary.json"}


@contextlib.contextmanager
def one_torch_thread():
    # cnas search applies --threads to training only; synflow on two busy cores is ~50x slower.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def cnas(*argv: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `cnas argv` in-process; argparse errors raise SystemExit."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), one_torch_thread():
        try:
            code = main(list(argv))
        except SystemExit as exit_:
            code = exit_.code
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def searched(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("search") / "run"
    # Above the largest network (24.8M): with a zero-cost score the constraint is hard.
    argv = [*ZERO_COST, "--target-flops", "12M", "--trials", "4", "--json", "--out", str(out)]
    code, stdout, stderr = cnas("search", *argv)
    assert (code, stderr) == (0, "")
    return out, json.loads(stdout)  # the whole of stdout is one JSON document


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as file:
        return list(csv.DictReader(file))


def test_json_summary_and_run_dir(searched):
    out, summary = searched
    assert {p.name for p in out.iterdir()} >= FILES
    assert summary == json.loads((out / "summary.json").read_text())
    assert (summary["target"], summary["target_text"], summary["cost"]) == (1.2e7, "12M", "flops")
    assert (summary["strategy"], summary["objective"]) == ("tpe", "reward")
    # A zero-cost score ranks networks; nothing calls it an accuracy.
    assert summary["constraint"] == "hard" and summary["hypervolume"] is None
    assert (
        summary["evaluator"]["name"] == "zero-cost" and not summary["evaluator"]["gives_accuracy"]
    )
    assert summary["baseline"]["chosen_by"] == "zero-cost" and "accuracy" not in summary["baseline"]
    assert summary["trials"]["complete"] == 4 and summary["trials_requested"] == 4
    assert set(summary["trials"]) <= {"complete", "out-of-band"}
    # Hard: the band is 10.8M-12M; only networks in it were scored.
    rows = [r for r in read_csv(out / "trials.csv") if r["state"] == "complete"]
    assert len(rows) == 4 and all(10.8e6 <= float(r["flops"]) <= 12e6 for r in rows)
    assert "score" in rows[0] and "accuracy" not in rows[0]
    assert all(float(r["reward"]) == float(r["score"]) for r in rows)  # within the target
    best = max(rows, key=lambda r: float(r["reward"]))
    assert summary["baseline"]["number"] == int(best["number"])
    assert summary["baseline"]["flops"] == int(best["flops"])
    baseline = NetworkSpec.load(out / "baseline.json")
    assert count_flops(baseline) == int(best["flops"])
    assert (baseline.resolution, baseline.in_channels, baseline.num_classes) == (16, 1, 10)
    assert (out / "pareto.png").read_bytes()[:4] == b"\x89PNG"


def test_count_and_family_accept_the_baseline(searched):
    out, summary = searched
    code, stdout, stderr = cnas("count", str(out / "baseline.json"), "--json")
    assert (code, stderr) == (0, "")
    counted = json.loads(stdout)
    assert (counted["name"], counted["flops"]) == ("baseline", summary["baseline"]["flops"])
    assert counted["params"] == summary["baseline"]["params"]
    args = ("--coefficients", "1.2,1.1,1.15", "--phis", "0-2", "--json")
    code, stdout, stderr = cnas("family", str(out / "baseline.json"), *args)
    assert (code, stderr) == (0, "")
    rows = json.loads(stdout)
    assert [r["name"] for r in rows] == ["baseline-phi0", "baseline-phi1", "baseline-phi2"]
    assert rows[0]["flops"] == summary["baseline"]["flops"]
    assert rows[0]["flops"] < rows[1]["flops"] < rows[2]["flops"]


def test_a_different_target_on_the_same_out_is_refused(searched):
    out, _ = searched
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    code, stdout, stderr = cnas(
        "search", *ZERO_COST, "--target-flops", "16M", "--trials", "4", "--out", str(out)
    )
    assert (code, stdout) == (2, "") and len(stderr.splitlines()) == 1
    assert "holds a different search (target 12000000.0 -> 16000000.0)" in stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.parametrize(
    ("text", "value"),
    [("3M", 3e6), ("500k", 5e5), ("1.5G", 1.5e9), ("2e3", 2e3), (" 7 ", 7.0), (".5K", 500.0)],
)
def test_targets_accept_k_m_g_suffixes(text, value):
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["abc", "0", "-1M", "1T", "M", "1.2.3", ""])
def test_bad_quantities_are_refused(text):
    with pytest.raises(argparse.ArgumentTypeError):
        parse_quantity(text)


B0 = ["--evaluator", "zero-cost", "--skeleton", "efficientnet-b0", "--resolution", "16"]
T3M = ["--target-flops", "3M"]
UNIFORM_SUBNETS = ["--supernet-subnets", "2", *SMALL.split()]
BAD = {
    "target-too-small": (
        ["--target-flops", "100K", *ZERO_COST],
        "target 100K is below the smallest network in the space (596K; largest 24.8M)",
    ),
    "unknown-data": ([*T3M, "--data", "emnist", *ZERO_COST], "unknown dataset 'emnist'"),
    "unknown-strategy": ([*T3M, "--strategy", "grid", *ZERO_COST], "invalid choice: 'grid'"),
    "no-data-root": ([*T3M, "--data", "cifar10", *ZERO_COST], "needs a data directory"),
    "missing-data-root": (
        [*T3M, "--data", "cifar10", "--data-root", "missing", *ZERO_COST],
        "data root missing does not exist",
    ),
    "resolution-too-small": ([*T3M, *B0], "smaller than the network's total stride 32"),
    "zero-trials": ([*T3M, "--trials", "0", *ZERO_COST], "expected a whole number >= 1"),
    "band-above-the-space": (
        ["--target-flops", "30M", *ZERO_COST],
        "target 30M is above the largest network in the space (24.8M; smallest 596K)",
    ),
    "runtime-without-latency": (
        [*T3M, "--latency-runtime", "onnxruntime", *ZERO_COST],
        "--latency-runtime does nothing here: it times latency: give --target-latency-ms",
    ),
    "tolerance-with-pareto": (
        [*T3M, "--objective", "pareto", "--target-tolerance", "5", *ZERO_COST],
        "--target-tolerance does nothing here: a Pareto search has no reward to constrain",
    ),
    "constraint-with-pareto": (
        [*T3M, "--objective", "pareto", "--constraint", "hard", *ZERO_COST],
        "--constraint does nothing here: a Pareto search",
    ),
    "supernet-option-without-supernet": (
        [*T3M, "--supernet-epochs", "3", *ZERO_COST],
        "--supernet-epochs does nothing here: it sets how a supernet trains",
    ),
    "rl-pareto": (
        [*T3M, "--strategy", "rl", "--objective", "pareto", *ZERO_COST],
        "strategy rl learns from one reward",
    ),
    "target-not-a-number": (
        ["--target-flops", "abc", *ZERO_COST],
        "expected a number with optional K/M/G, got 'abc'",
    ),
    "no-target": (ZERO_COST, "one of the arguments --target-flops"),
    "unknown-augmentation": (
        [*T3M, "--augment", "crop,rotate", *ZERO_COST],
        "unknown augmentation 'rotate': choose from flip, crop, shift, auto",
    ),
    "flip-on-digits": (
        [*T3M, "--augment", "flip,shift", *ZERO_COST],
        "augmentation 'flip' on 'digits': a mirrored digit or letter is another symbol",
    ),
    "bad-warmup": ([*T3M, "--warmup", "1.5", *ZERO_COST], "warmup must be a share"),
    "zero-cost-soft": (
        [*T3M, "--constraint", "soft", *ZERO_COST],
        "gives a score that ranks networks, not an accuracy",
    ),
    "cuda-on-ray-without-a-gpu": (
        [*T3M, "--device", "cuda", "--backend", "ray", *ZERO_COST],
        "--device cuda on Ray needs --gpus-per-trial",
    ),
    "bad-device": ([*T3M, "--device", "gpu0", *ZERO_COST], "--device takes cpu, cuda or cuda:N"),
    "supernet-split-unknown": (
        [*T3M, *SMALL.split(), "--evaluator", "supernet", "--supernet-split", "s2_kernels"],
        "--supernet-split: the space has no choice 's2_kernels' to split the supernet by",
    ),
    "supernet-split-without-the-supernet": (
        [*T3M, *ZERO_COST, "--supernet-split", "s2_kernel"],
        "--supernet-split does nothing here: it sets how a supernet trains",
    ),
    "memory-budget-below-a-batch": (
        [*T3M, *ZERO_COST, "--data-memory-budget", "0.01"],
        "--data-memory-budget 0.01 MB is below one batch of 16 px images (0.05 MB): raise it",
    ),
    "memory-budget-not-a-number": (
        [*T3M, *ZERO_COST, "--data-memory-budget", "lots"],
        "expected a number > 0, got 'lots'",
    ),
    "memory-target-below-the-space": (
        ["--target-peak-memory", "10", *ZERO_COST],
        "target 10 KiB is below the smallest network in the space (32 KiB; largest 313 KiB)",
    ),
    "memory-limit-below-the-space": (
        [*T3M, "--max-peak-memory", "10", *ZERO_COST],
        "peak memory limit 10 KiB is below the smallest network in the space (32 KiB)",
    ),
    "memory-limit-beside-a-memory-target": (
        ["--target-peak-memory", "100", "--max-peak-memory", "120", *ZERO_COST],
        "use --constraint hard with --target-peak-memory instead",
    ),
    "uniform-sampling-with-subnets": (
        [*T3M, "--evaluator", "supernet", "--supernet-sampling", "uniform", *UNIFORM_SUBNETS],
        "--supernet-subnets does nothing with --supernet-sampling uniform",
    ),
    "sampling-without-supernet": (
        [*T3M, "--supernet-sampling", "uniform", *ZERO_COST],
        "--supernet-sampling does nothing here: it sets how a supernet trains",
    ),
    "int8-without-retraining": (
        [*T3M, "--confirm-int8", *ZERO_COST],
        "--confirm-int8 measures the retrained winners; give --confirm-top K",
    ),
    "train-images-with-a-score-evaluator": (
        [*T3M, "--train-images", "50", *ZERO_COST],
        "--train-images does nothing here: it sets the proxy training: use --evaluator train",
    ),
    "train-images-above-the-split": (
        [*T3M, "--train-images", "161", *SMALL.split()],
        "between the 10 classes (one image each) and the training split's 160",
    ),
    "predictor-option-without-predictor": (
        [*T3M, "--predictor-pool", "50", *ZERO_COST],
        "--predictor-pool does nothing here: it sets the predictor: add --strategy predictor",
    ),
    "predictor-warmup-too-small": (
        [*T3M, "--strategy", "predictor", "--predictor-warmup", "5", *ZERO_COST],
        "the predictor needs 8 trained candidates or more before it proposes",
    ),
    "predictor-never-proposes": (
        [*T3M, "--strategy", "predictor", "--trials", "10", *ZERO_COST],
        "raise --trials above --predictor-warmup",
    ),
}
if not torch.cuda.is_available():
    BAD["cuda-without-cuda"] = (
        [*T3M, "--device", "cuda", *ZERO_COST],
        "--device cuda: PyTorch",  # "... sees no CUDA GPU here; leave --device out"
    )


@pytest.mark.parametrize(("argv", "message"), BAD.values(), ids=BAD.keys())
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)  # "missing" is relative to here
    out = tmp_path / "out"
    code, stdout, stderr = cnas("search", *argv, "--out", str(out))
    assert (code, stdout) == (2, "")
    assert len(stderr.strip().splitlines()) == 1 and stderr.startswith("cnas search: error: ")
    assert message in stderr and "Traceback" not in stderr
    assert list(tmp_path.iterdir()) == []


def test_retrained_winners_get_their_int8_accuracy_beside_the_float32_one(tmp_path):
    out = tmp_path / "run"
    argv = ["--data", "digits", "--epochs", "1", "--trials", "2", "--target-flops", "3M"]
    argv += [*SMALL.split(), "--confirm-top", "1", "--confirm-epochs", "3", "--confirm-int8"]
    code, stdout, stderr = cnas("search", *argv, "--backend", "local", "--json", "--out", str(out))
    assert (code, stderr) == (0, "")
    summary = json.loads(stdout)
    (confirmed,) = summary["confirmed"]
    assert 0.1 < confirmed["standalone_int8_accuracy"] <= 1  # 10 classes: chance is 0.1
    # int8 keeps most of what float32 learned (the export's check asks for most top-1s).
    assert abs(confirmed["standalone_int8_accuracy"] - confirmed["standalone_accuracy"]) < 0.2
    assert summary["baseline"]["standalone_int8_accuracy"] == confirmed["standalone_int8_accuracy"]
    rows = [r for r in read_csv(out / "trials.csv") if r["standalone_int8_accuracy"]]
    assert [int(r["number"]) for r in rows] == [confirmed["number"]]


def test_candidates_train_on_fewer_images_and_the_winners_retrain_on_all(tmp_path):
    out = tmp_path / "run"
    argv = ["--data", "digits", "--epochs", "1", "--trials", "2", "--target-flops", "3M"]
    argv += [*SMALL.split(), "--train-images", "40", "--confirm-top", "1"]
    code, stdout, stderr = cnas("search", *argv, "--backend", "local", "--json", "--out", str(out))
    assert (code, stderr) == (0, "")
    identity = json.loads((out / "config.json").read_text())["identity"]
    assert identity["training"]["train_images"] == 40
    assert "train_images" not in identity["confirm"]["training"]
    assert identity["data"]["max_samples"] == 200  # scored on the whole validation split
    assert len(json.loads(stdout)["confirmed"]) == 1


def test_a_search_for_peak_memory_keeps_its_baseline_in_the_band(tmp_path):
    out = tmp_path / "run"
    argv = [*ZERO_COST, "--target-peak-memory", "100", "--trials", "4", "--json"]
    code, stdout, stderr = cnas("search", *argv, "--out", str(out))
    assert (code, stderr) == (0, "")
    baseline = json.loads(stdout)["baseline"]
    assert baseline["within_tolerance"] and 0.9 <= baseline["cost"] / (100 * 1024) <= 1.1


def test_a_predictor_search_says_how_well_it_ranks_its_own_results(tmp_path):
    out = tmp_path / "run"
    argv = [*ZERO_COST, "--target-flops", "12M", "--strategy", "predictor", "--trials", "11"]
    argv += ["--predictor-warmup", "8", "--predictor-pool", "40", "--out", str(out)]
    code, stdout, stderr = cnas("search", *argv)
    assert (code, stderr) == (0, "")
    predictor = json.loads((out / "summary.json").read_text())["predictor"]
    assert predictor["trained"] == 11 and predictor["proposed_by_predictor"] == 3
    assert "Predictor: proposed 3 of 11 trained" in stdout
    assert f"Kendall tau {predictor['loo_tau']:.2f}" in stdout


@pytest.mark.slow
def test_real_training_finds_a_better_than_chance_baseline_and_resumes(tmp_path, monkeypatch):
    out = tmp_path / "run"
    argv = ["search", "--data", "digits", "--epochs", "2", "--trials", "3"]
    argv += [*SMALL.split(), "--target-flops", "3M", "--json", "--out", str(out)]
    code, stdout, stderr = cnas(*argv)
    assert (code, stderr) == (0, "")
    summary = json.loads(stdout)
    assert summary["trials"]["complete"] == 3 and summary["baseline"]["within_tolerance"]
    # 10 classes, 40 validation images: chance is 0.1.
    assert 0.3 < summary["baseline"]["accuracy"] <= 1.0
    rows = [r for r in read_csv(out / "trials.csv") if r["state"] == "complete"]
    assert all(0.0 <= float(r["accuracy"]) <= 1.0 for r in rows)
    assert [float(r["metric_epochs"]) for r in rows] == [2.0] * 3

    def no_training(*args, **kwargs):
        raise AssertionError("the continued run trained again")

    monkeypatch.setattr(nas.TrainingEvaluator, "evaluate", no_training)
    code, again, stderr = cnas(*argv)
    assert (code, stderr) == (0, "")
    assert json.loads(again)["baseline"] == summary["baseline"]
    assert [r for r in read_csv(out / "trials.csv") if r["state"] == "complete"] == rows


def test_fashion_mnist_without_the_package_is_one_line(tmp_path, monkeypatch):
    from nas.data import _datasets

    monkeypatch.setattr(_datasets, "FASHION_MNIST_ROOT", tmp_path / "absent")
    out = tmp_path / "out"
    code, stdout, stderr = cnas("search", *T3M, "--data", "fashion-mnist", *ZERO_COST,
                                "--out", str(out))  # fmt: skip
    assert (code, stdout) == (2, "") and len(stderr.strip().splitlines()) == 1
    assert "apt-get install dataset-fashion-mnist" in stderr and not out.exists()


@pytest.mark.slow
def test_a_run_made_with_the_old_recipe_continues_without_repeating_it(tmp_path, monkeypatch):
    out = tmp_path / "run"
    argv = ["search", "--data", "digits", "--epochs", "1", "--trials", "2", *SMALL.split()]
    argv += ["--target-flops", "3M", "--backend", "local", "--json", "--out", str(out)]
    # --recipe legacy records exactly the identity runs made before the recipe recorded.
    code, stdout, stderr = cnas(*argv, "--recipe", "legacy")
    assert (code, stderr) == (0, "")
    recorded = json.loads((out / "config.json").read_text())["identity"]
    assert "warmup" not in json.dumps(recorded) and '"optimizer": "sgd"' in json.dumps(recorded)

    def no_training(*args, **kwargs):
        raise AssertionError("the continued run trained again")

    monkeypatch.setattr(nas.TrainingEvaluator, "evaluate", no_training)
    code, again, stderr = cnas(*argv)  # no recipe option: the run's own
    assert (code, stderr) == (0, "")
    assert json.loads(again)["baseline"] == json.loads(stdout)["baseline"]
    code, _, stderr = cnas(*argv, "--recipe", "proxy")  # asked for another: refused
    assert code == 2 and "holds a different search" in stderr


def test_a_score_evaluator_prints_its_score_not_an_accuracy(tmp_path):
    argv = ["--evaluator", "naswot", *SMALL.split(), "--target-flops", "12M", "--trials", "2"]
    code, stdout, stderr = cnas("search", *argv, "--out", str(tmp_path / "run"))
    assert (code, stderr) == (0, "")
    assert "Baseline: trial" in stdout and ", naswot " in stdout and "accuracy" not in stdout
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["constraint"] == "hard" and summary["baseline"]["chosen_by"] == "naswot"


def test_the_baseline_says_how_well_its_evaluator_ranked_in_a_rank_check(tmp_path):
    check = tmp_path / "check"
    check.mkdir()
    measured = {"kendall_tau": 0.41, "kendall_low": 0.2, "kendall_high": 0.6, "n": 30}
    summary = {"reference": "15 epochs on 1437 images", "correlations": {"naswot": measured}}
    (check / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    argv = ["--evaluator", "naswot", *SMALL.split(), "--target-flops", "12M", "--trials", "2"]
    code, stdout, stderr = cnas("search", *argv, "--rank-check", str(check), "--json",
                                "--out", str(tmp_path / "run"))  # fmt: skip
    assert (code, stderr) == (0, "")
    found = json.loads(stdout)["baseline"]["rank_check"]
    assert {k: found[k] for k in measured} == measured
    assert found["reference"] == "15 epochs on 1437 images"
    code, _, stderr = cnas("search", *ZERO_COST, "--target-flops", "12M", "--rank-check",
                           str(check), "--out", str(tmp_path / "other"))  # fmt: skip
    assert code == 2 and "did not score the zero-cost evaluator" in stderr


def test_the_console_says_where_the_baseline_sits_against_the_target(tmp_path):
    argv = [*ZERO_COST, "--target-flops", "5M", "--trials", "6", "--backend", "local"]
    code, stdout, stderr = cnas("search", *argv, "--out", str(tmp_path))
    assert (code, stderr) == (0, "")
    baseline = json.loads((tmp_path / "summary.json").read_text())["baseline"]
    ratio = baseline["target_ratio"]
    assert ratio == pytest.approx(baseline["cost"] / 5e6, abs=1e-4)
    assert baseline["target_tolerance"] == 0.1
    # Hard: the band is 90-100% of the target, and nothing outside it was scored.
    assert baseline["within_tolerance"] is True and 0.9 <= ratio <= 1.0
    assert f"It lies at {ratio:.2f}x the target" in stdout


def test_the_cost_option_is_gone_and_says_so_in_one_line(tmp_path):
    code, stdout, stderr = cnas("search", *T3M, "--cost", "params", *ZERO_COST)
    assert (code, stdout) == (2, "") and len(stderr.strip().splitlines()) == 1
    assert "unrecognized arguments: --cost params" in stderr


@pytest.mark.parametrize("value", ["0", "100", "ten"])
def test_a_bad_target_tolerance_is_refused_in_one_line(tmp_path, value):
    argv = [*ZERO_COST, "--target-flops", "5M", "--target-tolerance", value]
    code, stdout, stderr = cnas("search", *argv, "--out", str(tmp_path / "run"))
    assert code == 2 and stdout == "" and len(stderr.strip().splitlines()) == 1
    assert "--target-tolerance: expected a percentage such as 3 or 0.5%" in stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("12-16", "takes MIN:MAX image sides"),
        ("12:20", "must end at --resolution 16"),
        ("4:16", "start between 8 and it"),
    ],
)
def test_a_bad_progressive_resizing_range_is_refused_in_one_line(tmp_path, value, message):
    out = tmp_path / "run"
    code, _, stderr = cnas(
        "search", "--target-flops", "5M", *SMALL.split(), "--progressive-resizing", value,
        "--trials", "2", "--out", str(out),
    )  # fmt: skip
    assert code == 2 and message in stderr and len(stderr.strip().splitlines()) == 1
    assert not out.exists()

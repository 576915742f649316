"""cnas latency-table, and cnas search costing candidates with its table."""

from __future__ import annotations

import json

import pytest

SPACE = {
    "kernels": [3],
    "expand_ratios": [1, 6],
    "se_ratios": [0.0],
    "layer_deltas": [0],
    "width_mults": [0.5, 1.0],
    "skips": [True],
}
SPACE_ARGS = ("--resolution", "16", "--width-mult", "0.5", "--depth-mult", "0.5")
# Far above the space's largest network (about 1 ms measured): a target near the smallest
# failed a run whenever this machine timed the smallest a little slower.
TARGET_MS = "20"


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A table of the small space, made once by the command (calibrated and validated)."""
    from experiments.cli import main

    root = tmp_path_factory.mktemp("latency")
    space = root / "space.json"
    space.write_text(json.dumps(SPACE))
    out = root / "table.json"
    code = main(
        [
            "latency-table", *SPACE_ARGS, "--space", str(space), "--runs", "3", "--warmup", "1",
            "--calibrate", "3", "--validate", "4", "--out", str(out), "--no-progress",
        ]
    )  # fmt: skip
    assert code == 0
    return root, space, out


def test_the_table_file_the_plot_and_no_checkpoint_left(made):
    root, _, out = made
    document = json.loads(out.read_text())
    assert document["resolution"] == 16 and document["runtimes"] == ["torch", "onnxruntime"]
    assert len(document["entries"]) > 10
    assert set(document["calibration"]) == {"torch", "onnxruntime"}
    assert document["validation"]["networks"] == 4
    assert (root / "table.png").stat().st_size > 10_000
    assert not list(root.glob("*.partial"))


def test_search_costs_candidates_with_the_table(made, tmp_path, cnas):
    from nas.latency import LatencyTable

    _, space, table_path = made
    table = LatencyTable.load(table_path)
    run = tmp_path / "search"
    code, _, stderr = cnas(
        "search", "--target-latency-ms", TARGET_MS, "--target-tolerance", "none",
        "--latency-table", str(table_path),
        "--latency-runtime", "onnxruntime", *SPACE_ARGS, "--space", str(space),
        "--evaluator", "zero-cost", "--trials", "4", "--backend", "local", "--no-progress",
        "--out", str(run),
    )  # fmt: skip
    assert code == 0, stderr
    summary = json.loads((run / "summary.json").read_text())
    assert summary["latency"]["source"] == "latency table"
    assert summary["latency"]["table"] == table.digest()
    import pandas as pd

    from search_spaces import NetworkSpec

    trials = pd.read_csv(run / "trials.csv")
    assert len(trials) == 4
    for _, row in trials.iterrows():
        spec = NetworkSpec.from_dict(json.loads(row["spec"]))
        # The cost is the table's prediction, to the last digit: nothing was timed.
        assert row["latency_ms"] == pytest.approx(table.predict(spec, "onnxruntime"), rel=1e-12)
        assert row["cost"] == row["latency_ms"]


def test_continuing_with_another_table_is_refused(made, tmp_path, cnas):
    root, space, table_path = made
    common = (
        "search", "--target-latency-ms", "10", "--target-tolerance", "none", *SPACE_ARGS,
        "--space", str(space),
        "--evaluator", "zero-cost", "--trials", "2", "--backend", "local", "--no-progress",
        "--out", str(tmp_path / "run"),
    )  # fmt: skip
    assert cnas(*common, "--latency-table", str(table_path))[0] == 0
    document = json.loads(table_path.read_text())
    document["calibration"]["torch"]["scale"] *= 2
    document.pop("digest")
    other = root / "other.json"
    other.write_text(json.dumps(document))
    code, _, stderr = cnas(*common, "--latency-table", str(other))
    assert code == 2 and "latency_table" in stderr and len(stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("--resolution", "24"), "measured at 16 px but the space is at 24 px"),
        (("--width-mult", "1.0"), "it was made for another space"),
        (("--target-flops", "5M"), "a latency table predicts latency"),
    ],
)
def test_a_search_the_table_does_not_fit_is_refused_in_one_line(
    made, tmp_path, cnas, change, message
):
    _, space, table_path = made
    args = dict(zip(SPACE_ARGS[::2], SPACE_ARGS[1::2], strict=True))
    # The table is measured here, so its range depends on the machine: no band.
    target = ("--target-latency-ms", "0.3", "--target-tolerance", "none")
    if change[0].startswith("--target"):
        target = change
    else:
        args[change[0]] = change[1]
    run = tmp_path / "run"
    code, _, stderr = cnas(
        "search", *target, "--latency-table", str(table_path),
        *[item for pair in args.items() for item in pair], "--space", str(space),
        "--evaluator", "zero-cost", "--trials", "2", "--backend", "local", "--out", str(run),
    )  # fmt: skip
    assert code == 2 and message in stderr
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr
    assert not run.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--runtimes", "torch,tensorrt"), "--runtimes takes some of torch, onnxruntime"),
        (("--calibrate", "1"), "--calibrate fits a line"),
        (("--validate", "2"), "--validate needs 3 networks"),
        (("--out", "/proc/nope/table.json"), "does not exist"),
    ],
)
def test_bad_table_options_get_one_line(tmp_path, cnas, args, message):
    options = {"--out": str(tmp_path / "t.json"), **dict(zip(args[::2], args[1::2], strict=True))}
    code, _, stderr = cnas(
        "latency-table", *SPACE_ARGS, *[item for pair in options.items() for item in pair]
    )
    assert code == 2 and message in stderr and len(stderr.strip().splitlines()) == 1
    assert not (tmp_path / "t.json").exists()


def test_a_missing_or_edited_table_is_refused(made, tmp_path, cnas):
    _, space, table_path = made
    edited = tmp_path / "edited.json"
    document = json.loads(table_path.read_text())
    key = next(iter(document["entries"]))
    document["entries"][key]["torch"] += 1
    edited.write_text(json.dumps(document))
    for path, message in ((tmp_path / "none.json", "does not exist"), (edited, "was changed")):
        code, _, stderr = cnas(
            "search", "--target-latency-ms", TARGET_MS, "--target-tolerance", "none",
            "--latency-table", str(path), *SPACE_ARGS,
            "--space", str(space), "--evaluator", "zero-cost", "--out", str(tmp_path / "r"),
        )  # fmt: skip
        assert code == 2 and message in stderr


def test_an_int8_table_and_a_search_that_costs_int8_latency_with_it(made, tmp_path, cnas):
    from nas.latency import LatencyTable

    _, space, _ = made
    out = tmp_path / "int8.json"
    code, _, stderr = cnas(
        "latency-table", *SPACE_ARGS, "--space", str(space), "--runtimes", "onnxruntime-int8",
        "--runs", "3", "--warmup", "1", "--calibrate", "0", "--validate", "0",
        "--out", str(out), "--no-progress",
    )  # fmt: skip
    assert (code, stderr) == (0, "")
    table = LatencyTable.load(out)
    assert table.runtimes == ("onnxruntime-int8",)
    assert all(
        value["onnxruntime-int8"] > 0 for value in json.loads(out.read_text())["entries"].values()
    )
    run = tmp_path / "search"
    code, _, stderr = cnas(
        "search", "--target-latency-ms", TARGET_MS, "--target-tolerance", "none",
        "--latency-table", str(out), "--latency-runtime", "onnxruntime-int8", *SPACE_ARGS,
        "--space", str(space), "--evaluator", "zero-cost", "--trials", "3", "--backend", "local",
        "--no-progress", "--out", str(run),
    )  # fmt: skip
    assert (code, stderr) == (0, "")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["latency"]["runtime"] == "onnxruntime-int8"
    code, _, stderr = cnas(
        "search", "--target-latency-ms", "0.3", "--latency-table", str(out),
        "--latency-runtime", "onnxruntime", *SPACE_ARGS, "--space", str(space),
        "--evaluator", "zero-cost", "--out", str(tmp_path / "refused"),
    )  # fmt: skip
    assert code == 2 and "onnxruntime" in stderr and stderr.count("\n") == 1

"""The `cnas` command end to end: exact counts, family tables, files written, one-line errors."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from experiments.cli import main
from scaling import preset
from search_spaces import NetworkSpec, count_flops, count_params

B0_PARAMS, B0_FLOPS = 5288548, 385814752
COEFFS = "1.2,1.1,1.15"

# A 3-stage net: stem 3->32, then (no expansion), (expand 6, stride 2), (kernel 5, SE, stride 2).
# Counted by hand: 928 + 896 + 5136 + 15350 + 10752 (head) + 2570 (classifier) params;
# FLOPs likewise (stem at 32x32, stages at 32, 16, 8 px), and --verify checks both.
TINY = {
    "name": "tiny",
    "blocks": ["r1_k3_s11_e1_i32_o16", "r1_k3_s22_e6_i16_o24", "r1_k5_s22_e6_i24_o40_se0.25"],
    "stem_channels": 32,
    "head_channels": 256,
    "activation": "relu",
    "resolution": 64,
    "num_classes": 10,
    "dropout": 0.1,
    "fix_stem_head": False,
}
TINY_PARAMS, TINY_FLOPS = 35632, 6231232


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `cnas argv` in-process; argparse errors raise SystemExit."""
    try:
        code = main(list(argv))
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def cli_json(capsys: pytest.CaptureFixture[str], *argv: str):
    code, out, err = cli(capsys, *argv)
    assert (code, err) == (0, "")
    return json.loads(out)  # the whole of stdout is one JSON document


def spec_json(*blocks: str, **extra: object) -> str:
    return json.dumps({"name": "bad", "blocks": list(blocks), "stem_channels": 32, **extra})


def test_count_b0_json(capsys):
    doc = cli_json(capsys, "count", "efficientnet-b0", "--json")
    assert (doc["params"], doc["flops"], doc["resolution"]) == (B0_PARAMS, B0_FLOPS, 224)
    assert doc["name"] == "efficientnet-b0"


def test_count_verify_matches_torch_and_fvcore(capsys):
    doc = cli_json(capsys, "count", "efficientnet-b0", "--verify", "--json")
    assert doc["torch_params"] == doc["params"] == B0_PARAMS
    assert doc["fvcore_flops"] == doc["flops"] == B0_FLOPS
    assert doc["fvcore_total"] > doc["flops"]  # batch norm, pooling and activations on top
    assert doc["match"] is True


def test_count_b2_at_288_matches_torchvision_gmacs(capsys):
    doc = cli_json(capsys, "count", "efficientnet-b2", "--resolution", "288", "--json")
    assert (doc["resolution"], doc["flops"]) == (288, 1087529456)


def test_count_by_part_sums_to_totals(capsys):
    doc = cli_json(capsys, "count", "mobilenetv2", "--by-part", "--json")
    parts = doc["parts"]
    assert parts[0]["part"] == "stem" and len(parts) >= 3
    assert sum(p["params"] for p in parts) == doc["params"] == 3504872
    assert sum(p["flops"] for p in parts) == doc["flops"]


def test_count_spec_file_with_documented_keys(capsys, tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(TINY), encoding="utf-8")
    doc = cli_json(capsys, "count", str(path), "--verify", "--json")
    assert (doc["name"], doc["resolution"]) == ("tiny", 64)
    assert (doc["params"], doc["flops"]) == (TINY_PARAMS, TINY_FLOPS)
    assert doc["match"] is True


def test_count_preset_written_to_file_counts_like_the_preset(capsys, tmp_path):
    path = tmp_path / "b0.json"
    path.write_text(preset("efficientnet-b0").to_json(), encoding="utf-8")
    from_file = cli_json(capsys, "count", str(path), "--json")
    assert from_file == cli_json(capsys, "count", "efficientnet-b0", "--json")


def test_presets_json(capsys):
    rows = {row["name"]: row for row in cli_json(capsys, "presets", "--json")}
    expected = [f"efficientnet-b{i}" for i in range(9)] + ["efficientnet-l2"]
    expected += [f"efficientnet-lite{i}" for i in range(5)] + ["mnasnet-a1", "mnasnet-b1"]
    assert {*expected, "mobilenetv2"} <= set(rows)
    params = {name: rows[name]["params"] for name in rows}
    assert params["mnasnet-a1"] == 3887038
    assert params["mnasnet-b1"] == 4383312
    assert params["mobilenetv2"] == 3504872
    assert params["efficientnet-lite0"] == 4652008
    assert params["efficientnet-b7"] == 66347960
    assert rows["efficientnet-b0"]["flops"] == B0_FLOPS


def test_family_efficientnet_table(capsys):
    rows = cli_json(
        capsys, "family", "efficientnet-b0", "--table", "efficientnet", "--phis", "0-7", "--json"
    )
    keys = "name phi width_mult depth_mult resolution params flops flop_ratio nominal_flop_ratio"
    # The table's own base also gets the published parameter count of each member.
    keys += " reference_params"
    assert len(rows) == 8 and all(set(row) == set(keys.split()) for row in rows)
    assert all(row["reference_params"] == row["params"] for row in rows)
    assert [r["name"] for r in rows] == [f"efficientnet-b{i}" for i in range(8)]
    assert [r["phi"] for r in rows] == list(range(8))
    assert [r["resolution"] for r in rows] == [224, 240, 260, 300, 380, 456, 528, 600]
    assert [r["params"] for r in rows] == [
        5288548, 7794184, 9109994, 12233232, 19341616, 30389784, 43040704, 66347960,
    ]  # fmt: skip
    assert rows[0]["flop_ratio"] == 1.0 and rows[0]["flops"] == B0_FLOPS


def test_family_from_coefficients_by_the_papers_arithmetic(capsys):
    rows = cli_json(
        capsys, "family", "efficientnet-b0", "--coefficients", COEFFS, "--phis", "0-3",
        "--match", "nominal", "--json",
    )  # fmt: skip
    assert [r["phi"] for r in rows] == [0, 1, 2, 3]
    for phi, row in enumerate(rows):
        assert row["nominal_flop_ratio"] == pytest.approx(1.92**phi, rel=1e-3)
        assert row["depth_mult"] == pytest.approx(1.2**phi, rel=1e-6)
        assert row["width_mult"] == pytest.approx(1.1**phi, rel=1e-6)
    flops = [r["flops"] for r in rows]
    assert flops == sorted(set(flops)) and flops[0] == B0_FLOPS


def test_matched_family_members_cost_two_to_the_phi(capsys, tmp_path):
    # Matched is the default, as in `cnas coefficients` and `scaling-curves`.
    out = tmp_path / "fam"
    rows = cli_json(
        capsys, "family", "efficientnet-b0", "--coefficients", COEFFS, "--phis", "0-3",
        "--out", str(out), "--json",
    )  # fmt: skip
    assert rows[0]["flops"] == B0_FLOPS
    for phi, row in enumerate(rows):
        assert abs(row["flop_ratio"] / 2**phi - 1) <= 0.03, row
        assert row["nominal_flop_ratio"] == pytest.approx(1.92**phi, rel=1e-3)
        spec = NetworkSpec.load(out / f"{row['name']}.json")
        assert (count_params(spec), count_flops(spec)) == (row["params"], row["flops"])
        assert spec.resolution == row["resolution"] >= 224  # never below the backbone
    nominal = cli_json(
        capsys, "family", "efficientnet-b0", "--coefficients", COEFFS, "--phis", "3",
        "--match", "nominal", "--json",
    )  # fmt: skip
    assert abs(nominal[0]["flop_ratio"] / 8 - 1) > 0.03  # what matching is for


def test_family_lite_table(capsys):
    rows = cli_json(capsys, "family", "efficientnet-lite0", "--table", "lite", "--json")
    assert [r["resolution"] for r in rows] == [224, 240, 260, 280, 300]
    assert rows[0]["params"] == 4652008


def test_family_out_dir_and_csv(capsys, tmp_path):
    out, csv_path = tmp_path / "out" / "b", tmp_path / "table.csv"
    rows = cli_json(
        capsys, "family", "efficientnet-b0", "--coefficients", COEFFS, "--phis", "0-2",
        "--out", str(out), "--csv", str(csv_path), "--json",
    )  # fmt: skip
    written = sorted(p.name for p in out.iterdir())
    # commands.jsonl: the command line, for `cnas report`.
    expected = [*(f"{row['name']}.json" for row in rows), "family.csv", "family.png"]
    assert written == sorted([*expected, "commands.jsonl"])
    assert (out / "family.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "reference_params" not in rows[0]  # only a table's own base has published counts
    for row in rows:
        spec = NetworkSpec.load(out / f"{row['name']}.json")
        assert (spec.name, spec.resolution) == (row["name"], row["resolution"])
        assert (count_params(spec), count_flops(spec)) == (row["params"], row["flops"])
    for table in (out / "family.csv", csv_path):
        with table.open(newline="", encoding="utf-8") as handle:
            read = list(csv.DictReader(handle))
        assert read == [{key: str(value) for key, value in row.items()} for row in rows]


def test_family_text_output_mentions_out_dir(capsys, tmp_path):
    code, out, err = cli(capsys, "family", "efficientnet-b0", "--table", "efficientnet",
                         "--phis", "0,1", "--out", str(tmp_path / "o"))  # fmt: skip
    assert (code, err) == (0, "")
    assert "efficientnet-b1" in out and "wrote 2 spec files" in out


FAMILY = ["family", "efficientnet-b0"]
SPEC = ["count", "{tmp}/spec.json"]
COUNT_B0 = ["count", "efficientnet-b0"]
COMPOUND = [*FAMILY, "--coefficients", COEFFS]
LITE = [*FAMILY, "--table", "lite"]
WRITES = ["--out", "{tmp}/out", "--csv", "{tmp}/fam.csv"]
BAD_INPUTS = {
    "unknown-preset": (["count", "no-such-net"], None, "known presets: efficientnet-b0"),
    "missing-file": (["count", "{tmp}/missing.json"], None, "does not exist"),
    "invalid-json": (SPEC, "{not json", "not valid json"),
    "even-kernel": (SPEC, spec_json("r1_k4_s11_e1_i32_o16"), "odd"),
    "stride-3": (SPEC, spec_json("r1_k3_s33_e1_i32_o16"), "stride"),
    "repeats-0": (SPEC, spec_json("r0_k3_s11_e1_i32_o16"), "repeats"),
    "channels-0": (SPEC, spec_json("r1_k3_s11_e1_i32_o0"), "channels"),
    "se-1.5": (SPEC, spec_json("r1_k3_s11_e1_i32_o16_se1.5"), "se ratio"),
    "bad-field": (SPEC, spec_json("r1_k3_s11_ex_i32_o16"), "expand"),
    "unknown-key": (SPEC, spec_json("r1_k3_s11_e1_i32_o16", depth=2), "unknown spec key"),
    "bad-activation": (SPEC, spec_json("r1_k3_s11_e1_i32_o16", activation="gelu"), "activation"),
    "below-total-stride": ([*COUNT_B0, "--resolution", "16"], None, "total stride"),
    "resolution-0": ([*COUNT_B0, "--resolution", "0"], None, "whole number >= 1"),
    "two-coefficients": ([*FAMILY, "--coefficients", "1.2,1.1", *WRITES], None, "three numbers"),
    "coefficient-below-1": ([*FAMILY, "--coefficients", "1.2,0.9,1", *WRITES], None, "beta must"),
    "non-numeric-coefficients": (
        [*FAMILY, "--coefficients", "a,b,c", *WRITES],
        None,
        "must be numbers",
    ),
    "reversed-phis": ([*COMPOUND, "--phis", "5-2", *WRITES], None, "reversed"),
    "non-numeric-phis": ([*COMPOUND, "--phis", "x", *WRITES], None, "phis must be a range"),
    "table-phi-missing": ([*LITE, "--phis", "9", *WRITES], None, "no phi [9]"),
    "table-and-coefficients": ([*LITE, "--coefficients", COEFFS], None, "not allowed"),
    "no-rule": (FAMILY, None, "--table --coefficients-file --coefficients is required"),
    "table-matched": ([*LITE, "--match", "actual", *WRITES], None, "a table fixes sizes"),
    "match-tolerance-0": (
        [*COMPOUND, "--match", "actual", "--match-tolerance", "0", *WRITES],
        None,
        "expected a percentage such as 3 or 0.5%, got '0'",
    ),
    "match-tolerance-a-fraction": (
        [*COMPOUND, "--match-tolerance", "0.03", *WRITES],
        None,
        "tolerances are in percent: 0.03 would mean 0.03%; write 3 for 3%",
    ),
    "member-unmatchable": (
        [*COMPOUND, "--phis", "0-1", "--match", "actual", "--match-tolerance", "1e-7%", *WRITES],
        None,
        "phi 1 cannot be matched to 2x the FLOPs",
    ),
    "resnet-matched": (
        ["family", "resnet18", "--coefficients", COEFFS, "--match", "actual", *WRITES],
        None,
        "--match actual works for spec backbones",
    ),
    "resnet-verified": (
        ["family", "resnet18", "--coefficients", COEFFS, "--verify", *WRITES],
        None,
        "--verify checks a spec's analytic counts",
    ),
    "out-is-a-file": ([*LITE, "--out", "{tmp}/taken"], None, "is a file"),
    "csv-dir-missing": ([*LITE, *WRITES[:2], "--csv", "{tmp}/no/f.csv"], None, "does not exist"),
}


@pytest.mark.parametrize(("argv", "spec_text", "phrase"), BAD_INPUTS.values(), ids=BAD_INPUTS)
def test_bad_input_is_one_line_exit_2(capsys, tmp_path, argv, spec_text, phrase):
    if spec_text is not None:
        (tmp_path / "spec.json").write_text(spec_text, encoding="utf-8")
    (tmp_path / "taken").write_text("a file, not a directory\n", encoding="utf-8")
    before = sorted(tmp_path.rglob("*"))
    code, out, err = cli(capsys, *(arg.format(tmp=tmp_path) for arg in argv))
    assert code == 2
    assert out == ""
    assert err.startswith("cnas") and err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert phrase.lower() in err.lower()
    assert sorted(tmp_path.rglob("*")) == before  # errors leave nothing behind


@pytest.mark.subprocess
def test_installed_cnas_executable(tmp_path):
    cnas = Path(sys.executable).with_name("cnas")
    command = [str(cnas)] if cnas.exists() else [sys.executable, "-m", "experiments.cli"]
    good = subprocess.run(
        [*command, "count", "efficientnet-b0", "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert (good.returncode, good.stderr) == (0, "")
    assert json.loads(good.stdout)["params"] == B0_PARAMS
    bad = subprocess.run(
        [*command, "count", str(tmp_path / "missing.json")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert (bad.returncode, bad.stdout) == (2, "")
    assert "Traceback" not in bad.stderr and bad.stderr.count("\n") == 1
    assert "does not exist" in bad.stderr


def test_family_whole_table_ends_with_l2(capsys):
    rows = cli_json(capsys, "family", "efficientnet-b0", "--table", "efficientnet", "--json")
    assert rows[-1]["name"] == "efficientnet-l2" and rows[-1]["phi"] is None
    assert all(math.isfinite(r["flop_ratio"]) for r in rows)


def test_family_from_a_coefficients_file(capsys, tmp_path):
    path = tmp_path / "coefficients.json"
    path.write_text(json.dumps({"alpha": 1.2, "beta": 1.1, "gamma": 1.15}))
    from_file = cli_json(
        capsys, "family", "efficientnet-b0", "--coefficients-file", str(path), "--json"
    )
    inline = cli_json(capsys, "family", "efficientnet-b0", "--coefficients", COEFFS, "--json")
    assert from_file == inline and len(from_file) == 8


TOY_MODULE = """
from torch import nn

def toy(width_mult, depth_mult, num_classes):
    width = round(8 * width_mult)
    layers = [nn.Conv2d(3, width, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*layers, nn.Linear(width, num_classes))

toy.base_resolution = 32
"""


def test_family_of_a_module_backbone_counts_each_member_with_fvcore(capsys, tmp_path, monkeypatch):
    (tmp_path / "cnas_family_toy.py").write_text(TOY_MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "cnas_family_toy", raising=False)
    out = tmp_path / "fam"
    argv = ["family", "cnas_family_toy:toy", "--coefficients", COEFFS, "--phis", "0-2"]
    code, stdout, stderr = cli(capsys, *argv, "--match-flops", "--json", "--out", str(out))
    rows = json.loads(stdout)  # progress goes to stderr, one line a member
    assert code == 0 and stderr.count("counting toy-phi") == 3
    assert [row["name"] for row in rows] == [f"toy-phi{phi}" for phi in range(3)]
    for row in rows:
        width = round(8 * row["width_mult"])
        # conv 3x3 from 3 channels ("same" padding) + linear to 1000 classes, by hand
        assert row["flops"] == 27 * width * row["resolution"] ** 2 + 1000 * width
        assert row["flops_source"] == "fvcore conv+linear"
        assert row["resolution"] % 4 == 0
    assert rows[0]["resolution"] == 32
    assert rows[2]["flop_ratio"] == pytest.approx(4.0, rel=0.1)
    assert sorted(p.name for p in out.iterdir()) == ["commands.jsonl", "family.csv", "family.png"]
    code, _, err = cli(capsys, *argv, "--table", "efficientnet")
    assert code == 2 and "not allowed with argument" in err


def test_version_names_the_installed_release(capsys):
    import importlib.metadata

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"cnas {importlib.metadata.version('compound-nas')}"


def test_count_memory_gives_the_peak_and_where_and_verify_measures_it(capsys):
    doc = cli_json(capsys, "count", "efficientnet-b0", "--memory", "--by-part", "--json")
    # Stage 1's first expansion at 112 px: 96 channels, conv output and bn output alive.
    memory = doc["peak_memory"]
    assert memory["float32_bytes"] == 2 * 96 * 112 * 112 * 4 == 4 * memory["int8_bytes"]
    assert (memory["part"], memory["operation"]) == ("stage 1 block 0", "bn")
    assert max(p["peak_memory_bytes"] for p in doc["parts"]) == memory["float32_bytes"]
    checked = cli_json(
        capsys, "count", "mnasnet-a1", "--memory", "--verify", "--resolution", "64", "--json"
    )
    assert checked["match"] and checked["peak_memory"]["match"]
    assert (
        checked["peak_memory"]["measured_float32_bytes"] == checked["peak_memory"]["float32_bytes"]
    )

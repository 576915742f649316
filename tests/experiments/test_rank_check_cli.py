"""`cnas rank-check` end to end on digits made small: files, JSON, resumption, bad input."""

from __future__ import annotations

import csv
import json

import pytest

SMALL = [
    *("--networks", "3", "--resolution", "16", "--width-mult", "0.5", "--depth-mult", "0.5"),
    *("--max-samples", "200", "--epochs", "1", "--reference-epochs", "1"),
    *("--reference-samples", "200", "--threads", "1", "--no-progress"),
]


def test_rank_check_writes_every_score_and_continues(cnas, tmp_path):
    out = tmp_path / "rc"
    code, stdout, stderr = cnas("rank-check", *SMALL, "--json", "--out", str(out))
    assert (code, stderr) == (0, "")
    summary = json.loads(stdout)
    assert set(summary["correlations"]) == {
        *("proxy", "tse", "synflow", "naswot", "flops", "params")
    }
    assert summary["trials"] == {"complete": 3} and summary["verdict"]
    assert summary["reference"] == "1 epoch on 160 images"
    with (out / "rank_check.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3 and all(0 <= float(r["reference_accuracy"]) <= 1 for r in rows)
    assert all(float(r["synflow"]) > 0 and r["naswot"] and r["proxy"] for r in rows)
    assert (out / "rank_check.png").read_bytes()[:4] == b"\x89PNG"
    # Again: nothing is retrained, the same numbers come back, in the text form too.
    code, stdout, _ = cnas("rank-check", *SMALL, "--out", str(out))
    assert code == 0 and "Kendall tau" in stdout and summary["verdict"] in stdout


@pytest.mark.parametrize(
    ("extra", "phrase"),
    [
        (["--scores", "proxy,magic"], "--scores takes names from proxy, synflow, naswot, supernet"),
        (["--networks", "2"], "networks must be a whole number >= 3"),
        (["--data", "cifar10"], "needs a data directory"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(cnas, tmp_path, extra, phrase):
    out = tmp_path / "rc"
    code, stdout, stderr = cnas("rank-check", *SMALL, *extra, "--out", str(out))
    assert (code, stdout) == (2, "") and len(stderr.splitlines()) == 1
    assert phrase in stderr and not out.exists()


def test_a_budget_on_all_images_is_read_as_no_subset():
    from experiments._rank_check_cmd import _proxy_budgets

    assert _proxy_budgets("1x600, 5xall") == [(1, 600), (5, None)]


def test_proxy_budgets_and_three_reference_seeds_with_the_ceiling(cnas, tmp_path):
    out = tmp_path / "rc"
    extra = ["--scores", "proxy", "--proxy-budgets", "2x100,1x300", "--reference-seeds", "3"]
    # --train-images shrinks the proxy alone (the 2x100 budget's 80 images could not give 100).
    extra += ["--train-images", "100"]
    code, stdout, stderr = cnas("rank-check", *SMALL, *extra, "--json", "--out", str(out))
    assert (code, stderr) == (0, "")
    summary = json.loads(stdout)
    assert summary["settings"]["proxy"] == "1 epoch on 100 images"
    assert set(summary["correlations"]) == {
        *("proxy", "tse", "proxy_2ep_100", "proxy_1ep_300", "flops", "params")
    }
    assert summary["settings"]["proxy_budgets"] == {
        "proxy_2ep_100": "2 epochs on 80 images",
        "proxy_1ep_300": "1 epoch on 240 images",
    }
    reliability = summary["reference_reliability"]
    assert (reliability["n"], reliability["runs"]) == (3, 3)
    assert summary["reference_repeatability"]["n"] == 3  # runs 0 and 1, as with 2 seeds
    with (out / "rank_check.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        runs = [float(row[f"reference_run{index}"]) for index in range(3)]
        assert float(row["reference_accuracy"]) == pytest.approx(sum(runs) / 3)
        assert float(row["tse"]) > 0  # a sum of 1 epoch's mean loss
    code, stdout, _ = cnas("rank-check", *SMALL, *extra, "--out", str(out))
    assert code == 0 and "(ceiling: a perfect score)" in stdout
    assert "(one reference run vs the rest)" in stdout
    # With two reference seeds there is no ceiling: the console shows run 0 against run 1.
    from experiments._rank_check_cmd import _render

    two_seeds = _render({**summary, "reference_reliability": None}, out)
    assert "(reference run 0 vs 1)" in two_seeds and "ceiling" not in two_seeds


@pytest.mark.parametrize("budgets", ["2", "0x100", "2xmany", "x100"])
def test_bad_proxy_budgets_are_one_line(cnas, tmp_path, budgets):
    code, _, stderr = cnas(
        "rank-check", *SMALL, "--proxy-budgets", budgets, "--out", str(tmp_path / "r")
    )
    assert code == 2 and "--proxy-budgets takes EPOCHSxSAMPLES" in stderr
    assert len(stderr.splitlines()) == 1 and not (tmp_path / "r").exists()


def test_the_supernet_is_ranked_with_its_one_off_training_counted(cnas, tmp_path):
    out = tmp_path / "rc"
    extra = ["--scores", "supernet", "--supernet-epochs", "1", "--json"]
    code, stdout, stderr = cnas("rank-check", *SMALL, *extra, "--out", str(out))
    assert (code, stderr) == (0, "")
    summary = json.loads(stdout)
    assert set(summary["correlations"]) == {"supernet", "flops", "params"}
    seconds = summary["seconds"]
    assert seconds["supernet"]["prepared"] > 0 and seconds["supernet"]["per_network"] > 0
    assert seconds["reference"]["prepared"] is None
    assert json.loads((out / "supernet.json").read_text())["epochs"] == 1
    with (out / "rank_check.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert all(0 <= float(r["supernet"]) <= 1 for r in rows)
    # Continued: the supernet is loaded, its training time still reported.
    stamp = (out / "supernet.safetensors").stat().st_mtime_ns
    code, stdout, _ = cnas("rank-check", *SMALL, *extra[:-1], "--out", str(out))
    assert code == 0 and "supernet" in stdout and "s once" in stdout
    assert (out / "supernet.safetensors").stat().st_mtime_ns == stamp

"""`cnas search --evaluator supernet`: trained once, reused, winners retrained alone."""

from __future__ import annotations

import csv
import json
from pathlib import Path

SMALL = "--resolution 16 --width-mult 0.5 --depth-mult 0.5 --max-samples 240 --no-progress"
SUPERNET = [
    *("--evaluator", "supernet", "--supernet-epochs", "1", "--epochs", "1"),
    *("--target-flops", "5M", "--backend", "local", "--json"),
    *SMALL.split(),
]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as file:
        return list(csv.DictReader(file))


def near(cost: float | str) -> bool:
    """Within 10% of the 5M target: where the baseline is chosen when any candidate is."""
    return 0.9 <= float(cost) / 5e6 <= 1.1


def best_alone(confirmed: list[dict]) -> dict:
    pool = [c for c in confirmed if near(c["cost"])] or confirmed
    return max(pool, key=lambda c: (c["standalone_reward"], -c["cost"]))


def test_a_supernet_search_retrains_its_winners_and_resumes_without_retraining(cnas, tmp_path):
    out = tmp_path / "run"
    code, stdout, stderr = cnas("search", *SUPERNET, "--trials", "8", "--out", str(out))
    assert (code, stderr) == (0, "")
    summary = json.loads(stdout)
    assert summary["evaluator"]["name"] == "supernet"
    assert summary["constraint"] == "soft"  # the supernet gives an accuracy
    confirmed = summary["confirmed"]
    assert len(confirmed) == 3
    # The three retrained are the three best rewards by the supernet, near the target first.
    rows = [r for r in read_csv(out / "trials.csv") if r["state"] == "complete"]
    by_reward = sorted(
        rows, key=lambda r: (not near(r["cost"]), -float(r["reward"]), float(r["cost"]))
    )
    assert [c["number"] for c in confirmed] == sorted(int(r["number"]) for r in by_reward[:3])
    alone = {int(r["number"]): r["standalone_accuracy"] for r in rows}
    assert sum(1 for v in alone.values() if v) == 3
    # The baseline is the best of them by stand-alone reward, whatever the supernet said.
    best = best_alone(confirmed)
    baseline = summary["baseline"]
    assert baseline["number"] == best["number"]
    assert baseline["standalone_accuracy"] == best["standalone_accuracy"]
    assert baseline["chosen_by"] == "stand-alone training of the top 3 by supernet"
    assert 0 <= baseline["standalone_accuracy"] <= 1
    # The retrained baseline's weights are kept: loaded into its spec, they score what
    # its stand-alone training reported, on the same validation images.
    from nas import load_data
    from nas.evaluate import accuracy_on
    from nas.models import build_model, read_weights
    from search_spaces import NetworkSpec

    spec = NetworkSpec.load(out / "baseline.json")
    model = build_model(spec)
    model.load_state_dict(read_weights(out / "baseline.safetensors"))
    data = load_data("digits", resolution=16, max_samples=240, seed=0)
    assert accuracy_on(model, data.valid) == baseline["standalone_accuracy"]
    assert sorted(p.name for p in (out / "confirmed").iterdir()) == sorted(
        f"trial-{c['number']}.safetensors" for c in confirmed
    )
    code, _, stderr = cnas("export", str(out / "baseline.json"), "--weights",
                           str(out / "baseline.safetensors"), "--out", str(tmp_path / "b.pt"),
                           "--format", "torchscript")  # fmt: skip
    assert (code, stderr) == (0, "")

    weights = out / "supernet.safetensors"
    stamp = weights.stat().st_mtime_ns
    code, stdout, stderr = cnas("search", *SUPERNET, "--trials", "10", "--out", str(out))
    assert (code, stderr) == (0, "")
    again = json.loads(stdout)
    assert weights.stat().st_mtime_ns == stamp  # loaded, not trained again
    assert again["trials"]["complete"] == 10
    kept = {c["number"]: c["seconds"] for c in again["confirmed"]}
    for entry in confirmed:  # confirmed before: kept, not retrained
        assert kept[entry["number"]] == entry["seconds"]


def test_a_damaged_supernet_in_the_run_dir_is_refused_not_retrained(cnas, tmp_path):
    out = tmp_path / "run"
    assert cnas("search", *SUPERNET, "--trials", "2", "--out", str(out))[0] == 0
    weights = out / "supernet.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    damaged = weights.read_bytes()
    code, stdout, stderr = cnas("search", *SUPERNET, "--trials", "3", "--out", str(out))
    assert code == 2 and stdout == ""
    assert stderr.startswith("cnas search: ") and "not a readable supernet" in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert weights.read_bytes() == damaged


def test_confirming_a_trained_search_at_its_own_budget_is_refused(cnas, tmp_path):
    argv = ["--target-flops", "5M", *SMALL.split(), "--confirm-top", "2", "--out", str(tmp_path)]
    for extra in ([], ["--confirm-epochs", "3"]):  # --epochs is 3
        code, stdout, stderr = cnas("search", *argv, *extra)
        assert code == 2 and stdout == ""
        assert "give --confirm-epochs above 3" in stderr and len(stderr.splitlines()) == 1
    code, _, stderr = cnas("search", *argv[:-4], "--confirm-epochs", "4", "--out", str(tmp_path))
    assert code == 2 and "give --confirm-top K" in stderr
    assert not any(tmp_path.iterdir())


def test_a_trained_search_retrains_its_winners_longer(cnas, tmp_path):
    argv = [*SMALL.split(), "--target-flops", "5M", "--epochs", "1", "--trials", "4"]
    argv += ["--backend", "local", "--json", "--confirm-top", "2", "--confirm-epochs", "3"]
    code, stdout, stderr = cnas("search", *argv, "--out", str(tmp_path))
    assert (code, stderr) == (0, "")
    summary = json.loads(stdout)
    confirmed = summary["confirmed"]
    assert len(confirmed) == 2
    identity = json.loads((tmp_path / "config.json").read_text())["identity"]
    assert identity["confirm"]["training"]["epochs"] == 3
    assert summary["baseline"]["number"] == best_alone(confirmed)["number"]
    assert summary["baseline"]["chosen_by"].startswith("stand-alone training of the top 2")


def test_a_space_the_supernet_cannot_hold_is_refused_before_anything_is_written(cnas, tmp_path):
    space = tmp_path / "space.json"
    # Fused-MBConv's full kxk conv shares no weights with a depthwise one.
    space.write_text(json.dumps({"convs": ["mbconv", "fused"]}))
    out = tmp_path / "run"
    code, stdout, stderr = cnas("search", *SUPERNET, "--space", str(space), "--out", str(out))
    assert code == 2 and stdout == ""
    assert '"convs": ["mbconv"]' in stderr and len(stderr.strip().splitlines()) == 1
    assert not out.exists()

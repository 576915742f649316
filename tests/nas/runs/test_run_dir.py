"""A run directory's recorded identity: read back, compared, and refused when damaged."""

import json

import pytest

from nas.runs import RunDirError, recorded_identity
from nas.runs._run_dir import check_run_dir, open_run_dir

IDENTITY = {"seed": 0, "evaluator": {"training": {"optimizer": "adamw", "epochs": 3}}}


def test_an_identity_is_recorded_read_back_and_compared(tmp_path):
    assert recorded_identity(tmp_path / "new") is None
    open_run_dir(tmp_path / "run", IDENTITY)
    assert recorded_identity(tmp_path / "run") == IDENTITY
    check_run_dir(tmp_path / "run", IDENTITY)  # the same run continues
    with pytest.raises(RunDirError, match=r"holds a different search \(seed 0 -> 1\)"):
        check_run_dir(tmp_path / "run", {**IDENTITY, "seed": 1})


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", json.dumps({"identity": [1]})])
def test_a_damaged_config_is_refused_by_the_check_and_unknown_to_the_reader(tmp_path, text):
    (tmp_path / "config.json").write_text(text)
    assert recorded_identity(tmp_path) is None  # no recipe to take from it
    with pytest.raises(RunDirError, match=r"config\.json is unreadable; use a new --out"):
        check_run_dir(tmp_path, IDENTITY)

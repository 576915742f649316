"""pyproject states ranges; the lock file pins every one of them to what was tested."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=~! ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_dependencies_are_ranges_and_the_lock_pins_each():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    assert not [r for r in wanted if "==" in r], "exact pins belong in requirements-lock.txt"
    lock = (ROOT / "requirements-lock.txt").read_text(encoding="utf-8").splitlines()
    pinned = {_name(line): line for line in lock if "==" in line}
    assert {_name(r) for r in wanted} <= set(pinned)


def test_requires_python_is_the_running_floor():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    floor = tuple(int(p) for p in project["requires-python"].removeprefix(">=").split("."))
    # datetime.UTC (3.11) is used; this interpreter must satisfy the floor it states.
    assert floor == (3, 11) and sys.version_info[:2] >= floor

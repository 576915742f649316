"""A run directory's identity: the settings a continued run must repeat.

``config.json`` records them when the run starts; a later run in the same directory
with other settings (data, epochs, target, space...) is refused before anything is
written, so a resumed study never mixes trials of two different runs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from search_spaces import InputError, write_text_atomic

__all__ = ["RunDirError", "check_run_dir", "open_run_dir", "recorded_identity"]


class RunDirError(InputError):
    """The run directory holds a different run, or cannot be used."""


def check_run_dir(run_dir: Path, identity: Mapping[str, Any]) -> None:
    """Refuse to continue a run directory that holds a different run."""
    path = run_dir / "config.json"
    if not path.exists():
        return
    recorded = _read_identity(path)
    # Compare as JSON reads it back: a tuple given now equals the list recorded then.
    identity = json.loads(json.dumps(dict(identity)))
    differs = sorted(
        key for key in set(recorded) | set(identity) if recorded.get(key) != identity.get(key)
    )
    if differs:
        details = ", ".join(
            f"{key} {recorded.get(key)!r} -> {identity.get(key)!r}" for key in differs
        )
        raise RunDirError(
            f"{run_dir} holds a different search ({details}); "
            "repeat its options to continue it, or use a new --out"
        )


def recorded_identity(run_dir: str | Path) -> dict[str, Any] | None:
    """The identity an earlier run recorded in ``run_dir``, or None (new or unreadable:
    the check that continues it says which)."""
    try:
        return _read_identity(Path(run_dir) / "config.json")
    except RunDirError:
        return None


def _read_identity(path: Path) -> dict[str, Any]:
    try:
        identity = json.loads(path.read_text(encoding="utf-8")).get("identity", {})
    except (OSError, json.JSONDecodeError, AttributeError):
        raise RunDirError(f"{path} is unreadable; use a new --out directory") from None
    if not isinstance(identity, dict):
        raise RunDirError(f"{path} is unreadable; use a new --out directory")
    return identity


def open_run_dir(run_dir: Path, identity: Mapping[str, Any]) -> None:
    """Create ``run_dir`` and record ``identity``, after checking it matches an earlier run."""
    check_run_dir(run_dir, identity)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "config.json"
    if not path.exists():
        write_text_atomic(path, json.dumps({"identity": dict(identity)}, indent=2) + "\n")

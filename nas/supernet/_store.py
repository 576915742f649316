"""A trained supernet in a run directory: saved once, reused when the run continues.

The file holds the weights and the identity they were trained under (space, data,
schedule, seed). Loading checks both: a file from another run, a changed setting or a
damaged file is refused with a one-line error naming the file, never silently trained
over, since that would change the scores of trials already in the study.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from nas.supernet._supernet import Supernet, SupernetError
from search_spaces import MBConvSpace, write_atomic

__all__ = ["SUPERNET_FILE", "load_supernet", "save_supernet"]

SUPERNET_FILE = "supernet.pt"
_FORMAT = 1


def _canonical(identity: dict[str, Any]) -> str:
    return json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)


def save_supernet(
    supernet: Supernet, path: str | os.PathLike[str], identity: dict[str, Any]
) -> None:
    """Write the weights and their identity to ``path`` atomically."""
    payload = {
        "format": _FORMAT,
        "identity": _canonical(identity),
        "state": supernet.state_dict(),
    }
    write_atomic(path, lambda tmp: torch.save(payload, tmp))


def load_supernet(
    path: str | os.PathLike[str], space: MBConvSpace, identity: dict[str, Any]
) -> Supernet:
    """The supernet saved at ``path``, if it was trained for ``space`` under ``identity``."""
    path = Path(path)
    try:
        # weights_only: a run directory may come from someone else; load no code from it.
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise SupernetError(f"no supernet at {path}") from None
    except Exception as error:  # a truncated or foreign file: torch raises many kinds
        raise SupernetError(
            f"{path} is not a readable supernet ({type(error).__name__}); delete it to train "
            "a new one, or use another --out"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise SupernetError(
            f"{path} is not a supernet file of this version; delete it or use another --out"
        )
    if payload.get("identity") != _canonical(identity):
        raise SupernetError(
            f"{path} was trained for another space, data or schedule than this run asks for; "
            "use the original options, or another --out"
        )
    supernet = Supernet(space)
    try:
        supernet.load_state_dict(payload["state"])
    except (RuntimeError, KeyError, TypeError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise SupernetError(f"{path} does not fit this space's supernet: {first[:200]}") from None
    return supernet

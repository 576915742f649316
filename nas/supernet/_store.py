"""A trained supernet in a run directory: saved once, reused when the run continues.

The file (safetensors) holds the weights, and in its metadata the identity they were
trained under (space, data, schedule, seed). Loading checks both: a file from another
run, a changed setting or a damaged file is refused with a one-line error naming the
file, never silently trained over, since that would change the scores of trials already
in the study. Run directories from before safetensors hold ``supernet.pt`` (tensors
only, read without running code); they load as they did.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nas.supernet._supernet import SupernetError
from search_spaces import MBConvSpace, write_atomic

__all__ = ["LEGACY_SUPERNET_FILE", "SUPERNET_FILE", "load_supernet", "save_supernet"]

SUPERNET_FILE = "supernet.safetensors"
LEGACY_SUPERNET_FILE = "supernet.pt"  # written before safetensors: read, never written
_FORMAT = 2
_LEGACY_FORMAT = 1


def _canonical(identity: dict[str, Any]) -> str:
    return json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)


def save_supernet(
    supernet: nn.Module, path: str | os.PathLike[str], identity: dict[str, Any]
) -> None:
    """Write the weights and their identity to ``path`` (safetensors) atomically."""
    from safetensors.torch import save_file

    # Copies: safetensors refuses tensors that share memory, as sliced views may.
    state = {
        name: tensor.detach().clone().contiguous() for name, tensor in supernet.state_dict().items()
    }
    metadata = {"format": str(_FORMAT), "identity": _canonical(identity)}
    write_atomic(path, lambda tmp: save_file(state, str(tmp), metadata=metadata))


def load_supernet(
    path: str | os.PathLike[str],
    space: MBConvSpace,
    identity: dict[str, Any],
    *,
    split_by: str | None = None,
) -> Any:
    """The supernet saved at ``path``, if it was trained for ``space`` under ``identity``
    (a ``FewShotSupernet`` split by ``split_by`` where one is given)."""
    from nas.supernet._few_shot import make_supernet

    path = Path(path)
    if not path.exists():
        raise SupernetError(f"no supernet at {path}")
    try:
        if path.suffix == ".safetensors":
            fmt, saved_identity, state = _read_safetensors(path)
        else:
            fmt, saved_identity, state = _read_legacy(path)
    except Exception as error:  # a truncated or foreign file: both readers raise many kinds
        raise SupernetError(
            f"{path} is not a readable supernet ({type(error).__name__}); delete it to train "
            "a new one, or use another --out"
        ) from None
    if fmt not in (_FORMAT, _LEGACY_FORMAT):
        raise SupernetError(
            f"{path} is not a supernet file of this version; delete it or use another --out"
        )
    if saved_identity != _canonical(identity):
        raise SupernetError(
            f"{path} was trained for another space, data or schedule than this run asks for; "
            "use the original options, or another --out"
        )
    supernet = make_supernet(space, split_by)
    try:
        supernet.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise SupernetError(f"{path} does not fit this space's supernet: {first[:200]}") from None
    return supernet


def _read_safetensors(path: Path) -> tuple[Any, Any, dict[str, torch.Tensor]]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as file:
        metadata = file.metadata() or {}
        state = {name: file.get_tensor(name) for name in file.keys()}  # noqa: SIM118
    fmt = int(metadata["format"]) if metadata.get("format", "").isdigit() else None
    return fmt, metadata.get("identity"), state


def _read_legacy(path: Path) -> tuple[Any, Any, Any]:
    # weights_only: a run directory may come from someone else; load no code from it.
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict):
        return None, None, None
    return payload.get("format"), payload.get("identity"), payload.get("state")

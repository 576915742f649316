"""A supernet's training, saved after every epoch, so a killed run resumes it.

A supernet trains for tens of minutes to hours on a CPU; a run killed in its last epoch
would otherwise start over. After each epoch the weights, the optimizer's and the
schedule's state and every random state are written (atomically) beside where the
trained supernet will go; a continued run picks the training up after the last finished
epoch and ends with the weights an unbroken one would have. The file carries the
identity the run trains under, and one from other settings is refused, never trained on.
It is read with ``weights_only`` (tensors and plain values: no code from a run directory
someone else wrote), and removed once the trained supernet is saved.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from nas.supernet._supernet import SupernetError
from search_spaces import write_atomic

__all__ = ["TrainingCheckpoint", "random_state", "set_random_state"]

_FORMAT = 1


@dataclass(frozen=True)
class TrainingCheckpoint:
    """Where one supernet's training state goes, and the identity it must match."""

    path: Path
    identity: dict[str, Any]

    @property
    def _identity_text(self) -> str:
        return json.dumps(self.identity, sort_keys=True, separators=(",", ":"), default=str)

    def part(self, index: int) -> TrainingCheckpoint:
        """The checkpoint of one sub-supernet of a few-shot supernet."""
        path = self.path.with_name(f"{self.path.stem}.part{index}{self.path.suffix}")
        return TrainingCheckpoint(path, {**self.identity, "part": index})

    def load(self) -> dict[str, Any] | None:
        """The saved state, or None where no training was saved; one line if unusable."""
        if not self.path.exists():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as error:  # a truncated or foreign file raises many kinds
            raise SupernetError(
                f"{self.path} is not a readable supernet checkpoint ({type(error).__name__}); "
                "delete it to train the supernet from the start"
            ) from None
        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            raise SupernetError(
                f"{self.path} is not a supernet checkpoint of this version; delete it to "
                "train the supernet from the start"
            )
        if state.get("identity") != self._identity_text:
            raise SupernetError(
                f"{self.path} is a training under other settings than this run asks for; "
                "use the original options, or delete it to train from the start"
            )
        return state

    def save(self, **state: Any) -> None:
        payload = {"format": _FORMAT, "identity": self._identity_text, **state}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, lambda tmp: torch.save(payload, tmp))

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def random_state(rng: random.Random) -> list[Any]:
    """``rng``'s state as plain lists (what a weights-only load accepts)."""
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def set_random_state(rng: random.Random, state: list[Any]) -> None:
    version, internal, gauss = state
    rng.setstate((version, tuple(internal), gauss))

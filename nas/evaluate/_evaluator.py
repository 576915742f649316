"""The one small interface every evaluator sits behind.

A search strategy never sees a model: it proposes specs and reads back an
``Evaluation``. Evaluators (proxy training, zero-cost proxies, ...) implement
``Evaluator.evaluate``; the search records whatever they return.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from search_spaces import NetworkSpec

__all__ = ["Evaluation", "Evaluator", "ProgressCallback", "TrialError"]

# Called after each epoch with (epoch, validation accuracy); may raise to stop early.
ProgressCallback = Callable[[int, float], None]


class TrialError(RuntimeError):
    """A candidate could not be evaluated (NaN loss, ...); the trial is recorded as failed."""


@dataclass(frozen=True)
class Evaluation:
    accuracy: float  # higher is better: validation accuracy in [0, 1], or a proxy score
    metrics: Mapping[str, float] = field(default_factory=dict)  # extras: loss, seconds, ...


class Evaluator(ABC):
    """Scores one candidate spec. Implementations must be deterministic given ``seed``."""

    name: str = "evaluator"
    #: True when ``accuracy`` is a real accuracy in [0, 1]; False for a score that only ranks
    #: candidates (a zero-cost proxy): a search must not multiply it by a cost term, and no
    #: report may call it an accuracy.
    gives_accuracy: bool = True
    #: what reports call the value (an axis label, a column's meaning)
    score_label: str = "validation accuracy"
    #: winners a search retrains alone by default before trusting this evaluator's choice:
    #: 0 for stand-alone training, more for scores that rank roughly (shared weights)
    confirm_top: int = 0
    #: seconds ``prepare`` spent on work shared by all candidates (by the run that did it,
    #: when a continued run reused it); None when it shares nothing
    prepared_seconds: float | None = None
    #: epochs ``evaluate`` trains for when it runs to the end (``progress`` is then called
    #: for the last time with this epoch); None when it does not train by epochs
    planned_epochs: int | None = None

    @abstractmethod
    def evaluate(
        self, spec: NetworkSpec, *, seed: int, progress: ProgressCallback | None = None
    ) -> Evaluation:
        """Evaluate ``spec``; raise ``TrialError`` when the candidate itself fails."""

    def prepare(self, run_dir: Path) -> None:  # noqa: B027 - optional hook
        """Called once before a run's first trial, after its run directory is checked.

        Where an evaluator shares work across candidates (a supernet it trains once), it
        does it here, and keeps it in ``run_dir`` so a continued run reuses it.
        """

    def identity(self) -> dict[str, Any]:
        """What changes this evaluator's scores, as JSON-ready data.

        A run records it, and a continued run must give the same, so scores taken
        under other data or settings never land in one study.
        """
        return {"evaluator": self.name}

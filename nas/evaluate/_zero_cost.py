"""SynFlow: a data-free, training-free score for ranking candidate networks.

SynFlow (Tanaka et al. 2020, "Pruning neural networks without any data by iteratively
conserving synaptic flow") sums ``|theta * dR/dtheta|`` over all parameters, where ``R``
is the output of the network with every weight replaced by its absolute value, fed an
all-ones input. Abdelfattah et al. 2021 ("Zero-Cost Proxies for Lightweight NAS") found
it the best single zero-cost proxy for ranking architectures; it costs one forward and
one backward pass instead of training.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch

from nas.evaluate._evaluator import Evaluation, Evaluator, ProgressCallback, TrialError
from nas.models import build_model
from search_spaces import NetworkSpec, is_int

__all__ = ["SynflowEvaluator", "synflow_score"]


def synflow_score(spec: NetworkSpec, *, seed: int, batch_size: int = 1) -> float:
    """The raw SynFlow score of a freshly built model for ``spec`` (not its logarithm).

    The model is built with ``torch.manual_seed(seed)`` (the caller's RNG state is
    restored afterwards), cast to float64 because the score grows roughly geometrically
    with depth, and put in eval mode, so batch norm applies its initial running
    statistics (on a constant input, batch statistics would have zero variance and erase
    the signal) and dropout and stochastic depth are off. The input has shape
    ``(batch_size, in_channels, resolution, resolution)``; in eval mode the score is
    proportional to ``batch_size``.
    """
    if not is_int(batch_size) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(spec)
    model = model.double().eval()
    # Sign-linearisation: with all weights positive no path cancels another, so the
    # score measures the total "synaptic flow" through every parameter.
    with torch.no_grad():
        for param in model.parameters():
            param.abs_()
    image = torch.ones(
        batch_size, spec.in_channels, spec.resolution, spec.resolution, dtype=torch.float64
    )
    model(image).sum().backward()
    score = torch.zeros((), dtype=torch.float64)
    for param in model.parameters():
        if param.grad is not None:  # every parameter is used today; stay safe if one is not
            score += (param.detach() * param.grad).abs().sum()
    return float(score)


class SynflowEvaluator(Evaluator):
    """Zero-cost proxy: ``accuracy`` is ``log10`` of the SynFlow score, not an accuracy.

    Raw scores span hundreds of orders of magnitude (they grow roughly geometrically
    with depth), so the evaluation reports ``log10(score)`` both as ``accuracy`` (higher
    is better, as the search expects) and as ``metrics["synflow_log10"]``, with
    ``metrics["seconds"]`` the time taken. No data and no training are involved;
    ``progress`` is never called because there are no epochs.

    Compare scores only between networks with the same activation: with all-positive
    weights ReLU6 clips almost every unit at 6 (zero gradient), so ReLU6 networks score
    far lower than swish or ReLU ones of the same shape (and their scores grow far less
    with size).
    """

    name = "zero-cost"
    gives_accuracy = False
    score_label = "SynFlow score (log10; ranks candidates, not an accuracy)"

    def __init__(self, *, batch_size: int = 1) -> None:
        if not is_int(batch_size) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        self.batch_size = batch_size

    def identity(self) -> dict[str, Any]:
        return {"evaluator": self.name, "batch_size": self.batch_size}

    def evaluate(
        self, spec: NetworkSpec, *, seed: int, progress: ProgressCallback | None = None
    ) -> Evaluation:
        """Score ``spec``; raise ``TrialError`` if the score is not a finite positive number."""
        start = time.perf_counter()
        score = synflow_score(spec, seed=seed, batch_size=self.batch_size)
        if not math.isfinite(score) or score <= 0:
            raise TrialError(
                f"synflow score of {spec.name!r} is {score}, not a finite positive number: "
                "the network overflows float64 or passes no signal; use a smaller network "
                "or another evaluator"
            )
        log_score = math.log10(score)
        return Evaluation(
            accuracy=log_score,
            metrics={"synflow_log10": log_score, "seconds": time.perf_counter() - start},
        )

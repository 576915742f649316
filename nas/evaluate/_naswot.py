"""NASWOT: how differently a freshly initialised network's units respond to different images.

Mellor et al. 2021 ("Neural Architecture Search without Training", ICML) pass one
minibatch through an untrained network and record, for every image, which units of every
rectifier are active: a binary code. Networks whose codes keep images apart (a kernel
K_H[i, j] = units - Hamming(c_i, c_j) far from singular) tend to train to higher accuracy;
the score is log|det K_H|. Its first version (jacob_cov) is among the zero-cost proxies
Abdelfattah et al. 2021 compare with SynFlow. For SiLU, a unit counts as active where its
input is positive, the same cut a ReLU makes; the codes are taken on real data, unlike
SynFlow's all-ones input.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch
from torch import nn

from nas.data import DataSplits, first_images
from nas.evaluate._evaluator import Evaluation, Evaluator, ProgressCallback, TrialError
from nas.models import build_model
from search_spaces import NetworkSpec, is_int

__all__ = ["NaswotEvaluator", "naswot_score"]

_RECTIFIERS = (nn.ReLU, nn.ReLU6, nn.SiLU)


def naswot_score(model: nn.Module, images: torch.Tensor) -> float:
    """log|det K_H| of ``model`` on ``images`` (N, C, H, W); -inf if K_H is singular.

    Batch norm uses the batch's statistics (an untrained network's running statistics
    say nothing); dropout and stochastic depth are off, so the score is deterministic.
    """
    codes: list[torch.Tensor] = []

    def record(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        codes.append((inputs[0].detach().flatten(1) > 0).to(torch.float64))

    hooks = [
        m.register_forward_pre_hook(record) for m in model.modules() if isinstance(m, _RECTIFIERS)
    ]
    was_training = model.training
    model.eval()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.train()
    try:
        with torch.no_grad():
            model(images)
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    if not codes:
        raise TrialError("the network has no ReLU, ReLU6 or SiLU units for NASWOT to read")
    active = torch.cat(codes, dim=1)  # (N, units)
    # units - Hamming(a, b) = agreements = a.b + (1 - a).(1 - b)
    kernel = active @ active.T + (1 - active) @ (1 - active).T
    sign, logdet = torch.linalg.slogdet(kernel)
    return float(logdet) if float(sign) > 0 else -math.inf


class NaswotEvaluator(Evaluator):
    """Zero-cost proxy on real images: ``accuracy`` holds the NASWOT score, not an accuracy.

    One minibatch of ``batch_size`` training images (the first ones of ``data.train``,
    the same for every candidate) goes through each freshly built network, seeded.
    """

    name = "naswot"
    gives_accuracy = False
    score_label = "NASWOT score (log|K_H|; ranks candidates, not an accuracy)"

    def __init__(self, *, data: DataSplits, batch_size: int = 64) -> None:
        if not is_int(batch_size) or batch_size < 2:
            raise ValueError(f"batch_size must be an integer >= 2, got {batch_size!r}")
        self.data = data
        self.batch_size = batch_size

    def identity(self) -> dict[str, Any]:
        return {"evaluator": self.name, "data": self.data.identity(), "batch_size": self.batch_size}

    def evaluate(
        self, spec: NetworkSpec, *, seed: int, progress: ProgressCallback | None = None
    ) -> Evaluation:
        start = time.perf_counter()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = build_model(spec)
        images = first_images(self.data.train, self.batch_size)
        score = naswot_score(model, images)
        if not math.isfinite(score):
            raise TrialError(
                f"NASWOT kernel of {spec.name!r} is singular: two images share every unit's "
                "code; use a larger batch or another evaluator"
            )
        return Evaluation(
            accuracy=score, metrics={"naswot": score, "seconds": time.perf_counter() - start}
        )

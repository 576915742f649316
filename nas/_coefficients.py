"""Grid search of compound coefficients (alpha, beta, gamma) for any backbone.

EfficientNet's step 1 (arXiv 1905.11946, sec. 3.3): fix phi = 1, scale the
backbone by depth alpha, width beta and resolution gamma for every candidate
with alpha * beta^2 * gamma^2 ~= 2, evaluate each, keep the best. The grid
runs as an Optuna study with a GridSampler in the run directory, so it
resumes after a kill and several processes can share it. The unscaled
backbone and the paper's single-dimension baselines (depth, width or
resolution alone, at the same nominal FLOP budget) run beside the grid.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import torch
from optuna.trial import FrozenTrial
from torch import nn

from nas._backbones import Backbone
from nas._evaluation import Evaluation, TrialError
from nas._study import finished_count, mark_started, open_run_dir, quiet_optuna, recover_interrupted
from scaling import CompoundCoefficients
from scaling._grid import coefficient_grid, filter_by_actual_ratio, single_dimension_baselines
from search_spaces import InputError, round_resolution

__all__ = [
    "Candidate",
    "CandidateEvaluator",
    "CoefficientConfig",
    "RepeatChannels",
    "build_candidates",
    "run_coefficient_search",
]

logger = logging.getLogger(__name__)

STUDY_NAME = "cnas-coefficients"

# evaluate(build, resolution=, name=, seed=) -> Evaluation: trains what build() makes on
# data at that resolution. The CLI passes proxy training; tests pass something fast.
CandidateEvaluator = Callable[..., Evaluation]


class RepeatChannels(nn.Module):
    """Grayscale to RGB for backbones that take three channels: (N, 1, R, R) -> (N, c, R, R)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.expand(-1, self.channels, -1, -1)


@dataclass(frozen=True)
class CoefficientConfig:
    step: float = 0.05  # grid spacing of alpha, beta and gamma
    low: float = 1.0
    high: float = 2.0
    base: float = 2.0  # alpha * beta^2 * gamma^2 should be about this
    tolerance: float = 0.1  # how far from base a candidate may be
    filter_actual: bool = False  # apply the tolerance to the FLOP ratio after rounding instead
    resolution: int = 224  # the backbone's input size at phi = 0
    # Proxy resolutions are small (16-32 px), where multiples of 4 would swamp gamma.
    resolution_divisor: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        if (
            isinstance(self.resolution, bool)
            or not isinstance(self.resolution, int)
            or self.resolution < 1
        ):
            raise InputError(f"resolution must be a whole number >= 1, got {self.resolution!r}")

    def identity(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.__dataclass_fields__}


@dataclass(frozen=True)
class Candidate:
    kind: str  # "base", "compound", or a single dimension: "depth", "width", "resolution"
    coefficients: CompoundCoefficients
    resolution: int

    @property
    def label(self) -> str:
        c = self.coefficients
        return f"{self.kind}({c.alpha:g},{c.beta:g},{c.gamma:g})"


def _candidate(
    kind: str, coefficients: CompoundCoefficients, config: CoefficientConfig
) -> Candidate:
    resolution = round_resolution(config.resolution * coefficients.gamma, config.resolution_divisor)
    return Candidate(kind, coefficients, resolution)


def build_candidates(
    config: CoefficientConfig, actual_ratio: Callable[[Candidate], float]
) -> tuple[Candidate, ...]:
    """The unscaled backbone, the single-dimension baselines, then the grid."""
    grid = coefficient_grid(
        step=config.step,
        low=config.low,
        high=config.high,
        base=config.base,
        tolerance=config.tolerance,
    )
    if config.filter_actual:
        grid = filter_by_actual_ratio(
            grid,
            lambda c: actual_ratio(_candidate("compound", c, config)),
            base=config.base,
            tolerance=config.tolerance,
        )
    extra = [_candidate("base", CompoundCoefficients(1.0, 1.0, 1.0), config)]
    extra += [
        _candidate(kind, c, config) for kind, c in single_dimension_baselines(config.base).items()
    ]
    return (*extra, *(_candidate("compound", c, config) for c in grid))


class _Objective:
    def __init__(
        self,
        *,
        backbone: Backbone,
        candidates: Sequence[Candidate],
        evaluate: CandidateEvaluator,
        config: CoefficientConfig,
        num_classes: int,
        in_channels: int,
    ) -> None:
        self.backbone = backbone
        self.candidates = candidates
        self.evaluate = evaluate
        self.config = config
        self.shape = {"num_classes": num_classes, "in_channels": in_channels}
        self.base_flops = self.flops(candidates[0])

    def flops(self, candidate: Candidate) -> int:
        c = candidate.coefficients
        return self.backbone.flops(
            width_mult=c.beta, depth_mult=c.alpha, resolution=candidate.resolution, **self.shape
        )

    def __call__(self, trial: optuna.Trial) -> float:
        started = time.perf_counter()
        mark_started(trial)
        index = trial.suggest_categorical("candidate", list(range(len(self.candidates))))
        candidate = self.candidates[index]
        c = candidate.coefficients
        flops = self.flops(candidate)
        trial.set_user_attr("kind", candidate.kind)
        for key, value in (("alpha", c.alpha), ("beta", c.beta), ("gamma", c.gamma)):
            trial.set_user_attr(key, value)
        trial.set_user_attr("resolution", candidate.resolution)
        trial.set_user_attr("flops", flops)
        trial.set_user_attr(
            "params", self.backbone.params(width_mult=c.beta, depth_mult=c.alpha, **self.shape)
        )
        trial.set_user_attr("nominal_ratio", c.flops_base)
        trial.set_user_attr("actual_ratio", flops / self.base_flops)
        try:
            evaluation = self.evaluate(
                lambda: self._build(candidate),
                resolution=candidate.resolution,
                name=f"{self.backbone.name}-{candidate.label}",
                seed=self.config.seed * 100_003 + index,
            )
            accuracy = float(evaluation.accuracy)
            if not math.isfinite(accuracy):
                raise TrialError(f"the evaluator returned a non-finite accuracy {accuracy}")
        except KeyboardInterrupt:
            trial.set_user_attr("interrupted", True)
            raise
        except Exception as error:
            message = f"{type(error).__name__}: {error}"
            trial.set_user_attr("error", message[:2000])
            logger.warning(
                "candidate %s failed: %s", candidate.label, message.splitlines()[0][:300]
            )
            raise
        finally:
            trial.set_user_attr("duration_s", round(time.perf_counter() - started, 3))
        trial.set_user_attr("accuracy", accuracy)
        return accuracy

    def _build(self, candidate: Candidate) -> nn.Module:
        c = candidate.coefficients
        return self.backbone.build(width_mult=c.beta, depth_mult=c.alpha, **self.shape)


def run_coefficient_search(
    *,
    backbone: Backbone,
    candidates: Sequence[Candidate],
    evaluate: CandidateEvaluator,
    config: CoefficientConfig,
    run_dir: str | os.PathLike[str],
    num_classes: int,
    in_channels: int,
    storage: str | None = None,
    identity_extra: Mapping[str, Any] | None = None,
    on_trial: Callable[[optuna.Study, FrozenTrial], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> optuna.Study:
    """Evaluate every candidate once (continuing a stored grid), and return the study."""
    run_dir = Path(run_dir)
    open_run_dir(
        run_dir, {**config.identity(), "backbone": backbone.name, **(identity_extra or {})}
    )
    storage_obj = optuna.storages.get_storage(
        storage or f"sqlite:///{(run_dir / 'study.db').resolve()}"
    )
    grid = {"candidate": list(range(len(candidates)))}
    with quiet_optuna():
        study = optuna.create_study(
            study_name=STUDY_NAME,
            storage=storage_obj,
            sampler=optuna.samplers.GridSampler(grid, seed=config.seed),
            direction="maximize",
            load_if_exists=True,
        )
        recover_interrupted(study, storage_obj, n_params=1)
        objective = _Objective(
            backbone=backbone,
            candidates=candidates,
            evaluate=evaluate,
            config=config,
            num_classes=num_classes,
            in_channels=in_channels,
        )
        finished = finished_count(study)
        if on_start is not None:
            on_start(finished)
        remaining = len(candidates) - finished
        if remaining > 0:
            callbacks = [on_trial] if on_trial is not None else []
            study.optimize(objective, n_trials=remaining, catch=(Exception,), callbacks=callbacks)
    return study

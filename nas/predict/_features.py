"""A spec as numbers a regression model can read: its cost, then each stage's choices."""

from __future__ import annotations

import math

import numpy as np

from search_spaces import NetworkSpec, count_flops, count_params

__all__ = ["COST_FEATURES", "FEATURES_PER_STAGE", "spec_features"]

COST_FEATURES = 2  # log FLOPs, log params: numbers; every later feature is a choice

# repeats, kernel, expansion, log output width, SE or not, shortcut or not, fused or not
FEATURES_PER_STAGE = 7


def spec_features(spec: NetworkSpec) -> np.ndarray:
    """log FLOPs, log params, and per stage its choices as numbers (ordinal where the
    choice is ordered, 0/1 where it is on or off), so that networks of one space, which
    share a stage count, give vectors of one length."""
    values = [math.log(count_flops(spec)), math.log(count_params(spec))]
    for stage in spec.stages:
        values += [
            stage.repeats,
            stage.kernel,
            stage.expand_ratio,
            math.log(stage.out_channels),
            1.0 if stage.se_ratio else 0.0,
            1.0 if stage.skip else 0.0,
            1.0 if stage.fused else 0.0,
        ]
    return np.asarray(values, dtype=float)

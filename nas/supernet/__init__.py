"""A weight-sharing supernet over an MBConv search space: train once, score many.

``Supernet`` holds the weights; ``train_supernet`` trains them with the sandwich rule;
``SupernetEvaluator`` scores a candidate by its inherited weights.
"""

from nas.supernet._supernet import StageBounds, Supernet, SupernetError, stage_bounds

__all__ = ["StageBounds", "Supernet", "SupernetError", "stage_bounds"]

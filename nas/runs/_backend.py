"""Where trials run when the user leaves it to us (``--backend auto``)."""

from __future__ import annotations

import os

__all__ = ["BACKENDS", "resolve_backend"]

BACKENDS = ("auto", "local", "ray")


def resolve_backend(
    requested: str, *, trials: int, cores: int | None = None, local_gpu: bool = False
) -> str:
    """``local`` or ``ray``: ``auto`` is Ray where parallel trials pay (several cores and
    trials), and local where a trial trains on this machine's GPU (one GPU, one trial)."""
    if requested not in BACKENDS:
        raise ValueError(f"unknown backend {requested!r}; choose {', '.join(BACKENDS)}")
    if requested != "auto":
        return requested
    if local_gpu:
        return "local"
    cores = (os.cpu_count() or 1) if cores is None else cores
    return "ray" if cores >= 2 and trials >= 2 else "local"

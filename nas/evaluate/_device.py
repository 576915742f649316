"""Which device a trial trains on, checked before a run writes anything."""

from __future__ import annotations

import re

from search_spaces import InputError

__all__ = ["training_device"]

_DEVICE = re.compile(r"cpu|cuda(:\d+)?")


def training_device(requested: str | None, *, gpus_per_trial: float = 0.0, on_ray: bool) -> str:
    """The device for ``--device`` (``cpu``, ``cuda``, ``cuda:N``; None: the default).

    On Ray, Ray gives each trial its GPU (``gpus_per_trial``) and the trial sees it as
    ``cuda``; a local run trains on the GPU it names, which must exist here.
    """
    if requested is not None and not _DEVICE.fullmatch(requested):
        raise InputError(f"--device takes cpu, cuda or cuda:N, got {requested!r}")
    if gpus_per_trial > 0:
        if requested == "cpu":
            raise InputError("--device cpu and --gpus-per-trial contradict: give one of them")
        if requested not in (None, "cuda"):
            raise InputError(
                f"--device {requested}: on Ray, Ray gives each trial its GPU; give --device cuda"
            )
        return "cuda"
    if requested in (None, "cpu"):
        return "cpu"
    if on_ray:
        raise InputError(
            f"--device {requested} on Ray needs --gpus-per-trial (e.g. 1), so that Ray gives "
            "each trial a GPU; or run here with --backend local"
        )
    import torch

    if not torch.cuda.is_available():
        raise InputError(
            f"--device {requested}: PyTorch {torch.__version__} sees no CUDA GPU here; "
            "leave --device out to train on the CPU"
        )
    count = torch.cuda.device_count()
    index = int(requested.partition(":")[2] or 0)
    if index >= count:
        raise InputError(
            f"--device {requested}: this machine has {count} CUDA GPU(s), "
            f"cuda:0 to cuda:{count - 1}"
        )
    return requested

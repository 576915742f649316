"""Data augmentation for proxy training, on whole batches of tensors already in memory.

Written by hand: torchvision's v2 transforms draw one random choice per call, so a batch
would share one crop, or be augmented image by image in Python at ~20x the cost; here a
batch of 64 takes one gather. Every draw comes from the trial's generator, so a seed
repeats its augmentations.

- ``flip``: mirror left-right with probability 1/2 (photos, clothes; never digits or
  letters, whose mirror image is another symbol or none).
- ``crop``: pad by 1/8 of the side with the mirrored border and take a random crop of the
  original size (4 px at 32 px: the CIFAR recipe of He et al. 2016).
- ``shift``: translate by up to 1/14 of the side (2 px at 28 px), filling with the
  border pixels (the background on digits and letters); no rotation, scaling or flip.
- ``auto``: ``flip`` and ``crop`` where mirroring keeps the label, else ``shift``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["AUGMENTATIONS", "augment_batch", "check_augmentations", "resolve_augmentations"]

AUGMENTATIONS: tuple[str, ...] = ("flip", "crop", "shift", "auto")


def check_augmentations(names: Sequence[str]) -> tuple[str, ...]:
    """``names`` as a tuple, refused in one line if one is unknown or repeated."""
    names = tuple(names)
    for name in names:
        if name not in AUGMENTATIONS:
            raise ValueError(
                f"unknown augmentation {name!r}: choose from {', '.join(AUGMENTATIONS)} (or none)"
            )
    if len(set(names)) != len(names):
        raise ValueError(f"augmentation repeated in {', '.join(names)}: name each once")
    if "auto" in names and len(names) > 1:
        raise ValueError("augmentation 'auto' picks the others itself: give it alone")
    return names


def resolve_augmentations(
    names: Sequence[str], *, mirror_safe: bool, data_name: str
) -> tuple[str, ...]:
    """The augmentations to apply on this data: ``auto`` resolved, ``flip`` refused where
    a mirrored image would change its label."""
    names = check_augmentations(names)
    if names == ("auto",):
        return ("flip", "crop") if mirror_safe else ("shift",)
    if "flip" in names and not mirror_safe:
        raise ValueError(
            f"augmentation 'flip' on {data_name!r}: a mirrored digit or letter is another "
            "symbol or none; use shift (or auto) instead"
        )
    return names


def augment_batch(
    images: torch.Tensor, names: Sequence[str], generator: torch.Generator
) -> torch.Tensor:
    """``images`` (N, C, H, W) with ``names`` applied, each image drawn independently."""
    if not names:
        return images
    out = images
    count, side = images.shape[0], images.shape[-1]
    if "flip" in names:
        mirror = torch.rand(count, generator=generator) < 0.5  # (N,)
        out = torch.where(mirror.view(-1, 1, 1, 1).to(out.device), out.flip(-1), out)
    if "crop" in names:
        out = _translate(out, max(1, round(side / 8)), "reflect", generator)
    if "shift" in names:
        out = _translate(out, max(1, round(side / 14)), "replicate", generator)
    return out.contiguous(memory_format=_layout(images))


def _translate(
    images: torch.Tensor, pad: int, mode: str, generator: torch.Generator
) -> torch.Tensor:
    """Each image moved by its own (dy, dx) in [-pad, pad], the gap filled by ``mode``."""
    count, channels, height, width = images.shape
    padded = F.pad(images, (pad, pad, pad, pad), mode=mode)  # (N, C, H+2p, W+2p)
    offsets = torch.randint(0, 2 * pad + 1, (2, count), generator=generator).to(images.device)
    rows = (offsets[0].view(-1, 1) + torch.arange(height, device=images.device)).view(
        count, 1, height, 1
    )
    cols = (offsets[1].view(-1, 1) + torch.arange(width, device=images.device)).view(
        count, 1, 1, width
    )
    # Gather rows, then columns: (N, C, H+2p, W+2p) -> (N, C, H, W+2p) -> (N, C, H, W).
    picked = padded.gather(2, rows.expand(count, channels, height, width + 2 * pad))
    return picked.gather(3, cols.expand(count, channels, height, width))


def _layout(images: torch.Tensor) -> torch.memory_format:
    if images.dim() == 4 and images.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    return torch.contiguous_format

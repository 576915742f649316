"""A split's images on the training device: float32 as loaded, or compact uint8.

Compact storage keeps each pixel as the byte it was read as and normalises a batch when
it is taken (``(u / 255 - mean) / std``, the very operations ``load_data`` applied), so
on data read as bytes at its own size (CIFAR-10, Fashion-MNIST, MNIST-format files) a
compact batch equals the float32 one bit for bit, in a quarter of the memory. Data that
was resized on loading (digits, any other resolution) is rounded to the nearest byte, an
error below 1/510 of the pixel range.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["DeviceImages"]


class DeviceImages:
    """Images held on ``device``; indexing gives normalised float32 batches in ``layout``."""

    def __init__(
        self,
        images: torch.Tensor,
        device: torch.device,
        layout: torch.memory_format,
        *,
        normalisation: tuple[Sequence[float], Sequence[float]] | None = None,
    ) -> None:
        """``normalisation`` (per-channel mean and std the images were normalised with)
        stores them compact; None keeps them float32 as given."""
        self.layout = layout
        self.compact = normalisation is not None
        if normalisation is None:
            self.stored = images.to(device).contiguous(memory_format=layout)
            return
        mean, std = (
            torch.tensor(values, dtype=torch.float32).view(1, -1, 1, 1) for values in normalisation
        )
        # Undo the normalisation on the host, one chunk at a time, so the float32 copy
        # never has to fit on the device.
        raw = [
            (chunk * std + mean).mul_(255).round_().clamp_(0, 255).to(torch.uint8)
            for chunk in images.split(4096)
        ]
        self.stored = torch.cat(raw).to(device).contiguous(memory_format=layout)
        self._mean, self._std = mean.to(device), std.to(device)

    def __len__(self) -> int:
        return len(self.stored)

    @property
    def nbytes(self) -> int:
        return self.stored.numel() * self.stored.element_size()

    def __getitem__(self, index: torch.Tensor | slice) -> torch.Tensor:
        batch = self.stored[index]
        if not self.compact:
            return batch
        normalised = (batch.float().div_(255.0) - self._mean) / self._std
        return normalised.contiguous(memory_format=self.layout)

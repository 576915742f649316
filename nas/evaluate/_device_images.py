"""A split's images on the training device: float32 as loaded, compact uint8, or
streamed from an image folder through a DataLoader.

Compact storage keeps each pixel as the byte it was read as and normalises a batch when
it is taken (``(u / 255 - mean) / std``, the very operations ``load_data`` applied), so
on data read as bytes at its own size (CIFAR-10, Fashion-MNIST, MNIST-format files) a
compact batch equals the float32 one bit for bit, in a quarter of the memory. Data that
was resized on loading (digits, any other resolution) is rounded to the nearest byte, an
error below 1/510 of the pixel range.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

__all__ = ["DeviceImages", "TrainBatches"]


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


class TrainBatches:
    """Where an epoch's (images, labels) batches come from, on the device, in ``layout``:
    a split held in memory (``DeviceImages``), or a streamed image folder read through a
    DataLoader with ``workers`` processes that decode while the device trains."""

    def __init__(
        self,
        dataset: Dataset,
        device: torch.device,
        layout: torch.memory_format,
        *,
        normalisation: tuple[Sequence[float], Sequence[float]] | None,
        compact: bool,
        workers: int,
    ) -> None:
        self.device, self.layout, self.workers = device, layout, workers
        self.streamed: Dataset | None = None
        if isinstance(dataset, TensorDataset):
            images, labels = dataset.tensors
            self.images = DeviceImages(
                images, device, layout, normalisation=normalisation if compact else None
            )
            self.labels = labels.to(device)
        else:
            self.streamed = dataset
        self.count = len(dataset)  # type: ignore[arg-type]

    def head(self, count: int) -> torch.Tensor:
        if self.streamed is None:
            return self.images[0:count]
        images = torch.stack([self.streamed[i][0] for i in range(count)])
        return images.to(self.device).contiguous(memory_format=self.layout)

    def epoch(
        self, order: list[torch.Tensor], side: int, resize: Callable[..., torch.Tensor]
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The batches of ``order`` at image side ``side`` (``resize(images, side, layout)``)."""
        if self.streamed is not None:
            yield from self._streamed_epoch(order, side, resize)
            return
        images: Any = self.images
        whole = not self.images.compact and side != self.images.stored.shape[-1]
        if whole:  # resized once per epoch, as the float32 path always was
            images = resize(self.images.stored, side, self.layout)
        for batch in order:
            batch = batch.to(self.device)
            taken = images[batch]
            if not whole and side != taken.shape[-1]:
                taken = resize(taken, side, self.layout)  # per image: as the whole set
            yield taken, self.labels[batch]

    def _streamed_epoch(
        self, order: list[torch.Tensor], side: int, resize: Callable[..., torch.Tensor]
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        loader = DataLoader(
            self.streamed,  # type: ignore[arg-type]
            batch_sampler=[batch.tolist() for batch in order],
            num_workers=self.workers,
            pin_memory=self.device.type == "cuda",
        )
        for images, labels in loader:
            images = images.to(self.device, non_blocking=True)
            taken = images.contiguous(memory_format=self.layout)
            if side != taken.shape[-1]:
                taken = resize(taken, side, self.layout)
            yield taken, labels.to(self.device, non_blocking=True)

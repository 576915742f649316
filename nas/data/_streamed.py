"""Image folders too large for memory: a split that decodes its images as they are taken.

``load_data`` keeps every split in memory as float32 while it fits ``memory_budget``;
an image folder above it becomes ``StreamedImages``, which reads, converts and resizes
each file when a batch asks for it (in DataLoader workers during training). It decodes
exactly as the in-memory path does and normalises with statistics computed the same
way, so on a folder small enough for both the two give the same batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, TensorDataset

__all__ = [
    "STATISTICS_IMAGES",
    "StreamedImages",
    "first_images",
    "imagefolder_transform",
    "is_streamed",
    "split_labels",
]

# Train images the normalisation of a streamed split is computed on (the first of the
# shuffled train split: a random sample). A folder with fewer uses all, as in memory.
STATISTICS_IMAGES = 2048


def imagefolder_transform(resolution: int) -> Any:
    """What every image of a folder goes through: RGB, resized, a [0, 1] float tensor."""
    from torchvision import transforms

    # Folders often mix grayscale, palette and RGBA files; the network expects 3 channels.
    return transforms.Compose(
        [
            transforms.Lambda(_rgb),
            transforms.Resize((resolution, resolution)),
            transforms.ToTensor(),
        ]
    )


def _rgb(image: Any) -> Any:  # module level: a worker process unpickles the transform
    return image.convert("RGB")


class StreamedImages(Dataset):
    """One split of an image folder: (normalised float32 image, label) per item, decoded
    when asked. Picklable (paths, labels and two small tensors), for DataLoader workers."""

    def __init__(
        self,
        paths: Sequence[str],
        labels: np.ndarray,
        resolution: int,
        normalisation: tuple[Sequence[float], Sequence[float]] | None = None,
    ) -> None:
        self.paths = list(paths)
        self.labels = torch.from_numpy(np.asarray(labels, dtype=np.int64))
        self.resolution = resolution
        self.normalisation = normalisation
        # Shaped once here, not per image: __getitem__ runs for every image of every epoch.
        self._scale = (
            None
            if normalisation is None
            else tuple(torch.tensor(v, dtype=torch.float32).view(-1, 1, 1) for v in normalisation)
        )
        self._transform: Any = None

    def __len__(self) -> int:
        return len(self.paths)

    def decode(self, index: int) -> torch.Tensor:
        """The image in [0, 1], as the in-memory path holds it before normalising."""
        from PIL import Image

        if self._transform is None:
            self._transform = imagefolder_transform(self.resolution)
        path = self.paths[index]
        try:
            with Image.open(path) as image:
                return self._transform(image)
        except OSError as exc:
            from nas.data._datasets import DataError

            raise DataError(
                f"cannot read image {path} ({exc}): remove or replace the file"
            ) from exc

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.decode(int(index))
        if self._scale is not None:
            mean, std = self._scale
            image = (image - mean) / std
        return image, self.labels[int(index)]

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_transform": None}


def is_streamed(dataset: Dataset) -> bool:
    return isinstance(dataset, StreamedImages)


def first_images(dataset: Dataset, count: int) -> torch.Tensor:
    """The first ``count`` images of a split as one tensor (in memory or decoded)."""
    if isinstance(dataset, TensorDataset):
        return dataset.tensors[0][:count]
    count = min(count, len(dataset))  # type: ignore[arg-type]
    return torch.stack([dataset[i][0] for i in range(count)])


def split_labels(dataset: Dataset) -> torch.Tensor:
    """Every label of a split, without decoding an image."""
    if isinstance(dataset, TensorDataset):
        return dataset.tensors[1]
    return dataset.labels  # type: ignore[attr-defined]


def subset_split(dataset: Dataset, indices: np.ndarray) -> Dataset:
    """The items ``indices`` of a split, held or streamed as the split is."""
    if isinstance(dataset, TensorDataset):
        chosen = torch.from_numpy(np.asarray(indices, dtype=np.int64))
        return TensorDataset(*(tensor[chosen] for tensor in dataset.tensors))
    streamed: StreamedImages = dataset  # type: ignore[assignment]
    return StreamedImages(
        [streamed.paths[int(i)] for i in indices],
        streamed.labels.numpy()[indices],
        streamed.resolution,
        streamed.normalisation,
    )

"""Data for proxy training, read from local files or a package that ships it; never downloaded."""

from nas.data._datasets import (
    DATASETS,
    DEFAULT_MEMORY_BUDGET,
    FASHION_MNIST_ROOT,
    DataError,
    DataSplits,
    fewer_train_images,
    is_mirror_safe,
    load_data,
)
from nas.data._streamed import StreamedImages, first_images, is_streamed, split_labels

__all__ = [
    "DATASETS",
    "DEFAULT_MEMORY_BUDGET",
    "FASHION_MNIST_ROOT",
    "DataError",
    "DataSplits",
    "StreamedImages",
    "fewer_train_images",
    "first_images",
    "is_mirror_safe",
    "is_streamed",
    "load_data",
    "split_labels",
]

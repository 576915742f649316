"""Data for proxy training, read from local files or a package that ships it; never downloaded."""

from nas.data._datasets import (
    DATASETS,
    FASHION_MNIST_ROOT,
    DataError,
    DataSplits,
    is_mirror_safe,
    load_data,
)

__all__ = [
    "DATASETS",
    "FASHION_MNIST_ROOT",
    "DataError",
    "DataSplits",
    "is_mirror_safe",
    "load_data",
]

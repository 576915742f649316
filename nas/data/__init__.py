"""Data for proxy training, read from local files or a package that ships it; never downloaded."""

from nas.data._datasets import DATASETS, DataError, DataSplits, load_data

__all__ = ["DATASETS", "DataError", "DataSplits", "load_data"]

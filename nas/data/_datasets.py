"""Dataset loading for proxy training during architecture search.

Search jobs run on machines without network access, so nothing here downloads: ``digits``
ships with scikit-learn; ``cifar10``, ``cifar100``, ``svhn``, ``mnist`` (IDX files) and
``imagefolder`` are read from a local ``root``.
Every dataset is loaded fully into tensors because proxy datasets are small; use
``max_samples`` to keep it that way for large pools.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import pickle
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import Dataset, TensorDataset

from nas.data._formats import FormatError, read_cifar100, read_svhn
from nas.data._idx import IdxError, find_idx_pair, read_idx
from nas.data._streamed import (
    STATISTICS_IMAGES,
    StreamedImages,
    imagefolder_transform,
    split_labels,
    subset_split,
)
from search_spaces import InputError, is_int

__all__ = [
    "DATASETS",
    "DEFAULT_MEMORY_BUDGET",
    "FASHION_MNIST_ROOT",
    "DataError",
    "DataSplits",
    "is_mirror_safe",
    "load_data",
]

logger = logging.getLogger(__name__)

DATASETS: tuple[str, ...] = (
    "digits", "fashion-mnist", "cifar10", "cifar100", "svhn", "mnist", "imagefolder",
)  # fmt: skip
# Where Debian's (and Ubuntu's) dataset-fashion-mnist package puts the IDX files.
FASHION_MNIST_ROOT = Path("/usr/share/datasets/fashion-mnist")
# A mirrored digit or letter is another symbol or none (a flipped 2 is no 2): these data
# sets are never flipped. Photos (cifar, image folders) and clothes mirror safely.
_MIRROR_SENSITIVE = frozenset({"digits", "mnist", "svhn"})

# What the two splits may take in memory as float32 before an image folder streams.
DEFAULT_MEMORY_BUDGET = 4 * 1024**3
_MIN_RESOLUTION = 8
_MIN_PER_SPLIT = 2  # a class with one valid sample gives a meaningless per-class accuracy
_CIFAR_DIR = "cifar-10-batches-py"
_CIFAR_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
# fmt: off
_CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                  "dog", "frog", "horse", "ship", "truck")
# fmt: on


class DataError(InputError):
    """Bad data input; the message says what is wrong and how to fix it (one line)."""


@dataclass(frozen=True)
class DataSplits:
    """Train/valid splits for proxy training, already resized and normalised.

    ``train`` and ``valid`` hold images as float32 ``(N, in_channels, resolution, resolution)``
    and labels as int64 ``(N,)`` (``TensorDataset``), or, for an image folder over the
    memory budget, decode them as they are taken (``StreamedImages``; ``streamed``). Both
    are normalised per channel with the train split's mean/std, so validation data never
    leaks into the statistics.
    """

    name: str
    train: Dataset
    valid: Dataset
    num_classes: int
    in_channels: int
    resolution: int
    # load_data's arguments (dataset, root, subset, split, seed): what made these splits.
    source: Mapping[str, Any] = field(default_factory=dict)
    # Per-channel (mean, std) of the train split in [0, 1] pixels, that both splits were
    # normalised with: what compact (uint8) storage on the device undoes and redoes.
    normalisation: tuple[tuple[float, ...], tuple[float, ...]] | None = None

    @property
    def streamed(self) -> bool:
        """Whether the splits decode their images when taken rather than hold them."""
        return isinstance(self.train, StreamedImages)

    @property
    def mirror_safe(self) -> bool:
        """Whether a horizontally flipped image keeps its label (photos, clothes; not
        digits, letters or house numbers)."""
        return is_mirror_safe(self.name)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Pickled with its tensors as numpy arrays, which Ray sends out of band: a trial
        # on Ray maps its node's one copy of the splits from the object store, read-only,
        # instead of unpickling a copy of its own. Plain pickle copies, as before.
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for split in ("train", "valid"):
            if isinstance(fields[split], TensorDataset):
                fields[split] = _Arrays(tuple(t.numpy() for t in fields[split].tensors))
        return (_rebuild_splits, (fields,))

    def identity(self) -> dict[str, Any]:
        """What a run must repeat to train on the same splits (JSON-ready)."""
        return {"name": self.name, "resolution": self.resolution, **self.source}


@dataclass(frozen=True)
class _Arrays:
    """A TensorDataset's tensors as numpy arrays, while pickled."""

    arrays: tuple[np.ndarray, ...]


def _rebuild_splits(fields: dict[str, Any]) -> DataSplits:
    for split in ("train", "valid"):
        if isinstance(fields[split], _Arrays):
            with warnings.catch_warnings():
                # Mapped from Ray's object store, read-only: nothing writes into a split
                # (batches are indexed copies), and torch cannot mark a tensor read-only.
                warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
                tensors = (torch.from_numpy(a) for a in fields[split].arrays)
                fields[split] = TensorDataset(*tensors)
    return DataSplits(**fields)


def is_mirror_safe(name: str) -> bool:
    """Whether data set ``name``'s images keep their labels when mirrored left-right."""
    return name not in _MIRROR_SENSITIVE


@dataclass(frozen=True)
class _Pool:
    """All labelled samples of a dataset; images are only materialised for chosen indices."""

    labels: np.ndarray  # int64 (N,)
    class_names: Sequence[str]
    in_channels: int
    fetch: Callable[[np.ndarray], torch.Tensor]  # indices -> float32 (n, C, H, W) in [0, 1]
    paths: Sequence[str] | None = None  # one file per sample: a split can stream from them


def load_data(
    name: str,
    *,
    resolution: int,
    root: str | os.PathLike[str] | None = None,
    valid_fraction: float = 0.2,
    max_samples: int | None = None,
    seed: int = 0,
    memory_budget: int | None = DEFAULT_MEMORY_BUDGET,
) -> DataSplits:
    """Load dataset ``name`` and split it into stratified, seeded train/valid sets.

    Args:
        name: one of :data:`DATASETS`.
        resolution: side length (pixels) that every image is resized to; at least 8.
        root: data directory; must be ``None`` for ``digits``, defaults to
            :data:`FASHION_MNIST_ROOT` for ``fashion-mnist`` and is required otherwise.
            For ``cifar10`` it is the directory holding ``cifar-10-batches-py/`` or the batch
            files themselves (these are pickles: only point it at files you trust). For
            ``mnist`` it holds MNIST-format IDX files (``train-images-idx3-ubyte.gz`` and
            ``train-labels-idx1-ubyte.gz``, or the ``t10k-`` pair), as MNIST, Fashion-MNIST
            and notMNIST ship. For ``imagefolder`` it holds one sub-directory per class.
        valid_fraction: share of the pool that goes to the valid split, in (0, 1).
        max_samples: if given, a stratified subset of this many samples is drawn from the
            pool before splitting (for fast tests and quick searches).
        seed: controls the subset and the split; the same seed gives identical splits.
        memory_budget: bytes the two splits may take in memory as float32; an image folder
            above it streams (``StreamedImages``: each file decoded when a batch takes it,
            the same values). None: no limit. Other formats are arrays held whole anyway.

    Raises:
        DataError: on any bad argument or unreadable data.
    """
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)}")
    if resolution < _MIN_RESOLUTION:
        raise DataError(f"resolution {resolution} is too small: use at least {_MIN_RESOLUTION}")
    if not 0.0 < valid_fraction < 1.0:
        raise DataError(f"valid_fraction {valid_fraction} must be strictly between 0 and 1")
    if memory_budget is not None and (not isinstance(memory_budget, int) or memory_budget < 1):
        raise DataError(f"memory budget must be a whole number of bytes > 0, got {memory_budget!r}")
    pool = _open_pool(name, root, resolution)
    num_classes = len(pool.class_names)

    # The smaller split gets min(f, 1 - f) of each class, which must round to >= 2 samples;
    # the epsilon stops float noise (2 / 0.19999999999999996) from adding a sample.
    per_class = math.ceil(_MIN_PER_SPLIT / min(valid_fraction, 1.0 - valid_fraction) - 1e-9)
    idx = np.arange(len(pool.labels))
    if max_samples is not None:
        minimum = per_class * num_classes
        if max_samples < minimum:
            raise DataError(
                f"max_samples={max_samples} is too small for {num_classes} classes at "
                f"valid_fraction={valid_fraction}: use at least {minimum} so every class has "
                f"{_MIN_PER_SPLIT} samples in each split"
            )
        if max_samples < len(idx):
            idx = _stratified_subset(pool.labels, max_samples, per_class, seed)
    counts = np.bincount(pool.labels[idx], minlength=num_classes)
    if counts.min() < per_class:
        worst = int(counts.argmin())
        raise DataError(
            f"class {pool.class_names[worst]!r} has only {counts[worst]} sample(s) but "
            f"valid_fraction={valid_fraction} needs {per_class} per class to put "
            f"{_MIN_PER_SPLIT} in each split: add data or move valid_fraction towards 0.5"
        )

    train_idx, valid_idx = train_test_split(
        idx, test_size=valid_fraction, stratify=pool.labels[idx], random_state=seed
    )
    for split, part in (("train", train_idx), ("valid", valid_idx)):
        # sklearn rounds per class, so a split can still fall short when valid_fraction > 0.5.
        if np.bincount(pool.labels[part], minlength=num_classes).min() < _MIN_PER_SPLIT:
            raise DataError(
                f"the {split} split has a class with fewer than {_MIN_PER_SPLIT} samples: "
                "raise max_samples or move valid_fraction towards 0.5"
            )

    in_memory = (len(train_idx) + len(valid_idx)) * pool.in_channels * resolution**2 * 4
    stream = pool.paths is not None and memory_budget is not None and in_memory > memory_budget
    # A streamed split is normalised on as many of its (shuffled) train images as the
    # budget holds, up to STATISTICS_IMAGES, in the same order and arithmetic as the whole
    # split in memory: all of them, for a small folder, give the same statistics.
    sample = len(train_idx)
    if stream:
        per_image = pool.in_channels * resolution**2 * 4
        sample = min(sample, STATISTICS_IMAGES, max(2, memory_budget // per_image))
    x_train = _resize(pool.fetch(train_idx[:sample]), resolution)
    mean = x_train.mean(dim=(0, 2, 3), keepdim=True)
    std = x_train.std(dim=(0, 2, 3), keepdim=True)
    # A constant channel would otherwise divide by ~0 and blow up the valid split.
    std = torch.where(std > 1e-6, std, torch.ones_like(std))
    normalisation = (tuple(mean.flatten().tolist()), tuple(std.flatten().tolist()))
    train: Dataset
    valid: Dataset
    if stream:
        assert pool.paths is not None
        train, valid = (
            StreamedImages(
                [pool.paths[i] for i in part], pool.labels[part], resolution, normalisation
            )
            for part in (train_idx, valid_idx)
        )
        logger.info("%s: %.0f MB as float32 is over the memory budget of %.0f MB: streaming",
                    name, in_memory / 1e6, memory_budget / 1e6)  # fmt: skip
    else:
        x_valid = _resize(pool.fetch(valid_idx), resolution)
        train = TensorDataset((x_train - mean) / std, torch.from_numpy(pool.labels[train_idx]))
        valid = TensorDataset((x_valid - mean) / std, torch.from_numpy(pool.labels[valid_idx]))
    logger.info("loaded %s: %d train / %d valid samples, %d classes, %d px",
                name, len(train), len(valid), num_classes, resolution)  # fmt: skip
    source: dict[str, Any] = {
        "root": None if root is None else str(root),
        "max_samples": max_samples,
        "valid_fraction": valid_fraction,
        "seed": seed,
    }
    if sample < len(train_idx):
        source["normalised_on"] = sample  # a sample's statistics, not the whole split's
    return DataSplits(
        name, train, valid, num_classes, pool.in_channels, resolution, source, normalisation
    )


def _open_pool(name: str, root: str | os.PathLike[str] | None, resolution: int) -> _Pool:
    if name == "digits":
        if root is not None:
            raise DataError(
                "dataset 'digits' ships with scikit-learn and takes no root: drop --data-root"
            )
        return _digits_pool()
    if name == "fashion-mnist":
        return _fashion_mnist_pool(root)
    if root is None:
        raise DataError(f"dataset {name!r} needs a data directory: pass --data-root (root=)")
    path = Path(root).expanduser()
    if not path.is_dir():
        raise DataError(f"data root {path} does not exist or is not a directory: fix --data-root")
    if name == "cifar10":
        return _cifar10_pool(path)
    if name == "mnist":
        return _idx_pool(path)
    if name in ("cifar100", "svhn"):
        try:
            data, labels, names = (read_cifar100 if name == "cifar100" else read_svhn)(path)
        except FormatError as error:
            raise DataError(str(error)) from None
        return _Pool(
            labels=labels,
            class_names=names,
            in_channels=3,
            fetch=lambda idx: torch.from_numpy(data[idx]).float().div_(255.0),
        )
    return _imagefolder_pool(path, resolution)


def _fashion_mnist_pool(root: str | os.PathLike[str] | None) -> _Pool:
    if root is not None:
        path = Path(root).expanduser()
        if not path.is_dir():
            raise DataError(
                f"data root {path} does not exist or is not a directory: fix --data-root"
            )
        return _idx_pool(path)
    if find_idx_pair(FASHION_MNIST_ROOT) is None:
        raise DataError(
            f"Fashion-MNIST is not in {FASHION_MNIST_ROOT}: install it with "
            "'apt-get install dataset-fashion-mnist' (make bench-data), or pass --data-root"
        )
    return _idx_pool(FASHION_MNIST_ROOT)


def _digits_pool() -> _Pool:
    digits = load_digits()
    # Pixel values are 0..16; the 8x8 images are upsampled later with everything else.
    images = torch.from_numpy(digits.images.astype(np.float32) / 16.0).unsqueeze(1)
    return _Pool(
        labels=np.asarray(digits.target, dtype=np.int64),
        class_names=[str(c) for c in range(10)],
        in_channels=1,
        fetch=lambda idx: images[torch.from_numpy(idx)],
    )


# Read by hand: torchvision.datasets.CIFAR10 demands the md5 of all six full-size files, so it
# cannot read a subset of batches, batches beside root, or the small files the tests make.
def _cifar10_pool(root: Path) -> _Pool:
    # Only the train batches form the search pool: test_batch is held out for the final
    # evaluation of the chosen architecture, so the search must never see it.
    folder = next((d for d in (root / _CIFAR_DIR, root) if (d / _CIFAR_BATCHES[0]).is_file()), None)
    if folder is None:
        raise DataError(
            f"no {_CIFAR_BATCHES[0]} in {root / _CIFAR_DIR} or {root}: extract the CIFAR-10 "
            f"python version there (files {', '.join(_CIFAR_BATCHES)}, test_batch)"
        )
    batches = [_read_cifar_batch(folder / b) for b in _CIFAR_BATCHES if (folder / b).is_file()]
    data = np.concatenate([d for d, _ in batches]).reshape(-1, 3, 32, 32)
    labels = np.concatenate([lab for _, lab in batches])
    return _Pool(
        labels=labels,
        class_names=_CIFAR_CLASSES,
        in_channels=3,
        fetch=lambda idx: torch.from_numpy(data[idx]).float().div_(255.0),
    )


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with path.open("rb") as f:
            batch = pickle.load(f, encoding="bytes")
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    # Unpickling damaged bytes can raise almost any exception type, so catch them all here.
    except Exception as exc:
        reason = (str(exc).splitlines() or [""])[0]
        raise DataError(
            f"cannot read CIFAR-10 batch {path} ({type(exc).__name__}: {reason}): "
            "re-extract cifar-10-python.tar.gz"
        ) from exc
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or labels.shape != (len(data),):
        raise DataError(
            f"CIFAR-10 batch {path} has data {data.shape} and labels {labels.shape}, "
            "expected (N, 3072) and (N,): re-extract cifar-10-python.tar.gz"
        )
    if len(labels) and not 0 <= labels.min() <= labels.max() < len(_CIFAR_CLASSES):
        raise DataError(
            f"CIFAR-10 batch {path} has labels outside 0..9: re-extract cifar-10-python.tar.gz"
        )
    return data, labels


def _idx_pool(root: Path) -> _Pool:
    # The training pair only, when there is one: the test pair is held out for the final
    # evaluation of the chosen architecture (notMNIST's sample ships only a t10k pair).
    pair = find_idx_pair(root)
    if pair is None:
        raise DataError(
            f"no train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz] (or t10k-*) in "
            f"{root}: put the MNIST-format files there"
        )
    try:
        images, labels = (read_idx(path) for path in pair)
    except IdxError as error:
        raise DataError(f"{error}: re-download or re-extract the files") from None
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(
            f"{pair[0].name} holds {images.shape} and {pair[1].name} {labels.shape}; expected "
            "(N, H, W) images and (N,) labels"
        )
    labels = labels.astype(np.int64)
    classes = int(labels.max()) + 1 if len(labels) else 0
    if len(labels) and labels.min() < 0:
        raise DataError(f"{pair[1]} has negative labels: re-extract the files")
    scale = 255.0 if images.dtype == np.uint8 else 1.0
    return _Pool(
        labels=labels,
        class_names=[str(c) for c in range(classes)],
        in_channels=1,
        fetch=lambda idx: torch.from_numpy(images[idx].astype(np.float32) / scale).unsqueeze(1),
    )


def _imagefolder_pool(root: Path, resolution: int) -> _Pool:
    # torchvision is slow to import and only needed here.
    from torchvision.datasets import ImageFolder

    try:
        folder = ImageFolder(str(root), transform=imagefolder_transform(resolution))
    except FileNotFoundError as exc:
        raise DataError(
            f"no usable images under {root} ({exc}): put each class's .png/.jpg "
            "files in its own sub-directory of --data-root"
        ) from exc
    if len(folder.classes) < 2:
        raise DataError(
            f"{root} has {len(folder.classes)} class sub-directory, need at least 2: "
            "add one sub-directory of images per class"
        )
    paths = [path for path, _ in folder.samples]
    labels = np.asarray(folder.targets, dtype=np.int64)
    decoder = StreamedImages(paths, labels, resolution)  # decodes without normalising

    def fetch(idx: np.ndarray) -> torch.Tensor:
        return torch.stack([decoder.decode(int(i)) for i in idx])

    return _Pool(labels=labels, class_names=folder.classes, in_channels=3, fetch=fetch, paths=paths)


def fewer_train_images(splits: DataSplits, count: int) -> DataSplits:
    """``splits`` with a stratified ``count`` of its training images; validation whole.

    The subset is drawn from the splits' own seed, so every candidate trained on it sees
    the same images; the normalisation stays the full split's.

    Raises:
        DataError: ``count`` below one image a class or above the training split.
    """
    labels = split_labels(splits.train).numpy()
    have = len(labels)
    if not is_int(count) or not splits.num_classes <= count <= have:
        raise DataError(
            f"train images {count!r} must be between the {splits.num_classes} classes (one "
            f"image each) and the training split's {have}: pick a count in that range"
        )
    if count == have:
        return splits
    chosen = _stratified_subset(labels, count, 1, int(splits.source.get("seed", 0)))
    return dataclasses.replace(splits, train=subset_split(splits.train, chosen))


def _stratified_subset(labels: np.ndarray, n: int, per_class: int, seed: int) -> np.ndarray:
    """Pick ``n`` indices: ``per_class`` from every class first, the rest proportionally.

    Purely proportional sampling can leave a rare class below the minimum that
    :func:`load_data` promises for ``max_samples``, hence the floor per class.
    """
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    take = np.minimum(counts, per_class)
    spare = counts - take
    quota = spare * (n - take.sum()) / max(spare.sum(), 1)
    extra = np.floor(quota).astype(np.int64)
    # Largest remainders get the leftover slots so the subset has exactly n samples.
    extra[np.argsort(extra - quota, kind="stable")[: n - take.sum() - extra.sum()]] += 1
    take = take + extra
    chosen = [
        rng.choice(np.flatnonzero(labels == c), size=k, replace=False)
        for c, k in zip(classes, take, strict=True)
    ]
    return np.sort(np.concatenate(chosen))


def _resize(images: torch.Tensor, resolution: int) -> torch.Tensor:
    if images.shape[-2:] == (resolution, resolution):
        return images
    return F.interpolate(
        images, size=(resolution, resolution), mode="bilinear", align_corners=False
    )

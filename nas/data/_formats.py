"""Readers for CIFAR-100 (python batches) and SVHN (``.mat``), from local files only.

Read by hand, as CIFAR-10 is: torchvision's ``CIFAR100`` and ``SVHN`` check the md5 of
the full-size files even with ``download=False``, so they refuse the small files the
tests make and any subset. Only the training files form the search pool; the test files
are held out for the final evaluation of the chosen architecture.

Each reader returns uint8 images ``(N, 3, 32, 32)``, int64 labels and the class names.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

__all__ = ["FormatError", "read_cifar100", "read_svhn"]

CIFAR100_DIR = "cifar-100-python"
SVHN_TRAIN = "train_32x32.mat"


class FormatError(ValueError):
    """A data file is missing or unreadable; the message names it and the fix."""


def read_cifar100(root: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    folder = next((d for d in (root / CIFAR100_DIR, root) if (d / "train").is_file()), None)
    if folder is None:
        raise FormatError(
            f"no train file in {root / CIFAR100_DIR} or {root}: extract the CIFAR-100 python "
            "version there (files train, test, meta)"
        )
    train = _unpickle(folder / "train")
    try:
        data = np.asarray(train[b"data"], dtype=np.uint8)
        labels = np.asarray(train[b"fine_labels"], dtype=np.int64)
    except (KeyError, TypeError, ValueError):
        raise FormatError(
            f"{folder / 'train'} has no data and fine_labels: re-extract cifar-100-python.tar.gz"
        ) from None
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or labels.shape != (len(data),):
        raise FormatError(
            f"{folder / 'train'} has data {data.shape} and labels {labels.shape}, expected "
            "(N, 3072) and (N,): re-extract cifar-100-python.tar.gz"
        )
    names = [str(c) for c in range(100)]
    if (folder / "meta").is_file():
        meta = _unpickle(folder / "meta")
        found = meta.get(b"fine_label_names") if isinstance(meta, dict) else None
        if found and len(found) == 100:
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in found]
    if len(labels) and not 0 <= labels.min() <= labels.max() < 100:
        raise FormatError(f"{folder / 'train'} has labels outside 0..99: re-extract the files")
    return data.reshape(-1, 3, 32, 32), labels, names


def read_svhn(root: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    path = root / SVHN_TRAIN
    if not path.is_file():
        raise FormatError(
            f"no {SVHN_TRAIN} in {root}: put SVHN's cropped-digit files there "
            f"({SVHN_TRAIN}, test_32x32.mat)"
        )
    from scipy.io import loadmat

    try:
        mat = loadmat(path)
        images, labels = np.asarray(mat["X"]), np.asarray(mat["y"]).reshape(-1)
    except Exception as error:  # a damaged .mat raises many types
        reason = (str(error).splitlines() or [type(error).__name__])[0]
        raise FormatError(f"cannot read {path} ({reason}): re-download it") from None
    if images.ndim != 4 or images.shape[:3] != (32, 32, 3) or images.shape[3] != len(labels):
        raise FormatError(
            f"{path} holds X {images.shape} and y {labels.shape}; expected (32, 32, 3, N) and (N,)"
        )
    labels = labels.astype(np.int64)
    if len(labels) and not 1 <= labels.min() <= labels.max() <= 10:
        raise FormatError(f"{path} has labels outside 1..10: re-download it")
    labels[labels == 10] = 0  # SVHN writes the digit 0 as class 10
    return images.transpose(3, 2, 0, 1).astype(np.uint8), labels, [str(c) for c in range(10)]


def _unpickle(path: Path) -> object:
    try:
        with path.open("rb") as handle:
            return pickle.load(handle, encoding="bytes")
    except Exception as error:  # unpickling damaged bytes raises almost any type
        reason = (str(error).splitlines() or [type(error).__name__])[0]
        raise FormatError(f"cannot read {path} ({type(error).__name__}: {reason})") from None

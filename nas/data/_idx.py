"""Images and labels in the MNIST IDX format (MNIST, Fashion-MNIST, notMNIST, KMNIST).

Read by hand: torchvision's reader takes only uncompressed files and its ``MNIST`` class
only its own ``raw/`` folder layout, while these data sets usually come as the four
``.gz`` files in one folder. The format is a big-endian header and raw bytes.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

__all__ = ["IdxError", "find_idx_pair", "read_idx"]

# IDX type codes (the third byte of the magic number) -> numpy dtype, big-endian
_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_SPLITS = ("train", "t10k")  # the training pair if there is one, else the test pair


class IdxError(ValueError):
    """A file is not a readable IDX file; the message names it."""


def read_idx(path: Path) -> np.ndarray:
    """The array an IDX file holds (``.gz`` or not)."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError) as error:
        raise IdxError(f"cannot read {path} ({error})") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _TYPES:
        raise IdxError(f"{path} is not an IDX file (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IdxError(f"{path} is cut short in its header")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_TYPES[data[2]])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise IdxError(f"{path} holds {len(data)} bytes; its header {shape} says {expected}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)


def find_idx_pair(root: Path) -> tuple[Path, Path] | None:
    """(images, labels) files in ``root``: ``train-*`` if present, else ``t10k-*``."""
    for split in _SPLITS:
        for suffix in (".gz", ""):
            images = root / f"{split}-images-idx3-ubyte{suffix}"
            labels = root / f"{split}-labels-idx1-ubyte{suffix}"
            if images.is_file() and labels.is_file():
                return images, labels
    return None

"""CIFAR-100 python batches and SVHN .mat files, made small here, read through load_data."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat

from nas.data import DataError, load_data


def cifar100(root: Path, n: int = 200) -> None:
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    labels = [i % 100 for i in range(n)]
    with (folder / "train").open("wb") as handle:
        pickle.dump({b"data": data, b"fine_labels": labels, b"coarse_labels": [0] * n}, handle)
    names = [f"class{i}".encode() for i in range(100)]
    with (folder / "meta").open("wb") as handle:
        pickle.dump({b"fine_label_names": names}, handle)
    # The test batch is held out: a label the pool must never see.
    with (folder / "test").open("wb") as handle:
        pickle.dump({b"data": data[:4], b"fine_labels": [0] * 4}, handle)


def test_cifar100_pixels_labels_and_class_names(tmp_path):
    cifar100(tmp_path, n=1000)
    splits = load_data("cifar100", root=tmp_path, resolution=32, valid_fraction=0.2)
    assert splits.num_classes == 100 and splits.in_channels == 3
    assert len(splits.train) + len(splits.valid) == 1000
    # Normalised per channel with the train split's statistics: undo it and compare.
    images = np.concatenate([splits.train.tensors[0].numpy(), splits.valid.tensors[0].numpy()])
    assert images.shape[1:] == (3, 32, 32)
    assert sorted(
        np.concatenate([t.tensors[1].numpy() for t in (splits.train, splits.valid)])
    ) == sorted(i % 100 for i in range(1000))
    assert np.isclose(images.mean(), 0, atol=0.05)


def test_svhn_reads_the_train_file_and_maps_label_10_to_0(tmp_path):
    rng = np.random.default_rng(1)
    n = 300
    x = rng.integers(0, 256, size=(32, 32, 3, n), dtype=np.uint8)
    y = np.array([[1 + i % 10] for i in range(n)], dtype=np.uint8)  # 1..10, 10 is digit 0
    savemat(tmp_path / "train_32x32.mat", {"X": x, "y": y})
    splits = load_data("svhn", root=tmp_path, resolution=16)
    labels = np.concatenate([t.tensors[1].numpy() for t in (splits.train, splits.valid)])
    assert splits.num_classes == 10 and set(labels) == set(range(10))
    assert np.bincount(labels).tolist() == [30] * 10
    assert splits.train.tensors[0].shape[1:] == (3, 16, 16)


@pytest.mark.parametrize(
    ("name", "make", "says"),
    [
        ("cifar100", lambda root: None, "no train file"),
        ("svhn", lambda root: None, "no train_32x32.mat"),
        ("cifar100", lambda root: (root / "train").write_bytes(b"junk"), "cannot read"),
        ("svhn", lambda root: (root / "train_32x32.mat").write_bytes(b"junk"), "cannot read"),
    ],
)
def test_missing_or_corrupt_files_are_one_line_data_errors(tmp_path, name, make, says):
    make(tmp_path)
    with pytest.raises(DataError, match=says) as raised:
        load_data(name, root=tmp_path, resolution=16)
    assert "\n" not in str(raised.value)

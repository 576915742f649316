"""A proxy that trains on fewer images keeps every class and the whole validation split."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nas.data import DataError, fewer_train_images, first_images, load_data, split_labels
from nas.data._streamed import subset_split


@pytest.fixture(scope="module")
def digits():
    return load_data("digits", resolution=8, max_samples=500, seed=3)


def test_a_stratified_subset_of_the_training_images_and_the_validation_split_whole(digits):
    fewer = fewer_train_images(digits, 50)
    assert len(fewer.train) == 50 and fewer.valid is digits.valid
    counts = np.bincount(split_labels(fewer.train).numpy(), minlength=10)
    assert counts.min() >= 4 and counts.max() <= 6  # 400 nearly balanced images, 50 taken
    # Every image is one of the split's own, with its label.
    images, labels = digits.train.tensors
    for image, label in zip(*fewer.train.tensors, strict=True):
        (match,) = torch.nonzero((images == image).flatten(1).all(1)).flatten().tolist()
        assert labels[match] == label
    # The same subset each time (the splits' seed), so every candidate sees the same images.
    assert torch.equal(fewer_train_images(digits, 50).train.tensors[0], fewer.train.tensors[0])
    assert fewer.identity() == digits.identity() and fewer.normalisation == digits.normalisation


def test_every_image_is_the_splits_themselves(digits):
    assert fewer_train_images(digits, len(digits.train)) is digits


@pytest.mark.parametrize("count", [9, 401, 2.5])
def test_a_count_outside_the_classes_and_the_split_is_one_line(digits, count):
    with pytest.raises(DataError, match=r"between the 10 classes .* and the training split's 400"):
        fewer_train_images(digits, count)


def test_a_streamed_split_is_subset_without_decoding(tmp_path):
    from PIL import Image

    for label in range(2):
        (tmp_path / f"c{label}").mkdir()
        for i in range(10):
            pixels = np.full((12, 12, 3), 40 + 150 * label + i, dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / f"c{label}" / f"{i}.png")
    streamed = load_data("imagefolder", root=tmp_path, resolution=8, seed=0, memory_budget=1)
    assert streamed.streamed
    chosen = np.array([3, 0, 7])
    subset = subset_split(streamed.train, chosen)
    assert subset.paths == [streamed.train.paths[i] for i in chosen]
    assert torch.equal(first_images(subset, 3), first_images(streamed.train, 8)[chosen])
    fewer = fewer_train_images(streamed, 4)
    assert fewer.streamed and sorted(split_labels(fewer.train).tolist()) == [0, 0, 1, 1]

"""Compact (uint8) images on the device: the same batches in a quarter of the memory."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nas import TrainingConfig, TrainingEvaluator, load_data
from nas.evaluate._device_images import DeviceImages
from scaling import search_proxy


def _write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(size).to_bytes(4, "big") for size in array.shape
    )
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.fixture(scope="module")
def byte_data(tmp_path_factory):
    """MNIST-format bytes at 16 px, read at 16 px: nothing resized, as CIFAR-10 at 32."""
    folder = tmp_path_factory.mktemp("idx")
    rng = np.random.default_rng(0)
    labels = np.arange(300) % 10
    # Each class brightens its own band of rows, so there is something to learn.
    images = rng.integers(0, 120, size=(300, 16, 16))
    for i, label in enumerate(labels):
        images[i, label : label + 4] += 120
    _write_idx(folder / "train-images-idx3-ubyte", images)
    _write_idx(folder / "train-labels-idx1-ubyte", labels)
    return load_data("mnist", root=folder, resolution=16, seed=0)


def test_compact_batches_equal_the_float_ones_bit_for_bit_in_a_quarter_of_the_memory(byte_data):
    images = byte_data.train.tensors[0]
    layout = torch.channels_last
    dense = DeviceImages(images, torch.device("cpu"), layout)
    compact = DeviceImages(
        images, torch.device("cpu"), layout, normalisation=byte_data.normalisation
    )
    assert compact.stored.dtype == torch.uint8 and compact.nbytes * 4 == dense.nbytes
    batch = torch.tensor([5, 0, 17, 3])
    assert torch.equal(compact[batch], dense[batch])
    assert compact[batch].is_contiguous(memory_format=layout)


def test_training_on_compact_images_gives_the_same_run(byte_data):
    spec = search_proxy(
        resolution=16, in_channels=1, num_classes=10, width_mult=0.5, depth_mult=0.5
    )
    runs = []
    for compact in (False, True):
        config = TrainingConfig(epochs=2, threads=1, compact_images=compact)
        evaluation = TrainingEvaluator(data=byte_data, config=config).evaluate(spec, seed=1)
        runs.append((evaluation.accuracy, evaluation.metrics["train_loss"]))
    assert runs[0] == runs[1]
    assert runs[0][0] > 0.3  # it learned (chance is 0.1)


def test_resized_images_are_rounded_to_the_byte():
    data = load_data("digits", resolution=16, max_samples=200, seed=0)  # 8 px, resized
    images = data.train.tensors[0]
    compact = DeviceImages(
        images, torch.device("cpu"), torch.contiguous_format, normalisation=data.normalisation
    )
    std = torch.tensor(data.normalisation[1]).view(1, -1, 1, 1)
    error = ((compact[:] - images) * std).abs().max()
    assert 0 < error <= 0.5 / 255 + 1e-6


def test_compact_storage_enters_the_identity_only_when_chosen():
    assert "compact_images" not in TrainingConfig().identity()
    assert TrainingConfig(compact_images=True).identity()["compact_images"] is True
    with pytest.raises(ValueError, match="compact_images must be True, False or None"):
        TrainingConfig(compact_images="yes")

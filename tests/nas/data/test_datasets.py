"""Tests for nas.data: offline dataset loading for proxy training."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from nas.data import DATASETS, DataError, DataSplits, load_data

N_PER_BATCH = 50  # 5 images per class per batch; two batches give 10 per class


# ---------------------------------------------------------------------------- helpers


def _fake_cifar_images(start: int, n: int) -> np.ndarray:
    """Images whose pixels encode their global index ``j`` and their layout.

    Channel 0 is the constant ``j`` (so the image can be identified after shuffling and
    normalisation), channel 1 grows along the width and channel 2 along the height (so a
    wrong CHW/HWC reshape is caught). The label of image ``j`` is ``j % 10``.
    """
    images = np.empty((n, 3, 32, 32), dtype=np.uint8)
    images[:, 0] = np.arange(start, start + n, dtype=np.uint8)[:, None, None]
    images[:, 1] = (np.arange(32, dtype=np.uint8) * 8)[None, None, :]
    images[:, 2] = (np.arange(32, dtype=np.uint8) * 8)[None, :, None]
    return images


def _write_batch(path: Path, images: np.ndarray, labels: list[int]) -> None:
    batch = {
        b"batch_label": path.name.encode(),
        b"data": images.reshape(len(images), -1),  # row-major CHW, as in the real files
        b"labels": labels,
        b"filenames": [f"img_{i}.png".encode() for i in range(len(images))],
    }
    with path.open("wb") as f:
        pickle.dump(batch, f)


def _write_cifar(folder: Path, n_batches: int = 2, with_test: bool = True) -> np.ndarray:
    """Write fake CIFAR-10 batches into ``folder``; return all train images, indexed by j."""
    folder.mkdir(parents=True, exist_ok=True)
    all_images = []
    for b in range(n_batches):
        start = b * N_PER_BATCH
        images = _fake_cifar_images(start, N_PER_BATCH)
        labels = [j % 10 for j in range(start, start + N_PER_BATCH)]
        _write_batch(folder / f"data_batch_{b + 1}", images, labels)
        all_images.append(images)
    if with_test:
        # Distinctive pixel value 255 and label 0: must never reach either split.
        test = np.full((10, 3, 32, 32), 255, dtype=np.uint8)
        _write_batch(folder / "test_batch", test, [0] * 10)
    return np.concatenate(all_images)


def _recover_indices(splits: DataSplits) -> tuple[np.ndarray, np.ndarray]:
    """Undo the (unknown) affine normalisation of channel 0 to get each image's index j."""
    x_train, x_valid = splits.train.tensors[0], splits.valid.tensors[0]
    z = torch.cat([x_train[:, 0, 0, 0], x_valid[:, 0, 0, 0]]).double()
    scale = (z.max() - z.min()) / (len(z) - 1)  # indices 0..N-1 are all present
    j = (z - z.min()) / scale
    assert torch.allclose(j, j.round(), atol=1e-3), "channel 0 should encode integer indices"
    j = j.round().long().numpy()
    return j[: len(x_train)], j[len(x_train) :]


def _raw_normalised(raw: np.ndarray, train_raw: np.ndarray) -> torch.Tensor:
    """Reference normalisation: scale to [0, 1], then per-channel train mean/std."""
    x, t = torch.from_numpy(raw).float() / 255, torch.from_numpy(train_raw).float() / 255
    mean, std = t.mean(dim=(0, 2, 3), keepdim=True), t.std(dim=(0, 2, 3), keepdim=True)
    return (x - mean) / std


def _write_png(path: Path, color: tuple[int, ...], mode: str = "RGB", size: int = 12) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, (size, size), color).save(path)


def _write_imagefolder(root: Path, n_per_class: int = 10) -> None:
    colors = {"a_red": (200, 0, 0), "b_green": (0, 200, 0), "c_blue": (0, 0, 200)}
    for cls, color in colors.items():
        for i in range(n_per_class):
            _write_png(root / cls / f"{i}.png", color, size=10 + i)  # sizes differ on purpose
    # Mixed file modes and formats, as in real folders: RGBA png and a jpg.
    _write_png(root / "a_red" / "rgba.png", (200, 0, 0, 128), mode="RGBA")
    _write_png(root / "b_green" / "photo.jpg", (0, 200, 0))


def _assert_data_error(match: str, **kwargs: object) -> str:
    with pytest.raises(DataError, match=match) as info:
        load_data(**kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message, "DataError messages must be one line"
    return message


# ---------------------------------------------------------------------------- digits


def test_datasets_constant() -> None:
    names = ("digits", "fashion-mnist", "cifar10", "cifar100", "svhn", "mnist", "imagefolder")
    assert names == DATASETS


def test_digits_shapes_and_metadata() -> None:
    splits = load_data("digits", resolution=16)
    x_train, y_train = splits.train.tensors
    x_valid, y_valid = splits.valid.tensors
    assert splits.name == "digits" and splits.resolution == 16
    assert splits.num_classes == 10 and splits.in_channels == 1
    assert len(splits.train) + len(splits.valid) == 1797
    assert len(splits.valid) == 360  # ceil(0.2 * 1797), sklearn's rounding
    assert x_train.shape == (1437, 1, 16, 16) and x_valid.shape == (360, 1, 16, 16)
    assert x_train.dtype == x_valid.dtype == torch.float32
    assert y_train.dtype == y_valid.dtype == torch.int64
    assert y_train.shape == (1437,)


def test_digits_normalised_with_train_statistics() -> None:
    splits = load_data("digits", resolution=12)
    x_train, x_valid = splits.train.tensors[0], splits.valid.tensors[0]
    assert abs(x_train.mean().item()) < 1e-4
    assert x_train.std().item() == pytest.approx(1.0, abs=1e-4)
    # Valid uses the train statistics, so it is close to, but not exactly, standardised.
    assert abs(x_valid.mean().item()) < 0.1
    assert x_valid.std().item() == pytest.approx(1.0, abs=0.1)
    assert torch.isfinite(x_train).all() and torch.isfinite(x_valid).all()


def test_digits_native_resolution_keeps_pixel_grid() -> None:
    splits = load_data("digits", resolution=8)
    x = splits.train.tensors[0]
    assert x.shape[1:] == (1, 8, 8)
    # Without resizing, the 17 raw grey levels (0..16) survive as 17 distinct values.
    assert len(torch.unique(x)) == 17


def test_digits_stratified() -> None:
    splits = load_data("digits", resolution=8, valid_fraction=0.25)
    y_train, y_valid = splits.train.tensors[1], splits.valid.tensors[1]
    train_counts = torch.bincount(y_train, minlength=10)
    valid_counts = torch.bincount(y_valid, minlength=10)
    assert (train_counts > 0).all() and (valid_counts > 0).all()
    fraction = valid_counts.double() / (train_counts + valid_counts).double()
    assert torch.allclose(fraction, torch.full((10,), 0.25, dtype=torch.float64), atol=0.01)


def test_digits_same_seed_identical_different_seed_differs() -> None:
    a = load_data("digits", resolution=8, seed=3)
    b = load_data("digits", resolution=8, seed=3)
    c = load_data("digits", resolution=8, seed=4)
    for split in ("train", "valid"):
        for ta, tb in zip(getattr(a, split).tensors, getattr(b, split).tensors, strict=True):
            assert torch.equal(ta, tb)
    assert not torch.equal(a.train.tensors[0], c.train.tensors[0])
    assert not torch.equal(a.valid.tensors[1], c.valid.tensors[1])


def test_digits_max_samples_stratified_subset() -> None:
    splits = load_data("digits", resolution=8, max_samples=200, seed=1)
    assert len(splits.train) == 160 and len(splits.valid) == 40
    assert torch.bincount(splits.train.tensors[1], minlength=10).min() >= 15
    assert torch.bincount(splits.valid.tensors[1], minlength=10).min() >= 3
    again = load_data("digits", resolution=8, max_samples=200, seed=1)
    other = load_data("digits", resolution=8, max_samples=200, seed=2)
    assert torch.equal(splits.train.tensors[0], again.train.tensors[0])
    assert not torch.equal(splits.train.tensors[0], other.train.tensors[0])
    # More than the pool holds is not an error: the whole pool is used.
    assert len(load_data("digits", resolution=8, max_samples=10_000).train) == 1437


def test_digits_max_samples_at_the_stated_minimum_works() -> None:
    message = _assert_data_error(
        r"at least 40\b", name="digits", resolution=8, max_samples=39, valid_fraction=0.5
    )
    assert "max_samples=39" in message
    splits = load_data("digits", resolution=8, max_samples=40, valid_fraction=0.5)
    assert torch.bincount(splits.train.tensors[1], minlength=10).tolist() == [2] * 10
    assert torch.bincount(splits.valid.tensors[1], minlength=10).tolist() == [2] * 10


# ---------------------------------------------------------------------------- cifar10


@pytest.mark.parametrize("layout", ["nested", "flat"])
def test_cifar10_values_labels_and_layout(tmp_path: Path, layout: str) -> None:
    folder = tmp_path / "cifar-10-batches-py" if layout == "nested" else tmp_path / "flat"
    raw = _write_cifar(folder)
    root = tmp_path if layout == "nested" else folder
    splits = load_data("cifar10", root=root, resolution=32)

    assert splits.name == "cifar10" and splits.resolution == 32
    assert splits.num_classes == 10 and splits.in_channels == 3
    # Both train batches are used; test_batch is not.
    assert len(splits.train) == 80 and len(splits.valid) == 20
    assert splits.train.tensors[0].shape == (80, 3, 32, 32)
    j_train, j_valid = _recover_indices(splits)
    assert sorted([*j_train, *j_valid]) == list(range(100))
    assert set(j_train).isdisjoint(j_valid)
    # Every image keeps its label, e.g. image 57 (second batch) is class 7.
    y_train, y_valid = splits.train.tensors[1].numpy(), splits.valid.tensors[1].numpy()
    assert (y_train == j_train % 10).all() and (y_valid == j_valid % 10).all()
    position = [*j_train, *j_valid].index(57)
    assert [*y_train, *y_valid][position] == 7
    assert np.bincount(y_valid, minlength=10).tolist() == [2] * 10
    # Exact pixel values (all channels, so the CHW layout too) against a reference.
    expected_train = _raw_normalised(raw[j_train], raw[j_train])
    expected_valid = _raw_normalised(raw[j_valid], raw[j_train])
    assert torch.allclose(splits.train.tensors[0], expected_train, atol=1e-5)
    assert torch.allclose(splits.valid.tensors[0], expected_valid, atol=1e-5)


def test_cifar10_resize(tmp_path: Path) -> None:
    _write_cifar(tmp_path)
    splits = load_data("cifar10", root=tmp_path, resolution=16)
    x = splits.train.tensors[0]
    assert x.shape == (80, 3, 16, 16) and splits.resolution == 16
    j_train, _ = _recover_indices(splits)  # constant channel 0 survives bilinear resizing
    assert (splits.train.tensors[1].numpy() == j_train % 10).all()
    assert torch.allclose(x[:, 0], x[:, 0, :1, :1].expand(-1, 16, 16), atol=1e-5)
    assert (x[:, 1, :, 1:] > x[:, 1, :, :-1]).all()  # width gradient kept its direction
    assert (x[:, 2, 1:, :] > x[:, 2, :-1, :]).all()  # height gradient too
    assert x.mean(dim=(0, 2, 3)).abs().max() < 1e-4


def test_cifar10_single_batch_and_determinism(tmp_path: Path) -> None:
    _write_cifar(tmp_path, n_batches=1, with_test=False)
    a = load_data("cifar10", root=tmp_path, resolution=8, valid_fraction=0.5, seed=0)
    b = load_data("cifar10", root=tmp_path, resolution=8, valid_fraction=0.5, seed=0)
    c = load_data("cifar10", root=tmp_path, resolution=8, valid_fraction=0.5, seed=1)
    assert len(a.train) + len(a.valid) == N_PER_BATCH
    assert torch.equal(a.train.tensors[0], b.train.tensors[0])
    assert torch.equal(a.valid.tensors[1], b.valid.tensors[1])
    assert not torch.equal(a.train.tensors[0], c.train.tensors[0])


def test_cifar10_max_samples(tmp_path: Path) -> None:
    _write_cifar(tmp_path)
    args = {"root": tmp_path, "resolution": 8, "max_samples": 40, "valid_fraction": 0.5}
    splits = load_data("cifar10", seed=0, **args)
    assert len(splits.train) == 20 and len(splits.valid) == 20
    assert torch.bincount(splits.valid.tensors[1], minlength=10).tolist() == [2] * 10

    def subset_signature(s: DataSplits) -> torch.Tensor:
        # Channel 0 is a*j + b with unknown a, b; rescaling to [0, 1] cancels both.
        z = torch.cat([s.train.tensors[0], s.valid.tensors[0]])[:, 0, 0, 0].sort().values
        return (z - z[0]) / (z[-1] - z[0])

    same = load_data("cifar10", seed=0, **args)
    other = load_data("cifar10", seed=1, **args)
    assert torch.equal(splits.valid.tensors[0], same.valid.tensors[0])
    assert torch.allclose(subset_signature(splits), subset_signature(same))
    assert not torch.allclose(subset_signature(splits), subset_signature(other), atol=1e-3)


def test_cifar10_missing_first_batch(tmp_path: Path) -> None:
    _write_batch(tmp_path / "data_batch_2", _fake_cifar_images(0, 10), list(range(10)))
    message = _assert_data_error("no data_batch_1", name="cifar10", root=tmp_path, resolution=8)
    assert str(tmp_path / "cifar-10-batches-py") in message and str(tmp_path) in message
    assert "data_batch_1, data_batch_2" in message and "data_batch_5" in message


def test_cifar10_corrupt_pickle(tmp_path: Path) -> None:
    (tmp_path / "data_batch_1").write_bytes(b"this is not a pickle")
    _assert_data_error(r"cannot read CIFAR-10 batch .*data_batch_1", **_cifar_args(tmp_path))


def test_cifar10_truncated_pickle(tmp_path: Path) -> None:
    _write_cifar(tmp_path, n_batches=1)
    path = tmp_path / "data_batch_1"
    path.write_bytes(path.read_bytes()[:500])
    _assert_data_error("cannot read CIFAR-10 batch", **_cifar_args(tmp_path))


def test_cifar10_wrong_contents(tmp_path: Path) -> None:
    with (tmp_path / "data_batch_1").open("wb") as f:
        pickle.dump({b"data": np.zeros((4, 100), np.uint8), b"labels": [0] * 4}, f)
    _assert_data_error(r"expected \(N, 3072\)", **_cifar_args(tmp_path))
    with (tmp_path / "data_batch_1").open("wb") as f:
        pickle.dump({"data": [], "labels": []}, f)  # str keys: not the python-version format
    _assert_data_error("cannot read CIFAR-10 batch", **_cifar_args(tmp_path))
    _write_batch(tmp_path / "data_batch_1", _fake_cifar_images(0, 2), [0, 12])
    _assert_data_error("labels outside 0..9", **_cifar_args(tmp_path))


def _cifar_args(root: Path) -> dict[str, object]:
    return {"name": "cifar10", "root": root, "resolution": 8}


# ---------------------------------------------------------------------------- imagefolder


def test_imagefolder_loads_rgb_resized(tmp_path: Path) -> None:
    _write_imagefolder(tmp_path)
    splits = load_data("imagefolder", root=str(tmp_path), resolution=8)
    assert splits.name == "imagefolder" and splits.resolution == 8
    assert splits.num_classes == 3 and splits.in_channels == 3
    assert len(splits.train) + len(splits.valid) == 32
    x, y = splits.train.tensors
    assert x.shape == (len(splits.train), 3, 8, 8) and y.dtype == torch.int64
    for split in (splits.train, splits.valid):
        xs, ys = split.tensors
        assert set(ys.tolist()) == {0, 1, 2}
        # Class k (sorted folder names: red, green, blue) is brightest in channel k.
        for k in range(3):
            assert xs[ys == k, k].min() > xs[ys != k, k].max()
    assert x.mean(dim=(0, 2, 3)).abs().max() < 1e-4


def test_imagefolder_errors(tmp_path: Path) -> None:
    args = {"name": "imagefolder", "resolution": 8}
    _assert_data_error("no usable images", root=tmp_path, **args)  # no class folders
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    _assert_data_error("no usable images", root=tmp_path, **args)  # folders without images

    single = tmp_path / "single"
    for i in range(12):
        _write_png(single / "only" / f"{i}.png", (1, 2, 3))
    _assert_data_error("has 1 class sub-directory, need at least 2", root=single, **args)

    few = tmp_path / "few"
    _write_imagefolder(few, n_per_class=3)
    message = _assert_data_error("has only", root=few, **args)
    assert "needs 10 per class" in message


# ---------------------------------------------------------------------------- argument errors


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"name": "emnist"},
            "unknown dataset 'emnist': choose one of digits, fashion-mnist, cifar10, cifar100, "
            "svhn, mnist, imagefolder",
        ),
        ({"name": "cifar10"}, "needs a data directory: pass --data-root"),
        ({"name": "imagefolder"}, "needs a data directory: pass --data-root"),
        ({"name": "digits", "root": "."}, "takes no root"),
        ({"name": "digits", "resolution": 7}, "resolution 7 is too small: use at least 8"),
        ({"name": "digits", "valid_fraction": 0.0}, "strictly between 0 and 1"),
        ({"name": "digits", "valid_fraction": 1.0}, "strictly between 0 and 1"),
        ({"name": "digits", "valid_fraction": -0.2}, "strictly between 0 and 1"),
        ({"name": "digits", "max_samples": 99}, r"use at least 100\b"),
        ({"name": "digits", "max_samples": 0}, r"use at least 100\b"),
    ],
)
def test_argument_errors(kwargs: dict[str, object], match: str) -> None:
    _assert_data_error(match, **{"resolution": 8, **kwargs})


@pytest.mark.parametrize("name", ["cifar10", "imagefolder"])
def test_missing_root(tmp_path: Path, name: str) -> None:
    missing = tmp_path / "nope"
    message = _assert_data_error("does not exist", name=name, root=missing, resolution=8)
    assert str(missing) in message and "--data-root" in message


def test_data_error_is_value_error() -> None:
    assert issubclass(DataError, ValueError)


# ---------------------------------------------------------------------------- mnist (IDX)


def _write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX file as MNIST ships it: zero, zero, type 0x08, ndim, big-endian sizes, bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(size).to_bytes(4, "big") for size in array.shape
    )
    data = header + array.astype(np.uint8).tobytes()
    if path.suffix == ".gz":
        import gzip

        data = gzip.compress(data)
    path.write_bytes(data)


def _write_mnist(folder: Path, split: str = "t10k", n: int = 60, gz: bool = True) -> np.ndarray:
    """``n`` 12x10 images whose first pixel is their index and whose label is index % 10."""
    folder.mkdir(parents=True, exist_ok=True)
    images = np.zeros((n, 12, 10), dtype=np.uint8)
    images[:, 0, 0] = np.arange(n)
    images[:, 11, :] = 255  # the last row is white: the layout survives the reshape
    labels = np.arange(n) % 10
    suffix = ".gz" if gz else ""
    _write_idx(folder / f"{split}-images-idx3-ubyte{suffix}", images)
    _write_idx(folder / f"{split}-labels-idx1-ubyte{suffix}", labels)
    return images


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_idx_files_load_with_their_labels(tmp_path: Path, gz: bool) -> None:
    images = _write_mnist(tmp_path, n=60, gz=gz)
    data = load_data("mnist", root=tmp_path, resolution=12, valid_fraction=0.5, seed=0)
    assert (data.num_classes, data.in_channels, data.resolution) == (10, 1, 12)
    assert len(data.train) + len(data.valid) == 60
    # Undo the normalisation with the train split's own statistics to find each image.
    raw = torch.cat([data.train.tensors[0], data.valid.tensors[0]])
    labels = torch.cat([data.train.tensors[1], data.valid.tensors[1]])
    order = raw[:, 0, 0, 0].argsort()
    assert labels[order].tolist() == [i % 10 for i in range(60)]
    last_row = raw[order][:, 0, 11, :]
    assert torch.allclose(last_row, last_row[0, 0].expand_as(last_row))
    assert images.shape == (60, 12, 10)  # resized from 12x10 to 12x12 on load


def test_mnist_prefers_the_training_pair(tmp_path: Path) -> None:
    _write_mnist(tmp_path, split="t10k", n=100)
    _write_mnist(tmp_path, split="train", n=120)
    data = load_data("mnist", root=tmp_path, resolution=12, seed=0)
    assert len(data.train) + len(data.valid) == 120


@pytest.mark.parametrize(
    ("damage", "phrase"),
    [
        ("missing", "no train-images-idx3-ubyte"),
        ("magic", "is not an IDX file"),
        ("short", "its header"),
        ("mismatch", r"expected \(N, H, W\) images and \(N,\) labels"),
    ],
)
def test_mnist_bad_files_are_one_line_data_errors(tmp_path: Path, damage: str, phrase: str) -> None:
    if damage != "missing":
        _write_mnist(tmp_path, n=40, gz=False)
    images = tmp_path / "t10k-images-idx3-ubyte"
    if damage == "magic":
        images.write_bytes(b"\x01\x02" + images.read_bytes()[2:])
    elif damage == "short":
        images.write_bytes(images.read_bytes()[:-7])
    elif damage == "mismatch":
        _write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.arange(39) % 10)
    with pytest.raises(DataError, match=phrase) as error:
        load_data("mnist", root=tmp_path, resolution=12)
    assert "\n" not in str(error.value)


# ------------------------------------------------------------------------- fashion-mnist


def test_fashion_mnist_reads_the_debian_package_location_or_a_root(tmp_path, monkeypatch):
    from nas.data import _datasets

    package = tmp_path / "usr-share-datasets-fashion-mnist"
    _write_mnist(package, split="train", n=100)
    monkeypatch.setattr(_datasets, "FASHION_MNIST_ROOT", package)
    data = load_data("fashion-mnist", resolution=12, seed=0)
    assert (data.name, data.num_classes, data.in_channels) == ("fashion-mnist", 10, 1)
    assert len(data.train) + len(data.valid) == 100
    assert data.mirror_safe  # clothes keep their label in a mirror; digits do not
    assert not load_data("mnist", root=package, resolution=12).mirror_safe
    other = tmp_path / "elsewhere"
    _write_mnist(other, split="train", n=120)
    assert len(load_data("fashion-mnist", root=other, resolution=12).train) == 96


def test_fashion_mnist_without_the_package_names_the_fix(tmp_path, monkeypatch):
    from nas.data import _datasets

    monkeypatch.setattr(_datasets, "FASHION_MNIST_ROOT", tmp_path / "absent")
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist") as error:
        load_data("fashion-mnist", resolution=28)
    assert "make bench-data" in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(DataError, match="does not exist"):
        load_data("fashion-mnist", root=tmp_path / "nowhere", resolution=28)


def test_splits_survive_pickling_whole() -> None:
    import pickle

    splits = load_data("digits", resolution=8, max_samples=100, seed=0)
    again = pickle.loads(pickle.dumps(splits))
    assert again.identity() == splits.identity() and again.normalisation == splits.normalisation
    for split in ("train", "valid"):
        for ours, theirs in zip(
            getattr(again, split).tensors, getattr(splits, split).tensors, strict=True
        ):
            assert torch.equal(ours, theirs) and ours.dtype == theirs.dtype

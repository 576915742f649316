import pytest
import torch

from nas.evaluate import AUGMENTATIONS, augment_batch, resolve_augmentations


def _images(count: int = 64, side: int = 28, channels: int = 1) -> torch.Tensor:
    # Distinct values everywhere, so every moved or mirrored pixel is traceable.
    return torch.randn(count, channels, side, side, generator=torch.Generator().manual_seed(0))


def test_flip_mirrors_about_half_the_images_and_leaves_the_rest():
    images = _images(count=400)
    out = augment_batch(images, ("flip",), torch.Generator().manual_seed(1))
    mirrored = [bool(torch.equal(o, i.flip(-1))) for o, i in zip(out, images, strict=True)]
    kept = [bool(torch.equal(o, i)) for o, i in zip(out, images, strict=True)]
    assert all(m != k for m, k in zip(mirrored, kept, strict=True))  # one or the other
    assert 160 < sum(mirrored) < 240  # p = 1/2: 200 expected, 4.0 sd from the bounds


def _offset(moved: torch.Tensor, original: torch.Tensor, pad: int) -> set[tuple[int, int]]:
    """Offsets (dy, dx) whose shifted original equals ``moved`` in the interior."""
    side = original.shape[-1]
    found = set()
    for dy in range(-pad, pad + 1):
        for dx in range(-pad, pad + 1):
            inner = slice(pad, side - pad)
            want = original[:, pad + dy : side - pad + dy, pad + dx : side - pad + dx]
            if torch.equal(moved[:, inner, inner], want):
                found.add((dy, dx))
    return found


@pytest.mark.parametrize(("name", "side", "pad"), [("crop", 32, 4), ("shift", 28, 2)])
def test_crops_and_shifts_translate_each_image_within_their_range(name, side, pad):
    images = _images(count=200, side=side, channels=3)
    out = augment_batch(images, (name,), torch.Generator().manual_seed(2))
    assert out.shape == images.shape
    offsets = []
    for moved, original in zip(out, images, strict=True):
        found = _offset(moved, original, pad)
        assert len(found) == 1  # a pure translation by exactly one offset in range
        offsets.append(found.pop())
    # Every offset in range is drawn, independently per image: (2 pad + 1)^2 of them.
    assert len(set(offsets)) > 0.8 * (2 * pad + 1) ** 2
    assert not any(torch.equal(o, i.flip(-1)) for o, i in zip(out, images, strict=True))


def test_shift_fills_with_the_border_so_a_glyph_keeps_its_mass():
    image = torch.zeros(1, 1, 28, 28)
    image[0, 0, 10:18, 10:18] = 1.0  # a glyph on a background of zeros
    shifted = augment_batch(image.repeat(50, 1, 1, 1), ("shift",), torch.Generator())
    # Replicated borders are background: the glyph's mass is kept exactly.
    assert torch.equal(shifted.sum(dim=(1, 2, 3)), torch.full((50,), 64.0))


def test_the_same_generator_state_repeats_the_augmentation():
    images = _images()
    first = augment_batch(images, ("flip", "crop"), torch.Generator().manual_seed(5))
    again = augment_batch(images, ("flip", "crop"), torch.Generator().manual_seed(5))
    other = augment_batch(images, ("flip", "crop"), torch.Generator().manual_seed(6))
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_channels_last_batches_stay_channels_last():
    images = _images(channels=3).contiguous(memory_format=torch.channels_last)
    out = augment_batch(images, ("crop",), torch.Generator())
    assert out.is_contiguous(memory_format=torch.channels_last)


def test_auto_picks_by_whether_a_mirror_keeps_the_label():
    assert resolve_augmentations(("auto",), mirror_safe=True, data_name="cifar10") == (
        "flip",
        "crop",
    )
    assert resolve_augmentations(("auto",), mirror_safe=False, data_name="digits") == ("shift",)
    assert resolve_augmentations((), mirror_safe=False, data_name="digits") == ()


@pytest.mark.parametrize("names", [("flip",), ("flip", "shift")])
def test_digit_like_data_is_never_flipped(names):
    with pytest.raises(ValueError, match="'flip' on 'mnist': a mirrored digit or letter"):
        resolve_augmentations(names, mirror_safe=False, data_name="mnist")


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (("rotate",), "unknown augmentation 'rotate': choose from flip, crop, shift, auto"),
        (("crop", "crop"), "augmentation repeated"),
        (("auto", "flip"), "'auto' picks the others itself"),
    ],
)
def test_bad_names_are_refused_in_one_line(names, message):
    with pytest.raises(ValueError, match=message):
        resolve_augmentations(names, mirror_safe=True, data_name="cifar10")
    assert "auto" in AUGMENTATIONS

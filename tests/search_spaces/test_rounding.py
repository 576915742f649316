import pytest

from search_spaces import round_filters, round_repeats, round_resolution


@pytest.mark.parametrize(
    ("channels", "width", "expected"),
    [
        (32, 1.0, 32),
        (32, 1.1, 32),  # 35.2 rounds to 32, within 10%
        (32, 1.2, 40),  # 38.4 -> 40
        (16, 1.1, 16),  # 17.6 -> 16 (9.1% lost: allowed)
        (40, 1.1, 48),  # 44.0 rounds half up to 48
        (112, 1.4, 160),  # 156.8 -> 160
        (320, 2.0, 640),
        (1280, 1.1, 1408),
        (1280, 4.3, 5504),
        (16, 0.25, 8),  # never below the divisor
        (24, 0.75, 24),  # 18 -> 16 loses 11% -> +8 = 24
        (100, 1.0, 104),  # the rule rounds even at width 1.0, as in the reference
    ],
)
def test_round_filters_follows_the_reference_rule(channels, width, expected):
    assert round_filters(channels, width) == expected


@pytest.mark.parametrize(
    ("repeats", "depth", "expected"),
    [(1, 1.0, 1), (1, 1.1, 2), (2, 1.1, 3), (4, 1.8, 8), (3, 3.1, 10), (4, 5.3, 22), (3, 0.5, 2)],
)
def test_round_repeats_is_ceil(repeats, depth, expected):
    assert round_repeats(repeats, depth) == expected


def test_round_repeats_ignores_float_noise():
    # 1.1 * 50 is 55.00000000000001 in floating point; exact arithmetic says 55.
    assert 1.1 * 50 > 55
    assert round_repeats(50, 1.1) == 55


@pytest.mark.parametrize(
    ("resolution", "divisor", "expected"),
    [(224, 4, 224), (257.6, 4, 256), (258.0, 4, 260), (296.24, 4, 296), (250, 32, 256), (3, 4, 4)],
)
def test_round_resolution(resolution, divisor, expected):
    assert round_resolution(resolution, divisor) == expected


def test_round_resolution_rejects_bad_divisor():
    with pytest.raises(ValueError, match="divisor"):
        round_resolution(224, 0)

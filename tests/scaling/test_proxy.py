import pytest

from scaling import ScalingError, scale_network, search_proxy, skeleton_for
from search_spaces import skeleton


def test_the_proxy_is_the_skeleton_scaled_by_width_and_depth():
    proxy = search_proxy(
        resolution=16, in_channels=1, num_classes=10, width_mult=0.5, depth_mult=0.5
    )
    reference = skeleton("small-input", in_channels=1, num_classes=10, resolution=16)
    assert proxy == scale_network(
        reference, width_mult=0.5, depth_mult=0.5, resolution=16, resolution_divisor=1
    )
    assert proxy.resolution == 16 and proxy.in_channels == 1 and proxy.num_classes == 10
    assert [s.out_channels for s in proxy.stages] == [8, 16, 24, 40, 56, 96, 160]
    # At width and depth 1 the skeleton is used as it is.
    assert search_proxy(resolution=16, in_channels=1, num_classes=10) == reference


def test_auto_picks_the_skeleton_by_resolution():
    assert skeleton_for("auto", 127) == "small-input"
    assert skeleton_for("auto", 128) == "efficientnet-b0"
    assert skeleton_for("efficientnet-b0", 32) == "efficientnet-b0"
    proxy = search_proxy(resolution=224, in_channels=3, num_classes=1000)
    assert proxy.stem_stride == 2 and proxy.total_stride == 32


@pytest.mark.parametrize("mult", [0, -0.5, float("nan"), True])
def test_bad_multipliers_are_refused(mult):
    with pytest.raises(ScalingError, match="must be positive"):
        search_proxy(resolution=16, in_channels=1, num_classes=10, width_mult=mult)

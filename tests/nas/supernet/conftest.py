"""The search proxy (what `make demo` searches) and its default space, for every test here."""

from __future__ import annotations

import pytest

from scaling import search_proxy
from search_spaces import MBConvSpace, NetworkSpec, StageChoices


@pytest.fixture(scope="session")
def proxy() -> NetworkSpec:
    return search_proxy(
        resolution=16, in_channels=1, num_classes=10, width_mult=0.5, depth_mult=0.5
    )


@pytest.fixture(scope="session")
def space(proxy) -> MBConvSpace:
    # The default supernet space: the usual choices, every block keeping its shortcut.
    return MBConvSpace.uniform(proxy, StageChoices(skips=(True,)))

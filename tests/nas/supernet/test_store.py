"""A saved supernet is reused only by the run it was trained for."""

from __future__ import annotations

import pytest
import torch

from nas.supernet import (
    LEGACY_SUPERNET_FILE,
    SUPERNET_FILE,
    Supernet,
    SupernetError,
    load_supernet,
    save_supernet,
)
from nas.supernet._store import _canonical
from search_spaces import MBConvSpace, StageChoices

IDENTITY = {"space": "proxy", "data": {"name": "digits"}, "seed": 0}


def test_saved_and_loaded_weights_are_the_same(tmp_path, space):
    torch.manual_seed(0)
    net = Supernet(space)
    save_supernet(net, tmp_path / SUPERNET_FILE, IDENTITY)
    loaded = load_supernet(tmp_path / SUPERNET_FILE, space, dict(reversed(IDENTITY.items())))
    for (name, a), (_, b) in zip(
        net.state_dict().items(), loaded.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_another_identity_is_refused_and_the_file_kept(tmp_path, space):
    path = tmp_path / SUPERNET_FILE
    save_supernet(Supernet(space), path, IDENTITY)
    before = path.read_bytes()
    with pytest.raises(SupernetError, match="trained for another space, data or schedule"):
        load_supernet(path, space, {**IDENTITY, "seed": 1})
    assert path.read_bytes() == before


def test_a_truncated_file_is_refused_in_one_line(tmp_path, space):
    path = tmp_path / SUPERNET_FILE
    save_supernet(Supernet(space), path, IDENTITY)
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(SupernetError, match="not a readable supernet") as caught:
        load_supernet(path, space, IDENTITY)
    assert "\n" not in str(caught.value)


def test_weights_for_another_space_are_refused(tmp_path, space, proxy):
    path = tmp_path / SUPERNET_FILE
    narrow = MBConvSpace.uniform(proxy, StageChoices(kernels=(3,), skips=(True,)))
    save_supernet(Supernet(narrow), path, IDENTITY)
    with pytest.raises(SupernetError, match="does not fit this space's supernet"):
        load_supernet(path, space, IDENTITY)


def test_a_file_that_is_no_supernet_is_refused(tmp_path, space):
    from safetensors.torch import save_file

    path = tmp_path / SUPERNET_FILE
    save_file({"weights": torch.ones(2)}, str(path))  # safetensors, but no supernet's metadata
    with pytest.raises(SupernetError, match="not a supernet file"):
        load_supernet(path, space, IDENTITY)
    legacy = tmp_path / LEGACY_SUPERNET_FILE
    torch.save({"weights": [1, 2]}, legacy)
    with pytest.raises(SupernetError, match="not a supernet file"):
        load_supernet(legacy, space, IDENTITY)


def test_a_supernet_saved_before_safetensors_still_loads(tmp_path, space):
    torch.manual_seed(0)
    net = Supernet(space)
    legacy = {"format": 1, "identity": _canonical(IDENTITY), "state": net.state_dict()}
    torch.save(legacy, tmp_path / LEGACY_SUPERNET_FILE)  # as the earlier version wrote it
    loaded = load_supernet(tmp_path / LEGACY_SUPERNET_FILE, space, IDENTITY)
    assert all(torch.equal(a, b) for a, b in zip(
        net.state_dict().values(), loaded.state_dict().values(), strict=True
    ))  # fmt: skip

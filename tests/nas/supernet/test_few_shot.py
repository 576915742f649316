"""Few-shot supernets: one per option of a choice, each its own weights."""

from __future__ import annotations

import dataclasses
import json
import random

import pytest
import torch

from nas import TrainingConfig, load_data
from nas.supernet import (
    SUPERNET_FILE,
    FewShotSupernet,
    SandwichConfig,
    SupernetError,
    SupernetEvaluator,
    load_supernet,
    save_supernet,
)
from search_spaces import SpecError


def test_fixing_a_choice_keeps_every_other(space):
    fixed = space.fixed("s2_kernel", 5)
    assert fixed.parameters()["s2_kernel"] == (5,)
    others = {k: v for k, v in space.parameters().items() if k != "s2_kernel"}
    assert {k: v for k, v in fixed.parameters().items() if k != "s2_kernel"} == others
    with pytest.raises(SpecError, match="s2_kernel=4 is not one of"):
        space.fixed("s2_kernel", 4)
    with pytest.raises(SpecError, match="no choice 's9_kernel'"):
        space.fixed("s9_kernel", 3)


def test_each_network_is_the_builders_with_its_own_parts_weights(space):
    torch.manual_seed(0)
    few = FewShotSupernet(space, "s2_kernel")
    assert len(few.parts) == 3 and few.options == (3, 5, 7)
    rng = random.Random(0)
    seen = set()
    for _ in range(6):
        point = space.sample(rng)
        spec = space.decode(point)
        part = few.part_for(spec)
        assert part is few.parts[few.options.index(point["s2_kernel"])]
        seen.add(point["s2_kernel"])
        model, alone = few.extract(spec).eval(), part.extract(spec).eval()
        x = torch.randn(2, 1, 16, 16)
        assert torch.equal(model(x), alone(x))
        # The same network from another part has other weights: nothing is shared.
        other = few.parts[(few.options.index(point["s2_kernel"]) + 1) % 3]
        assert not torch.equal(other.stem.weight, part.stem.weight)
    assert len(seen) > 1


def test_a_split_the_space_cannot_make_is_refused_in_one_line(space):
    with pytest.raises(SupernetError, match="no choice 's2_kernels' to split the supernet by"):
        FewShotSupernet(space, "s2_kernels")
    with pytest.raises(SupernetError, match="s0_skip has one option in this space"):
        FewShotSupernet(space, "s0_skip")


def test_a_few_shot_supernet_trains_its_share_saves_and_loads(tmp_path, space):
    data = load_data("digits", resolution=16, max_samples=200, seed=0)
    config = SandwichConfig(
        training=TrainingConfig(epochs=3, threads=1, batch_size=32),
        random_subnets=1,
        split_by="s2_kernel",
    )
    first = SupernetEvaluator(data, space=space, config=config, seed=0)
    first.prepare(tmp_path)
    assert isinstance(first.supernet, FewShotSupernet)
    record = json.loads((tmp_path / SUPERNET_FILE).with_suffix(".json").read_text())
    assert record["epochs"] == 3  # one epoch for each of the three parts
    spec = space.decode(space.sample(random.Random(1)))
    score = first.evaluate(spec, seed=0).accuracy
    again = SupernetEvaluator(data, space=space, config=config, seed=0)
    again.prepare(tmp_path)  # loads, trains nothing
    assert again.training is None and again.evaluate(spec, seed=0).accuracy == score
    # The same file read as a one-piece supernet's, or split another way: refused.
    whole = dataclasses.replace(config, split_by=None)
    with pytest.raises(SupernetError, match="trained for another space, data or schedule"):
        SupernetEvaluator(data, space=space, config=whole, seed=0).prepare(tmp_path)
    assert config.identity()["split_by"] == "s2_kernel" and "split_by" not in whole.identity()


def test_its_state_round_trips_through_the_store(tmp_path, space):
    torch.manual_seed(0)
    few = FewShotSupernet(space, "s3_expand")
    save_supernet(few, tmp_path / SUPERNET_FILE, {"id": 1})
    loaded = load_supernet(tmp_path / SUPERNET_FILE, space, {"id": 1}, split_by="s3_expand")
    for (name, a), (_, b) in zip(
        few.state_dict().items(), loaded.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name

"""Weight slicing: a candidate taken from the supernet is the builder's network for it."""

from __future__ import annotations

import dataclasses
import random

import pytest
import torch

from nas.models import build_model
from nas.supernet import Supernet, SupernetError, default_supernet_space, stage_bounds
from search_spaces import MBConvSpace, StageChoices


def randomise_statistics(model: torch.nn.Module, seed: int) -> None:
    # Fresh batch norms are the identity: give every channel its own statistics and
    # affine values, so a wrong slice shows in the outputs.
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            n = module.num_features
            module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
            module.weight.data.copy_(torch.rand(n, generator=generator) + 0.5)
            module.bias.data.copy_(torch.randn(n, generator=generator) * 0.1)
    for name, parameter in model.named_parameters():
        if name.endswith("bias") and "norm" not in name:
            parameter.data.copy_(torch.randn(parameter.shape, generator=generator) * 0.1)


@pytest.fixture(scope="module")
def supernet(space) -> Supernet:
    torch.manual_seed(0)
    net = Supernet(space)
    randomise_statistics(net, 1)
    return net.eval()


@pytest.mark.parametrize("seed", range(8))
def test_a_sampled_candidate_extracted_equals_the_supernet_running_it(supernet, seed, space):
    spec = space.decode(space.sample(random.Random(seed)))
    images = torch.randn(4, 1, 16, 16, generator=torch.Generator().manual_seed(seed))
    extracted = supernet.extract(spec).eval()
    with torch.no_grad():
        shared = supernet(images, spec)
        alone = extracted(images)
    assert shared.shape == (4, 10)
    torch.testing.assert_close(alone, shared, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("largest", [True, False])
def test_the_extremes_fit_and_match(supernet, largest):
    spec = supernet.extremes()[0 if largest else 1]
    images = torch.randn(2, 1, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(
            supernet.extract(spec).eval()(images), supernet(images, spec), rtol=1e-4, atol=1e-5
        )


def test_extracted_weights_are_the_centre_and_first_channels(supernet, space):
    spec = space.decode({**space.extreme(largest=True), "s3_kernel": 3, "s3_expand": 3})
    block = supernet.stages[3][0]
    built = supernet.extract(spec).stages[3][0].layers
    stage = spec.stages[3]
    mid = stage.in_channels * 3
    assert torch.equal(built[0][0].weight, block.expand[:mid, : stage.in_channels])
    assert torch.equal(built[1][0].weight, block.depthwise[:mid, :, 2:5, 2:5])


def test_a_candidate_extracted_is_the_builders_network_for_its_spec(supernet, space):
    spec = space.decode(space.sample(random.Random(3)))
    extracted = supernet.extract(spec)
    reference = build_model(spec)
    assert list(extracted.state_dict()) == list(reference.state_dict())
    assert [t.shape for t in extracted.state_dict().values()] == [
        t.shape for t in reference.state_dict().values()
    ]


def test_training_the_largest_candidate_reaches_every_shared_weight(space):
    net = Supernet(space).train()
    largest, smallest = net.extremes()
    net(torch.randn(4, 1, 16, 16), largest).sum().backward()
    assert [name for name, p in net.named_parameters() if p.grad is None] == []
    net.zero_grad(set_to_none=True)
    net(torch.randn(4, 1, 16, 16), smallest).sum().backward()

    def used_by_smallest(name: str) -> bool:
        # Its first blocks only, with no expansion conv and no SE.
        if not name.startswith("stages."):
            return True
        stage, block, weight = name.split(".", 3)[1:]
        in_depth = int(block) < smallest.stages[int(stage)].repeats
        return in_depth and not weight.startswith(("se_", "expand"))

    for name, p in net.named_parameters():
        assert (p.grad is not None) == used_by_smallest(name), name


def test_bounds_are_the_largest_choice_of_each_stage(space):
    bounds = stage_bounds(space)
    largest = space.decode(space.extreme(largest=True))
    assert [b.repeats for b in bounds] == [s.repeats for s in largest.stages]
    assert [b.out_channels for b in bounds] == [s.out_channels for s in largest.stages]
    assert {b.kernel for b in bounds} == {7} and {b.expand_ratio for b in bounds} == {6}


def test_a_spec_outside_the_supernet_is_refused_with_the_reason(supernet, space):
    spec = space.decode(space.sample(random.Random(0)))
    stages = list(spec.stages)
    stages[2] = dataclasses.replace(stages[2], kernel=9)
    with pytest.raises(SupernetError, match=r"stage 2 .* kernel 9 \(at most 7\)"):
        supernet.extract(dataclasses.replace(spec, stages=tuple(stages)))
    with pytest.raises(SupernetError, match="another space"):
        supernet.check(dataclasses.replace(spec, num_classes=5))


def test_a_space_without_se_or_expansion_builds_no_such_weights(proxy):
    choices = StageChoices(expand_ratios=(1,), se_ratios=(0.0,), skips=(True,))
    space = MBConvSpace.uniform(proxy, choices)
    net = Supernet(space)
    names = [name for name, _ in net.named_parameters()]
    assert not [n for n in names if ".se_" in n or n.endswith(".expand")]
    spec = space.decode(space.sample(random.Random(1)))
    net.eval()
    images = torch.randn(2, 1, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(net.extract(spec).eval()(images), net(images, spec))


@pytest.mark.parametrize("seed", range(4))
def test_a_space_that_may_drop_shortcuts_shares_weights_with_and_without_them(proxy, seed):
    space = MBConvSpace.uniform(proxy)  # skips (True, False) in every stage
    torch.manual_seed(seed)
    net = Supernet(space)
    randomise_statistics(net, seed)
    net.eval()
    sampled = space.decode(space.sample(random.Random(seed)))
    spec, without = (
        dataclasses.replace(
            sampled, stages=tuple(dataclasses.replace(s, skip=skip) for s in sampled.stages)
        )
        for skip in (True, False)
    )
    images = torch.randn(2, 1, 16, 16, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        for candidate in (spec, without):
            alone = net.extract(candidate).eval()(images)
            torch.testing.assert_close(alone, net(images, candidate), rtol=1e-4, atol=1e-5)
        # The shortcut is really dropped: the same weights give other outputs.
        assert not torch.allclose(net(images, spec), net(images, without))


def test_the_default_supernet_space_keeps_every_other_choice_and_every_shortcut(proxy):
    usual, held = MBConvSpace.uniform(proxy), default_supernet_space(proxy)
    assert all(choice.skips == (True,) for choice in held.choices)
    for before, after in zip(usual.choices, held.choices, strict=True):
        assert dataclasses.replace(before, skips=(True,)) == after
    assert Supernet(held).space == held


def test_a_space_with_fused_blocks_is_refused_with_the_fix(proxy):
    choices = StageChoices(skips=(True,), convs=("mbconv", "fused"))
    with pytest.raises(SupernetError, match=r'Fused-MBConv.*"convs": \["mbconv"\]'):
        Supernet(MBConvSpace.uniform(proxy, choices))

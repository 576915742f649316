"""The sandwich rule, training that learns, and scoring by inherited weights."""

from __future__ import annotations

import random

import pytest
import torch

from nas.data import load_data
from nas.evaluate import LEGACY_RECIPE, TrainingConfig
from nas.supernet import (
    SandwichConfig,
    Supernet,
    SupernetEvaluator,
    sandwich_specs,
    train_supernet,
)


@pytest.fixture(scope="module")
def digits():
    return load_data("digits", resolution=16, max_samples=600, seed=0)


def test_each_step_trains_largest_smallest_then_sampled_networks(space):
    net = Supernet(space)
    first = sandwich_specs(net, random.Random(3), 2)
    again = sandwich_specs(net, random.Random(3), 2)
    largest, smallest = net.extremes()
    assert first[:2] == [largest, smallest] and len(first) == 4
    assert first == again  # the seed decides which networks are sampled
    assert first[2] != first[3]
    flops = [
        sum(s.repeats * s.out_channels * s.expand_ratio for s in spec.stages) for spec in first
    ]
    assert flops[0] == max(flops) and flops[1] == min(flops)


def test_training_is_repeatable_for_a_seed(space):
    few = load_data("digits", resolution=16, max_samples=150, seed=0)
    config = SandwichConfig(training=TrainingConfig(epochs=1, batch_size=60), random_subnets=1)
    states = []
    for _ in range(2):
        torch.manual_seed(0)
        net = Supernet(space)
        train_supernet(net, few, config, seed=7)
        states.append(net.state_dict())
    for name, value in states[0].items():
        assert torch.equal(value, states[1][name]), name
    torch.manual_seed(0)
    untrained = Supernet(space).state_dict()
    assert not torch.equal(untrained["stem.weight"], states[0]["stem.weight"])  # it trained


@pytest.fixture(scope="module")
def trained(space, digits):
    torch.manual_seed(0)
    net = Supernet(space)
    losses = []
    # Two sampled networks per step: the known gap below is measured at this setting, with
    # the recipe from before issue 25 (the supernet's own recipe is issue 27's).
    training = TrainingConfig(**{**LEGACY_RECIPE, "epochs": 3})
    config = SandwichConfig(training=training, random_subnets=2)
    result = train_supernet(
        net, digits, config, seed=0, progress=lambda e, loss: losses.append(loss)
    )
    return net, result, losses


def test_the_supernet_learns_and_both_ends_of_the_sandwich_score_well(trained, digits):
    net, result, losses = trained
    assert result.epochs == 3 and len(losses) == 3
    assert losses[-1] < 0.6 * losses[0]
    evaluator = SupernetEvaluator(digits, supernet=net)
    largest, smallest = net.extremes()
    # Ten classes: chance is 0.1. Measured: 0.88 and 0.77.
    assert evaluator.evaluate(largest, seed=0).accuracy > 0.7
    assert evaluator.evaluate(smallest, seed=0).accuracy > 0.6


@pytest.mark.xfail(
    strict=True,
    reason="known gap: after 3 epochs the networks between the two ends inherit weights "
    'that score 0.08-0.22 (chance 0.1); BENCHMARKS.md "Supernet" measures the ranking',
)
def test_networks_between_the_ends_inherit_useful_weights(trained, space, digits):
    net, _, _ = trained
    evaluator = SupernetEvaluator(digits, supernet=net)
    sampled = [space.decode(space.sample(random.Random(seed))) for seed in range(4)]
    assert min(evaluator.evaluate(spec, seed=0).accuracy for spec in sampled) > 0.5


def test_scoring_is_deterministic_and_leaves_the_supernet_unchanged(trained, space, digits):
    net, _, _ = trained
    before = {name: value.clone() for name, value in net.state_dict().items()}
    evaluator = SupernetEvaluator(digits, supernet=net)
    spec = space.decode(space.sample(random.Random(11)))
    first = evaluator.evaluate(spec, seed=0).accuracy
    assert evaluator.evaluate(spec, seed=5).accuracy == first
    for name, value in net.state_dict().items():
        assert torch.equal(value, before[name]), name


def test_uniform_sampling_trains_one_drawn_network_a_step_on_the_labels(space, digits):
    from nas.supernet import step_specs

    config = SandwichConfig(sampling="uniform", random_subnets=3, distill=True)
    assert (config.random_subnets, config.distill) == (0, False)  # what uniform means
    net = Supernet(space)
    rng = random.Random(5)
    steps = [step_specs(net, rng, config) for _ in range(20)]
    assert all(len(step) == 1 for step in steps)
    assert len({step[0].fingerprint() for step in steps}) == 20  # drawn anew each step
    sandwich = SandwichConfig()
    assert "sampling" not in sandwich.identity()  # earlier supernets keep their identity
    assert config.identity()["sampling"] == "uniform"
    with pytest.raises(ValueError, match="sampling must be one of sandwich, uniform"):
        SandwichConfig(sampling="fair")
    # It trains the shared weights (how well it ranks is the supernet benchmark's to say).
    few = load_data("digits", resolution=16, max_samples=150, seed=0)
    torch.manual_seed(0)
    net = Supernet(space)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    uniform = SandwichConfig(training=TrainingConfig(epochs=1, batch_size=60), sampling="uniform")
    result = train_supernet(net, few, uniform, seed=1)
    assert result.steps == 2 and result.final_loss == result.final_loss  # finite, not NaN
    assert not torch.equal(before["stem.weight"], net.state_dict()["stem.weight"])

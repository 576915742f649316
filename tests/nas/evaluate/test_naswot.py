import math

import pytest
import torch
from torch import nn

from nas import load_data
from nas.evaluate import NaswotEvaluator, TrialError, naswot_score
from scaling import search_proxy
from search_spaces import MBConvSpace


def test_the_kernel_counts_agreeing_units_by_hand():
    # Two ReLU units read x0 and x1: codes (1,0), (0,1), (1,1) for the three images.
    model = nn.Sequential(nn.Flatten(), nn.ReLU())
    images = torch.tensor([[1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]]).reshape(3, 1, 1, 2)
    # agreements: diagonal 2; (a, b) 0; (a, c) 1; (b, c) 1 -> det [[2,0,1],[0,2,1],[1,1,2]] = 4
    assert naswot_score(model, images) == pytest.approx(math.log(4.0))
    images[1] = images[0]  # two images with the same codes: a singular kernel
    assert naswot_score(model, images) == -math.inf


@pytest.fixture(scope="module")
def evaluator_and_space():
    data = load_data("digits", resolution=16, max_samples=200, seed=0)
    skeleton = search_proxy(
        resolution=16, in_channels=1, num_classes=10, width_mult=0.5, depth_mult=0.5
    )
    return NaswotEvaluator(data=data, batch_size=32), MBConvSpace.uniform(skeleton)


def test_scores_are_deterministic_and_tell_networks_apart(evaluator_and_space):
    evaluator, space = evaluator_and_space
    small = space.decode(space.extreme(largest=False))
    large = space.decode(space.extreme(largest=True))
    first = evaluator.evaluate(small, seed=4).accuracy
    assert evaluator.evaluate(small, seed=4).accuracy == first
    assert evaluator.evaluate(large, seed=4).accuracy != first
    assert math.isfinite(first) and not evaluator.gives_accuracy
    assert evaluator.identity()["data"]["max_samples"] == 200


def test_a_batch_of_one_image_is_refused():
    data = load_data("digits", resolution=16, max_samples=200, seed=0)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 2"):
        NaswotEvaluator(data=data, batch_size=1)


def test_a_singular_kernel_is_a_trial_error(evaluator_and_space, monkeypatch):
    evaluator, space = evaluator_and_space
    monkeypatch.setattr("nas.evaluate._naswot.naswot_score", lambda model, images: -math.inf)
    with pytest.raises(TrialError, match="singular"):
        evaluator.evaluate(space.decode(space.extreme(largest=False)), seed=0)

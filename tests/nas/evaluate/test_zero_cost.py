import math

import pytest
import torch

from nas.evaluate import SynflowEvaluator, TrialError, _zero_cost, synflow_score
from search_spaces import NetworkSpec

TINY = {
    "name": "tiny",
    "blocks": ["r1_k3_s11_e1_i16_o16_se0.25", "r1_k3_s22_e3_i16_o24"],
    "stem_channels": 16,
    "head_channels": 64,
    "activation": "swish",
    "resolution": 16,
    "num_classes": 10,
    "dropout": 0.0,
    "fix_stem_head": False,
    "in_channels": 1,
}
# ~90x the parameters and 8 blocks instead of 2, with squeeze-excitation.
BIG = {
    **TINY,
    "name": "big",
    "blocks": [
        "r2_k3_s11_e1_i32_o32_se0.25",
        "r3_k5_s22_e6_i32_o64_se0.25",
        "r3_k3_s11_e6_i64_o96",
    ],
    "stem_channels": 32,
    "head_channels": 256,
}


def spec(base: dict, activation: str) -> NetworkSpec:
    return NetworkSpec.from_dict({**base, "activation": activation})


@pytest.fixture(autouse=True)
def one_thread():
    # A second torch thread is ~40x slower when another process keeps a core busy.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize(
    ("activation", "expected"), [("swish", 5.018), ("relu", 5.323), ("relu6", 2.787)]
)
def test_score_is_finite_positive_for_every_activation(activation, expected):
    result = SynflowEvaluator().evaluate(spec(TINY, activation), seed=0)
    assert math.isfinite(result.accuracy)
    assert result.metrics["synflow_log10"] == result.accuracy
    assert result.metrics["seconds"] >= 0
    # Measured with torch 2.14 (seed 0); a loose tolerance survives kernel changes.
    assert result.accuracy == pytest.approx(expected, abs=0.01)
    assert synflow_score(spec(TINY, activation), seed=0) == pytest.approx(10**expected, rel=0.03)


def test_same_seed_same_score_other_seed_differs():
    tiny = spec(TINY, "swish")
    evaluator = SynflowEvaluator()
    first = evaluator.evaluate(tiny, seed=3).accuracy
    assert evaluator.evaluate(tiny, seed=3).accuracy == first
    assert evaluator.evaluate(tiny, seed=4).accuracy != first


@pytest.mark.parametrize(("activation", "margin"), [("swish", 5), ("relu", 5), ("relu6", 0.3)])
def test_bigger_network_scores_higher(activation, margin):
    evaluator = SynflowEvaluator()
    tiny = evaluator.evaluate(spec(TINY, activation), seed=0).accuracy
    big = evaluator.evaluate(spec(BIG, activation), seed=0).accuracy
    # Measured: swish 5.0 -> 14.2, relu 5.3 -> 14.8, relu6 (clipping) only 2.8 -> 3.4.
    assert big > tiny + margin


def test_score_is_proportional_to_batch_size():
    tiny = spec(TINY, "relu")
    one = SynflowEvaluator().evaluate(tiny, seed=0).accuracy
    four = SynflowEvaluator(batch_size=4).evaluate(tiny, seed=0).accuracy
    assert four - one == pytest.approx(math.log10(4), abs=1e-9)


def test_callers_random_state_is_left_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    SynflowEvaluator().evaluate(spec(TINY, "swish"), seed=0)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("bad", [math.inf, math.nan, 0.0, -1.0])
def test_non_finite_or_non_positive_score_is_a_trial_error(monkeypatch, bad):
    monkeypatch.setattr(_zero_cost, "synflow_score", lambda *args, **kwargs: bad)
    with pytest.raises(TrialError, match="not a finite positive number"):
        SynflowEvaluator().evaluate(spec(TINY, "swish"), seed=0)


def test_progress_is_not_called():
    calls = []
    SynflowEvaluator().evaluate(spec(TINY, "swish"), seed=0, progress=lambda *a: calls.append(a))
    assert calls == []


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_bad_batch_size_is_rejected(bad):
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        SynflowEvaluator(batch_size=bad)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        synflow_score(spec(TINY, "swish"), seed=0, batch_size=bad)


def test_evaluator_identity():
    assert SynflowEvaluator.name == "zero-cost"
    assert SynflowEvaluator.gives_accuracy is False

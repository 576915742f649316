"""Every search strategy runs on one trained supernet, which scores and never changes."""

from __future__ import annotations

import pytest
import torch

from nas import SearchConfig, run_search
from nas.data import load_data
from nas.evaluate import TrainingConfig
from nas.search import STRATEGIES
from nas.supernet import SandwichConfig, Supernet, SupernetEvaluator, train_supernet
from search_spaces import NetworkSpec

TRIALS = 16


@pytest.fixture(scope="module")
def data():
    return load_data("digits", resolution=16, max_samples=200, seed=0)


@pytest.fixture(scope="module")
def trained(space, data) -> Supernet:
    torch.manual_seed(0)
    supernet = Supernet(space)
    config = SandwichConfig(training=TrainingConfig(epochs=1, batch_size=64), random_subnets=1)
    train_supernet(supernet, data, config, seed=0)
    return supernet.eval()


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_each_strategy_searches_on_the_supernet_without_changing_it(
    strategy, space, data, trained, tmp_path
):
    before = {k: v.clone() for k, v in trained.state_dict().items()}
    evaluator = SupernetEvaluator(data, supernet=trained, calibration_images=128)
    objective = "reward" if strategy in ("rl", "predictor") else "pareto"  # one reward
    config = SearchConfig(
        target=5e6, trials=TRIALS, strategy=strategy, objective=objective, target_tolerance=None
    )
    study = run_search(space=space, evaluator=evaluator, config=config, run_dir=tmp_path)
    trials = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(trials) == TRIALS
    distinct = {t.user_attrs["fingerprint"] for t in trials}
    assert len(distinct) >= TRIALS // 2  # the strategy explores, not one network again
    # What the study holds is what the supernet says of each network, to the last digit.
    for trial in trials[:3] + trials[-3:]:
        spec = NetworkSpec.from_dict(trial.user_attrs["spec"])
        again = evaluator.evaluate(spec, seed=0).accuracy
        assert trial.user_attrs["accuracy"] == pytest.approx(again, abs=1e-12)
    accuracies = [t.user_attrs["accuracy"] for t in trials]
    assert len(set(accuracies)) > 1 and all(0 <= a <= 1 for a in accuracies)
    after = trained.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)

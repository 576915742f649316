"""Winners retrained alone: which are chosen, what is kept, and that the baseline follows them."""

from __future__ import annotations

import random

import optuna
import pytest

from nas import Evaluation, Evaluator, SearchConfig, TrialError
from nas.search import (
    build_report,
    confirm_search,
    confirmed_results,
    mnas_reward,
    reward_form,
    winners,
)
from scaling import search_proxy
from search_spaces import MBConvSpace, NetworkSpec

SPACE = MBConvSpace.uniform(
    search_proxy(resolution=16, in_channels=1, num_classes=10, width_mult=0.5, depth_mult=0.5)
)
TARGET = 5e6


def made_study(rows: list[tuple[float, float]], *, pareto: bool = False) -> optuna.Study:
    """A finished search by hand: one trial per (score, FLOPs); specs are real networks."""
    study = optuna.create_study(directions=["maximize", "minimize"] if pareto else ["maximize"])
    rng = random.Random(0)
    config = SearchConfig(target=TARGET, objective="pareto" if pareto else "reward")
    for score, flops in rows:
        spec = SPACE.decode(SPACE.sample(rng))
        reward = mnas_reward(score, flops, TARGET, reward_form(config.constraint))
        trial = optuna.trial.create_trial(
            values=[score, flops] if pareto else [reward],
            user_attrs={
                "spec": spec.to_dict(),
                "fingerprint": f"net-{len(study.trials)}",
                "cost": flops,
                "flops": flops,
                "accuracy": score,
                "reward": reward,
            },
        )
        study.add_trial(trial)
    return study


class Alone(Evaluator):
    """Stand-alone accuracy by trial: the supernet's ranking reversed; counts its calls."""

    def __init__(self, accuracies: dict[int, float], fail: set[int] = frozenset()) -> None:
        self.accuracies, self.fail, self.calls = accuracies, fail, []

    def evaluate(self, spec: NetworkSpec, *, seed, progress=None) -> Evaluation:
        number = seed  # config.seed 0: the seed is the trial number
        self.calls.append(number)
        if number in self.fail:
            raise TrialError("training loss became nan")
        return Evaluation(accuracy=self.accuracies[number])


def test_the_top_k_by_reward_are_retrained_and_the_baseline_is_the_best_alone():
    study = made_study([(0.90, 5e6), (0.70, 5e6), (0.95, 5e6), (0.60, 5e6), (0.85, 5e6)])
    config = SearchConfig(target=TARGET)
    trainer = Alone({0: 0.80, 2: 0.75, 4: 0.97})
    results = confirm_search(study, config, trainer, top_k=3)
    assert sorted(results) == [0, 2, 4] and sorted(trainer.calls) == [0, 2, 4]
    report = build_report(study, config, space_size=SPACE.size)
    # The supernet ranked trial 2 first; retrained alone, trial 4 is best.
    assert report.baseline["number"] == 4
    assert report.summary["baseline"]["standalone_accuracy"] == pytest.approx(0.97)
    assert report.summary["baseline"]["chosen_by"] == "stand-alone training of the top 3 by train"
    assert [row["number"] for row in report.summary["confirmed"]] == [0, 2, 4]


def test_trials_confirmed_before_are_not_trained_again():
    study = made_study([(0.90, 5e6), (0.70, 5e6), (0.95, 5e6)])
    config = SearchConfig(target=TARGET)
    confirm_search(study, config, Alone({2: 0.9}), top_k=1)
    again = Alone({0: 0.8, 2: 0.9})
    confirm_search(study, config, again, top_k=2)
    assert again.calls == [0]
    assert sorted(confirmed_results(study)) == [0, 2]


def test_a_winner_that_fails_alone_is_recorded_and_not_chosen():
    study = made_study([(0.90, 5e6), (0.95, 5e6)])
    config = SearchConfig(target=TARGET)
    confirm_search(study, config, Alone({0: 0.5}, fail={1}), top_k=2)
    results = confirmed_results(study)
    assert "nan" in results[1]["error"] and "accuracy" not in results[1]
    assert build_report(study, config, space_size=1).baseline["number"] == 0


def test_a_pareto_search_confirms_the_most_accurate_front_points_within_the_target():
    # (score, FLOPs): 0 and 3 are on the front within the target, 4 over it; 1, 2 dominated.
    rows = [(0.80, 2e6), (0.70, 3e6), (0.75, 4e6), (0.90, 4.5e6), (0.99, 9e6)]
    study = made_study(rows, pareto=True)
    config = SearchConfig(target=TARGET, objective="pareto")
    report = build_report(study, config, space_size=1)
    assert winners(report, config, 2) == [3, 0]
    assert winners(report, config, 3) == [3, 0, 4]
    confirm_search(study, config, Alone({3: 0.70, 0: 0.85}), top_k=2)
    assert build_report(study, config, space_size=1).baseline["number"] == 0


def test_nothing_is_retrained_when_k_is_zero_or_nothing_was_evaluated():
    config = SearchConfig(target=TARGET)
    empty = optuna.create_study()
    assert winners(build_report(empty, config, space_size=1), config, 3) == []
    study = made_study([(0.9, 5e6)])
    assert confirm_search(study, config, Alone({}), top_k=0) == {}


def test_winners_retrained_side_by_side_get_what_one_at_a_time_gets():
    from nas.data import load_data
    from nas.evaluate import TrainingConfig, TrainingEvaluator

    data = load_data("digits", resolution=16, max_samples=160, seed=0)
    trainer = TrainingEvaluator(data=data, config=TrainingConfig(epochs=1, threads=1))
    config = SearchConfig(target=TARGET)
    results = {}
    for workers in (1, 2):
        study = made_study([(0.90, 5e6), (0.70, 5e6), (0.95, 5e6)])
        results[workers] = confirm_search(study, config, trainer, top_k=3, workers=workers)
        assert sorted(confirmed_results(study)) == [0, 1, 2]  # each recorded as it landed
    accuracy = {w: {n: r["accuracy"] for n, r in res.items()} for w, res in results.items()}
    assert accuracy[1] == accuracy[2]
    assert all(0 <= a <= 1 for a in accuracy[1].values())


def test_the_baseline_is_the_best_reward_near_the_target_and_says_what_that_gave_up():
    # Trial 0 has the best reward at 2.3x the target (a short proxy favours big networks).
    rows = [(0.97, 11.5e6), (0.90, 4.8e6), (0.93, 7e6), (0.86, 5.2e6)]
    study = made_study(rows)
    summary = build_report(study, SearchConfig(target=TARGET), space_size=0).summary
    baseline = summary["baseline"]
    assert baseline["number"] == 1  # the best of trials 1 and 3, the two within 10%
    assert baseline["target_ratio"] == pytest.approx(0.96)
    assert (baseline["target_tolerance"], baseline["within_tolerance"]) == (0.1, True)
    elsewhere = baseline["best_reward_elsewhere"]
    assert elsewhere["number"] == 0 and elsewhere["target_ratio"] == pytest.approx(2.3)
    assert elsewhere["reward"] > baseline["reward"]
    # The retraining picks from near the target first, then the rest by reward.
    report = build_report(study, SearchConfig(target=TARGET), space_size=0)
    assert winners(report, SearchConfig(target=TARGET), 3) == [1, 3, 0]

    anywhere = SearchConfig(target=TARGET, target_tolerance=None)
    summary = build_report(study, anywhere, space_size=0).summary
    assert summary["baseline"]["number"] == 0
    assert "best_reward_elsewhere" not in summary["baseline"]
    # With a hard constraint the band lies below the target: 5.2M is over it.
    hard = SearchConfig(target=TARGET, constraint="hard")
    assert build_report(made_study(rows), hard, space_size=0).summary["baseline"]["number"] == 1


def test_with_no_candidate_near_the_target_the_baseline_is_the_best_anywhere_and_says_so():
    study = made_study([(0.97, 11.5e6), (0.80, 1e6)])
    baseline = build_report(study, SearchConfig(target=TARGET), space_size=0).summary["baseline"]
    assert baseline["number"] == 0
    assert baseline["within_tolerance"] is False and "best_reward_elsewhere" not in baseline

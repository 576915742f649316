"""Successive halving for Pareto searches: the rule on points whose answer is known, then
the rule as the local and the Ray backends apply it to a real study."""

from __future__ import annotations

import sys

import pytest
from optuna.trial import TrialState

from nas import Evaluation, Evaluator, SearchConfig, run_search
from nas.runs import ParetoHalving, RungPoint, finished_count, keeps_at_rung
from nas.runs._pareto_halving import halving_order
from scaling import search_proxy
from search_spaces import MBConvSpace, StageChoices


def points(*rows: tuple[float, float]) -> list[RungPoint]:
    return [RungPoint(number, score, cost) for number, (score, cost) in enumerate(rows)]


def test_dominated_trials_stop_and_the_first_front_goes_on():
    # 0 and 1 are the front; 2 is dominated by 1 (less accurate, dearer); 3 by everyone.
    population = points((0.9, 10), (0.8, 5), (0.7, 8), (0.6, 12))
    kept = [keeps_at_rung(p, population, reduction_factor=2) for p in population]
    assert kept == [True, True, False, False]


def test_a_cheap_network_goes_on_where_a_ranking_by_accuracy_would_stop_it():
    # ASHA on accuracy would keep 0.9 and 0.7; the 0.5 network costs a tenth as much.
    population = points((0.9, 10), (0.7, 8), (0.6, 12), (0.5, 1))
    kept = {p.number for p in population if keeps_at_rung(p, population, 2)}
    assert kept == {0, 3}


def test_within_a_front_the_ends_then_the_sparse_points_go_on():
    # One front of five, one dominated point: three go on. The ends have infinite
    # crowding distance; of the middle points 0.8 (1.625) beats 0.25 (1.5) and 0.2 (0.375).
    population = points((0.1, 1), (0.2, 2), (0.25, 2.5), (0.8, 8), (0.9, 9), (0.05, 10))
    assert halving_order(population) == [0, 4, 3, 2, 1, 5]
    kept = {p.number for p in population if keeps_at_rung(p, population, 2)}
    assert kept == {0, 4, 3}


def test_the_first_trial_at_a_rung_goes_on_and_ties_go_to_the_earlier_trial():
    only = RungPoint(7, 0.1, 100.0)
    assert keeps_at_rung(only, [], 2)
    # Two equal points: one of two goes on, and it is the earlier one.
    a, b = RungPoint(1, 0.5, 5.0), RungPoint(2, 0.5, 5.0)
    assert keeps_at_rung(a, [b], 2) and not keeps_at_rung(b, [a], 2)
    # A third of three goes on with reduction factor 3.
    population = points((0.9, 3), (0.8, 2), (0.7, 1))
    assert sum(keeps_at_rung(p, population, 3) for p in population) == 1


def test_rungs_are_at_powers_of_the_reduction_factor():
    rule = ParetoHalving()
    assert [e for e in range(1, 17) if rule.is_rung(e)] == [1, 2, 4, 8, 16]
    assert [e for e in range(1, 28) if ParetoHalving(reduction_factor=3).is_rung(e)] == [
        1,
        3,
        9,
        27,
    ]
    with pytest.raises(ValueError):
        ParetoHalving(reduction_factor=1)


SKELETON = search_proxy(
    resolution=16, in_channels=1, num_classes=10, width_mult=0.5, depth_mult=0.5
)
SPACE = MBConvSpace.uniform(SKELETON, StageChoices(kernels=(3, 5), expand_ratios=(1, 6)))
EPOCHS = 4


class Learner(Evaluator):
    """Accuracy rises over the epochs towards a final value set by the trial's seed, so
    whether a trial is ahead at a rung does not follow from its cost: the rule must
    weigh the two. It says how many epochs it trains, so the last is never judged."""

    planned_epochs = EPOCHS

    def evaluate(self, spec, *, seed, progress=None):
        final = 0.5 + 0.4 * ((seed * 7919) % 97) / 96
        for epoch in range(1, EPOCHS + 1):
            if progress is not None:
                progress(epoch, final * epoch / EPOCHS)
        return Evaluation(accuracy=final)


def pareto_search(run_dir, ray=None):
    config = SearchConfig(
        target=4e6,
        objective="pareto",
        strategy="random",
        trials=8,
        early_stopping="pareto-halving",
    )
    return run_search(space=SPACE, evaluator=Learner(), config=config, run_dir=run_dir, ray=ray)


def replay(study) -> dict[int, int]:
    """Check every decision against the rule on the records; the stops, by trial."""
    trials = sorted(study.trials, key=lambda t: t.number)
    stops: dict[int, int] = {}
    for trial in trials:
        reached = sorted(int(k.split("_")[1]) for k in trial.user_attrs if k.startswith("rung_"))
        assert reached, f"trial {trial.number} recorded no rung"
        for epoch in reached:
            key = f"rung_{epoch}"
            point = RungPoint(trial.number, trial.user_attrs[key], trial.user_attrs["cost"])
            # One trial at a time: those that reached the rung before are the earlier ones.
            before = [
                RungPoint(t.number, t.user_attrs[key], t.user_attrs["cost"])
                for t in trials
                if t.number < trial.number and key in t.user_attrs
            ]
            went_on = epoch != reached[-1] or trial.state == TrialState.COMPLETE
            assert keeps_at_rung(point, before, 2) == went_on, (trial.number, epoch)
        if trial.state == TrialState.PRUNED:
            stops[trial.number] = trial.user_attrs["stopped_at_epoch"]
            assert stops[trial.number] == reached[-1] < EPOCHS
            assert "accuracy" not in trial.user_attrs and trial.values is None
        else:
            assert trial.state == TrialState.COMPLETE and reached == [1, 2]
    return stops


def test_a_local_pareto_search_stops_trials_by_the_rule(tmp_path):
    study = pareto_search(tmp_path)
    assert finished_count(study) == 8
    stops = replay(study)
    assert 0 < len(stops) < 8, "some trials must stop, and not all"
    # Pareto, not accuracy: some trial went on past a rung where a trial that stopped
    # there was more accurate (it was cheaper).
    passed_weaker = False
    for number, epoch in stops.items():
        stopped = study.trials[number].user_attrs[f"rung_{epoch}"]
        passed_weaker |= any(
            t.number < number
            and t.user_attrs.get(f"rung_{epoch}", 1.0) < stopped
            and t.user_attrs.get("stopped_at_epoch") != epoch
            for t in study.trials
        )
    assert passed_weaker


def test_ray_stops_the_same_trials_as_the_local_backend(tmp_path, ray_instance):
    ray = pytest.importorskip("ray")
    from nas.runs import RayOptions

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    local = replay(pareto_search(tmp_path / "local"))
    # One trial at a time: which trial reaches a rung first is fixed, so are the stops.
    remote = pareto_search(tmp_path / "ray", ray=RayOptions(max_concurrent=1))
    assert finished_count(remote) == 8
    assert replay(remote) == local


def test_a_pareto_halving_search_with_the_reward_objective_is_refused():
    from nas.search import SearchError

    with pytest.raises(SearchError, match="use it with --objective pareto"):
        SearchConfig(target=4e6, early_stopping="pareto-halving")
    with pytest.raises(SearchError, match="pareto-halving with --objective pareto"):
        SearchConfig(target=4e6, objective="pareto", early_stopping="asha")

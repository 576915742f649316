"""ReinforceSampler: learns on a toy reward, is deterministic, and replays history on resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import Trial, TrialState

from nas.search import ReinforceSampler

CHOICES = [0, 1, 2, 3]
TARGET = {"p0": 2, "p1": 0, "p2": 3, "p3": 1}  # hidden best choice per parameter


@pytest.fixture(autouse=True)
def _quiet_optuna() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def matches(trial: Trial) -> float:
    """Reward = how many parameters hit their hidden target (0..4)."""
    return float(sum(trial.suggest_categorical(k, CHOICES) == v for k, v in TARGET.items()))


def run(sampler: optuna.samplers.BaseSampler, n: int, **kwargs: object) -> optuna.Study:
    study = optuna.create_study(direction="maximize", sampler=sampler, **kwargs)
    study.optimize(matches, n_trials=n)
    return study


def rewards(study: optuna.Study) -> list[float]:
    return [t.value for t in study.trials if t.state == TrialState.COMPLETE]


def replayed(study: optuna.Study, **kwargs: float) -> dict[str, list[float]]:
    """The policy a brand-new sampler rebuilds from the study's history alone."""
    return ReinforceSampler(seed=123, **kwargs).policy(study)


def assert_same_policy(a: dict[str, list[float]], b: dict[str, list[float]]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=0, atol=1e-12)


def test_learns_toy_objective_and_beats_random() -> None:
    sampler = ReinforceSampler(seed=0, learning_rate=0.2)
    study = run(sampler, 150)
    values = rewards(study)
    random_values = rewards(run(optuna.samplers.RandomSampler(seed=0), 150))
    probs = sampler.policy(study)
    # Measured with seed 0: target probabilities 0.965/0.981/0.976/0.976; first-30 mean 1.40,
    # last-30 mean 3.87 (of 4); RandomSampler last-30 mean 0.97 (expected value 1.0).
    assert set(probs) == set(TARGET)
    for name, target in TARGET.items():
        assert probs[name][target] > 0.6, (name, probs[name])
    first, last = np.mean(values[:30]), np.mean(values[-30:])
    random_last = np.mean(random_values[-30:])
    assert last > 3.0
    assert last > first + 1.5
    assert last > random_last + 2.0


def test_same_seed_same_params_and_incremental_equals_replay() -> None:
    a, b = ReinforceSampler(seed=7), ReinforceSampler(seed=7)
    study_a, study_b = run(a, 40), run(b, 40)
    assert [t.params for t in study_a.trials] == [t.params for t in study_b.trials]
    other = run(ReinforceSampler(seed=8), 40)
    assert [t.params for t in other.trials] != [t.params for t in study_a.trials]
    # The cached, trial-by-trial policy equals a full replay of the history.
    assert_same_policy(a.policy(study_a), replayed(study_a, learning_rate=0.1))


def test_resume_from_storage_reaches_same_policy(tmp_path: Path) -> None:
    def storage() -> optuna.storages.JournalStorage:  # a fresh handle, as a new process has
        backend = optuna.storages.journal.JournalFileBackend(str(tmp_path / "rl.log"))
        return optuna.storages.JournalStorage(backend)

    first = ReinforceSampler(seed=3, learning_rate=0.2)
    study = run(first, 30, storage=storage(), study_name="rl")
    before = first.policy(study)

    resumed_sampler = ReinforceSampler(seed=3, learning_rate=0.2)
    resumed = optuna.load_study(study_name="rl", storage=storage(), sampler=resumed_sampler)
    assert_same_policy(resumed_sampler.policy(resumed), before)
    resumed.optimize(matches, n_trials=5)  # and it keeps going from there
    assert len(resumed.trials) == 35
    assert_same_policy(resumed_sampler.policy(resumed), replayed(resumed, learning_rate=0.2))


def test_failed_pruned_and_running_trials_do_not_change_policy() -> None:
    sampler = ReinforceSampler(seed=0, learning_rate=0.2)
    study = run(sampler, 20)
    before = sampler.policy(study)

    def broken(trial: Trial) -> float:
        matches(trial)
        raise RuntimeError("candidate could not be evaluated")

    study.optimize(broken, n_trials=3, catch=(RuntimeError,))
    pruned = study.ask()
    matches(pruned)
    study.tell(pruned, state=TrialState.PRUNED)
    running = study.ask()
    matches(running)
    states = [t.state for t in study.trials[20:]]
    assert states == [TrialState.FAIL] * 3 + [TrialState.PRUNED, TrialState.RUNNING]
    assert_same_policy(sampler.policy(study), before)
    assert_same_policy(replayed(study, learning_rate=0.2), before)


def test_out_of_order_completion_replays_by_trial_number() -> None:
    sampler = ReinforceSampler(seed=0, learning_rate=0.5)
    study = run(sampler, 5)
    early, late = study.ask(), study.ask()
    late_value = matches(late)
    early_value = matches(early)
    study.tell(late, late_value)  # trial 6 finishes first: it must wait for trial 5
    assert_same_policy(sampler.policy(study), replayed(study, learning_rate=0.5))
    study.tell(early, early_value)
    assert_same_policy(sampler.policy(study), replayed(study, learning_rate=0.5))


def test_minimize_learns_the_smallest_choice() -> None:
    def distance(trial: Trial) -> float:
        return float(abs(trial.suggest_categorical("k", CHOICES) - 2))

    sampler = ReinforceSampler(seed=0, learning_rate=0.2)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    study.optimize(distance, n_trials=100)
    assert sampler.policy(study)["k"][2] > 0.6  # measured: 0.97


def test_non_categorical_params_are_delegated_to_random() -> None:
    def mixed(trial: Trial) -> float:
        x = trial.suggest_float("x", -1.0, 1.0)
        n = trial.suggest_int("n", 1, 5)
        lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        assert -1.0 <= x <= 1.0 and 1 <= n <= 5 and 1e-4 <= lr <= 1e-1
        return trial.suggest_categorical("k", CHOICES) + x

    sampler = ReinforceSampler(seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(mixed, n_trials=20)
    assert len({t.params["x"] for t in study.trials}) == 20
    assert len({t.params["n"] for t in study.trials}) > 1
    assert set(sampler.policy(study)) == {"k"}  # only categorical decisions are learned


def test_multi_objective_study_is_rejected() -> None:
    sampler = ReinforceSampler(seed=0)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    with pytest.raises(ValueError, match="single-objective study"):
        study.ask()
    with pytest.raises(ValueError, match="Fold accuracy and cost into one reward"):
        sampler.policy(study)


def test_startup_trials_sample_uniformly_but_still_teach_the_policy() -> None:
    sampler = ReinforceSampler(seed=0, learning_rate=0.2, n_startup_trials=1000)
    study = run(sampler, 150)
    # Measured: last-30 mean 0.77 (uniform sampling), yet target probabilities >= 0.99.
    assert np.mean(rewards(study)[-30:]) < 2.0
    assert all(sampler.policy(study)[k][v] > 0.6 for k, v in TARGET.items())


def test_entropy_bonus_keeps_the_policy_broader() -> None:
    plain = ReinforceSampler(seed=0, learning_rate=0.2)
    bonus = ReinforceSampler(seed=0, learning_rate=0.2, entropy_weight=2.0)
    plain_policy, bonus_policy = plain.policy(run(plain, 100)), bonus.policy(run(bonus, 100))
    # Measured at 100 trials: max probability 0.92-0.97 without the bonus, 0.30-0.43 with it.
    for name in TARGET:
        assert max(bonus_policy[name]) < max(plain_policy[name]) - 0.2


def test_changed_choices_for_a_name_are_rejected() -> None:
    sampler = ReinforceSampler(seed=0)
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: float(t.suggest_categorical("k", [1, 2])), n_trials=2)
    with pytest.raises(ValueError, match="changed its choices"):
        study.optimize(lambda t: float(t.suggest_categorical("k", [1, 2, 3])), n_trials=1)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"learning_rate": 0.0},
        {"baseline_decay": 1.0},
        {"baseline_decay": -0.1},
        {"n_startup_trials": -1},
        {"entropy_weight": -0.5},
        {"advantage_clip": 0.0},
    ],
)
def test_invalid_arguments(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ReinforceSampler(**kwargs)  # type: ignore[arg-type]


def test_one_sampler_across_studies_and_with_hyperband() -> None:
    sampler = ReinforceSampler(seed=0, learning_rate=0.2)
    first = run(sampler, 20)
    second = run(sampler, 10, pruner=optuna.pruners.HyperbandPruner())  # per-bracket views
    # Switching studies drops the cache; Hyperband brackets still share one full-history policy.
    assert_same_policy(sampler.policy(second), replayed(second, learning_rate=0.2))
    assert_same_policy(sampler.policy(first), replayed(first, learning_rate=0.2))


# Real rewards: proxy accuracies near 0.85 that differ by a few hundredths. One choice (kernel
# 5) is better by 0.05, under noise of 0.02 (about what one retraining changes on digits);
# five more choices make no difference at all.
def real_scale_study(sampler: ReinforceSampler, n: int, seed: int) -> optuna.Study:
    noise = np.random.RandomState(1000 + seed)

    def reward(trial: Trial) -> float:
        kernel = trial.suggest_categorical("kernel", [3, 5, 7])
        for index in range(5):
            trial.suggest_categorical(f"neutral{index}", [0, 1, 2])
        return 0.85 + 0.05 * (kernel == 5) + noise.normal(0, 0.02)

    return run_objective(sampler, reward, n)


def run_objective(sampler, objective, n: int) -> optuna.Study:
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(objective, n_trials=n)
    return study


def as_the_strategy_runs_it(seed: int, **kwargs: object) -> ReinforceSampler:
    from nas.search._strategies import RL_ENTROPY_WEIGHT

    return ReinforceSampler(
        seed=seed, learning_rate=0.1, entropy_weight=RL_ENTROPY_WEIGHT, **kwargs
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_at_real_reward_spreads_it_settles_on_the_better_choice_where_raw_rewards_do_not(seed):
    learned = as_the_strategy_runs_it(seed)
    raw = as_the_strategy_runs_it(seed, standardise=False)
    # benchmarks/rl_learning.py, 8 seeds at 50 trials: P(kernel 5) 0.79-0.89 as the
    # strategy runs it, 0.35 raw (uniform is 0.33); raw reaches only 0.41 after 200.
    better = learned.policy(real_scale_study(learned, 50, seed))["kernel"][1]
    plain = raw.policy(real_scale_study(raw, 50, seed))["kernel"][1]
    assert better > 0.7
    assert plain < 0.4


def test_choices_that_make_no_difference_stay_open():
    # Without the entropy bonus, standardised noise walks these up to 0.93 in 200 trials
    # (benchmarks/rl_learning.py); with it they stay at most 0.69.
    for seed in (0, 1):
        sampler = as_the_strategy_runs_it(seed)
        policy = sampler.policy(real_scale_study(sampler, 200, seed))
        assert policy["kernel"][1] > 0.9
        assert max(max(policy[f"neutral{i}"]) for i in range(5)) < 0.8

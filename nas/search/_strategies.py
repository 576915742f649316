"""Search strategies: every one is an Optuna sampler, so all record into one study."""

from __future__ import annotations

import optuna

from nas.search._rl_sampler import ReinforceSampler

__all__ = ["STRATEGIES", "make_sampler"]

# predictor: nas.search._predictor_sampler, made by run_search (it needs the space and target)
STRATEGIES: tuple[str, ...] = ("tpe", "nsga2", "random", "rl", "predictor")
RL_ENTROPY_WEIGHT = 0.2


def make_sampler(
    name: str, *, seed: int, multi_objective: bool, n_trials: int
) -> optuna.samplers.BaseSampler:
    """The sampler for ``name``; ``seed`` should differ per (re)start of a study."""
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "tpe":
        # TPE models good and bad trials separately; with tiny budgets it needs a few random
        # trials first, but not Optuna's default 10 when only 12 are run.
        startup = max(3, min(10, n_trials // 3))
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)
    if name == "nsga2":
        # A generation must be much smaller than the budget or NSGA-II is only random search.
        population = max(4, min(50, n_trials // 4))
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=population)
    if name == "rl":
        if multi_objective:
            raise ValueError(
                "strategy 'rl' learns from one reward; use --objective reward with it, "
                "or tpe/nsga2/random for --objective pareto"
            )
        # Standardised advantages learn at real reward spreads; the entropy bonus keeps
        # choices that make no difference from collapsing onto whatever noise favoured
        # (tests/nas/search/test_rl_sampler.py measures both).
        return ReinforceSampler(
            seed=seed,
            learning_rate=0.1,
            n_startup_trials=min(5, n_trials),
            entropy_weight=RL_ENTROPY_WEIGHT,
        )
    if name == "predictor":
        raise ValueError("the predictor strategy needs the space and target: use PredictorSampler")
    raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")

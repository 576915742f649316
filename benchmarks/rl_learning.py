"""Does the RL controller learn at real reward spreads? The old rule against the new.

Rewards like a real search's: about 0.85, one choice of three (``kernel`` 5) better by
0.05, Gaussian noise of 0.02 (about what one retraining changes on digits), and five
more choices that make no difference. For each rule and trial budget, over ``--seeds``
seeds, prints the probability the learned policy gives the better choice (median, min,
max) and the largest probability on any neutral choice (median, max): how far the
policy collapsed onto noise. Rules: the raw advantage (reward minus a moving average,
the old controller), the standardised advantage alone, and standardised with the
``rl`` strategy's entropy bonus (what ``cnas search --strategy rl`` runs). One JSON line.

    .venv/bin/python benchmarks/rl_learning.py [--seeds 8]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import optuna
from _machine import machine

from nas.search import ReinforceSampler
from nas.search._strategies import RL_ENTROPY_WEIGHT

RULES = {
    "raw advantage (old)": {"standardise": False},
    "standardised, no entropy bonus": {"standardise": True},
    "standardised + entropy bonus (the rl strategy)": {
        "standardise": True,
        "entropy_weight": RL_ENTROPY_WEIGHT,
    },
}
NEUTRAL = 5


def policy_after(trials: int, seed: int, rule: dict) -> dict[str, list[float]]:
    noise = np.random.RandomState(1000 + seed)

    def reward(trial: optuna.Trial) -> float:
        kernel = trial.suggest_categorical("kernel", [3, 5, 7])
        for index in range(NEUTRAL):
            trial.suggest_categorical(f"neutral{index}", [0, 1, 2])
        return 0.85 + 0.05 * (kernel == 5) + noise.normal(0, 0.02)

    sampler = ReinforceSampler(seed=seed, learning_rate=0.1, **rule)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(reward, n_trials=trials)
    return sampler.policy(study)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--trials", type=int, nargs="+", default=[16, 50, 100, 200])
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    results = {}
    for name, rule in RULES.items():
        results[name] = {}
        for trials in args.trials:
            policies = [policy_after(trials, seed, rule) for seed in range(args.seeds)]
            better = [p["kernel"][1] for p in policies]
            neutral = [max(max(p[f"neutral{i}"]) for i in range(NEUTRAL)) for p in policies]
            results[name][trials] = {
                "better": [
                    round(statistics.median(better), 3),
                    round(min(better), 3),
                    round(max(better), 3),
                ],
                "neutral_max": [round(statistics.median(neutral), 3), round(max(neutral), 3)],
            }
    print(
        json.dumps(
            {
                "benchmark": "rl_learning",
                "command": f"python benchmarks/rl_learning.py --seeds {args.seeds}",
                "machine": machine(),
                "date": time.strftime("%Y-%m-%d %H:%M %z"),
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()

"""The predictor strategy: propose many, predict each, train only the most promising.

After ``warmup`` candidates drawn uniformly (in the band) and trained, every trial fits
an ``AccuracyPredictor`` on all the candidates trained so far (their stand-alone proxy
accuracy), draws a pool of points (half the best trained with one to three choices
changed, half uniform), keeps those in the target band that no trial has taken, and
proposes the one whose predicted accuracy gives the best reward (BANANAS, arXiv
1910.11858, with a ridge over one-hot choices for its ensemble of networks).
Everything is rebuilt from the study at each ask, so a continued or killed run
proposes what an unbroken one would.
"""

from __future__ import annotations

import math
import random
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from nas.predict import MIN_TRAINED, AccuracyPredictor
from nas.search._objectives import mnas_reward, reward_form
from search_spaces import MBConvSpace, NetworkSpec

__all__ = ["PredictorSampler", "trained_results"]

PREDICTED_ATTR = "predicted_accuracy"
POOL_ATTR = "predictor_pool"
DRAWS_PER_POOL_POINT = 20  # uniform draws allowed per pool point wanted, for a narrow band
PARENTS = 3  # the best trained candidates whose mutations join the pool
MAX_CHANGES = 3  # choices a mutation changes, at most


def trained_results(study: Study) -> list[FrozenTrial]:
    """The candidates this study trained itself, in trial order: complete, not turned
    away before training, not a repeat of another trial's network, with an accuracy."""
    return [
        trial
        for trial in study._storage.get_all_trials(study._study_id, deepcopy=False)
        if trial.state == TrialState.COMPLETE
        and not trial.user_attrs.get("screened")
        and "duplicate_of" not in trial.user_attrs
        and math.isfinite(float(trial.user_attrs.get("accuracy", math.nan)))
    ]


class PredictorSampler(optuna.samplers.BaseSampler):
    """Proposes the pool point with the best predicted reward (single objective)."""

    def __init__(
        self,
        space: MBConvSpace,
        *,
        target: float,
        constraint: str,
        # spec -> (COST(m), the search's own cost; under every limit known before training),
        # one call: both come from the same counts.
        assess: Any,
        band: tuple[float, float] | None,
        seed: int,
        warmup: int = 10,
        pool: int = 500,
    ) -> None:
        if warmup < MIN_TRAINED:
            raise ValueError(f"warmup must be >= {MIN_TRAINED}, got {warmup}")
        self.space = space
        self.target = target
        self.form = reward_form(constraint)
        self.hard = constraint == "hard"
        self.assess = assess
        self.band = band
        self.seed = seed
        self.warmup = warmup
        self.pool = pool
        self._random = optuna.samplers.RandomSampler(seed=seed)
        self._parameters = space.parameters()

    def reseed_rng(self) -> None:
        self._random.reseed_rng()

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return {key: CategoricalDistribution(options) for key, options in self._parameters.items()}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if len(study.directions) > 1:
            raise ValueError("the predictor strategy ranks by one reward; use --objective reward")
        if "fixed_params" in trial.system_attrs:
            return {}  # a point queued again (its trial was killed): it trains as it is
        trials = study._storage.get_all_trials(study._study_id, deepcopy=False)
        trained = trained_results(study)
        # Seeded by how much has been learned, not by the trial's number: a run that lost a
        # trial to a kill, and ran it again, proposes next what an unbroken run would.
        rng = random.Random(self.seed * 1_000_003 + len(trained))
        taken = {t.user_attrs.get("fingerprint") for t in trials}
        if len(trained) < self.warmup:
            return self._uniform(rng, taken)
        # Fitted on a resample of the results (independent Thompson sampling, as BANANAS
        # explores): one fit on all of them would keep proposing the best's near copies.
        drawn = [trained[rng.randrange(len(trained))] for _ in trained]
        predictor = AccuracyPredictor().fit(
            [NetworkSpec.from_dict(t.user_attrs["spec"]) for t in drawn],
            [float(t.user_attrs["accuracy"]) for t in drawn],
        )
        points, specs, costs = self._pool(rng, trained, taken)
        if not points:
            return self._uniform(rng, taken)  # nothing new in the band: screened as usual
        predicted = predictor.predict(specs)
        scores = [self._score(float(p), c) for p, c in zip(predicted, costs, strict=True)]
        best = max(range(len(points)), key=lambda i: (scores[i], -i))
        storage = study._storage
        storage.set_trial_user_attr(trial._trial_id, PREDICTED_ATTR, float(predicted[best]))
        storage.set_trial_user_attr(trial._trial_id, POOL_ATTR, len(points))
        return points[best]

    def _uniform(self, rng: random.Random, taken: set[Any]) -> dict[str, Any]:
        """A uniform point no trial has taken, in the band where one can be found."""
        point = self.space.sample(rng)
        for _ in range(self.pool * DRAWS_PER_POOL_POINT):
            spec = self.space.decode(point)
            if spec.fingerprint() not in taken and self._allowed(*self.assess(spec)):
                break
            point = self.space.sample(rng)
        return point

    def _allowed(self, cost: float, fits: bool) -> bool:
        return fits and (self.band is None or self.band[0] <= cost <= self.band[1])

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return self._random.sample_independent(study, trial, param_name, param_distribution)

    def _score(self, accuracy: float, cost: float) -> float:
        if self.hard and cost > self.target:
            return -math.inf
        return mnas_reward(accuracy, cost, self.target, self.form)

    def _pool(
        self, rng: random.Random, trained: list[FrozenTrial], taken: set[Any]
    ) -> tuple[list[dict[str, Any]], list[NetworkSpec], list[float]]:
        points: list[dict[str, Any]] = []
        specs: list[NetworkSpec] = []
        costs: list[float] = []
        seen = set(taken)

        def offer(point: dict[str, Any]) -> None:
            spec = self.space.decode(point)
            fingerprint = spec.fingerprint()
            if fingerprint in seen:
                return
            seen.add(fingerprint)
            cost, fits = self.assess(spec)
            if not self._allowed(cost, fits):
                return
            points.append(point)
            specs.append(spec)
            costs.append(cost)

        def reward(trial: FrozenTrial) -> float:
            return self._score(float(trial.user_attrs["accuracy"]), float(trial.user_attrs["cost"]))

        best = sorted(trained, key=reward, reverse=True)[:PARENTS]
        # Mutations of the best: one to three choices changed, as BANANAS mutates its best.
        keys = list(self._parameters)
        for index in range(self.pool // 2):
            point = dict(best[index % len(best)].params)
            for key in rng.sample(keys, rng.randint(1, MAX_CHANGES)):
                point[key] = rng.choice(self._parameters[key])
            offer(point)
        wanted = self.pool - len(points)
        for _ in range(wanted * DRAWS_PER_POOL_POINT):
            if len(points) >= self.pool:
                break
            offer(self.space.sample(rng))
        return points, specs, costs

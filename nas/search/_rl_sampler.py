"""A MnasNet-style reinforcement-learning controller, packaged as an Optuna sampler.

Recording through Optuna means the RL search shares storage, resumption and result tables
with every other strategy; the controller is just another ``BaseSampler``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

__all__ = ["ReinforceSampler"]

_FINISHED = (TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max())  # shift by the max so large logits cannot overflow
    return shifted / shifted.sum()


class ReinforceSampler(optuna.samplers.BaseSampler):
    """Policy-gradient (REINFORCE) controller over independent categorical choices, with a
    moving-average baseline.

    MnasNet (Tan et al. 2019) samples an architecture token by token from an RNN controller
    trained with PPO on the reward ``ACC * (COST / T) ** w``. This sampler keeps the idea (a
    stochastic policy over architecture decisions, pushed towards high-reward choices) but
    replaces the RNN + PPO by one vector of logits per categorical parameter, trained with
    REINFORCE (Williams 1992) against an exponential moving-average baseline.

    Why: search budgets here are small (hundreds of trials), where an RNN has too many
    parameters to learn anything and PPO's clipping/epochs add tuning knobs without benefit;
    and in MnasNet's own factorised hierarchical space the per-stage decisions are sampled
    independently of one another anyway. What is lost: no conditioning between decisions (the
    choice of kernel cannot depend on the choice of expansion ratio), so interactions between
    parameters are only learned through their marginal effect on the reward.

    The reward is the single objective value of each COMPLETE trial (negated for MINIMIZE);
    the caller folds accuracy and cost into it, e.g. with MnasNet's soft constraint. Only
    ``CategoricalDistribution`` parameters are learned; any other distribution is delegated
    to an internal ``RandomSampler``. Multi-objective studies are rejected.

    The policy is a pure function of the study's trial history: it is rebuilt by replaying
    finished trials in trial-number order, so a new sampler on a resumed study reaches the
    same logits as the original. An in-memory cache only avoids replaying the same trials
    twice. Trials are consumed as a prefix in number order, stopping at the first unfinished
    one, so with parallel workers a long-running trial delays (never reorders) later updates.
    Startup trials (sampled uniformly) also update the policy, as a warm start.

    The advantage is standardised (``standardise=True``, the default): reward minus the
    moving-average baseline, divided by a moving average of its spread, and clipped to
    +-``advantage_clip``. Real rewards differ by a few hundredths (proxy accuracies of
    0.80-0.95); a raw advantage of 0.02 moves a logit by 0.002 a trial at learning rate
    0.1, so a raw controller barely leaves the uniform policy in hundreds of trials. The
    standardised one learns at the same pace whatever the reward's scale, and the clip
    (as PPO's) bounds what one surprising trial can do.
    """

    def __init__(
        self,
        *,
        seed: int | None = None,
        learning_rate: float = 0.1,
        baseline_decay: float = 0.9,
        n_startup_trials: int = 0,
        entropy_weight: float = 0.0,
        standardise: bool = True,
        advantage_clip: float = 2.0,
    ) -> None:
        if learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
        if not 0 <= baseline_decay < 1:
            raise ValueError(f"baseline_decay must be in [0, 1), got {baseline_decay}")
        if n_startup_trials < 0 or entropy_weight < 0:
            raise ValueError("n_startup_trials and entropy_weight must be >= 0")
        if advantage_clip <= 0:
            raise ValueError(f"advantage_clip must be > 0, got {advantage_clip}")
        self._standardise = standardise
        self._advantage_clip = advantage_clip
        self._learning_rate = learning_rate
        self._baseline_decay = baseline_decay
        self._n_startup_trials = n_startup_trials
        self._entropy_weight = entropy_weight
        self._rng = np.random.RandomState(seed)
        self._random_sampler = optuna.samplers.RandomSampler(seed=seed)
        self._reset_cache(None)

    def _reset_cache(self, study: Study | None) -> None:
        # Everything below is derived from the study's history; it is safe to drop at any time.
        # Keyed by storage object and study id (not name: two in-memory studies may share one).
        self._storage = None if study is None else study._storage
        self._study_id = None if study is None else study._study_id
        self._replayed_for: tuple[Any, int | None, int] | None = None
        self._consumed = 0  # length of the prefix of trials (by number) already replayed
        self._n_complete = 0
        self._baseline: float | None = None
        self._spread = 0.0  # moving average of the squared advantage
        self._logits: dict[str, np.ndarray] = {}
        self._choices: dict[str, tuple[Any, ...]] = {}

    def reseed_rng(self) -> None:
        self._rng.seed()
        self._random_sampler.reseed_rng()

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._check_single_objective(study)  # fail at ask(), before any parameter is suggested

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        self._check_single_objective(study)
        return {}  # every decision is independent, so all sampling happens in sample_independent

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return {}

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        self._check_single_objective(study)
        if not isinstance(param_distribution, CategoricalDistribution):
            return self._random_sampler.sample_independent(
                study, trial, param_name, param_distribution
            )
        if (study._storage, study._study_id, trial.number) != self._replayed_for:
            # Once per trial, not per parameter: on an RDB storage each replay loads every trial.
            self._replay(study)
            self._replayed_for = (study._storage, study._study_id, trial.number)
        choices = param_distribution.choices
        if self._n_complete < self._n_startup_trials:
            return choices[self._rng.randint(len(choices))]
        probs = _softmax(self._logits_for(param_name, choices))
        return choices[self._rng.choice(len(choices), p=probs)]

    def policy(self, study: Study) -> dict[str, list[float]]:
        """Current choice probabilities per learned parameter, after replaying ``study``."""
        self._check_single_objective(study)
        self._replay(study)
        return {name: _softmax(logits).tolist() for name, logits in self._logits.items()}

    def _check_single_objective(self, study: Study) -> None:
        if len(study.directions) > 1:
            raise ValueError(
                "ReinforceSampler needs a single-objective study (its reward is the one "
                f"objective value), but this study has {len(study.directions)} objectives. "
                "Fold accuracy and cost into one reward, e.g. ACC * (COST / T) ** w."
            )

    def _logits_for(self, name: str, choices: Sequence[Any]) -> np.ndarray:
        known = self._choices.get(name)
        if known is None:
            self._choices[name] = tuple(choices)
            self._logits[name] = np.zeros(len(choices))
        elif known != tuple(choices):
            # One logit vector per name: silently re-indexing would corrupt what was learned.
            raise ValueError(
                f"parameter {name!r} changed its choices from {known} to {tuple(choices)}; "
                "ReinforceSampler needs the same choices for a name throughout a study"
            )
        return self._logits[name]

    def _replay(self, study: Study) -> None:
        if study._storage is not self._storage or study._study_id != self._study_id:
            self._reset_cache(study)
        # The storage, not study.get_trials: with HyperbandPruner Optuna hands samplers a
        # per-bracket view, but every COMPLETE trial is a valid reward for one shared policy.
        trials = study._storage.get_all_trials(study._study_id, deepcopy=False)
        # Trials are ordered by number; stop at the first unfinished trial so the incremental
        # result always equals a full replay in number order, whatever order trials finish in.
        end = self._consumed
        while end < len(trials) and trials[end].state in _FINISHED:
            end += 1
        sign = -1.0 if study.direction == StudyDirection.MINIMIZE else 1.0
        for trial in trials[self._consumed : end]:
            if trial.state == TrialState.COMPLETE and trial.value is not None:
                self._n_complete += 1
                reward = sign * trial.value
                if math.isfinite(reward):  # an infinite reward would turn every logit into NaN
                    self._update(trial, reward)
        self._consumed = end

    def _advantage(self, reward: float) -> float:
        if self._baseline is None:
            self._baseline = reward  # so the very first trial neither rewards nor punishes
        advantage = reward - self._baseline
        decay = self._baseline_decay
        self._baseline = decay * self._baseline + (1 - decay) * reward
        if not self._standardise:
            return advantage
        # The spread includes this trial's, so the first surprise is finite (then clipped).
        self._spread = decay * self._spread + (1 - decay) * advantage**2
        if self._spread <= 0:
            return 0.0  # every reward so far the same: nothing to learn yet
        scaled = advantage / math.sqrt(self._spread)
        return max(-self._advantage_clip, min(self._advantage_clip, scaled))

    def _update(self, trial: FrozenTrial, reward: float) -> None:
        advantage = self._advantage(reward)
        for name, dist in trial.distributions.items():
            if not isinstance(dist, CategoricalDistribution):
                continue
            logits = self._logits_for(name, dist.choices)
            probs = _softmax(logits)
            onehot = np.zeros_like(probs)
            onehot[int(dist.to_internal_repr(trial.params[name]))] = 1.0
            # Gradient of log softmax(logits)[i] with respect to the logits.
            step = advantage * (onehot - probs)
            if self._entropy_weight > 0:
                # Gradient of the entropy H = -sum p log p: -p * (log p + H); keeps exploring.
                log_p = np.log(np.clip(probs, 1e-300, None))
                entropy = -float(probs @ log_p)
                step += self._entropy_weight * (-probs * (log_p + entropy))
            logits += self._learning_rate * step  # in place: self._logits[name] is updated

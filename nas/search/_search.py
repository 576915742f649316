"""MnasNet-style multi-objective search, recorded in one Optuna study per run directory.

A trial decodes a point of the space into a spec, counts its cost analytically
(or measures latency), screens it against a hard limit before any training,
evaluates it, and stores everything a report needs as trial attributes. The
study lives in the run directory (SQLite by default), so running the same
search again continues it: finished trials are kept, trials a killed process
left running are marked failed and their point is tried again. Trials run in
this process or on Ray Tune (``nas.runs``).
"""

from __future__ import annotations

import functools
import logging
import math
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from nas.evaluate import Evaluator, TrialError
from nas.latency import RUNTIMES, LatencyTable, measure_network
from nas.predict import MIN_TRAINED
from nas.runs import (
    EARLY_STOPPING,
    PARETO_HALVING,
    Done,
    Outcome,
    RayOptions,
    Reporter,
    StudyTask,
    early_stopping_pruner,
    finished_count,
    mark_uncounted,
    open_study,
    run_trials,
)
from nas.search._objectives import mnas_reward, reward_form
from nas.search._predictor_sampler import PredictorSampler
from nas.search._strategies import STRATEGIES, make_sampler
from search_spaces import (
    InputError,
    MBConvSpace,
    NetworkSpec,
    count_flops,
    count_params,
    is_int,
    is_number,
    peak_memory,
)

__all__ = [
    "COSTS",
    "SearchConfig",
    "SearchError",
    "SearchJob",
    "SearchTask",
    "band_share",
    "check_band",
    "format_cost",
    "over_memory",
    "run_search",
    "space_cost_range",
]

logger = logging.getLogger(__name__)

COSTS: tuple[str, ...] = ("flops", "params", "latency", "memory")  # memory: peak float32 bytes
STUDY_NAME = "cnas-search"


class SearchError(InputError):
    """A search cannot start as asked; the message says why and what to change."""


@dataclass(frozen=True)
class SearchConfig:
    target: float  # T of the reward, in the cost's unit (multiply-adds, parameters, ms)
    cost: str = "flops"  # what COST(m) measures: flops, params or latency (ms on this CPU)
    objective: str = "reward"  # reward: maximise ACC * (COST/T)^w; pareto: accuracy vs cost
    constraint: str = "soft"  # soft: w = -0.07 both sides; hard: a = 0, b = -1, and screening
    strategy: str = "tpe"
    trials: int = 30  # total trials of the study, counting those of earlier runs
    seed: int = 0
    latency_threads: int = 1  # torch threads when latency is the cost
    # Latency as the sum of a table's parts (nas.latency) instead of timing each candidate;
    # the table's runtime (torch or onnxruntime) is what the search optimises for.
    latency_table: LatencyTable | None = None
    latency_runtime: str = "torch"
    early_stopping: str | None = None  # "asha": stop trials weak after an epoch (reward only)
    # The band around the target, as a fraction of it (soft: either side; hard: below
    # it). Where a candidate's cost is known before training (FLOPs, params, a latency
    # table) one outside the band is never trained: the strategy is told it scored 0 and
    # proposes again, and the budget does not count it. The reward's baseline is the best
    # within the band. None: every candidate trains, the baseline is the best anywhere.
    target_tolerance: float | None = 0.1
    # The predictor strategy: candidates trained at random before it proposes, and the
    # points it predicts to choose each proposal.
    predictor_warmup: int = 10
    predictor_pool: int = 500
    # A hard limit on peak activation memory (float32 bytes, batch 1) beside the target:
    # known from the spec, so a candidate over it is never trained (proposed again).
    max_peak_memory: float | None = None

    def __post_init__(self) -> None:
        if self.cost not in COSTS:
            raise SearchError(f"unknown cost {self.cost!r}; choose one of {', '.join(COSTS)}")
        if self.objective not in ("reward", "pareto"):
            raise SearchError(f"unknown objective {self.objective!r}; choose reward or pareto")
        if self.strategy not in STRATEGIES:
            raise SearchError(
                f"unknown strategy {self.strategy!r}; choose one of {', '.join(STRATEGIES)}"
            )
        if self.strategy == "rl" and self.objective == "pareto":
            raise SearchError("strategy rl learns from one reward; use --objective reward with it")
        if self.strategy == "predictor":
            self._check_predictor()
        try:
            reward_form(self.constraint)
        except ValueError as error:
            raise SearchError(str(error)) from None
        if not is_number(self.target) or self.target <= 0:
            raise SearchError(f"the target must be a positive number, got {self.target!r}")
        if self.early_stopping is not None:
            if self.early_stopping not in EARLY_STOPPING:
                raise SearchError(
                    f"unknown early stopping {self.early_stopping!r}; "
                    f"choose {', '.join(EARLY_STOPPING)}"
                )
            if self.early_stopping == "asha" and self.objective != "reward":
                raise SearchError(
                    "asha compares one score per epoch; use it with --objective reward, "
                    "or --early-stopping pareto-halving with --objective pareto"
                )
            if self.early_stopping == PARETO_HALVING and self.objective != "pareto":
                raise SearchError(
                    "pareto-halving weighs accuracy against cost; use it with "
                    "--objective pareto, or --early-stopping asha with --objective reward"
                )
        if self.latency_runtime not in RUNTIMES:
            raise SearchError(
                f"unknown latency runtime {self.latency_runtime!r}; choose {', '.join(RUNTIMES)}"
            )
        if self.latency_table is not None:
            if self.cost != "latency":
                raise SearchError(
                    "a latency table predicts latency; give --target-latency-ms with "
                    "--latency-table, or drop the table"
                )
            self.latency_table.check_runtime(self.latency_runtime)
        if self.max_peak_memory is not None and (
            not is_number(self.max_peak_memory) or self.max_peak_memory <= 0
        ):
            raise SearchError(
                f"the peak memory limit must be a positive number, got {self.max_peak_memory!r}"
            )
        if self.max_peak_memory is not None and self.cost == "memory":
            raise SearchError(
                "a peak memory limit beside a peak memory target: use --constraint hard "
                "with --target-peak-memory instead"
            )
        if not is_int(self.trials) or self.trials < 1:
            raise SearchError(f"trials must be a whole number >= 1, got {self.trials!r}")
        if self.target_tolerance is not None and (
            not is_number(self.target_tolerance) or not 0 < self.target_tolerance < 1
        ):
            raise SearchError(
                "the target tolerance must be a fraction between 0 and 1 (0.1: within 10%), "
                f"got {self.target_tolerance!r}"
            )

    def _check_predictor(self) -> None:
        if self.objective == "pareto":
            raise SearchError(
                "the predictor strategy ranks its pool by one reward; use --objective reward"
            )
        if not is_int(self.predictor_warmup) or self.predictor_warmup < MIN_TRAINED:
            raise SearchError(
                f"the predictor needs {MIN_TRAINED} trained candidates or more before it "
                f"proposes (below that its ranking is noise), got {self.predictor_warmup!r}"
            )
        if not is_int(self.predictor_pool) or self.predictor_pool < 1:
            raise SearchError(
                f"the predictor's pool must be a whole number >= 1, got {self.predictor_pool!r}"
            )
        if not self.cost_known_before_training:
            raise SearchError(
                "the predictor ranks hundreds of candidates a trial by their cost, which it "
                "cannot time: use a FLOP, params or memory target, or --latency-table"
            )
        if self.trials <= self.predictor_warmup:
            raise SearchError(
                f"{self.trials} trials with {self.predictor_warmup} trained at random first "
                "leaves the predictor nothing to propose: raise --trials above "
                "--predictor-warmup"
            )

    def target_band(self) -> tuple[float, float] | None:
        """(lowest, highest) cost a baseline near the target may have, or None."""
        if self.target_tolerance is None or self.objective != "reward":
            return None
        low = self.target * (1 - self.target_tolerance)
        high = (
            self.target * (1 + self.target_tolerance) if self.constraint == "soft" else self.target
        )
        return low, high

    @property
    def cost_known_before_training(self) -> bool:
        """Counted from the spec (FLOPs, params) or predicted by a table; not timed."""
        return self.cost in ("flops", "params", "memory") or self.latency_table is not None

    def screening_band(self) -> tuple[float, float] | None:
        """The band outside which a candidate is not trained (``target_band`` where the
        cost is known before training), or None when every candidate trains."""
        return self.target_band() if self.cost_known_before_training else None

    def identity(self) -> dict[str, Any]:
        """Settings a continued search must share with the run that started it."""
        settings = {item.name: getattr(self, item.name) for item in fields(self)}
        settings.pop("trials")  # asking for more trials continues the same search
        if self.strategy != "predictor":  # kept out, so that older runs go on
            settings.pop("predictor_warmup")
            settings.pop("predictor_pool")
        if self.max_peak_memory is None:
            settings.pop("max_peak_memory")
        # Recorded where it decides what trains; where it only chooses among the trials, a
        # continued run may change it (and runs made before the band screened go on
        # with --target-tolerance none).
        if self.screening_band() is None:
            settings.pop("target_tolerance")
        table = settings.pop("latency_table")
        runtime = settings.pop("latency_runtime")
        # Kept out while unused, so that runs from before these settings existed go on.
        if table is not None:
            settings["latency_table"] = table.digest()
        if runtime != "torch":
            settings["latency_runtime"] = runtime
        return settings


def format_cost(value: float, cost: str) -> str:
    if cost == "latency":
        return f"{value:.2f} ms"
    if cost == "memory":
        return f"{value / 1024:,.0f} KiB"
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if value >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:g}"


def cost_of(spec: NetworkSpec, config: SearchConfig) -> tuple[float, dict[str, float]]:
    """(COST(m), every cost measured) for one candidate."""
    measured: dict[str, float] = {"flops": count_flops(spec), "params": count_params(spec)}
    if config.cost == "memory" or config.max_peak_memory is not None:
        measured["peak_memory_bytes"] = peak_memory(spec).bytes("float32")
        if config.cost == "memory":
            return measured["peak_memory_bytes"], measured
    if config.cost == "latency":
        if config.latency_table is not None:
            latency = config.latency_table.predict(spec, config.latency_runtime)
        else:
            latency = measure_network(
                spec, runtime=config.latency_runtime, threads=config.latency_threads
            )
        measured["latency_ms"] = latency
        return latency, measured
    return measured[config.cost], measured


def over_memory(measured: Mapping[str, float], config: SearchConfig) -> bool:
    """Over the peak memory limit (known from the spec, before any training)."""
    limit = config.max_peak_memory
    return limit is not None and measured["peak_memory_bytes"] > limit


def _assess(spec: NetworkSpec, *, config: SearchConfig) -> tuple[float, bool]:
    """(COST(m), under the memory limit): what the predictor's pool screens by."""
    cost, measured = cost_of(spec, config)
    return cost, not over_memory(measured, config)


def space_cost_range(space: MBConvSpace, config: SearchConfig) -> tuple[float, float]:
    """Cost of the smallest and the largest network of the space."""
    low = cost_of(space.decode(space.extreme(largest=False)), config)[0]
    high = cost_of(space.decode(space.extreme(largest=True)), config)[0]
    return low, high


# Proposals outside the band in a row before a search gives up: random proposals reach a
# band holding 0.3% of the space (the rarest BAND_SAMPLES finds reliably) within this
# many with probability 0.996; a learning strategy, told how far each missed, far sooner.
MAX_OUTSIDE_IN_A_ROW = 2000
BAND_SAMPLES = 4000  # points drawn to see whether the band holds any network (~0.5 s)


def band_share(space: MBConvSpace, config: SearchConfig, samples: int = BAND_SAMPLES) -> float:
    """The share of uniformly drawn networks whose cost lies in the screening band (1.0
    when nothing is screened): about how many proposals each trained candidate costs."""
    band = config.screening_band()
    if band is None:
        return 1.0
    rng = random.Random(config.seed)
    inside = sum(
        band[0] <= cost_of(space.decode(space.sample(rng)), config)[0] <= band[1]
        for _ in range(samples)
    )
    return inside / samples


def check_band(space: MBConvSpace, config: SearchConfig) -> float:
    """``band_share``, refusing a band no drawn network lies in (one line)."""
    share = band_share(space, config)
    band = config.screening_band()
    if band is not None and share == 0:
        low, high = space_cost_range(space, config)
        if high < band[0]:
            raise SearchError(
                f"target {format_cost(config.target, config.cost)} is above the largest network "
                f"in the space ({format_cost(high, config.cost)}; smallest "
                f"{format_cost(low, config.cost)}): lower the target, widen the space with "
                "--space, or train every candidate with --target-tolerance none"
            )
        raise SearchError(
            f"no network of the space costs {format_cost(band[0], config.cost)}-"
            f"{format_cost(band[1], config.cost)} ({BAND_SAMPLES} drawn; the space spans "
            f"{format_cost(low, config.cost)}-{format_cost(high, config.cost)}): move the "
            "target, widen --target-tolerance, or train every candidate with "
            "--target-tolerance none"
        )
    return share


@dataclass(frozen=True)
class SearchJob:
    """One candidate to train: what crosses to wherever it trains."""

    spec: NetworkSpec
    seed: int
    cost: float


class _SearchExecutor:
    """Trains one candidate; picklable, knows nothing of the study."""

    def __init__(self, evaluator: Evaluator, config: SearchConfig) -> None:
        self.evaluator = evaluator
        self.target = config.target
        self.form = reward_form(config.constraint)
        self.pareto = config.objective == "pareto"
        self.early_stopping = config.early_stopping is not None

    def score(self, accuracy: float, cost: float) -> float:
        return accuracy if self.pareto else mnas_reward(accuracy, cost, self.target, self.form)

    def __call__(self, job: SearchJob, report: Reporter) -> Outcome:
        def progress(epoch: int, accuracy: float) -> None:
            # After the last epoch there is nothing left to save by stopping: a rule that
            # stopped the trial there would only throw its finished result away.
            if epoch == self.evaluator.planned_epochs:
                return
            if math.isfinite(accuracy):
                report(epoch, self.score(accuracy, job.cost))

        # Per-epoch accuracy costs a validation pass; only early stopping reads it.
        evaluation = self.evaluator.evaluate(
            job.spec, seed=job.seed, progress=progress if self.early_stopping else None
        )
        accuracy = float(evaluation.accuracy)
        if not math.isfinite(accuracy):
            raise TrialError(f"the evaluator returned a non-finite score {accuracy}")
        return Outcome(
            accuracy=accuracy,
            score=self.score(accuracy, job.cost),
            metrics={k: float(v) for k, v in evaluation.metrics.items()},
        )


class SearchTask(StudyTask):
    """One search trial: decode, count, screen, de-duplicate; then train; then record."""

    def __init__(
        self, space: MBConvSpace, evaluator: Evaluator, config: SearchConfig, study: optuna.Study
    ) -> None:
        self.space = space
        self.config = config
        self.form = reward_form(config.constraint)
        self.pareto = config.objective == "pareto"
        self.n_params = len(space.parameters())
        self._execute = _SearchExecutor(evaluator, config)
        self._started: dict[int, float] = {}
        # fingerprint -> the finished trial that already evaluated that network
        self.evaluated: dict[str, FrozenTrial] = {}
        self.outside_in_a_row = 0  # proposals outside the band since the last inside it
        for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            self.remember(trial)

    @property
    def execute(self) -> _SearchExecutor:
        return self._execute

    def remember(self, trial: FrozenTrial) -> None:
        attrs = trial.user_attrs
        if trial.state == TrialState.COMPLETE and not attrs.get("screened"):
            self.evaluated.setdefault(attrs.get("fingerprint", ""), trial)

    def stop_reason(self) -> str | None:
        if self.outside_in_a_row < MAX_OUTSIDE_IN_A_ROW:
            return None
        band = self.config.screening_band()
        assert band is not None
        cost = self.config.cost
        return (
            f"{self.outside_in_a_row} proposals in a row cost outside "
            f"{format_cost(band[0], cost)}-{format_cost(band[1], cost)}: widen "
            "--target-tolerance, narrow the space toward the target (--space, --width-mult, "
            "--depth-mult), or train every candidate with --target-tolerance none"
        )

    def _values(self, accuracy: float, cost: float, reward: float) -> Any:
        return (accuracy, cost) if self.pareto else reward

    def _done(self, trial: optuna.Trial) -> None:
        started = self._started.pop(trial.number, time.perf_counter())
        trial.set_user_attr("duration_s", round(time.perf_counter() - started, 3))

    def prepare(self, trial: optuna.Trial) -> Done | SearchJob:
        self._started[trial.number] = time.perf_counter()
        point = {
            key: trial.suggest_categorical(key, options)
            for key, options in self.space.parameters().items()
        }
        spec = self.space.decode(point, name=f"trial-{trial.number}")
        cost, measured = cost_of(spec, self.config)
        fingerprint = spec.fingerprint()
        trial.set_user_attr("spec", spec.to_dict())
        trial.set_user_attr("fingerprint", fingerprint)
        trial.set_user_attr("cost", cost)
        for key, value in measured.items():
            trial.set_user_attr(key, value)
        band = self.config.screening_band()
        if band is not None and not band[0] <= cost <= band[1]:
            # Known before training to miss the band: nothing is spent on it, and the
            # strategy proposes again in its place. It is told a score below every
            # trained one, lower the further the cost lies outside the band, so that
            # TPE and the RL controller learn which way the band is (a flat 0 tells
            # them nothing where the band is a small share of the space).
            trial.set_user_attr("screened", True)
            trial.set_user_attr("out_of_band", True)
            mark_uncounted(trial)
            self.outside_in_a_row += 1
            self._done(trial)
            edge = band[0] if cost < band[0] else band[1]
            miss = -abs(math.log(cost / edge))
            return Done(self._values(0.0, cost, miss))
        if over_memory(measured, self.config):
            # Over the memory limit: never trained, proposed again, not counted, and told
            # how far over it lies, as for the band.
            trial.set_user_attr("screened", True)
            trial.set_user_attr("over_memory", True)
            mark_uncounted(trial)
            self.outside_in_a_row += 1
            self._done(trial)
            assert self.config.max_peak_memory is not None
            miss = -math.log(measured["peak_memory_bytes"] / self.config.max_peak_memory)
            return Done(self._values(0.0, cost, miss))
        self.outside_in_a_row = 0
        if self.config.constraint == "hard" and cost > self.config.target:
            # The hard limit is known before training: record the candidate, spend nothing.
            trial.set_user_attr("screened", True)
            self._done(trial)
            return Done(self._values(0.0, cost, 0.0))
        previous = self.evaluated.get(fingerprint)
        if previous is not None:
            accuracy = previous.user_attrs["accuracy"]
            reward = mnas_reward(accuracy, cost, self.config.target, self.form)
            trial.set_user_attr("duplicate_of", previous.number)
            trial.set_user_attr("accuracy", accuracy)
            trial.set_user_attr("reward", reward)
            self._done(trial)
            return Done(self._values(accuracy, cost, reward))
        return SearchJob(spec=spec, seed=self.config.seed * 100_003 + trial.number, cost=cost)

    def finish(self, trial: optuna.Trial, job: SearchJob, outcome: Outcome) -> Any:
        accuracy = float(outcome.accuracy if outcome.accuracy is not None else math.nan)
        reward = mnas_reward(accuracy, job.cost, self.config.target, self.form)
        trial.set_user_attr("metrics", dict(outcome.metrics))
        trial.set_user_attr("accuracy", accuracy)
        trial.set_user_attr("reward", reward)
        self._done(trial)
        return self._values(accuracy, job.cost, reward)


def run_search(
    *,
    space: MBConvSpace,
    evaluator: Evaluator,
    config: SearchConfig,
    run_dir: str | os.PathLike[str],
    storage: str | None = None,
    ray: RayOptions | None = None,
    identity_extra: Mapping[str, Any] | None = None,
    on_trial: Callable[[optuna.Study, FrozenTrial], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> optuna.Study:
    """Run (or continue) a search until the study has ``config.trials`` finished trials.

    Trials run in this process, or on Ray Tune when ``ray`` is given (``connect_ray``
    first). The run directory records the search's identity: ``config`` (but the trial
    count), the space (its skeleton and every choice set) and ``evaluator.identity()``
    (data and training), plus ``identity_extra``; continuing with any of them changed is
    refused with a ``nas.runs.RunDirError``. ``on_start(finished)`` is told how many trials
    earlier runs finished and ``on_trial(study, trial)`` is called after every trial.
    """
    soft_reward = config.objective == "reward" and config.constraint == "soft"
    if soft_reward and not evaluator.gives_accuracy:
        raise SearchError(
            f"the {evaluator.name} evaluator gives a score that ranks networks, not an accuracy, "
            "so ACC x (COST/T)^w means nothing with it; use --constraint hard (the best score "
            "within the target) or --objective pareto (score against cost)"
        )
    share = check_band(space, config)
    identity = {
        **config.identity(),
        **space.identity(),
        **evaluator.identity(),
        **(identity_extra or {}),
    }
    multi = config.objective == "pareto"
    with open_study(
        run_dir,
        identity,
        study_name=STUDY_NAME,
        storage=storage,
        directions=["maximize", "minimize"] if multi else ["maximize"],
        n_params=len(space.parameters()),
    ) as (probe, rdb):
        # A continued search must not replay the random stream of the first run.
        seed = config.seed * 1009 + len(probe.trials)
        sampler = _sampler(space, config, seed=seed, multi_objective=multi)
        study = optuna.load_study(
            study_name=STUDY_NAME,
            storage=rdb,
            sampler=sampler,
            pruner=early_stopping_pruner(config.early_stopping if ray is None else None),
        )
        # What the report calls the values, and whether a hypervolume means anything.
        study.set_user_attr("band_share", round(share, 4))
        study.set_user_attr(
            "evaluator",
            {
                "name": evaluator.name,
                "gives_accuracy": evaluator.gives_accuracy,
                "score_label": evaluator.score_label,
            },
        )
        # Work shared by all candidates (a supernet) happens once the run dir is known good.
        evaluator.prepare(Path(run_dir))
        task = SearchTask(space, evaluator, config, study)
        if on_start is not None:
            on_start(finished_count(study))
        run_trials(
            study,
            task,
            storage=rdb,
            budget=config.trials,
            ray=ray,
            early_stopping=config.early_stopping,
            on_trial=on_trial,
        )
    return study


def _sampler(
    space: MBConvSpace, config: SearchConfig, *, seed: int, multi_objective: bool
) -> optuna.samplers.BaseSampler:
    if config.strategy != "predictor":
        return make_sampler(
            config.strategy, seed=seed, multi_objective=multi_objective, n_trials=config.trials
        )
    # Seeded by the search's seed alone: its proposals are rebuilt from the study, so a
    # continued run proposes what an unbroken one would have.
    return PredictorSampler(
        space,
        target=config.target,
        constraint=config.constraint,
        assess=functools.partial(_assess, config=config),
        band=config.screening_band(),
        seed=config.seed,
        warmup=config.predictor_warmup,
        pool=config.predictor_pool,
    )

"""The Ray Tune backend: every trial that trains is a Ray Tune trial.

Tune's controller asks a ``StudySearcher`` for work; the searcher is a thin
Tune ``Searcher`` over the run's Optuna study (ask, ``StudyTask.prepare``,
then ``tell`` when Tune reports the trial finished), so the study stays the one
record and every sampler (TPE, NSGA-II, random, RL, the coefficient grid) works
unchanged. Only ``StudyTask.execute`` travels to the workers; they never touch
the study, so the default SQLite file in the run directory works for a cluster
too. Screened and duplicate candidates are told at once and never reach Ray.

With ``early_stopping="asha"`` Tune's ASHA scheduler stops weak trials after an
epoch; with ``"pareto-halving"`` a scheduler of ours applies the local backend's
rule (``nas.runs._pareto_halving``) to the same study records. The searcher records
stopped trials PRUNED ("stopped"), never COMPLETE, so they cannot reach the Pareto
front or the baseline. (Ray's own OptunaSearch records
such trials COMPLETE with the score of their last epoch.)
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from nas.runs._interrupts import raise_swallowed, uncut
from nas.runs._pareto_halving import PARETO_HALVING, ParetoHalving
from nas.runs._runner import (
    Done,
    Outcome,
    Reporter,
    StudyTask,
    is_heartbeat_enabled,
    record_failure,
    run_job,
    wait_for_running,
)
from nas.runs._storage import HEARTBEAT_SECONDS
from nas.runs._trials import (
    budget_used,
    finished_count,
    mark_started,
    over_budget,
    requeue,
)
from search_spaces import InputError, is_int, is_number

__all__ = ["RayError", "RayOptions", "connect_ray", "make_searcher", "run_on_ray"]

logger = logging.getLogger(__name__)

_CONNECT_TIMEOUT_SECONDS = 5.0
# Ray's object store takes 30% of memory by default; trials here pass a spec and a
# small data set, so a modest store leaves the memory to the trials themselves.
_OBJECT_STORE_BYTES = 256 * 1024**2


class RayError(InputError):
    """Ray cannot run the trials as asked (address, resources); the message says why."""


@dataclass(frozen=True)
class RayOptions:
    address: str | None = None  # None: start a local Ray; "auto" or HOST:PORT: join a cluster
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    max_concurrent: int | None = None  # None: as many as the CPUs allow

    def __post_init__(self) -> None:
        for name in ("cpus_per_trial", "gpus_per_trial"):
            value = getattr(self, name)
            if not is_number(value) or value < 0:
                raise RayError(f"--{name.replace('_', '-')} must be a number >= 0, got {value!r}")
        if self.cpus_per_trial <= 0:
            raise RayError("--cpus-per-trial must be more than 0, e.g. 1")
        if self.max_concurrent is not None and (
            not is_int(self.max_concurrent) or self.max_concurrent < 1
        ):
            raise RayError(
                f"--max-concurrent must be a whole number >= 1, got {self.max_concurrent!r}"
            )
        if self.address is not None and self.address != "auto":
            _host_port(self.address)


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if address.startswith("ray://"):
        host, _, port = address[len("ray://") :].rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise RayError(f"--ray-address {address!r} is not auto or HOST:PORT, e.g. 10.0.0.5:6379")
    return host, int(port)


def connect_ray(options: RayOptions) -> bool:
    """Start a local Ray instance or join a cluster; True if this call started it.

    Checks the resources a trial asks for against what the cluster has, so a run
    that could never schedule a trial fails now, before anything is written.
    """
    import ray

    if options.gpus_per_trial > 0 and options.address is None and not ray.is_initialized():
        import torch

        if torch.cuda.device_count() == 0:
            raise RayError(
                "--gpus-per-trial asks for a GPU but this machine has none; drop the option "
                "or join a cluster with GPUs through --ray-address"
            )
    started = False
    if not ray.is_initialized():
        if options.address not in (None, "auto"):
            host, port = _host_port(options.address)
            try:
                socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT_SECONDS).close()
            except OSError as error:
                raise RayError(
                    f"cannot reach Ray at {options.address} ({error.strerror or error}); start "
                    "it with `ray start --head` there, or fix --ray-address"
                ) from None
        kwargs: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "logging_level": logging.ERROR,
        }
        if options.address is None:
            # "local": a new instance even where `ray start` left one running, which
            # ray.init() would otherwise join (and then refuse num_cpus for).
            kwargs.update(
                address="local",
                num_cpus=os.cpu_count() or 1,
                object_store_memory=_OBJECT_STORE_BYTES,
            )
        else:
            kwargs["address"] = options.address
        token = None
        if options.address is not None:
            token = _join_with_token()
        try:
            # Ray's C++ client logs each refused attempt on stderr; what it says decides
            # the message below, and the user gets that one line instead.
            # Only when joining: a local start spawns Ray's daemons, which would inherit it.
            with _stderr_captured(enabled=options.address is not None) as captured:
                ray.init(**kwargs)
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise _join_error(options.address, error, captured.text(), token) from None
        finally:
            captured.replay_if(ray.is_initialized())
        started = True
    resources = ray.cluster_resources()
    for kind, wanted in (("CPU", options.cpus_per_trial), ("GPU", options.gpus_per_trial)):
        have = resources.get(kind, 0.0)
        if wanted > have:
            if started:
                ray.shutdown()
            option = f"--{kind.lower()}s-per-trial"
            raise RayError(
                f"{option} {wanted:g} asks for more than this Ray cluster has ({have:g} {kind}); "
                f"lower {option}" + (" or drop it" if kind == "GPU" else "")
            )
    return started


_TOKEN_FILE = os.path.join("~", ".ray", "auth_token")


def _token_source() -> str | None:
    """Where a Ray authentication token is available to this process, if anywhere."""
    if os.environ.get("RAY_AUTH_TOKEN", "").strip():
        return "RAY_AUTH_TOKEN"
    path = os.environ.get("RAY_AUTH_TOKEN_PATH")
    if path:
        return path if os.path.isfile(os.path.expanduser(path)) else None
    default = os.path.expanduser(_TOKEN_FILE)
    return _TOKEN_FILE if os.path.isfile(default) else None


def _join_with_token() -> str | None:
    """Token mode for a client that has a token (``ray start --head`` turns it on and
    writes the token; a client in the default mode sends none and is refused)."""
    source = _token_source()
    if source is not None and "RAY_AUTH_MODE" not in os.environ:
        os.environ["RAY_AUTH_MODE"] = "token"
        # Ray read its configuration when it was imported: have it read the mode again
        # (what Ray itself does when it turns token mode on for a process).
        with contextlib.suppress(ImportError, AttributeError):
            from ray._raylet import Config

            Config.initialize("")
    return source


def _join_error(address: str | None, error: Exception, logged: str, token: str | None) -> RayError:
    where = address or "a local instance"
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    refused = "InvalidAuthToken" in logged or "Unauthenticated" in logged
    if address is None or not refused:
        return RayError(f"cannot start or join Ray at {where}: {first}")
    fix = (
        "copy the head's ~/.ray/auth_token to this machine's ~/.ray/auth_token, or set "
        "RAY_AUTH_TOKEN to its contents (or RAY_AUTH_TOKEN_PATH to a copy of the file)"
    )
    if os.environ.get("RAY_AUTH_MODE", "").lower() == "disabled":
        return RayError(
            f"Ray at {address} needs an authentication token and RAY_AUTH_MODE is 'disabled' "
            f"here: unset it (or set it to token) and {fix}"
        )
    if token is None:
        return RayError(
            f"Ray at {address} refused this client: it needs the cluster's authentication "
            f"token and none was found; {fix}"
        )
    return RayError(
        f"Ray at {address} refused the authentication token from {token}: it is not the "
        f"cluster's; {fix}"
    )


class _Captured:
    def __init__(self, path: str | None) -> None:
        self.path = path  # None: nothing was captured

    def text(self) -> str:
        if self.path is None:
            return ""
        try:
            with open(self.path, encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except OSError:
            return ""

    def replay_if(self, succeeded: bool) -> None:
        # After a success, what Ray said is the user's to see; after a failure, the
        # one-line error has said what matters.
        text = self.text() if succeeded else ""
        if self.path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        if text:
            sys.stderr.write(text)


@contextlib.contextmanager
def _stderr_captured(*, enabled: bool) -> Iterator[_Captured]:
    """File descriptor 2 into a temporary file (C++ code writes there, not to sys.stderr)."""
    if not enabled:
        yield _Captured(None)
        return
    handle, path = tempfile.mkstemp(prefix="cnas-ray-init-", suffix=".log")
    captured = _Captured(path)
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        os.dup2(handle, 2)
        yield captured
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(handle)


def _trainable(config: dict[str, Any], execute: Callable[[Any, Reporter], Outcome]) -> None:
    """One Ray Tune trial: evaluate the job, report each epoch, then the outcome."""
    import ray
    from ray import tune

    # Which node ran it, for the trial's record (trials.csv's "node").
    where = {"node": ray.get_runtime_context().get_node_id(), "node_host": socket.gethostname()}
    last_epoch = 0

    def report(epoch: int, score: float) -> None:
        nonlocal last_epoch
        last_epoch = epoch
        tune.report({"epoch": epoch, "score": float(score), "final": False, **where})

    outcome = run_job(execute, config["job"], report)
    score = outcome.score if math.isfinite(outcome.score) else 0.0
    # As JSON text: Tune flattens nested dicts in results ("outcome/accuracy").
    tune.report(
        {
            "epoch": last_epoch,
            "score": score,
            "final": True,
            "outcome": json.dumps(asdict(outcome)),
            **where,
        }
    )


def make_searcher(
    study: optuna.Study,
    task: StudyTask,
    *,
    budget: int,
    on_trial: Callable[[optuna.Study, FrozenTrial], None] | None,
) -> Any:
    """A Tune ``Searcher`` over ``study`` (built here so importing this module skips Ray)."""
    from ray.tune.search import Searcher

    class StudySearcher(Searcher):
        """Tune asks for trials; the Optuna study chooses them and records the results."""

        def __init__(self) -> None:
            super().__init__(metric="score", mode="max")
            self.inflight: dict[str, tuple[optuna.Trial, Any, float]] = {}
            # Every trial asked and not yet told, by number: Ctrl-C can land while one is
            # still being prepared, or after Tune reported it and before it was told, and
            # such a trial must not be left RUNNING.
            self.untold: dict[int, optuna.Trial] = {}
            self.last: dict[str, dict[str, Any]] = {}
            self.lock = threading.Lock()
            # Points whose worker died under them in this run (see on_trial_complete).
            self.lost_points: list[dict[str, Any]] = []
            self.fatal: str | None = None  # the first input error a worker met

        def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
            while True:
                if budget_used(study) >= budget or self.fatal:
                    return Searcher.FINISHED
                with uncut(), warnings.catch_warnings():  # no trial asked and unknown
                    # "Heartbeat ... supposed to be used with Study.optimize": the heartbeat
                    # thread of run_on_ray beats for trials asked by hand.
                    warnings.simplefilter("ignore", UserWarning)
                    trial = study.ask()
                    with self.lock:
                        self.untold[trial.number] = trial
                started = time.perf_counter()
                mark_started(trial)
                if over_budget(study, trial.number, budget):
                    trial.set_user_attr("surplus", True)
                    self._tell(trial, state=TrialState.FAIL, report=False)
                    return Searcher.FINISHED
                try:
                    step = task.prepare(trial)
                except Exception as error:
                    record_failure(trial, f"{type(error).__name__}: {error}", started)
                    self._tell(trial, state=TrialState.FAIL)
                    continue
                if isinstance(step, Done):
                    self._tell(trial, values=step.values)
                    reason = task.stop_reason()
                    if reason is not None:
                        self.fatal = self.fatal or f"RunStopped: {reason}"
                        return Searcher.FINISHED
                    continue
                with self.lock:
                    self.inflight[trial_id] = (trial, step, started)
                return {"job": step, "number": trial.number}

        # Tune pickles its searcher into its own experiment checkpoint; the Optuna study is
        # this run's record (and what a re-run resumes from), so there is nothing to save.
        def __getstate__(self) -> dict[str, Any]:
            return {}

        def save_to_dir(self, *args: Any, **kwargs: Any) -> None:
            return None

        def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
            self.last[trial_id] = result

        def on_trial_complete(
            self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
        ) -> None:
            with self.lock:
                entry = self.inflight.pop(trial_id, None)
            last = result or self.last.get(trial_id) or {}
            self.last.pop(trial_id, None)
            if entry is None:
                return
            trial, job, started = entry
            for key in ("node", "node_host"):
                if last.get(key):
                    trial.set_user_attr(key, str(last[key]))
            if error:
                # The candidate's own errors come back as an outcome; an error here is a
                # worker or node that died under it (a lost node, an OOM kill). Its point
                # runs again, once: a point that kills its worker twice is a failure.
                if dict(trial.params) in self.lost_points:
                    record_failure(
                        trial,
                        "RayTrialError: the Ray worker died twice on this point (see Ray's logs)",
                        started,
                    )
                    self._tell(trial, state=TrialState.FAIL)
                    return
                self.lost_points.append(dict(trial.params))
                trial.set_user_attr("interrupted", True)
                trial.set_user_attr(
                    "error", "interrupted: its Ray worker or node died; the point runs again"
                )
                trial.set_user_attr("duration_s", round(time.perf_counter() - started, 3))
                self._tell(trial, state=TrialState.FAIL)
                requeue(study, trial.number, trial.params)
                return
            if not last.get("final"):
                # The scheduler stopped it after an epoch: record how far it got.
                trial.set_user_attr("stopped_at_epoch", int(last.get("epoch", 0)))
                trial.set_user_attr("score_at_stop", float(last.get("score", 0.0)))
                trial.set_user_attr("duration_s", round(time.perf_counter() - started, 3))
                self._tell(trial, state=TrialState.PRUNED)
                return
            outcome = Outcome(**json.loads(last["outcome"]))
            if outcome.fatal:
                # The user's input is wrong where the trial ran: its point runs again
                # once that is fixed, and the run stops with the message.
                trial.set_user_attr("interrupted", True)
                trial.set_user_attr("error", f"interrupted: {outcome.error}"[:2000])
                self._tell(trial, state=TrialState.FAIL)
                requeue(study, trial.number, trial.params)
                self.fatal = self.fatal or outcome.error
                return
            if outcome.error is not None:
                record_failure(trial, outcome.error, started)
                self._tell(trial, state=TrialState.FAIL)
                return
            try:
                values = task.finish(trial, job, outcome)
            except Exception as failure:
                record_failure(trial, f"{type(failure).__name__}: {failure}", started)
                self._tell(trial, state=TrialState.FAIL)
                return
            self._tell(trial, values=values)

        def _tell(
            self,
            trial: optuna.Trial,
            *,
            values: Any = None,
            state: TrialState = TrialState.COMPLETE,
            report: bool = True,
        ) -> None:
            with uncut():  # told, forgotten as untold and written out: all or nothing
                frozen = study.tell(
                    trial, values if state == TrialState.COMPLETE else None, state=state
                )
                with self.lock:
                    self.untold.pop(trial.number, None)
                if not report:
                    return
                task.remember(frozen)
                if on_trial is not None:
                    on_trial(study, frozen)

        def interrupt_untold(self) -> None:
            """Fail every trial asked and not told, flagged so the next run does it again."""
            with uncut():
                with self.lock:
                    trials = list(self.untold.values())
                    self.untold.clear()
                    self.inflight.clear()
                for trial in trials:
                    try:
                        trial.set_user_attr("interrupted", True)
                        trial.set_user_attr("error", "interrupted")
                        study.tell(trial, state=TrialState.FAIL)
                    except (optuna.exceptions.UpdateFinishedTrialError, RuntimeError, ValueError):
                        continue  # told after all, just before the interrupt landed

        def trial_for(self, number: int) -> optuna.Trial | None:
            """The running trial of that number, if this searcher asked it."""
            with self.lock:
                return self.untold.get(number)

        def running_trial_ids(self) -> list[int]:
            with self.lock:
                return [trial._trial_id for trial in self.untold.values()]

    return StudySearcher()


def _pareto_scheduler(rule: ParetoHalving, study: optuna.Study, searcher: Any) -> Any:
    """A Tune scheduler that stops trials by the Pareto halving rule, in the driver."""
    from ray.tune.schedulers import FIFOScheduler, TrialScheduler

    class ParetoHalvingScheduler(FIFOScheduler):
        def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
            if result.get("final"):
                return TrialScheduler.CONTINUE
            running = searcher.trial_for(int(trial.config["number"]))
            if running is None:
                return TrialScheduler.CONTINUE
            stop = rule.should_stop(study, running, int(result["epoch"]), float(result["score"]))
            return TrialScheduler.STOP if stop else TrialScheduler.CONTINUE

    return ParetoHalvingScheduler()


def _heartbeat(storage: optuna.storages.BaseStorage, searcher: Any, stop: threading.Event) -> None:
    # Optuna beats for trials run by study.optimize; these are asked and told by hand.
    while not stop.wait(HEARTBEAT_SECONDS):
        for trial_id in searcher.running_trial_ids():
            try:
                storage.record_heartbeat(trial_id)
            except Exception:  # a trial told meanwhile, a storage hiccup: the next beat
                continue


def run_on_ray(
    study: optuna.Study,
    task: StudyTask,
    *,
    storage: optuna.storages.BaseStorage,
    budget: int,
    options: RayOptions,
    early_stopping: str | None = None,
    on_trial: Callable[[optuna.Study, FrozenTrial], None] | None = None,
) -> None:
    """Run trials on Ray Tune until the study has ``budget`` finished trials."""
    if finished_count(study) >= budget:
        return  # a finished run asked again: nothing to start Ray for
    import ray
    from ray import tune

    # Tune's per-trial loggers (JSON, CSV, TensorBoard) would only duplicate the study.
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    # Ctrl-C must reach this function as KeyboardInterrupt, which flags the running trials
    # interrupted; Tune's own handler would stop them as if finished and return.
    os.environ.setdefault("TUNE_DISABLE_SIGINT_HANDLER", "1")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    started_ray = connect_ray(options)
    searcher = make_searcher(study, task, budget=budget, on_trial=on_trial)
    resources = {"cpu": options.cpus_per_trial, "gpu": options.gpus_per_trial}
    trainable = tune.with_resources(
        tune.with_parameters(_trainable, execute=task.execute), resources
    )
    scheduler = None
    if early_stopping == "asha":
        from ray.tune.schedulers import ASHAScheduler

        # Rungs at epochs 1, 2, 4, ...: the same rule as the local backend's pruner.
        scheduler = ASHAScheduler(time_attr="epoch", max_t=1024, grace_period=1, reduction_factor=2)
    elif early_stopping == PARETO_HALVING:
        scheduler = _pareto_scheduler(ParetoHalving(), study, searcher)
    concurrent = options.max_concurrent or max(
        1, int(ray.cluster_resources().get("CPU", 1) // options.cpus_per_trial)
    )
    scratch = tempfile.mkdtemp(prefix="cnas-tune-")
    beating = is_heartbeat_enabled(storage)
    stop = threading.Event()
    beat = None
    if beating:
        beat = threading.Thread(target=_heartbeat, args=(storage, searcher, stop), daemon=True)
        beat.start()
    try:
        while True:
            tune.Tuner(
                trainable,
                tune_config=tune.TuneConfig(
                    metric="score",
                    mode="max",
                    search_alg=searcher,
                    scheduler=scheduler,
                    num_samples=-1,
                    max_concurrent_trials=concurrent,
                    reuse_actors=True,
                ),
                run_config=tune.RunConfig(
                    name="cnas",
                    storage_path=scratch,
                    verbose=0,
                    failure_config=tune.FailureConfig(max_failures=0),
                ),
            ).fit()
            raise_swallowed()
            if searcher.fatal:
                message = searcher.fatal.split(": ", 1)[-1]
                raise RayError(message.splitlines()[0] if message else searcher.fatal)
            # The searcher stops asking once the budget is taken; if trials of another
            # process held part of it and died, their points come back: run them too.
            if not wait_for_running(study, storage, budget=budget, n_params=task.n_params):
                break
    finally:
        stop.set()
        if beat is not None:
            beat.join(timeout=5)
        searcher.interrupt_untold()
        shutil.rmtree(scratch, ignore_errors=True)
        if started_ray:
            ray.shutdown()

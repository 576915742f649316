"""The Ray Tune backend: same study, same run directory, early stopping, failures, resume."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import torch
from optuna.trial import TrialState

import nas
from nas import (
    Evaluation,
    Evaluator,
    SearchConfig,
    SpecBackbone,
    TrainingConfig,
    TrainingEvaluator,
    TrialError,
    load_data,
    run_search,
)
from nas.coefficients import (
    BackboneScaler,
    CoefficientConfig,
    build_candidates,
    run_coefficient_search,
    write_coefficient_report,
)
from nas.runs import (
    RayError,
    RayOptions,
    connect_ray,
    finished_count,
    interrupted_numbers,
    open_storage,
)
from nas.search import STUDY_NAME
from scaling import search_proxy
from search_spaces import MBConvSpace, StageChoices

ray = pytest.importorskip("ray")
# Ray workers cannot import this test module (pytest imports it by path): send its
# evaluators to them by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

SKELETON = search_proxy(
    resolution=16, in_channels=1, num_classes=10, width_mult=0.5, depth_mult=0.5
)
SPACE = MBConvSpace.uniform(SKELETON, StageChoices(kernels=(3, 5, 7), expand_ratios=(1, 6)))
TARGET = 4e6


class Scripted(Evaluator):
    """Per-epoch accuracy falls with the trial's seed (its number): deterministic early stops.

    Kernel 7 in the first stage fails, as a diverging candidate would.
    """

    def __init__(self, epochs: int = 3) -> None:
        self.epochs = epochs

    def evaluate(self, spec, *, seed, progress=None):
        if spec.stages[0].kernel == 7:
            raise TrialError("kernel 7 diverged")
        final = 0.9 / (1 + seed % 100_003)
        for epoch in range(1, self.epochs + 1):
            if progress is not None:
                progress(epoch, final * epoch / self.epochs)
        return Evaluation(accuracy=final, metrics={"epochs": float(self.epochs)})


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as file:
        return list(csv.DictReader(file))


def search(run_dir, evaluator, *, ray_options=None, **config):
    config = SearchConfig(**{"target": TARGET, "trials": 4, "strategy": "random", **config})
    study = run_search(
        space=SPACE, evaluator=evaluator, config=config, run_dir=run_dir, ray=ray_options
    )
    nas.write_report(nas.build_report(study, config, space_size=SPACE.size), run_dir, config)
    return study


def test_ray_and_local_write_the_same_run_directory_with_the_same_results(tmp_path, ray_instance):
    data = load_data("digits", resolution=16, max_samples=150, seed=0)
    evaluator = TrainingEvaluator(data=data, config=TrainingConfig(epochs=1, threads=1))
    local = search(tmp_path / "local", evaluator)
    remote = search(tmp_path / "ray", evaluator, ray_options=RayOptions(max_concurrent=2))
    files = {p.name for p in (tmp_path / "local").iterdir()}
    assert files == {p.name for p in (tmp_path / "ray").iterdir()}
    assert {"trials.csv", "pareto.csv", "pareto.png", "baseline.json", "summary.json"} <= files

    # Same seeds, one thread each: the same candidates train to the same accuracy, and
    # the same proposals outside the target band are turned away untrained.
    def trained(study):
        return {
            t.number: (t.params, t.user_attrs["accuracy"])
            for t in study.trials
            if not t.user_attrs.get("out_of_band")
        }

    here, there = trained(local), trained(remote)
    assert here == there and len(here) == 4
    assert all(
        0.9 <= t.user_attrs["cost"] / TARGET <= 1.1 for t in remote.trials if t.number in there
    )
    assert len(local.trials) == len(remote.trials)
    assert all(t.state == TrialState.COMPLETE for t in remote.trials)


class Learnable(Evaluator):
    """An accuracy the architecture decides: kernel 5 and expansion 6 help in every stage."""

    def evaluate(self, spec, *, seed, progress=None):
        good = sum((s.kernel == 5) + (s.expand_ratio == 6) for s in spec.stages)
        return Evaluation(accuracy=0.4 + 0.03 * good)


def test_the_predictor_on_ray_trains_what_it_proposed_and_reports_its_ranking(
    tmp_path, ray_instance
):
    from nas.search._predictor_sampler import PREDICTED_ATTR, trained_results

    settings = {"strategy": "predictor", "trials": 12, "predictor_warmup": 8}
    study = search(
        tmp_path, Learnable(), ray_options=RayOptions(max_concurrent=2), predictor_pool=100,
        target_tolerance=0.5, **settings,
    )  # fmt: skip
    trained = trained_results(study)
    assert len(trained) == 12 and len(study.trials) == 12  # nothing screened, nothing lost
    assert len({t.user_attrs["fingerprint"] for t in trained}) == 12  # two slots, no repeat
    # A trial asked while the 8th warmup result is still training is drawn at random too:
    # 3 or 4 are the predictor's, as the two slots happen to finish.
    proposed = sum(PREDICTED_ATTR in t.user_attrs for t in trained)
    assert proposed in (3, 4)
    assert all(PREDICTED_ATTR in t.user_attrs for t in trained[-3:])
    summary = json.loads((tmp_path / "summary.json").read_text())["predictor"]
    assert summary["trained"] == 12 and summary["proposed_by_predictor"] == proposed
    assert -1 <= summary["loo_tau_low"] <= summary["loo_tau"] <= summary["loo_tau_high"] <= 1


class HoldsData(Evaluator):
    """Reports where its data splits' images live: the object store's shared memory (the
    node's one copy, mapped) or this process's own heap, and whether they are intact."""

    def __init__(self) -> None:
        self.data = load_data("digits", resolution=16, max_samples=150, seed=0)
        self.digest = _digest(self.data.train.tensors[0])

    def evaluate(self, spec, *, seed, progress=None):
        images = self.data.train.tensors[0]
        address = images.untyped_storage().data_ptr()
        with open("/proc/self/maps", encoding="utf-8") as maps:
            mapped = [line.split() for line in maps]
        where = next((m[5] if len(m) > 5 else "" for m in mapped if _holds(m[0], address)), "")
        metrics = {
            "in_object_store": float("plasma" in where),
            "intact": float(_digest(images) == self.digest),
        }
        return Evaluation(accuracy=0.5, metrics=metrics)


def _holds(span: str, address: int) -> bool:
    low, high = (int(x, 16) for x in span.split("-"))
    return low <= address < high


def _digest(tensor: torch.Tensor) -> str:
    import hashlib

    return hashlib.sha256(tensor.numpy().tobytes()).hexdigest()


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="reads Linux's /proc")
def test_trials_on_ray_map_the_nodes_one_copy_of_the_data(tmp_path, ray_instance):
    study = search(
        tmp_path, HoldsData(), ray_options=RayOptions(max_concurrent=2), target_tolerance=None
    )
    metrics = [t.user_attrs.get("metrics") for t in study.trials]
    assert metrics and all(m == {"in_object_store": 1.0, "intact": 1.0} for m in metrics)


def test_failing_trials_on_ray_are_recorded_with_their_message(tmp_path, ray_instance):
    study = optuna.create_study(
        study_name=STUDY_NAME, storage=f"sqlite:///{tmp_path}/study.db", load_if_exists=True
    )
    smallest = SPACE.extreme(largest=False)
    study.enqueue_trial({**smallest, "s0_kernel": 7})
    study.enqueue_trial({**smallest, "s0_kernel": 3})
    search(
        tmp_path, Scripted(), ray_options=RayOptions(max_concurrent=2), trials=4,
        target_tolerance=None,  # the smallest network, enqueued, lies outside any band
    )  # fmt: skip
    rows = read_csv(tmp_path / "trials.csv")
    assert len(rows) == 4
    for row in rows:
        if row["s0_kernel"] == "7":
            assert row["state"] == "fail" and row["error"] == "TrialError: kernel 7 diverged"
        else:
            assert row["state"] == "complete" and row["error"] == ""


def test_asha_on_ray_stops_weak_trials_and_keeps_them_out_of_the_results(tmp_path, ray_instance):
    space = MBConvSpace.uniform(SKELETON, StageChoices(kernels=(3, 5), expand_ratios=(1, 6)))
    config = SearchConfig(target=TARGET, trials=6, strategy="random", early_stopping="asha")
    study = run_search(
        space=space,
        evaluator=Scripted(epochs=4),
        config=config,
        run_dir=tmp_path,
        # One at a time: which trial reaches a rung first is then fixed, so are the stops.
        ray=RayOptions(max_concurrent=1),
    )
    nas.write_report(nas.build_report(study, config, space_size=space.size), tmp_path, config)
    stopped = [t for t in study.trials if t.state == TrialState.PRUNED]
    assert stopped, "later trials score lower at every epoch; ASHA must stop some"
    assert all(1 <= t.user_attrs["stopped_at_epoch"] < 4 for t in stopped)
    assert finished_count(study) == 6
    rows = {int(r["number"]): r for r in read_csv(tmp_path / "trials.csv")}
    front = {int(r["number"]) for r in read_csv(tmp_path / "pareto.csv")}
    summary = json.loads((tmp_path / "summary.json").read_text())
    for trial in stopped:
        assert rows[trial.number]["state"] == "stopped"
        assert rows[trial.number]["accuracy"] == ""
        assert trial.number not in front
        assert summary["baseline"]["number"] != trial.number
    assert summary["trials"]["stopped"] == len(stopped)


def test_local_asha_stops_the_same_way(tmp_path):
    space = MBConvSpace.uniform(SKELETON, StageChoices(kernels=(3, 5), expand_ratios=(1, 6)))
    config = SearchConfig(target=TARGET, trials=6, strategy="random", early_stopping="asha")
    study = run_search(space=space, evaluator=Scripted(epochs=4), config=config, run_dir=tmp_path)
    stopped = [t for t in study.trials if t.state == TrialState.PRUNED]
    assert stopped and finished_count(study) == 6
    assert all(1 <= t.user_attrs["stopped_at_epoch"] < 4 for t in stopped)
    assert all("accuracy" not in t.user_attrs for t in stopped)


def test_the_coefficient_grid_runs_on_ray(tmp_path, ray_instance):
    backbone = SpecBackbone(SKELETON)
    config = CoefficientConfig(step=0.25, tolerance=0.2, resolution=16)
    shape = {"num_classes": 10, "in_channels": 1}
    candidates = build_candidates(config, BackboneScaler(backbone, shape)).candidates

    def evaluate(build, *, resolution, name, seed):
        model = build()
        params = sum(p.numel() for p in model.parameters())
        return Evaluation(accuracy=round(1 - 1 / (1 + params / 1e5 + resolution / 100), 6))

    study = run_coefficient_search(
        backbone=backbone,
        candidates=candidates,
        evaluate=evaluate,
        config=config,
        run_dir=tmp_path,
        ray=RayOptions(max_concurrent=2),
        **shape,
    )
    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(done) == len(study.trials)
    pairs = sorted((t.params["candidate"], t.params["seed"]) for t in done)
    assert len(set(pairs)) == len(pairs) and {c for c, _ in pairs} == set(range(len(candidates)))
    summary = write_coefficient_report(
        study, tmp_path, backbone=backbone.name, base_resolution=16, settings={}
    )
    chosen = summary["chosen"]
    assert abs(chosen["alpha"] * chosen["beta"] ** 2 * chosen["gamma"] ** 2 - 2) <= 0.2 + 1e-9


def test_a_data_root_missing_on_a_worker_stops_the_grid_naming_the_node(tmp_path, ray_instance):
    from nas.coefficients import STUDY_NAME as GRID_STUDY
    from nas.coefficients import CandidateTrainer

    backbone = SpecBackbone(SKELETON)
    config = CoefficientConfig(step=0.25, tolerance=0.2, resolution=16)
    shape = {"num_classes": 10, "in_channels": 1}
    candidates = build_candidates(config, BackboneScaler(backbone, shape)).candidates
    assert {c.resolution for c in candidates} != {16}, "the grid must need other resolutions"
    # What the driver has: the data at the base resolution, loaded before the run. The
    # other resolutions each worker reads from --data-root, which it lacks.
    trainer = CandidateTrainer(
        dataset="mnist", root=tmp_path / "absent", config=TrainingConfig(epochs=1, threads=1)
    )
    trainer._data[16] = load_data("digits", resolution=16, max_samples=150, seed=0)
    with pytest.raises(RayError) as raised:
        run_coefficient_search(
            backbone=backbone,
            candidates=candidates,
            evaluate=trainer,
            config=config,
            run_dir=tmp_path / "run",
            ray=RayOptions(max_concurrent=1),
            **shape,
        )
    message = str(raised.value)
    assert message.startswith("on Ray node ") and str(tmp_path / "absent") in message
    assert "\n" not in message
    study = optuna.load_study(
        study_name=GRID_STUDY, storage=f"sqlite:///{tmp_path / 'run' / 'study.db'}"
    )
    trials = study.get_trials(deepcopy=False)
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    lost = [t for t in trials if t.user_attrs.get("interrupted")]
    assert lost and all(t.number in interrupted_numbers(study) for t in lost)
    # The rest of the grid is still queued (WAITING), the lost point among it again.
    others = [t for t in trials if t not in lost]
    assert {t.state for t in others} <= {TrialState.COMPLETE, TrialState.WAITING}
    waiting = [t.system_attrs["fixed_params"] for t in others if t.state == TrialState.WAITING]
    assert all(t.params in waiting for t in lost), [
        (t.number, t.params, t.user_attrs) for t in lost
    ]


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"max_concurrent": 0}, "--max-concurrent must be a whole number >= 1"),
        ({"cpus_per_trial": 0}, "--cpus-per-trial must be more than 0"),
        ({"gpus_per_trial": -1}, "--gpus-per-trial must be a number >= 0"),
        ({"address": "nonsense"}, "is not auto or HOST:PORT"),
    ],
)
def test_bad_ray_options_are_refused(options, says):
    with pytest.raises(RayError, match=says):
        RayOptions(**options)


def test_more_cpus_per_trial_than_the_cluster_has_is_refused(ray_instance):
    with pytest.raises(RayError, match="asks for more than this Ray cluster has"):
        connect_ray(RayOptions(cpus_per_trial=1000))


def ray_search_command(out: Path, trials: int) -> list[str]:
    options = f"--target-flops 3M --trials {trials} --resolution 16 --epochs 3 "
    options += "--strategy random --width-mult 0.5 --depth-mult 0.5 --max-samples 300 "
    options += "--target-tolerance none --no-progress --json --backend ray --max-concurrent 2 --out"
    return [sys.executable, "-m", "experiments.cli", "search", *options.split(), str(out)]


def study_url(out: Path) -> str:
    return f"sqlite:///{out / 'study.db'}"


def trial_states(out: Path) -> list[TrialState]:
    # trials.csv appears after the first trial: by then the study's tables exist, and
    # reading does not race the run creating them.
    if not (out / "trials.csv").exists():
        return []
    study = optuna.load_study(study_name=STUDY_NAME, storage=study_url(out))
    return [t.state for t in study.get_trials(deepcopy=False)]


ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.mark.slow
def test_sigkill_of_a_ray_search_then_rerun_keeps_finished_trials(tmp_path, ray_instance, capsys):
    out = tmp_path / "run"
    command = ray_search_command(out, trials=6)
    process = subprocess.Popen(
        command, env=ONE_THREAD, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 240
    url = study_url(out)
    try:
        while process.poll() is None and time.monotonic() < deadline:
            now = trial_states(out)
            if TrialState.COMPLETE in now and TrialState.RUNNING in now:
                break
            time.sleep(0.2)
        assert process.poll() is None, "the search ended (or stalled) before it could be killed"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    before = {
        t.number: (t.params, t.user_attrs["accuracy"])
        for t in optuna.load_study(study_name=STUDY_NAME, storage=url).trials
        if t.state == TrialState.COMPLETE
    }
    # The rerun here, on the session's Ray: only the run to kill needs a process of its own.
    from experiments.cli import main

    capsys.readouterr()
    assert main(command[3:]) == 0
    stdout = capsys.readouterr().out
    study = optuna.load_study(study_name=STUDY_NAME, storage=open_storage(url))
    after = {t.number: (t.params, t.user_attrs.get("accuracy")) for t in study.trials}
    assert {n: after[n] for n in before} == before  # finished trials kept, not rerun
    assert finished_count(study) == 6
    lost = interrupted_numbers(study)
    assert lost, "the kill should have caught a trial running"
    finished = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(finished) == 6
    n_params = len(finished[0].params)
    for number in lost:
        point = study.trials[number].params
        if len(point) == n_params:  # it was training: the same point ran again
            assert point in [t.params for t in finished if t.number > number]
        # else it was killed while its point was still being chosen: nothing had started
    assert json.loads(stdout)["trials"]["complete"] == 6


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.slow
def test_ctrl_c_on_a_ray_search_flags_running_trials_interrupted(tmp_path):
    # Started with SIGINT ignored, as a shell starts a background job (`cnas ... &` in a
    # script, a CI step) and every child inherits: Python then never raised
    # KeyboardInterrupt, and the interrupted search ran on to exit 0 with nothing said.
    # (test_interrupts drives the interrupt to each other moment of a run.)
    out = tmp_path / "run"
    command = ray_search_command(out, trials=8)  # a budget far from done at Ctrl-C
    process = subprocess.Popen(
        command,
        env=ONE_THREAD,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=_ignore_sigint,
    )
    url = study_url(out)
    try:
        deadline = time.monotonic() + 240
        while process.poll() is None and time.monotonic() < deadline:
            if TrialState.RUNNING in trial_states(out):
                break
            time.sleep(0.2)
        assert process.poll() is None, "the search ended (or stalled) before Ctrl-C"
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, err.decode()[-2000:]
    assert err.decode().strip().endswith("cnas search: interrupted")
    study = optuna.load_study(study_name=STUDY_NAME, storage=url)
    flagged = [t for t in study.trials if t.user_attrs.get("interrupted")]
    assert flagged and all(t.state == TrialState.FAIL for t in flagged)
    assert not [t for t in study.trials if t.state in (TrialState.RUNNING, TrialState.PRUNED)]

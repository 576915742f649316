"""Run `cnas` with an interrupt landing at one chosen moment (a helper of test_interrupts).

    python interrupt_at.py PHASE cnas-arguments...

PHASE: start (the run's backend is entered, before Tune or the first trial), ask (just
after the first trial is asked), train (as the local backend starts a trial's training),
tell (inside the first tell of a finished trial, before it is written), told (just after
it is written, before the run hears of it).
"""

import os
import signal
import sys

import optuna

import nas.runs._run_trials as run_trials
import nas.runs._runner as runner
from experiments.cli import main

phase, argv = sys.argv[1], sys.argv[2:]
fired = False


def interrupt() -> None:
    global fired
    if not fired:
        fired = True
        os.kill(os.getpid(), signal.SIGINT)


if phase == "start":
    for name in ("run_local", "run_on_ray"):
        real = getattr(run_trials, name)

        def entered(*args, _real=real, **kwargs):
            interrupt()
            return _real(*args, **kwargs)

        setattr(run_trials, name, entered)
elif phase == "train":
    real_job = runner.run_job

    def run_job(*args, **kwargs):
        interrupt()
        return real_job(*args, **kwargs)

    runner.run_job = run_job
elif phase == "ask":
    real_ask = optuna.Study.ask

    def ask(self, *args, **kwargs):
        trial = real_ask(self, *args, **kwargs)
        interrupt()
        return trial

    optuna.Study.ask = ask
elif phase in ("tell", "told"):  # the first tell of a finished trial
    real_tell = optuna.Study.tell

    def tell(self, trial, values=None, state=None, **kwargs):
        finished = values is not None
        if finished and phase == "tell":
            interrupt()
        frozen = real_tell(self, trial, values, state=state, **kwargs)
        if finished and phase == "told":
            interrupt()
        return frozen

    optuna.Study.tell = tell
    # The local backend's tell is Optuna's own, inside study.optimize.
    real_inner = optuna.study._optimize._tell_with_warning

    def inner(study, trial, value_or_values=None, state=None, **kwargs):
        finished = value_or_values is not None
        if finished and phase == "tell":
            interrupt()
        told = real_inner(study, trial, value_or_values, state, **kwargs)
        if finished and phase == "told":
            interrupt()
        return told

    optuna.study._optimize._tell_with_warning = inner
else:
    raise SystemExit(f"unknown phase {phase}")
sys.exit(main(argv))

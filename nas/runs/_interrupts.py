"""Where a Ctrl-C may land during a run, and where it waits for the record to be whole.

An interrupt raised between ``study.ask()`` and the line that remembers the asked trial
left that trial RUNNING for good; one raised inside Optuna's own tell, in the local
backend, ended the run with Optuna's ``UnboundLocalError`` instead of exit 130. So the
run's bookkeeping (asking and remembering a trial, telling it and writing what follows)
is a section an interrupt does not cut: one that arrives there is held and raised as the
section ends, where every asked trial is known and can be flagged. Training and waiting
stay interruptible at once. And an interrupt that some library caught and swallowed is
still seen: ``raise_swallowed`` raises it where the library returns.

Hand-written: Python offers only process-wide signal handlers, with no deferral.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any

__all__ = ["interruptible", "raise_swallowed", "uncut", "watching_interrupts"]


@dataclass
class _Watch:
    previous: Callable[[int, FrameType | None], Any]
    holding: int = 0  # depth of uncut sections now open
    pending: bool = False  # an interrupt held until the section ends
    seen: bool = False  # an interrupt arrived during the run, whatever became of it

    def deliver(self) -> None:
        """Raise the interrupt as the handler in place before the run would have."""
        self.pending = False
        self.previous(signal.SIGINT, None)


_watch: _Watch | None = None


def _on_interrupt(signum: int, frame: FrameType | None) -> None:
    watch = _watch
    if watch is None:  # pragma: no cover - the handler outlived its run
        raise KeyboardInterrupt
    watch.seen = True
    if watch.holding:
        watch.pending = True
        return
    watch.previous(signum, frame)


@contextmanager
def watching_interrupts() -> Iterator[None]:
    """For one run: hold interrupts in ``uncut`` sections, and remember each one for
    ``raise_swallowed``.

    Does nothing off the main thread, or where SIGINT is ignored or left to the system
    (the caller chose that), or inside a run already watched.
    """
    global _watch
    previous = signal.getsignal(signal.SIGINT)
    if (
        _watch is not None
        or threading.current_thread() is not threading.main_thread()
        or not callable(previous)
    ):
        yield
        return
    _watch = _Watch(previous=previous)
    signal.signal(signal.SIGINT, _on_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _watch = None


def raise_swallowed() -> None:
    """Raise ``KeyboardInterrupt`` if an interrupt arrived in this run and nothing raised
    it (a library caught it and returned as if finished): called where a library returns."""
    watch = _watch
    if watch is not None and watch.seen and not watch.holding:
        watch.seen = False
        watch.deliver()


@contextmanager
def uncut() -> Iterator[None]:
    """A section an interrupt does not cut: one that arrives inside is raised at its end
    (if the section ends with another error, at the next ``interruptible`` or
    ``raise_swallowed``)."""
    watch = _watch
    if watch is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    watch.holding += 1
    try:
        yield
    except KeyboardInterrupt:
        watch.holding -= 1
        if not watch.holding:
            watch.pending = False  # the held one is this very interrupt, on its way up
        raise
    except BaseException:
        watch.holding -= 1  # another error: a held interrupt stays pending, not dropped
        raise
    watch.holding -= 1
    if not watch.holding and watch.pending:
        watch.deliver()


@contextmanager
def interruptible() -> Iterator[None]:
    """Inside an ``uncut`` section, a part an interrupt may cut at once (a trial's
    training): one held until now is raised as it begins."""
    watch = _watch
    if watch is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    held, watch.holding = watch.holding, 0
    try:
        if watch.pending:
            watch.deliver()
        yield
    finally:
        watch.holding = held

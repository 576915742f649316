"""Running `cnas` in-process, as the command-line tests do."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable

import pytest
import torch

from experiments.cli import main


@pytest.fixture
def cnas() -> Callable[..., tuple[int, str, str]]:
    """(exit code, stdout, stderr) of `cnas argv`, on one torch thread."""

    def run(*argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        previous = torch.get_num_threads()
        torch.set_num_threads(1)  # as a trial runs; two busy threads on 2 cores crawl
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(list(argv))
                except SystemExit as exit_:
                    code = exit_.code
        finally:
            torch.set_num_threads(previous)
        return code, out.getvalue(), err.getvalue()

    return run

"""Writing a file so that no reader, and no run killed mid-write, ever sees half of it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

__all__ = ["write_atomic", "write_text_atomic"]


def write_atomic(path: str | os.PathLike[str], write: Callable[[Path], None]) -> None:
    """``write(tmp)`` to a hidden sibling of ``path``, then rename it over ``path``.

    The sibling keeps the suffix (``.family.tmp.png``), so writers that pick a format by
    suffix (matplotlib) still do. A rename within a directory is atomic on POSIX.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # only still there when ``write`` failed


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))

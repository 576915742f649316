"""The argument checks every layer shares.

``bool`` is a subclass of ``int`` in Python, so ``isinstance(True, int)`` holds; a
setting such as ``repeats=True`` must still be refused, hence one place that says so.
"""

from __future__ import annotations

import math

__all__ = ["is_int", "is_number", "is_numeric"]


def is_int(value: object) -> bool:
    """An ``int`` that is not a ``bool``."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_numeric(value: object) -> bool:
    """An ``int`` or ``float`` that is not a ``bool`` (NaN and infinities included)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    """A finite ``int`` or ``float`` that is not a ``bool``."""
    return is_numeric(value) and math.isfinite(value)

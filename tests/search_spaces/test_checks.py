import math

import pytest

from search_spaces import is_int, is_number, is_numeric


@pytest.mark.parametrize(
    ("value", "whole", "numeric", "finite"),
    [
        (3, True, True, True),
        (-2, True, True, True),
        (True, False, False, False),
        (False, False, False, False),
        (2.5, False, True, True),
        (3.0, False, True, True),
        (math.nan, False, True, False),
        (math.inf, False, True, False),
        ("3", False, False, False),
        (None, False, False, False),
    ],
)
def test_checks_refuse_bools_and_say_what_they_accept(value, whole, numeric, finite):
    assert (is_int(value), is_numeric(value), is_number(value)) == (whole, numeric, finite)

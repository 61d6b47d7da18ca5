"""How numbers read: cents for small amounts, no signed zero, thousands separators."""

from __future__ import annotations

import pytest

from uplift_studio.core.formats import MISSING, format_count, format_money, format_roi, format_share


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.10, "$0.10"),  # a contact cost: "$0" would say contacts are free
        (2.5, "$2.50"),
        (9.99, "$9.99"),
        (-0.10, "-$0.10"),
        (9.996, "$10"),  # rounds to $10.00, so it reads as whole dollars
        (12.4, "$12"),
        (3_210.0, "$3,210"),
        (-3_210.0, "-$3,210"),
        (9_999.6, "$10k"),
        (684_123.0, "$684k"),
        (999_600.0, "$1.00M"),  # not "$1,000k"
        (1_234_567.0, "$1.23M"),
        (0.0, "$0"),
        (-0.0, "$0"),
        (-0.004, "$0"),  # rounds to zero: no minus sign
        (float("nan"), MISSING),
        (None, MISSING),
    ],
)
def test_money(value, text):
    assert format_money(value) == text


@pytest.mark.parametrize(
    ("value", "signed", "text"),
    [
        (0.561, False, "56.1%"),
        (0.12, True, "+12.0%"),
        (-0.12, True, "-12.0%"),
        (-0.0004, False, "0.0%"),  # a tiny negative share is not "-0.0%"
        (-0.0004, True, "0.0%"),
        (0.0004, True, "0.0%"),
        (-0.0, False, "0.0%"),
        (float("inf"), False, MISSING),
    ],
)
def test_share(value, signed, text):
    assert format_share(value, signed=signed) == text


def test_roi_and_count():
    assert format_roi(6.84) == "6.84x"
    assert format_roi(-0.001) == "0.00x"
    assert format_count(21_307) == "21,307"
    assert format_count(50_000.0) == "50,000"
    assert format_count(-0.2) == "0"
    assert format_count(None) == MISSING

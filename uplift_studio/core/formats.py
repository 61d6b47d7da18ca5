"""How numbers read, in the report, the app and the snapshot alike: money, ROI, shares and counts.

Every function prints a value that rounds to zero without a sign: "-$0" or "-0.0%" reads as a loss that
is not there.
"""

from __future__ import annotations

import math

MISSING = "n/a"


def _missing(value: float | None) -> bool:
    return value is None or not math.isfinite(value)


def format_money(value: float | None) -> str:
    """``$684k``, ``$1.23M``, ``-$3,210``, and cents below $10 (``$0.10``, ``$2.50``): the precision an
    analyst reads at a glance, so that a $0.10 contact cost does not read as $0."""
    if _missing(value):
        return MISSING
    size = abs(value)
    # each branch is chosen on the value as it will be printed, so 999,999 reads $1.00M, not $1,000k
    if round(size, 2) == 0:
        return "$0"
    if round(size, 2) < 10:
        text = f"${size:,.2f}"
    elif round(size) < 1e4:
        text = f"${size:,.0f}"
    elif round(size / 1e3) < 1e3:
        text = f"${size / 1e3:,.0f}k"
    else:
        text = f"${size / 1e6:,.2f}M"
    return ("-" if value < 0 else "") + text


def format_roi(value: float | None) -> str:
    """``3.63x``: revenue per dollar spent."""
    if _missing(value):
        return MISSING
    return f"{value:z.2f}x"


def format_share(value: float | None, signed: bool = False) -> str:
    """``56.1%`` (or ``+12.0%`` when ``signed``); a share that rounds to zero is ``0.0%``, unsigned."""
    if _missing(value):
        return MISSING
    if round(value * 100, 1) == 0:
        return "0.0%"
    return f"{value:+.1%}" if signed else f"{value:.1%}"


def format_count(value: float | None) -> str:
    """``50,000``."""
    return MISSING if _missing(value) else f"{value:z,.0f}"

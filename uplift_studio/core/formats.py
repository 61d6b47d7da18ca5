"""How numbers read, in the report, the app and the snapshot alike: money, ROI, shares and counts."""

from __future__ import annotations

import math

MISSING = "n/a"


def _missing(value: float | None) -> bool:
    return value is None or not math.isfinite(value)


def format_money(value: float | None) -> str:
    """``$684k``, ``$1.23M``, ``-$3,210``: the precision an analyst reads at a glance."""
    if _missing(value):
        return MISSING
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value >= 1e6:
        return f"{sign}${value / 1e6:,.2f}M"
    if value >= 1e4:
        return f"{sign}${value / 1e3:,.0f}k"
    return f"{sign}${value:,.0f}"


def format_roi(value: float | None) -> str:
    """``3.63x``: revenue per dollar spent."""
    return MISSING if _missing(value) else f"{value:.2f}x"


def format_share(value: float | None, signed: bool = False) -> str:
    """``56.1%`` (or ``+12.0%`` when ``signed``)."""
    if _missing(value):
        return MISSING
    return f"{value:+.1%}" if signed else f"{value:.1%}"


def format_count(value: float | None) -> str:
    """``50,000``."""
    return MISSING if _missing(value) else f"{value:,.0f}"

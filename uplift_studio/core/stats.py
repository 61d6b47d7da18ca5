"""The one normal quantile every 95% interval of the product uses (a leaf module)."""

from __future__ import annotations

Z95 = 1.959963984540054
"""Two-sided 95% normal quantile: every interval is ``estimate +- Z95 * SE``."""


def interval(estimate, se):
    """``(estimate - Z95 * se, estimate + Z95 * se)`` for numbers or arrays."""
    return estimate - Z95 * se, estimate + Z95 * se

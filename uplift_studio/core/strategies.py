"""The strategies the product compares, in display order, and the words used for them everywhere."""

from __future__ import annotations

STRATEGIES = ("random", "probability", "uplift", "oracle")

STRATEGY_LABELS = {
    "random": "Random",
    "probability": "Conversion probability",
    "uplift": "Uplift model",
    "oracle": "Oracle (truth)",
}


def strategy_label(name: str) -> str:
    """The analyst's words for a strategy (its name when it has no label)."""
    return STRATEGY_LABELS.get(name, name)

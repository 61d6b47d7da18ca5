"""Everything shown at one budget, computed once: every strategy's result, the headline comparisons and
the executive sentence. The report, the app's cards and table, and every position of the snapshot's
slider read a :class:`BudgetView`; none of them recomputes a figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from uplift_studio.core.budget import StrategyResult
from uplift_studio.core.formats import format_count, format_money
from uplift_studio.core.paired import PairedDifference


def format_signed_money(value: float | None) -> str:
    """``+$186k``, ``-$3,210``, ``$0``: a difference, whose sign is the news."""
    text = format_money(value)
    # a positive amount that rounds to $0 reads as no difference, not a gain
    return f"+{text}" if value is not None and value > 0 and text[0] == "$" and text != "$0" else text


def format_difference(difference: PairedDifference) -> str:
    """``+$186k (95% +$120k to +$250k)``."""
    return (
        f"{format_signed_money(difference.estimate)} (95% {format_signed_money(difference.ci_low)} to "
        f"{format_signed_money(difference.ci_high)})"
    )


@dataclass(frozen=True)
class BudgetView:
    """The results of every strategy at ``budget`` (``cost_per_contact`` None with per-user costs)."""

    budget: float
    cost_per_contact: float | None
    population: int
    results: dict[str, StrategyResult]
    # uplift minus the strategies every page compares it with (probability), paired on the same held-out
    # users (core/paired.py); Analysis.comparisons gives every pair
    comparisons: dict[str, PairedDifference] = field(default_factory=dict)

    @property
    def uplift(self) -> StrategyResult:
        return self.results["uplift"]

    @property
    def simulated(self) -> bool:
        return self.uplift.true_incremental_revenue is not None

    @property
    def contacted_everyone(self) -> bool:
        return self.uplift.contacted_everyone

    @property
    def uplift_minus_probability(self) -> PairedDifference | None:
        """Uplift minus conversion-probability targeting in incremental revenue, with its paired interval."""
        return self.comparisons.get("probability")

    @property
    def lift_over_probability(self) -> float | None:
        """Relative gain of uplift over conversion-probability targeting (kept for the report's JSON key):
        None when probability targeting earns nothing, which is when uplift wins most, and without an
        interval; read :attr:`uplift_minus_probability` instead."""
        probability = self.results.get("probability")
        if probability is None or probability.incremental_revenue <= 0:
            return None
        return self.uplift.incremental_revenue / probability.incremental_revenue - 1.0

    @property
    def share_of_oracle(self) -> float | None:
        """Uplift's true incremental revenue as a share of the oracle's (simulated data only)."""
        oracle = self.results.get("oracle")
        if oracle is None or not oracle.true_incremental_revenue or self.uplift.true_incremental_revenue is None:
            return None
        return self.uplift.true_incremental_revenue / oracle.true_incremental_revenue

    @property
    def sentence(self) -> str:
        """One plain-language sentence with the headline and its uncertainty."""
        uplift = self.uplift
        if uplift.contacts == 0:
            return (
                f"A budget of {format_money(self.budget)} does not pay for a single contact: raise the budget to "
                "contact anyone."
            )
        text = (
            f"Contacting the {format_count(uplift.contacts)} customers the uplift model ranks highest costs "
            f"{format_money(uplift.spend)} and brings an estimated {format_money(uplift.incremental_revenue)} "
            f"of extra revenue (95% interval {format_money(uplift.ci_low)} to {format_money(uplift.ci_high)}), "
            f"a return of {uplift.roi:.1f}x"
        )
        versus = self.uplift_minus_probability
        if versus is not None:
            probability = self.results["probability"]
            text += (
                f", against {format_money(probability.incremental_revenue)} ({probability.roi:.1f}x) when "
                f"targeting those most likely to buy: {format_signed_money(versus.estimate)} (95% interval "
                f"{format_signed_money(versus.ci_low)} to {format_signed_money(versus.ci_high)}) on the same customers"
            )
        text += "."
        if versus is not None and versus.ci_low <= 0 <= versus.ci_high and not uplift.contacted_everyone:
            text += " At this budget the experiment cannot tell uplift from probability targeting apart."
        if uplift.contacted_everyone:
            text += " The budget covers every customer, so every strategy contacts everyone."
        if uplift.ci_low <= 0:
            text += " The interval includes zero: the experiment cannot rule out that the campaign adds nothing."
        return text

"""Everything shown at one budget, computed once: every strategy's result, the headline comparisons and
the executive sentence. The report, the app's cards and table, and every position of the snapshot's
slider read a :class:`BudgetView`; none of them recomputes a figure.
"""

from __future__ import annotations

from dataclasses import dataclass

from uplift_studio.core.budget import StrategyResult
from uplift_studio.core.formats import format_count, format_money


@dataclass(frozen=True)
class BudgetView:
    """The results of every strategy at ``budget`` (``cost_per_contact`` None with per-user costs)."""

    budget: float
    cost_per_contact: float | None
    population: int
    results: dict[str, StrategyResult]

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
    def lift_over_probability(self) -> float | None:
        """Relative gain of uplift over conversion-probability targeting in incremental revenue; None when
        probability targeting earns nothing to compare with."""
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
        lift = self.lift_over_probability
        if lift is not None:
            probability = self.results["probability"]
            text += (
                f", against {format_money(probability.incremental_revenue)} ({probability.roi:.1f}x) when "
                f"targeting those most likely to buy ({lift:+.0%})"
            )
        text += "."
        if uplift.contacted_everyone:
            text += " The budget covers every customer, so every strategy contacts everyone."
        if uplift.ci_low <= 0:
            text += " The interval includes zero: the experiment cannot rule out that the campaign adds nothing."
        return text


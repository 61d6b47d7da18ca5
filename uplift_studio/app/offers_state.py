"""Several offers in the app (issue 12): the analyst's choice of offers and their costs, the experiment they
make of an uploaded file, and what the page shows at one budget, read from a finished
:class:`OfferAnalysis` (binary searches and array reads: no refit, no sort).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import param

from uplift_studio.core.errors import DataError
from uplift_studio.core.wording import APP

if TYPE_CHECKING:  # the core's offers read scipy.stats: imported when an offer analysis is made or read
    from uplift_studio.core.offers import OfferExperiment
    from uplift_studio.core.offers_analysis import OfferAnalysis, OfferResult

DEFAULT_OFFER_COST = 0.10
CURVE_STRATEGIES = ("allocation", "random_offer")
"""Drawn on the curve besides each offer alone (the cheapest offer for everyone is in the table)."""


class OfferChoice(param.Parameterized):
    """The offers to compare against the control label of the treatment column, and what each costs."""

    several = param.Boolean(
        default=False,
        label="Several offers (one control label, two or more offers)",
        doc="Compare every offer label of the treatment column with the control label: who gets which offer.",
    )
    offers = param.ListSelector(
        default=[], objects=[], check_on_set=False, doc="The offer labels to compare (every non-control label)."
    )
    contact_cost = param.Dict(default={}, doc="Contact cost per offer label, in the currency of the revenue.")
    redemption_cost = param.Dict(default={}, doc="Cost per conversion of an offer label (default 0).")

    def costs(self) -> tuple[dict[str, float], dict[str, float]]:
        """The chosen offers' contact and redemption costs (a missing contact cost is the default)."""
        contact = {offer: float(self.contact_cost.get(offer, DEFAULT_OFFER_COST)) for offer in self.offers}
        redemption = {offer: float(self.redemption_cost.get(offer, 0.0) or 0.0) for offer in self.offers}
        return contact, {offer: cost for offer, cost in redemption.items() if cost > 0}

    def key(self) -> tuple:
        """What decides the analysis; the offers in sorted order, as the command line's default takes them (the
        models' seeds follow the offers' order, so the same choice gives the same numbers in both)."""
        contact, redemption = self.costs()
        offers = tuple(sorted(self.offers))
        return ("offers", offers, tuple(sorted(contact.items())), tuple(sorted(redemption.items())))


def offer_experiment(
    raw, columns, choice_key: tuple, file_name: str, revenue_per_conversion: float | None
) -> OfferExperiment:
    """An uploaded file's frame as a several-offers experiment, validated in the app's words."""
    from uplift_studio.core.offers import offers_from_frame

    _, offers, contact, redemption = choice_key
    if len(offers) < 2:
        raise DataError(
            "“Several offers” needs two or more offers: pick them in “Offers”, or untick “Several offers” to compare "
            "one treated label with the control."
        )
    return offers_from_frame(
        raw,
        columns,
        arms=offers,
        contact_cost=dict(contact),
        redemption_cost=dict(redemption),
        source=Path(file_name or "upload").name,
        revenue_per_conversion=revenue_per_conversion,
        wording=APP,
    )


def file_key(file_bytes: bytes, file_name: str, columns, choice_key: tuple, revenue_per_conversion) -> tuple:
    """What decides an offer analysis of a file: small and hashable (the file by its content hash)."""
    digest = hashlib.sha256(file_bytes).hexdigest()
    return ("file", digest, file_name, columns, choice_key, revenue_per_conversion)


def budget_top(analysis: OfferAnalysis) -> float:
    """The slider's end: what the costliest strategy spends reaching every user it would contact (to the cent)."""
    top = max(offer_path.path.total_spend for offer_path in analysis.paths.values()) * analysis.scale
    return math.ceil(top * 100 - 1e-6) / 100


def strategy_label(name: str) -> str:
    labels = {
        "allocation": "Allocation (who gets which)",
        "random_offer": "Random offer",
        "cheapest_offer": "Everyone the cheapest offer",
        "oracle": "Oracle (true values)",
    }
    return labels.get(name, f"{name} alone")


@dataclass(frozen=True)
class OfferView:
    """Every strategy of an offer analysis at one budget, and the allocation minus the best single offer."""

    budget: float
    population: int
    offers: tuple[str, ...]
    results: dict[str, OfferResult]
    difference_estimate: float
    difference_low: float
    difference_high: float
    best_offer: str
    simulated: bool
    redeemed: bool
    """Some offer has a redemption cost: the measured spend has an interval (the table's columns stay put)."""

    @property
    def allocation(self) -> OfferResult:
        return self.results["allocation"]

    @property
    def mix(self) -> dict[str, int]:
        """Campaign users given each offer by the allocation (``analysis.mix_at_budget``)."""
        return self.allocation.contacts_by_offer


def offer_view(analysis: OfferAnalysis, budget: float) -> OfferView:
    """The one read of a budget tick: each strategy's result and the paired difference, at ``budget``."""
    from uplift_studio.core.offers_report import strategy_names

    budget = max(float(budget), 0.01)  # a $0 budget buys no contact, and the core wants a positive amount
    results = {name: analysis.result(name, budget) for name in strategy_names(analysis)}
    best = max(analysis.offers, key=lambda offer: results[offer].incremental_revenue)
    difference = analysis.difference("allocation", best, budget)
    return OfferView(
        budget=budget,
        population=analysis.population,
        offers=analysis.offers,
        results=results,
        difference_estimate=difference.estimate,
        difference_low=difference.ci_low,
        difference_high=difference.ci_high,
        best_offer=best,
        simulated=analysis.has_truth,
        redeemed=bool((analysis.redemption_cost > 0).any()),
    )

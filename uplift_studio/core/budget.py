"""Projection of a spend path to the campaign (design section 3): a budget buys contacts down the path;
the path says what they are worth. ROI = projected incremental revenue / spend.

The campaign targets ``population`` P users (default: the n evaluation users); each evaluation user stands
for P / n of them. Reading a budget is a binary search and a few array reads on the :class:`SpendPath`,
never a sort or a pass over the users: it is what the budget slider calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from uplift_studio.core.errors import DataError
from uplift_studio.core.path import SpendPath
from uplift_studio.core.stats import interval


@dataclass(frozen=True)
class StrategyResult:
    """What a budget buys with one strategy: contacts down its path and their projected value.

    ``depth`` is in evaluation users and ``share_targeted = depth / n``; revenue, its 95% interval,
    conversions and the truth (simulated data, else None) are projected to the population. ``roi`` and its
    interval (the revenue interval over the spend, which is fixed by the budget) are NaN when nobody can
    be contacted.
    """

    strategy: str
    budget: float
    contacts: int
    spend: float
    depth: float
    share_targeted: float
    incremental_revenue: float
    ci_low: float
    ci_high: float
    incremental_conversions: float | None
    roi: float
    roi_low: float
    roi_high: float
    net: float
    contacted_everyone: bool
    true_incremental_revenue: float | None

    def report_entry(self) -> dict:
        """The strategy's entry in the report JSON (design section 7's keys, then contacts and spend)."""
        return {
            "incremental_revenue": self.incremental_revenue,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "incremental_conversions": self.incremental_conversions,
            "roi": self.roi,
            "net": self.net,
            "contacts": int(self.contacts),
            "spend": self.spend,
        }


@dataclass(frozen=True)
class Economics:
    """How evaluation units become campaign units: one cost per contact (None with per-user costs) and
    the population each path is projected to."""

    cost_per_contact: float | None
    population: float
    scale: float


def is_positive_number(value: object) -> bool:
    return (
        isinstance(value, int | float | np.integer | np.floating)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def economics(path: SpendPath, cost_per_contact: float | None, population: int | None) -> Economics:
    """Check the economics against the path (per-user costs exclude a cost per contact) and scale them."""
    if population is None:
        population = path.n
    elif not is_positive_number(population) or population != int(population):
        raise DataError(
            f"population must be a whole number of users > 0; got {population!r}. Pass the size of the "
            "campaign's target base, or leave it out to use the evaluation users."
        )
    if path.unit_cost:
        if cost_per_contact is None:
            raise DataError(
                "cost_per_contact is required: this path has no per-user costs. Pass the cost of one "
                "contact (e.g. cost_per_contact=2.0)."
            )
        if not is_positive_number(cost_per_contact):
            raise DataError(
                f"cost_per_contact must be a finite amount > 0; got {cost_per_contact!r}. Even a cheap "
                "channel has some cost per contact; pass it."
            )
        cost_per_contact = float(cost_per_contact)
    elif cost_per_contact is not None:
        raise DataError(
            "this path was built with per-user costs, so cost_per_contact would be ambiguous; leave it out "
            "(or rebuild it without cost= to use one cost per contact)."
        )
    return Economics(cost_per_contact, float(population), float(population) / path.n)


def _check_budgets(budgets: np.ndarray, shown: object) -> None:
    if not np.all(np.isfinite(budgets)) or np.any(budgets <= 0):
        raise DataError(
            f"budget must be a finite amount > 0; got {shown!r}. Enter the campaign's budget in the same "
            "currency as the costs."
        )


def spend_per_unit(path: SpendPath, terms: Economics) -> float:
    """Campaign money per unit of the path's spend axis."""
    return terms.cost_per_contact * terms.scale if path.unit_cost else terms.scale


def project(path: SpendPath, budgets: np.ndarray, terms: Economics) -> dict[str, np.ndarray]:
    """Vectorised projection of budgets (a 1-D array) to contacts, spend, depth, revenue and truth."""
    n, scale, population = path.n, terms.scale, terms.population
    point = None  # read by depth below, unless read by spend
    if path.unit_cost:
        unit = terms.cost_per_contact
        contacts = np.minimum(np.floor(budgets / unit), population)
        # floor(B / c) * c can exceed B by one rounding; never spend more than the budget
        contacts = np.where(contacts * unit > budgets, contacts - 1, contacts)
        spend = contacts * unit
        everyone = budgets >= population * unit
    elif path.by_spend:
        # contacts can stay flat while spend grows (upgrades): the budget is the position on the path, and
        # the contacts are what the path holds there, fractional within a step like everything else
        point = path.at_spend(budgets / scale)
        spend = np.minimum(point.spend * scale, budgets)  # no rounding past the budget
        depth = point.contacts
        contacts = np.rint(depth * scale)
        everyone = budgets >= path.total_spend * scale
    else:
        # the depth at which the projected spend reaches the budget, then whole contacts below it
        reachable = path.at_spend(budgets / scale).contacts
        contacts = np.minimum(np.floor(reachable * scale), population)

        def spend_of(contacts: np.ndarray) -> np.ndarray:
            return path.at_depth(np.clip(contacts / scale, 0.0, n)).spend * scale

        spend = spend_of(contacts)
        over = spend > budgets
        if np.any(over):
            contacts = np.where(over, contacts - 1, contacts)
            spend = spend_of(contacts)
        everyone = budgets >= path.total_spend * scale
    if point is None:
        depth = np.clip(contacts / scale, 0.0, n)
        point = path.at_depth(depth)
    revenue = point.value * scale
    ci_low, ci_high = interval(revenue, point.se * scale)
    with np.errstate(divide="ignore", invalid="ignore"):
        roi, roi_low, roi_high = (np.where(spend > 0, amount / spend, np.nan) for amount in (revenue, ci_low, ci_high))
    return {
        "budget": budgets,
        "contacts": contacts.astype(np.int64),
        "spend": spend,
        "depth": depth,
        "share_targeted": depth / n,
        "incremental_revenue": revenue,
        "ci_low": ci_low,
        "ci_high": ci_high,
        "incremental_conversions": None if point.conversions is None else point.conversions * scale,
        "roi": roi,
        "roi_low": roi_low,
        "roi_high": roi_high,
        "net": revenue - spend,
        "contacted_everyone": everyone,
        "true_incremental_revenue": None if point.truth is None else point.truth * scale,
    }


def at_budget(
    path: SpendPath, budget: float, *, cost_per_contact: float | None = None, population: int | None = None
) -> StrategyResult:
    """Project one budget to the campaign.

    With one ``cost_per_contact`` c: ``contacts = min(P, floor(B / c))``, ``depth = contacts * n / P``,
    ``spend = contacts * c``. With per-user costs (the path's spend is the evaluation users' cost, ranked
    by score per unit of cost): contacts go down the path until the projected spend ``spend * P / n``
    would exceed B (linear within a step). Revenue is ``value(depth) * P / n`` with its 95% interval;
    ``roi = revenue / spend``, ``net = revenue - spend``. A path read by spend (``path.by_spend``: an
    allocation, whose upgrades add spend and no contact) is read where its spend reaches ``B * n / P``:
    spend = B up to the path's total, contacts its (rounded) contacts there, ``depth`` the fractional ones.
    """
    if not is_positive_number(budget):
        raise DataError(
            f"budget must be a finite amount > 0; got {budget!r}. Enter the campaign's budget in the same "
            "currency as the costs."
        )
    row = project(path, np.array([float(budget)]), economics(path, cost_per_contact, population))
    first = {name: None if values is None else values[0].item() for name, values in row.items() if name != "budget"}
    return StrategyResult(strategy=path.strategy, budget=float(budget), **first)


def frontier(
    path: SpendPath,
    budgets: npt.ArrayLike,
    *,
    cost_per_contact: float | None = None,
    population: int | None = None,
) -> pl.DataFrame:
    """The budget frontier: :func:`at_budget` over an array of budgets, one row each.

    ``marginal_roi`` is the return of the next dollar: the slope of projected revenue against spend on
    the step that the next contact falls in (NaN once everyone is contacted).
    """
    amounts = np.atleast_1d(np.asarray(budgets, dtype=np.float64))
    if amounts.ndim != 1 or amounts.size == 0:
        raise DataError(f"budgets must be a non-empty list of amounts; got {budgets!r}.")
    _check_budgets(amounts, budgets)
    terms = economics(path, cost_per_contact, population)
    rows = project(path, amounts, terms)
    # revenue scales with P / n and spend with the money per unit of the path's spend axis
    unit = spend_per_unit(path, terms)
    if path.by_spend:
        ratio = path.marginal_ratio_at_spend(rows["spend"] / unit)
    else:
        ratio = path.marginal_ratio(rows["depth"])
    slope = ratio * terms.scale / unit
    columns = ("budget", "contacts", "spend", "incremental_revenue", "ci_low", "ci_high", "roi", "net")
    return pl.DataFrame({**{name: rows[name] for name in columns}, "marginal_roi": slope}, nan_to_null=False)


def break_even_budget(
    path: SpendPath, *, cost_per_contact: float | None = None, population: int | None = None
) -> float:
    """The budget beyond which the next dollar returns less than a dollar.

    Defined robustly as the projected spend at which net (incremental revenue - spend) is largest over
    the steps: the path is linear between steps, so net peaks at one of them, and there the marginal ROI
    crosses 1 from above (a noisy path can cross 1 several times; the maximum of net picks the crossing
    that matters). 0.0 when no budget has a positive net.
    """
    terms = economics(path, cost_per_contact, population)
    spend = path.spend * spend_per_unit(path, terms)
    net = path.value * terms.scale - spend
    return float(spend[int(np.argmax(net))])


def max_budget(path: SpendPath, *, cost_per_contact: float | None = None, population: int | None = None) -> float:
    """The spend that contacts the whole campaign population."""
    terms = economics(path, cost_per_contact, population)
    if path.unit_cost:
        return terms.population * terms.cost_per_contact
    return path.total_spend * terms.scale


DEFAULT_COST_PER_CONTACT = 2.0


class BudgetReads:
    """The budget reads of a finished analysis, for any result with ``paths`` (strategy -> :class:`SpendPath`),
    ``population``, ``n_evaluation`` and ``per_user_cost``: the in-memory analysis and the engines' bin-table
    analysis read their paths through these, never a pass over the users."""

    paths: dict[str, SpendPath]
    population: int
    n_evaluation: int
    per_user_cost: bool

    @property
    def strategies(self) -> tuple[str, ...]:
        return tuple(self.paths)

    @property
    def scale(self) -> float:
        """Campaign users each evaluation user stands for."""
        return self.population / self.n_evaluation

    def _cost(self, cost_per_contact: float | None) -> float | None:
        return None if self.per_user_cost else cost_per_contact

    def at_budget(
        self, budget: float, cost_per_contact: float | None = DEFAULT_COST_PER_CONTACT
    ) -> dict[str, StrategyResult]:
        """Every strategy at ``budget``: binary searches and array reads, no refit and no sort."""
        cost = self._cost(cost_per_contact)
        return {
            name: at_budget(path, budget, cost_per_contact=cost, population=self.population)
            for name, path in self.paths.items()
        }

    def frontier(
        self, budgets: np.ndarray, cost_per_contact: float | None = DEFAULT_COST_PER_CONTACT
    ) -> dict[str, pl.DataFrame]:
        cost = self._cost(cost_per_contact)
        return {
            name: frontier(path, budgets, cost_per_contact=cost, population=self.population)
            for name, path in self.paths.items()
        }

    def break_even_budget(
        self, strategy: str = "uplift", cost_per_contact: float | None = DEFAULT_COST_PER_CONTACT
    ) -> float:
        return break_even_budget(
            self.paths[strategy], cost_per_contact=self._cost(cost_per_contact), population=self.population
        )

    def max_budget(self, cost_per_contact: float | None = DEFAULT_COST_PER_CONTACT) -> float:
        """The spend that contacts the whole campaign population."""
        path = next(iter(self.paths.values()))
        return max_budget(path, cost_per_contact=self._cost(cost_per_contact), population=self.population)

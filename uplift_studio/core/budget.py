"""Projection of an observed curve to the campaign (design section 3): a budget buys contacts down the
ranking; the curve says what they are worth. ROI = projected incremental revenue / spend.

The campaign targets ``population`` P users (default: the n evaluation users); each evaluation user stands
for P / n of them. Reading a budget is a binary search and a few array reads on the :class:`Curve`, never
a sort or a pass over the users: it is what the budget slider calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from uplift_studio.core.errors import DataError
from uplift_studio.core.evaluate import Z95, Curve, _as_float_array, _boundary_after, _sorted_pairs, _uplift


@dataclass(frozen=True)
class BudgetResult:
    """What a budget buys: contacts down the ranking and their projected incremental revenue.

    ``depth`` is in evaluation users and ``share_targeted = depth / n``; revenue, its 95% interval and
    conversions are projected to the population; ``roi`` is NaN when nobody can be contacted.
    """

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
    net: float
    contacted_everyone: bool


@dataclass(frozen=True)
class _Economics:
    cost_per_contact: float | None
    population: float
    scale: float


def _economics(curve: Curve, cost_per_contact: float | None, population: int | None) -> _Economics:
    if population is None:
        population = curve.n
    elif (
        isinstance(population, bool)
        or not isinstance(population, int | float | np.integer | np.floating)
        or not math.isfinite(population)
        or population <= 0
        or population != int(population)
    ):
        raise DataError(
            f"population must be a whole number of users > 0; got {population!r}. Pass the size of the "
            "campaign's target base, or leave it out to use the evaluation users."
        )
    if curve.cum_cost is None:
        if cost_per_contact is None:
            raise DataError(
                "cost_per_contact is required: this curve has no per-user costs. Pass the cost of one "
                "contact (e.g. cost_per_contact=2.0)."
            )
        if not _is_positive_number(cost_per_contact):
            raise DataError(
                f"cost_per_contact must be a finite amount > 0; got {cost_per_contact!r}. Even a cheap "
                "channel has some cost per contact; pass it."
            )
        cost_per_contact = float(cost_per_contact)
    elif cost_per_contact is not None:
        raise DataError(
            "this curve was built with per-user costs, so cost_per_contact would be ambiguous; leave it out "
            "(or rebuild the curve without cost= to use one cost per contact)."
        )
    return _Economics(cost_per_contact, float(population), float(population) / curve.n)


def _is_positive_number(value: object) -> bool:
    return (
        isinstance(value, int | float | np.integer | np.floating)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def _check_budgets(budgets: np.ndarray, shown: object) -> None:
    if not np.all(np.isfinite(budgets)) or np.any(budgets <= 0):
        raise DataError(
            f"budget must be a finite amount > 0; got {shown!r}. Enter the campaign's budget in the same "
            "currency as the costs."
        )


def _project(curve: Curve, budgets: np.ndarray, economics: _Economics) -> dict[str, np.ndarray]:
    """Vectorised projection of budgets (a 1-D array) to contacts, spend, depth and revenue."""
    n, scale, population = curve.n, economics.scale, economics.population
    if curve.cum_cost is None:
        unit = economics.cost_per_contact
        assert unit is not None
        contacts = np.minimum(np.floor(budgets / unit), population)
        # floor(B / c) * c can exceed B by one rounding; never spend more than the budget
        contacts = np.where(contacts * unit > budgets, contacts - 1, contacts)
        spend = contacts * unit
        everyone = budgets >= population * unit
    else:
        # the depth at which the projected spend reaches the budget, then whole contacts below it
        reachable = curve._depth_at_cost(budgets / scale)
        contacts = np.minimum(np.floor(reachable * scale), population)
        spend = curve._cost_at_depth(np.clip(contacts / scale, 0.0, n)) * scale
        over = spend > budgets
        if np.any(over):
            contacts = np.where(over, contacts - 1, contacts)
            spend = curve._cost_at_depth(np.clip(contacts / scale, 0.0, n)) * scale
        everyone = budgets >= curve.cum_cost[-1] * scale
    depth = np.clip(contacts / scale, 0.0, n)
    point = curve._at(depth)
    revenue = point.uplift * scale
    half_width = Z95 * point.se * scale
    roi = np.divide(revenue, spend, out=np.full(revenue.shape, np.nan), where=spend > 0)
    conversions = None if point.incremental_conversions is None else point.incremental_conversions * scale
    return {
        "budget": budgets,
        "contacts": contacts.astype(np.int64),
        "spend": spend,
        "depth": depth,
        "share_targeted": depth / n,
        "incremental_revenue": revenue,
        "ci_low": revenue - half_width,
        "ci_high": revenue + half_width,
        "incremental_conversions": conversions,
        "roi": roi,
        "net": revenue - spend,
        "contacted_everyone": everyone,
    }


def at_budget(
    curve: Curve, budget: float, *, cost_per_contact: float | None = None, population: int | None = None
) -> BudgetResult:
    """Project one budget to the campaign.

    With one ``cost_per_contact`` c: ``contacts = min(P, floor(B / c))``, ``depth = contacts * n / P``,
    ``spend = contacts * c``. With per-user costs (the curve was built with ``cost=``, ranking by score per
    unit of cost): contacts go down that ranking until the projected spend ``cum_cost * P / n`` would
    exceed B (linear within a tie group). Revenue is ``U(depth) * P / n`` with its 95% interval;
    ``roi = revenue / spend``, ``net = revenue - spend``.
    """
    if not _is_positive_number(budget):
        raise DataError(
            f"budget must be a finite amount > 0; got {budget!r}. Enter the campaign's budget in the same "
            "currency as the costs."
        )
    economics = _economics(curve, cost_per_contact, population)
    row = _project(curve, np.array([float(budget)]), economics)
    conversions = row["incremental_conversions"]
    return BudgetResult(
        budget=float(budget),
        contacts=int(row["contacts"][0]),
        spend=float(row["spend"][0]),
        depth=float(row["depth"][0]),
        share_targeted=float(row["share_targeted"][0]),
        incremental_revenue=float(row["incremental_revenue"][0]),
        ci_low=float(row["ci_low"][0]),
        ci_high=float(row["ci_high"][0]),
        incremental_conversions=None if conversions is None else float(conversions[0]),
        roi=float(row["roi"][0]),
        net=float(row["net"][0]),
        contacted_everyone=bool(row["contacted_everyone"][0]),
    )


def _boundary_spend(curve: Curve, economics: _Economics) -> np.ndarray:
    """Projected spend at every tie-group boundary."""
    if curve.cum_cost is None:
        assert economics.cost_per_contact is not None
        return curve.k * (economics.cost_per_contact * economics.scale)
    return curve.cum_cost * economics.scale


def frontier(
    curve: Curve,
    budgets: npt.ArrayLike,
    *,
    cost_per_contact: float | None = None,
    population: int | None = None,
) -> pl.DataFrame:
    """The budget frontier: :func:`at_budget` over an array of budgets, one row each.

    ``marginal_roi`` is the return of the next dollar: the slope of projected revenue against spend on
    the curve segment that the next contact falls in (NaN once everyone is contacted).
    """
    amounts = np.atleast_1d(np.asarray(budgets, dtype=np.float64))
    if amounts.ndim != 1 or amounts.size == 0:
        raise DataError(f"budgets must be a non-empty list of amounts; got {budgets!r}.")
    _check_budgets(amounts, budgets)
    economics = _economics(curve, cost_per_contact, population)
    rows = _project(curve, amounts, economics)

    # the segment after the depth (side="right"): at a boundary, the next dollar buys the next group
    segment = _boundary_after(curve.k, rows["depth"], side="right")
    last = curve.k.size - 1
    upper = np.minimum(segment, last)
    ends = np.stack([upper - 1, upper])
    uplift = _uplift(curve.k[ends], curve.n_t[ends], curve.n_c[ends], curve.sum_t[ends], curve.sum_c[ends])
    spend = _boundary_spend(curve, economics)[ends]
    # revenue and spend scale alike with P / n, so the slope is taken in evaluation units
    slope = np.divide(
        (uplift[1] - uplift[0]) * economics.scale,
        spend[1] - spend[0],
        out=np.full(amounts.shape, np.nan),
        where=(segment <= last) & (spend[1] > spend[0]),
    )
    return pl.DataFrame(
        {
            "budget": rows["budget"],
            "contacts": rows["contacts"],
            "spend": rows["spend"],
            "incremental_revenue": rows["incremental_revenue"],
            "ci_low": rows["ci_low"],
            "ci_high": rows["ci_high"],
            "roi": rows["roi"],
            "net": rows["net"],
            "marginal_roi": slope,
        },
        nan_to_null=False,
    )


def break_even_budget(curve: Curve, *, cost_per_contact: float | None = None, population: int | None = None) -> float:
    """The budget beyond which the next dollar returns less than a dollar.

    Defined robustly as the projected spend at which net (incremental revenue - spend) is largest over
    the tie-group boundaries: the curve is linear between boundaries, so net peaks at one of them, and
    there the marginal ROI crosses 1 from above (a noisy curve can cross 1 several times; the maximum of
    net picks the crossing that matters). 0.0 when no budget has a positive net.
    """
    economics = _economics(curve, cost_per_contact, population)
    spend = _boundary_spend(curve, economics)
    net = curve.uplift_points() * economics.scale - spend
    return float(spend[int(np.argmax(net))])


# ---------------------------------------------------------------------------------------------------------
# Contact lists


@dataclass(frozen=True, eq=False)
class ContactList:
    """Rows to contact, in targeting order, and the cumulative spend after each contact."""

    rows: np.ndarray
    cumulative_spend: np.ndarray

    @property
    def contacts(self) -> int:
        return int(self.rows.size)

    @property
    def spend(self) -> float:
        return float(self.cumulative_spend[-1]) if self.rows.size else 0.0


def contact_order(score: npt.ArrayLike, cost: npt.ArrayLike | None = None) -> np.ndarray:
    """Row indices in targeting order: score descending (or score per unit of cost), ties in row order.

    The same ordering rule, from the same sort, as :func:`uplift_studio.core.evaluate.build_curve`.
    """
    scores = _as_float_array("score", score, "drop those users or give them a score")
    costs = None
    if cost is not None:
        costs = _as_float_array("cost", cost, "give every user a contact cost > 0")
        if costs.shape != scores.shape:
            raise DataError(f"cost has {costs.size} values but score has {scores.size}; pass one per user.")
        if np.any(costs <= 0):
            raise DataError("cost must be > 0 for every user; give free contacts a small positive cost.")
    buffer, _ = _sorted_pairs(scores, costs)
    return buffer[1:].imag.astype(np.int64)


def contacts_under_budget(
    score: npt.ArrayLike,
    budget: float,
    *,
    cost: npt.ArrayLike | None = None,
    cost_per_contact: float | None = None,
) -> ContactList:
    """The users to contact for ``budget``: down :func:`contact_order` until the next would exceed it.

    Costs are either per user (``cost``) or one ``cost_per_contact``. Each row is one real contact (no
    projection), so the list is what a ``targets`` export hands to the campaign tool.
    """
    if not _is_positive_number(budget):
        raise DataError(f"budget must be a finite amount > 0; got {budget!r}.")
    if (cost is None) == (cost_per_contact is None):
        raise DataError("pass exactly one of cost (per user) or cost_per_contact (one cost for everyone).")
    order = contact_order(score, cost)
    if cost is None:
        if not _is_positive_number(cost_per_contact):
            raise DataError(f"cost_per_contact must be a finite amount > 0; got {cost_per_contact!r}.")
        cumulative = np.arange(1, order.size + 1, dtype=np.float64) * float(cost_per_contact)
    else:
        cumulative = np.cumsum(np.asarray(cost, dtype=np.float64)[order])
    count = int(np.searchsorted(cumulative, float(budget), side="right"))
    return ContactList(order[:count], cumulative[:count])

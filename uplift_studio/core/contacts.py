"""The list of customers to contact under a budget: one builder and one set of columns for the CLI's
``targets`` and the app's download.

Each row is one real contact, in targeting order (expected incremental revenue per contact descending, or
per unit of cost with per-user costs), until the next contact would exceed the budget. No projection: the
list is what a campaign tool receives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from uplift_studio.core.budget import is_positive_number
from uplift_studio.core.curve import targeting_order
from uplift_studio.core.data import COST, ID
from uplift_studio.core.errors import DataError

SCORE = "expected_incremental_revenue"
CONTACT_COLUMNS = (
    "rank",
    ID,
    "score",
    "uplift",
    "p_treated",
    "p_control",
    "order_value",
    "contact_cost",
    "cumulative_spend",
)
"""The columns of every contact list: ``score`` is the expected incremental revenue of the contact."""

# Money is written to the cent's millionth: enough for sub-cent contact costs, and 3 x $0.10 reads as 0.3,
# not as the float sum 0.30000000000000004.
_MONEY_DECIMALS = 8


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


def contacts_under_budget(
    score: npt.ArrayLike,
    budget: float,
    *,
    cost: npt.ArrayLike | None = None,
    cost_per_contact: float | None = None,
) -> ContactList:
    """The users to contact for ``budget``: down :func:`targeting_order` until the next would exceed it.

    Costs are either per user (``cost``) or one ``cost_per_contact``.
    """
    if not is_positive_number(budget):
        raise DataError(f"budget must be a finite amount > 0; got {budget!r}.")
    if (cost is None) == (cost_per_contact is None):
        raise DataError("pass exactly one of cost (per user) or cost_per_contact (one cost for everyone).")
    order = targeting_order(score, cost)
    if cost is None:
        if not is_positive_number(cost_per_contact):
            raise DataError(f"cost_per_contact must be a finite amount > 0; got {cost_per_contact!r}.")
        cumulative = np.arange(1, order.size + 1, dtype=np.float64) * float(cost_per_contact)
    else:
        cumulative = np.cumsum(np.asarray(cost, dtype=np.float64)[order])
    cumulative = np.round(cumulative, _MONEY_DECIMALS)
    count = int(np.searchsorted(cumulative, float(budget), side="right"))
    return ContactList(order[:count], cumulative[:count])


def contact_list(scored: pl.DataFrame, budget: float, *, cost_per_contact: float | None = None) -> pl.DataFrame:
    """The contact list of ``scored`` customers (the id, the score columns of ``Scores.to_frame`` or
    ``TLearner.score_frame``, and ``contact_cost`` when each customer has their own cost) for ``budget``.

    With a ``contact_cost`` column it ranks by score per unit of cost; otherwise every contact costs
    ``cost_per_contact``. Columns: :data:`CONTACT_COLUMNS`.
    """
    missing = [name for name in (ID, SCORE, "uplift", "p_treated", "p_control", "order_value") if name not in scored]
    if missing:
        raise DataError(f"the scores lack column(s) {', '.join(map(repr, missing))}; score the customers first.")
    per_user = COST in scored.columns
    costs = scored[COST].to_numpy() if per_user else None
    chosen = contacts_under_budget(
        scored[SCORE].to_numpy(),
        budget,
        cost=costs,
        cost_per_contact=None if per_user else cost_per_contact,
    )
    unit_costs = costs[chosen.rows] if per_user else np.full(chosen.contacts, float(cost_per_contact))
    return scored[chosen.rows].select(
        pl.int_range(1, chosen.contacts + 1, dtype=pl.Int64).alias("rank"),
        ID,
        pl.col(SCORE).alias("score"),
        "uplift",
        "p_treated",
        "p_control",
        "order_value",
        pl.Series("contact_cost", np.round(unit_costs, _MONEY_DECIMALS)),
        pl.Series("cumulative_spend", chosen.cumulative_spend),
    )

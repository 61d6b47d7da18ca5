"""The finished analysis of a large experiment: bin tables in, spend paths, coefficients and deciles out.

It is small (a few hundred kB whatever the number of users) and is what travels from a cluster: every read
the reports make (a budget, the frontier, the break-even budget) is a read of its paths, through the same
budget functions as the in-memory analysis.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from uplift_studio.core import budget as budget_math
from uplift_studio.core.binstats import BinTable, binned_curve, perfect_binned_curves
from uplift_studio.core.budget import StrategyResult
from uplift_studio.core.errors import DataError
from uplift_studio.core.metrics import coefficient_intervals, decile_table
from uplift_studio.core.path import SpendPath, curve_path

DEFAULT_COST_PER_CONTACT = 2.0


@dataclass(frozen=True, eq=False)
class ScaleResult:
    """Everything reported about a large experiment, from its mergeable tables (``tables``)."""

    source: str
    engine: str
    n_users: int
    population: int
    treated_share: float
    sample_users: int
    per_user_cost: bool
    tables: dict[str, BinTable]
    paths: dict[str, SpendPath]
    deciles: dict[str, pl.DataFrame]
    metrics: dict[str, dict[str, float]]
    settings: dict
    notes: tuple[str, ...]
    versions: dict[str, str]
    created: str

    @property
    def strategies(self) -> tuple[str, ...]:
        return tuple(self.paths)

    @property
    def n_evaluation(self) -> int:
        return self.n_users

    def _cost(self, cost_per_contact: float | None) -> float | None:
        return None if self.per_user_cost else cost_per_contact

    def at_budget(
        self, budget: float, cost_per_contact: float | None = DEFAULT_COST_PER_CONTACT
    ) -> dict[str, StrategyResult]:
        cost = self._cost(cost_per_contact)
        return {
            name: budget_math.at_budget(path, budget, cost_per_contact=cost, population=self.population)
            for name, path in self.paths.items()
        }

    def break_even_budget(self, strategy: str = "uplift", cost_per_contact: float | None = DEFAULT_COST_PER_CONTACT):
        return budget_math.break_even_budget(
            self.paths[strategy], cost_per_contact=self._cost(cost_per_contact), population=self.population
        )


def build_result(
    tables: dict[str, BinTable],
    *,
    source: str,
    engine: str,
    population: int | None,
    sample_users: int,
    per_user_cost: bool,
    settings: dict,
    notes: tuple[str, ...],
    versions: dict[str, str],
    seed: int,
) -> ScaleResult:
    """Paths, deciles and coefficients (with intervals) of every strategy, from its bin table."""
    outcome = tables["outcome"]
    n_users = outcome.users
    if n_users == 0:
        raise DataError(f"{source}: no users of the compared arms were read.")
    arms = outcome.sums[:, :, 0].sum(axis=0)
    if arms.min() == 0:
        raise DataError(f"{source}: only one arm was read; an uplift analysis needs treated and control users.")
    perfect = perfect_binned_curves(outcome)
    rng = np.random.default_rng(seed)
    paths, deciles, metrics = {}, {}, {}
    for name, table in tables.items():
        if name == "outcome":
            continue
        curve = binned_curve(table, per_user_cost=per_user_cost)
        paths[name] = curve_path(name, curve)
        deciles[name] = decile_table(curve)
        # with per-user costs the bins rank by score per unit of cost, and so do these coefficients
        metrics[name] = coefficient_intervals(binned_curve(table), perfect, rng=rng)
    return ScaleResult(
        source=source,
        engine=engine,
        n_users=n_users,
        population=int(population or n_users),
        treated_share=float(arms[1] / n_users),
        sample_users=int(sample_users),
        per_user_cost=per_user_cost,
        tables=dict(tables),
        paths=paths,
        deciles=deciles,
        metrics=metrics,
        settings=settings,
        notes=notes,
        versions=versions,
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )

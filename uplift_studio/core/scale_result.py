"""The finished analysis of a large experiment: bin tables in, spend paths, coefficients and deciles out.

It is small (a few hundred kB whatever the number of users) and is what travels from a cluster: every read
the reports make (a budget, the frontier, the break-even budget) is a read of its paths, through the same
budget functions as the in-memory analysis.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import asdict, dataclass, field

import numpy as np
import polars as pl

from uplift_studio.core.binstats import BinTable, binned_curve, perfect_binned_curves
from uplift_studio.core.budget import DEFAULT_COST_PER_CONTACT, BudgetReads
from uplift_studio.core.errors import DataError
from uplift_studio.core.metrics import coefficient_intervals, decile_table
from uplift_studio.core.path import SpendPath, curve_path
from uplift_studio.core.settings import ModelSettings
from uplift_studio.core.view import BudgetView


@dataclass(frozen=True)
class ScaleSettings:
    """What decided a large analysis: the model, the engine and how the data was cut."""

    model: ModelSettings = field(default_factory=ModelSettings)
    population: int | None = None
    engine: str = "streaming"
    sample_size: int = 0
    batch_size: int = 0
    bins: int = 0
    features: tuple[str, ...] = ()
    partitions: int | None = None
    workers: int | None = None
    distributed_fit: bool = False

    def as_dict(self) -> dict:
        return {**asdict(self), "model": self.model.as_dict(), "features": list(self.features)}


@dataclass(frozen=True, eq=False)
class ScaleResult(BudgetReads):
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
    settings: ScaleSettings
    notes: tuple[str, ...]
    versions: dict[str, str]
    created: str

    @property
    def n_evaluation(self) -> int:
        return self.n_users

    @property
    def has_truth(self) -> bool:
        return False  # a file carries no ground truth

    # the app's and the snapshot's views that need each user's scores (persuadability, calibration, paired
    # comparisons, contact lists, explanations) are left out of a bin-table analysis
    per_user_views = False
    segment_agreement = None
    selection = None

    @property
    def fingerprint(self) -> str:
        """A content hash of the tables: equal tables, equal fingerprint, from any engine."""
        digest = hashlib.sha256()
        for name in sorted(self.tables):
            digest.update(name.encode())
            digest.update(np.ascontiguousarray(self.tables[name].sums).tobytes())
        return digest.hexdigest()[:16]

    def view(self, budget: float, cost_per_contact: float | None = DEFAULT_COST_PER_CONTACT) -> BudgetView:
        """Everything shown at ``budget``. No paired comparison: pairing needs each user's place in both
        rankings, which per-strategy tables do not keep."""
        return BudgetView(
            budget=float(budget),
            cost_per_contact=self._cost(cost_per_contact),
            population=self.population,
            results=self.at_budget(budget, cost_per_contact),
        )


def build_result(
    tables: dict[str, BinTable],
    *,
    source: str,
    engine: str,
    sample_users: int,
    per_user_cost: bool,
    settings: ScaleSettings,
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
        population=int(settings.population or n_users),
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

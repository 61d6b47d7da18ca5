"""The streaming engine: a file read lazily in batches, three passes, memory bounded by one batch and the
sample (:mod:`uplift_studio.core.engine`)."""

from __future__ import annotations

import operator
from collections.abc import Callable
from functools import reduce
from typing import Protocol

import polars as pl

from uplift_studio.core.batches import BatchPlan, plan_batches
from uplift_studio.core.data import ColumnMap
from uplift_studio.core.engine import (
    EngineSettings,
    fit_sample,
    merged,
    ordered_sample,
    sample_of,
    sketch_of,
    tables_of,
)
from uplift_studio.core.scale_result import ScaleResult, ScaleSettings, build_result
from uplift_studio.core.settings import ModelSettings

Say = Callable[[str], None]


class Source(Protocol):
    shown: str

    def head(self, rows: int = ...) -> pl.DataFrame: ...
    def n_rows(self) -> int: ...
    def batches(self, needed: list[str], size: int): ...
    def rows(self, needed: list[str], start: int, stop: int) -> pl.DataFrame: ...


def plan_for(source: Source, columns: ColumnMap, revenue_per_conversion: float | None = None) -> BatchPlan:
    """The column plan, validated on the source's first rows."""
    return plan_batches(source.head(), columns, source=source.shown, revenue_per_conversion=revenue_per_conversion)


def result_of(
    tables,
    plan: BatchPlan,
    settings: ModelSettings,
    engine: EngineSettings,
    *,
    name: str,
    sample_users: int,
    population: int | None,
    **cluster,
) -> ScaleResult:
    from uplift_studio.core.analysis import versions

    described = ScaleSettings(
        model=settings,
        population=population,
        engine=name,
        sample_size=engine.sample_size,
        batch_size=engine.batch_size,
        bins=engine.n_bins,
        features=plan.features,
        **cluster,
    )
    return build_result(
        tables,
        source=plan.source,
        engine=name,
        sample_users=sample_users,
        per_user_cost=plan.per_user_cost,
        settings=described,
        notes=(
            *plan.notes,
            f"computed by the {name} engine from per-score-bin tables ({engine.n_bins:,} bins per strategy, models "
            f"fitted on a stratified sample of {sample_users:,} users): the views that need each user's scores "
            "(persuadability, calibration, the paired comparison, contact lists) come with the local engine.",
        ),
        versions=versions(),
        seed=settings.seed,
    )


def run_streaming(
    source: Source,
    plan: BatchPlan,
    settings: ModelSettings = ModelSettings(),  # noqa: B008 - frozen
    engine: EngineSettings = EngineSettings(),  # noqa: B008 - frozen
    *,
    population: int | None = None,
    say: Say | None = None,
) -> ScaleResult:
    """Sketch, sample, fit, then score and tabulate every user, one batch at a time."""
    say = say or (lambda message: None)
    needed = plan.needed()

    def batches():
        return source.batches(needed, engine.batch_size)

    say("pass 1 of 3: counting the strata and drawing the sample")
    counting = plan.outcomes_only()
    sketch = reduce(
        operator.add,
        (sketch_of(raw, counting, engine.sample_size) for raw in source.batches(counting.needed(), engine.batch_size)),
    )
    limits = sketch.thresholds(engine.sample_size)
    sample = ordered_sample(sample_of(raw, plan, limits) for raw in batches())
    say(f"pass 2 of 3: fitting {settings.folds} folds on a sample of {sample.height:,} users")
    model = fit_sample(sample, plan, settings, engine)
    sample_users = sample.height
    del sample
    say("pass 3 of 3: scoring and tabulating every user")
    tables = reduce(merged, (tables_of(raw, plan, model) for raw in batches()))
    return result_of(tables, plan, settings, engine, name="streaming", sample_users=sample_users, population=population)

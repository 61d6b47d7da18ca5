"""Experiments read in batches: a lazily scanned file, or a frame in memory, cut into pieces.

The mapping of the user's columns is validated once, on the file's first rows, with the same rules as an
in-memory experiment (:func:`uplift_studio.core.data.from_frame`); every batch is then put into canonical
columns with the checks that can only be made row by row (empty ids, outcomes that are not 0/1, negative
revenue). The features are fixed by that first look, so that every batch feeds the models the same columns.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl

from uplift_studio.core.data import (
    _FALSE_WORDS,
    _TRUE_WORDS,
    CONVERTED,
    COST,
    ID,
    REVENUE,
    TREATMENT,
    ColumnMap,
    _binary,
    from_frame,
)
from uplift_studio.core.errors import DataError
from uplift_studio.core.wording import CLI, Wording

HEAD_ROWS = 50_000
_SCHEMA_ROWS = 10_000


@dataclass(frozen=True)
class BatchPlan:
    """How the user's columns become canonical ones, decided on the first rows."""

    columns: ColumnMap
    features: tuple[str, ...]
    source: str
    revenue_per_conversion: float | None
    notes: tuple[str, ...]

    @property
    def per_user_cost(self) -> bool:
        return self.columns.cost is not None

    def outcomes_only(self) -> BatchPlan:
        """The plan without features: what counting and sampling need, so those passes read fewer columns."""
        return replace(self, features=())

    def needed(self) -> list[str]:
        """The file's columns the analysis reads (the rest are never loaded)."""
        roles = [self.columns.id, self.columns.treatment, self.columns.conversion]
        roles += [name for name in (self.columns.revenue, self.columns.cost) if name]
        if self.revenue_per_conversion is not None and self.columns.revenue in roles:
            roles.remove(self.columns.revenue)
        return list(dict.fromkeys([*roles, *self.features]))


def plan_batches(
    head: pl.DataFrame,
    columns: ColumnMap,
    *,
    source: str,
    revenue_per_conversion: float | None = None,
    wording: Wording = CLI,
) -> BatchPlan:
    """Validate the mapping on ``head`` (the file's first rows) and fix the features."""
    if columns.id is None or columns.id not in head.columns:
        named = f"no id column {columns.id!r}" if columns.id else "no id column"
        raise DataError(
            f"{source}: {named}. The streaming and Dask engines draw folds and samples from a hash of each "
            f"user's id, so they need one: name it {wording.where('id')}, or use the local engine."
        )
    experiment = from_frame(
        head, columns, source=source, revenue_per_conversion=revenue_per_conversion, wording=wording
    )
    fixed = replace(columns, features=experiment.features, exclude=())
    return BatchPlan(fixed, experiment.features, source, experiment.revenue_per_conversion, experiment.notes)


def _treatment(raw: pl.DataFrame, plan: BatchPlan) -> tuple[pl.Series, pl.Series]:
    columns = plan.columns
    series = raw.get_column(columns.treatment)
    if series.null_count():
        raise DataError(
            f"{plan.source}: column {columns.treatment!r} (treatment) has {series.null_count()} empty values in a "
            "batch. Every user must be in the treated or the control group; drop or fill those rows."
        )
    if series.dtype == pl.Boolean:
        return series.cast(pl.Int8), pl.Series([True] * raw.height)
    labels = series.cast(pl.String).str.strip_chars()
    if columns.treated_value is not None and columns.control_value is not None:
        treated = labels == columns.treated_value.strip()
        return treated.cast(pl.Int8), treated | (labels == columns.control_value.strip())
    words = labels.str.to_lowercase()
    is_true = words.is_in(_TRUE_WORDS) | (words == "1.0")
    bad = ~(is_true | words.is_in(_FALSE_WORDS) | (words == "0.0"))
    if bad.any():
        raise DataError(
            f"{plan.source}: column {columns.treatment!r} (treatment) holds {labels.filter(bad)[0]!r} further down "
            f"the file, not 0/1. Name the arms {CLI.where('treated_value')} and {CLI.name('control_value')}."
        )
    return is_true.cast(pl.Int8), pl.Series([True] * raw.height)


def canonical(raw: pl.DataFrame, plan: BatchPlan) -> pl.DataFrame:
    """One batch in canonical columns (id, treatment, converted, revenue, cost, features), other arms left out."""
    columns, source = plan.columns, plan.source
    ids = raw.get_column(columns.id)
    if ids.null_count():
        raise DataError(
            f"{source}: id column {columns.id!r} has {ids.null_count()} empty values; every user needs one."
        )
    treatment, keep = _treatment(raw, plan)
    converted = _binary(raw.get_column(columns.conversion), "conversion", source, "Map it to 0/1 and fill the gaps.")
    if plan.revenue_per_conversion is None:
        revenue = raw.get_column(columns.revenue).cast(pl.Float64)
        bad = revenue.is_null() | ~revenue.fill_null(0.0).is_finite() | (revenue.fill_null(0.0) < 0)
        if bad.any():
            raise DataError(
                f"{source}: revenue column {columns.revenue!r} has {int(bad.sum())} values that are empty, negative "
                "or not finite further down the file. Use 0 for users who bought nothing."
            )
    else:
        revenue = converted.cast(pl.Float64) * plan.revenue_per_conversion
    out = [ids.alias(ID), treatment.alias(TREATMENT), converted.alias(CONVERTED), revenue.alias(REVENUE)]
    if columns.cost is not None:
        cost = raw.get_column(columns.cost).cast(pl.Float64)
        if (cost.is_null() | ~(cost.fill_null(0.0) > 0)).any():
            raise DataError(f"{source}: cost column {columns.cost!r} has values that are empty or not > 0.")
        out.append(cost.alias(COST))
    return pl.DataFrame(out).hstack(raw.select(plan.features)).filter(keep)


@dataclass(frozen=True)
class FileSource:
    """A CSV or Parquet file, scanned lazily: only the needed columns of one batch are in memory at a time."""

    path: Path

    def scan(self) -> pl.LazyFrame:
        name = self.path.name.lower()
        if name.endswith(".parquet"):
            return pl.scan_parquet(self.path)
        if name.endswith((".csv", ".csv.gz")):
            return pl.scan_csv(self.path, infer_schema_length=_SCHEMA_ROWS)
        raise DataError(f"{self.path}: the streaming and Dask engines read .parquet, .csv or .csv.gz files.")

    @property
    def shown(self) -> str:
        return str(self.path)

    def head(self, rows: int = HEAD_ROWS) -> pl.DataFrame:
        if not self.path.is_file():
            raise DataError(f"{self.path}: no such file. Check the path given to --data.")
        return self.scan().head(rows).collect()

    def n_rows(self) -> int:
        return int(self.scan().select(pl.len()).collect().item())

    def batches(self, needed: list[str], size: int) -> Iterator[pl.DataFrame]:
        yield from self.scan().select(needed).collect_batches(chunk_size=size)

    def rows(self, needed: list[str], start: int, stop: int) -> pl.DataFrame:
        return self.scan().select(needed).slice(start, stop - start).collect()


@dataclass(frozen=True)
class FrameSource:
    """A frame already in memory, read through the same batches (the reference the engines are tested on)."""

    frame: pl.DataFrame
    shown: str = "data"

    def head(self, rows: int = HEAD_ROWS) -> pl.DataFrame:
        return self.frame.head(rows)

    def n_rows(self) -> int:
        return self.frame.height

    def batches(self, needed: list[str], size: int) -> Iterator[pl.DataFrame]:
        for start in range(0, self.frame.height, size):
            yield self.frame.select(needed).slice(start, size)

    def rows(self, needed: list[str], start: int, stop: int) -> pl.DataFrame:
        return self.frame.select(needed).slice(start, stop - start)

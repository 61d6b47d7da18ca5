"""Experiments: column roles, loading CSV/Parquet files with the user's column names, and validation.

An experiment is one row per user (design section 2). Whatever the user's column names, a loaded
:class:`Experiment` holds canonical columns ``user_id, treatment (0/1), converted (0/1), revenue`` (and
``contact_cost`` when the file has per-user costs) followed by the features, so that every later step
reads one schema. Every violation raises :class:`DataError` naming the file, the column, a few offending
values with their count, and the fix.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import polars as pl

from uplift_studio.core.errors import DataError
from uplift_studio.core.reading import read_with_notes
from uplift_studio.core.wording import CLI, Wording

ID = "user_id"
TREATMENT = "treatment"
CONVERTED = "converted"
REVENUE = "revenue"
COST = "contact_cost"
ROLES = (ID, TREATMENT, CONVERTED, REVENUE, COST)

_TRUE_WORDS = ("1", "true", "yes", "y", "t")
_FALSE_WORDS = ("0", "false", "no", "n", "f")
_EXAMPLES = 5


class DataWarning(UserWarning):
    """Suspicious but usable input (for example revenue on rows that did not convert)."""


@dataclass(frozen=True)
class ColumnMap:
    """Which of the user's columns plays which role (design section 2)."""

    id: str | None = ID
    treatment: str = TREATMENT
    treated_value: str | None = None
    control_value: str | None = None
    conversion: str = CONVERTED
    revenue: str | None = REVENUE
    cost: str | None = None
    features: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class Experiment:
    """A validated experiment in canonical columns; ``truth`` exists only for simulated campaigns."""

    frame: pl.DataFrame
    features: tuple[str, ...]
    source: str
    truth: pl.DataFrame | None = None
    notes: tuple[str, ...] = ()
    revenue_per_conversion: float | None = None
    fingerprint: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.fingerprint:
            object.__setattr__(self, "fingerprint", frame_fingerprint(self.frame))

    @property
    def n_users(self) -> int:
        return self.frame.height

    @property
    def has_cost(self) -> bool:
        return COST in self.frame.columns

    def column(self, name: str) -> np.ndarray:
        return self.frame.get_column(name).to_numpy()

    @property
    def treatment(self) -> np.ndarray:
        return self.column(TREATMENT)

    @property
    def converted(self) -> np.ndarray:
        return self.column(CONVERTED)

    @property
    def revenue(self) -> np.ndarray:
        return self.column(REVENUE)

    @property
    def X(self) -> pl.DataFrame:  # noqa: N802 - the conventional name for a feature matrix
        return self.frame.select(self.features)


def frame_fingerprint(frame: pl.DataFrame) -> str:
    """A content hash of a frame (values, names and dtypes): the disk-cache key of an experiment.

    Polars' row hash is stable within one Polars version only, so the version is part of the key.
    """
    digest = hashlib.sha256()
    digest.update(pl.__version__.encode())
    digest.update(repr(list(zip(frame.columns, map(str, frame.dtypes), strict=True))).encode())
    row_hashes = frame.hash_rows(seed=0).to_numpy()
    digest.update(row_hashes.tobytes())
    return digest.hexdigest()[:16]


def load_experiment(
    path: str | Path,
    columns: ColumnMap = ColumnMap(),
    *,
    revenue_per_conversion: float | None = None,
) -> Experiment:
    """Read a CSV (optionally .gz) or Parquet experiment and validate it into canonical columns."""
    path = Path(path)
    raw, notes = read_with_notes(path)
    return _with_notes(from_frame(raw, columns, source=str(path), revenue_per_conversion=revenue_per_conversion), notes)


def _with_notes(experiment: Experiment, notes: tuple[str, ...]) -> Experiment:
    """The experiment with the reader's notes first (how the file was read, then how it was validated)."""
    return replace(experiment, notes=notes + experiment.notes) if notes else experiment


def _examples(series: pl.Series) -> str:
    values = series.unique(maintain_order=True).head(_EXAMPLES).to_list()
    return ", ".join(repr(v) for v in values)


def _require_column(raw: pl.DataFrame, column: str, role: str, setting: str, source: str, wording: Wording) -> None:
    if column not in raw.columns:
        raise DataError(
            f"{source}: the {role} column {column!r} is not in the file. Its columns are: "
            f"{', '.join(raw.columns)}. Name the right one {wording.where(setting)}."
        )


def _binary(series: pl.Series, role: str, source: str, fix: str) -> pl.Series:
    """0/1, bool or yes/no/true/false (any case, trimmed) to Int8; anything else is a DataError."""
    name = series.name
    nulls = series.null_count()
    if nulls:
        raise DataError(f"{source}: column {name!r} ({role}) has {nulls} empty values. {fix}")
    if series.dtype == pl.Boolean:
        return series.cast(pl.Int8)
    words = series.cast(pl.String).str.strip_chars().str.to_lowercase()
    is_true = words.is_in(_TRUE_WORDS) | words.is_in(["1.0"])
    is_false = words.is_in(_FALSE_WORDS) | words.is_in(["0.0"])
    bad = ~(is_true | is_false)
    if bad.any():
        offending = series.filter(bad)
        raise DataError(
            f"{source}: column {name!r} ({role}) must be 0/1, true/false or yes/no; {offending.len()} rows are "
            f"not, e.g. {_examples(offending)}. {fix}"
        )
    return is_true.cast(pl.Int8)


def _treatment(
    raw: pl.DataFrame, columns: ColumnMap, source: str, wording: Wording
) -> tuple[pl.Series, pl.Series, list[str]]:
    """The treatment as Int8 0/1 and a mask of rows kept (other arms of a multi-arm test are left out)."""
    column = columns.treatment
    series = raw.get_column(column)
    notes: list[str] = []
    if series.null_count():
        raise DataError(
            f"{source}: column {column!r} (treatment) has {series.null_count()} empty values. "
            "Every user must be in the treated or the control group; drop or fill those rows."
        )
    labels = series.cast(pl.String).str.strip_chars()
    if columns.treated_value is None and columns.control_value is None:
        if series.dtype == pl.Boolean:
            coded = series.cast(pl.Int8)
        else:
            lowered = labels.str.to_lowercase()
            is_true = lowered.is_in(_TRUE_WORDS) | lowered.is_in(["1.0"])
            is_false = lowered.is_in(_FALSE_WORDS) | lowered.is_in(["0.0"])
            bad = ~(is_true | is_false)
            if bad.any():
                distinct = labels.unique(maintain_order=True)
                raise DataError(
                    f"{source}: column {column!r} (treatment) holds labels, not 0/1: "
                    f"{_examples(distinct)} ({distinct.len()} distinct). Name the arms "
                    f"{wording.where('treated_value')} "
                    f"and {wording.name('control_value')} (e.g. {distinct[0]!r} and {distinct[-1]!r})."
                )
            coded = is_true.cast(pl.Int8)
        keep = pl.Series(np.ones(raw.height, dtype=bool))
    else:
        if columns.treated_value is None or columns.control_value is None:
            raise DataError(
                f"{source}: column {column!r} (treatment): give both {wording.name('treated_value')} and "
                f"{wording.name('control_value')}."
            )
        treated, control = columns.treated_value.strip(), columns.control_value.strip()
        if treated == control:
            raise DataError(
                f"{source}: {wording.name('treated_value')} and {wording.name('control_value')} are both "
                f"{treated!r}; name two arms."
            )
        present = set(labels.unique().to_list())
        distinct = labels.unique(maintain_order=True)
        for setting, label in (("treated_value", treated), ("control_value", control)):
            if label not in present:
                raise DataError(
                    f"{source}: column {column!r} (treatment) has no label {label!r} ({wording.name(setting)}). "
                    f"Its labels are: {_examples(distinct)}. Use one of them (compared after trimming spaces)."
                )
        is_treated = labels == treated
        keep = is_treated | (labels == control)
        dropped = raw.height - int(keep.sum())
        if dropped:
            others = labels.filter(~keep)
            notes.append(
                f"{dropped:,} rows with other {column!r} labels ({_examples(others)}) were left out: "
                f"the analysis compares {treated!r} with {control!r}."
            )
        coded = is_treated.cast(pl.Int8)
    kept = coded.filter(keep)
    n_treated = int(kept.sum())
    if n_treated == 0 or n_treated == kept.len():
        only = "treated" if n_treated else "control"
        raise DataError(
            f"{source}: column {column!r} (treatment) has only {only} users ({kept.len()} rows). An uplift "
            "analysis needs both a treated and a control group; check the column and the arm labels."
        )
    return coded, keep, notes


def _is_id_like(series: pl.Series) -> bool:
    return series.dtype == pl.String and series.len() >= 50 and series.n_unique() == series.len()


def _feature_columns(
    raw: pl.DataFrame, columns: ColumnMap, roles: set[str], source: str, notes: list[str], wording: Wording
) -> tuple[str, ...]:
    for name in columns.exclude:
        _require_column(raw, name, "excluded", "exclude", source, wording)
    if columns.features is not None:
        for name in columns.features:
            _require_column(raw, name, "feature", "features", source, wording)
        chosen = tuple(columns.features)
    else:
        chosen = tuple(c for c in raw.columns if c not in roles and c not in columns.exclude)
        id_like = tuple(name for name in chosen if _is_id_like(raw.get_column(name)))
        for name in id_like:
            notes.append(
                f"column {name!r} holds a different text on every row (like an id or an e-mail), which no model can "
                f"generalise from; it is left out of the features."
            )
        chosen = tuple(name for name in chosen if name not in id_like)
    overlap = [c for c in chosen if c in roles]
    if overlap:
        raise DataError(
            f"{source}: {', '.join(map(repr, overlap))} cannot be both a feature and a role column "
            f"(treatment, conversion, revenue, id, cost). Remove it from {wording.name('features')}."
        )
    clashes = [c for c in chosen if c in ROLES]
    if clashes:
        raise DataError(
            f"{source}: feature column(s) {', '.join(map(repr, clashes))} use a reserved name. Rename them in "
            f"the file, or leave them out {wording.where('exclude')}."
        )
    for name in chosen:
        series = raw.get_column(name)
        if series.null_count() == series.len():
            raise DataError(
                f"{source}: feature column {name!r} is entirely empty ({series.len()} nulls). Leave it out "
                f"{wording.where('exclude', name)}, or fix the export."
            )
        if series.dtype not in (pl.String, pl.Categorical, pl.Boolean) and not series.dtype.is_numeric():
            if not isinstance(series.dtype, pl.Enum):
                raise DataError(
                    f"{source}: feature column {name!r} has type {series.dtype}, which the models cannot use. "
                    f"Convert it to a number or a label, or leave it out {wording.where('exclude', name)}."
                )
    return chosen


def from_frame(
    raw: pl.DataFrame,
    columns: ColumnMap = ColumnMap(),
    *,
    source: str = "data",
    revenue_per_conversion: float | None = None,
    wording: Wording = CLI,
) -> Experiment:
    """Validate a frame with the user's column names into an :class:`Experiment` (canonical columns); the
    errors name the settings that fix them in ``wording`` (the CLI's flags, or the app's fields)."""
    if raw.height == 0:
        raise DataError(f"{source}: the file holds no rows. Export the experiment with one row per user.")
    _require_column(raw, columns.treatment, "treatment", "treatment", source, wording)
    _require_column(raw, columns.conversion, "conversion", "conversion", source, wording)
    use_revenue = columns.revenue is not None and columns.revenue in raw.columns
    if not use_revenue and revenue_per_conversion is None:
        named = f"the revenue column {columns.revenue!r} is not in the file" if columns.revenue else "no revenue column"
        raise DataError(
            f"{source}: {named}. Its columns are: {', '.join(raw.columns)}. Name it {wording.where('revenue')}, "
            f"or give a value per conversion {wording.where('revenue_per_conversion')} (for example the price)."
        )
    if not use_revenue and not (np.isfinite(revenue_per_conversion) and revenue_per_conversion > 0):
        raise DataError(
            f"{wording.name('revenue_per_conversion')} must be a positive number, got {revenue_per_conversion!r}."
        )
    has_id = columns.id is not None and columns.id in raw.columns
    if columns.id is not None and columns.id != ID and not has_id:
        _require_column(raw, columns.id, "id", "id", source, wording)
    if columns.cost is not None:
        _require_column(raw, columns.cost, "contact cost", "cost", source, wording)
    roles = {columns.treatment, columns.conversion}
    roles |= {c for c in (columns.revenue if use_revenue else None, columns.id if has_id else None, columns.cost) if c}

    treatment, keep, notes = _treatment(raw, columns, source, wording)
    features = _feature_columns(raw, columns, roles, source, notes, wording)
    converted = _binary(
        raw.get_column(columns.conversion),
        "conversion",
        source,
        "Map it to 0/1 (or yes/no, true/false) and fill the gaps, or name another column "
        f"{wording.where('conversion')}.",
    )
    out: dict[str, pl.Series] = {}
    if has_id:
        ids = raw.get_column(columns.id)
        if ids.null_count():
            raise DataError(
                f"{source}: id column {columns.id!r} has {ids.null_count()} empty values. Every user needs an id; "
                f"fill them, or leave {wording.name('id')} blank to number the rows."
            )
        dup = ids.is_duplicated()
        if dup.any():
            repeated = ids.filter(dup)
            raise DataError(
                f"{source}: id column {columns.id!r} has {repeated.n_unique()} ids on more than one row "
                f"({repeated.len()} rows), e.g. {_examples(repeated)}. One row per user: deduplicate the export."
            )
        out[ID] = ids
    else:
        out[ID] = pl.Series(np.arange(1, raw.height + 1, dtype=np.int64))
        # said, not silent: a contact list of row numbers must be read against the file it came from
        missing = f"no id column {columns.id!r}" if columns.id else "no id column"
        notes.append(f"{missing}: users are numbered by their row in the file (1 = the first data row).")
    out[TREATMENT] = treatment
    out[CONVERTED] = converted
    if use_revenue:
        revenue = raw.get_column(columns.revenue)
        if not revenue.dtype.is_numeric():
            raise DataError(
                f"{source}: revenue column {columns.revenue!r} is not numeric (type {revenue.dtype}), e.g. "
                f"{_examples(revenue)}. Remove currency signs and thousands separators."
            )
        revenue = revenue.cast(pl.Float64)
        if revenue.null_count():
            raise DataError(
                f"{source}: revenue column {columns.revenue!r} has {revenue.null_count()} empty values. "
                "Use 0 for users who bought nothing."
            )
        negative = revenue < 0
        if negative.any():
            raise DataError(
                f"{source}: revenue column {columns.revenue!r} has {int(negative.sum())} negative values, e.g. "
                f"{_examples(revenue.filter(negative))}. Revenue must be >= 0 (net out returns before export)."
            )
        not_finite = ~revenue.is_finite()
        if not_finite.any():
            raise DataError(
                f"{source}: revenue column {columns.revenue!r} has {int(not_finite.sum())} non-finite values "
                "(inf or NaN). Use 0 for users who bought nothing."
            )
        stray = (revenue > 0) & (converted == 0) & keep
        if stray.any():
            message = (
                f"{source}: revenue column {columns.revenue!r} is positive on {int(stray.sum())} rows whose "
                f"conversion {columns.conversion!r} is 0; that revenue is counted as is."
            )
            warnings.warn(message, DataWarning, stacklevel=2)
            notes.append(message)
        out[REVENUE] = revenue
    else:
        out[REVENUE] = converted.cast(pl.Float64) * float(revenue_per_conversion)
    if columns.cost is not None:
        cost = raw.get_column(columns.cost)
        if not cost.dtype.is_numeric():
            raise DataError(f"{source}: cost column {columns.cost!r} is not numeric (type {cost.dtype}).")
        cost = cost.cast(pl.Float64)
        bad = cost.is_null() | ~(cost.fill_null(0.0) > 0) | ~cost.fill_null(1.0).is_finite()
        if bad.any():
            raise DataError(
                f"{source}: cost column {columns.cost!r} has {int(bad.sum())} values that are empty or not > 0, "
                f"e.g. {_examples(cost.filter(bad))}. Every contact must cost a positive amount."
            )
        out[COST] = cost
    frame = pl.DataFrame([s.alias(name) for name, s in out.items()]).hstack(raw.select(features))
    frame = frame.filter(keep)
    return Experiment(
        frame=frame,
        features=features,
        source=source,
        notes=tuple(notes),
        revenue_per_conversion=None if use_revenue else float(revenue_per_conversion),
    )

"""What a raw file holds before it is mapped: a summary of each column, and a first guess of the roles.

The app's data step shows these so that the analyst maps the columns from the file's own names and
values; nothing here validates (that is :func:`uplift_studio.core.data.from_frame`, once mapped). The
guess only fills the form: every role stays the analyst's choice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from uplift_studio.core.data import ColumnMap

MAX_LABELS = 50  # a treatment column has a handful of arms; more distinct values are not labels to pick from
PREVIEW_ROWS = 5

_NAMES = {
    "treatment": r"treat|segment|group|arm|variant|promo|campaign|offer|assign",
    "conversion": r"conver|purchas|bought|buy|order|response",
    "revenue": r"revenue|spend|sales|amount|value|gmv",
    "id": r"(^|_)id$|^id|user|customer|client",
    "cost": r"cost",
    "after": r"visit|click|open",  # outcomes measured after the contact: features would leak them
}
_CONTROL = r"^(no\b|none|control|holdout|hold-out|0$|false$|n$)|control|no e-?mail"


@dataclass(frozen=True)
class ColumnSummary:
    name: str
    dtype: str
    distinct: int
    nulls: int
    binary: bool
    numeric: bool


def _is_binary(series: pl.Series) -> bool:
    values = series.drop_nulls().cast(pl.String).str.strip_chars().str.to_lowercase().unique()
    return 1 <= values.len() <= 2 and set(values.to_list()) <= {"0", "1", "true", "false", "yes", "no", "0.0", "1.0"}


def summarise(frame: pl.DataFrame) -> tuple[ColumnSummary, ...]:
    """Name, type, distinct values and empty cells of every column, in the file's order."""
    return tuple(
        ColumnSummary(
            name=name,
            dtype=str(series.dtype),
            distinct=series.n_unique(),
            nulls=series.null_count(),
            binary=_is_binary(series),
            numeric=series.dtype.is_numeric(),
        )
        for name, series in frame.to_dict().items()
    )


def labels(frame: pl.DataFrame, column: str) -> tuple[str, ...]:
    """The distinct labels of ``column`` (trimmed, as the validation compares them), most frequent first;
    empty when the column is not in the frame or has too many values to be arms."""
    if column not in frame.columns:
        return ()
    series = frame.get_column(column).drop_nulls().cast(pl.String).str.strip_chars()
    if series.n_unique() > MAX_LABELS:
        return ()
    counts = series.value_counts(sort=True)
    return tuple(counts.get_column(series.name).to_list())


def _has_control(frame: pl.DataFrame, summary: ColumnSummary) -> bool:
    arms = labels(frame, summary.name)
    return summary.binary or any(re.search(_CONTROL, label, re.IGNORECASE) for label in arms)


def _first(summaries: tuple[ColumnSummary, ...], pattern: str, accept, taken: set[str]) -> str | None:
    for summary in summaries:
        if summary.name not in taken and re.search(pattern, summary.name, re.IGNORECASE) and accept(summary):
            return summary.name
    return None


def suggest(frame: pl.DataFrame) -> ColumnMap:
    """A first guess of each role from the columns' names and values (canonical names win).

    Treatment: a column of 2 to 50 labels named like an assignment; conversion: a 0/1 column named like a
    purchase; revenue: a numeric column named like money; id: a column unique on every row named like an
    id; labels: the control label when one reads like "no", "control" or "holdout". None of it is checked."""
    summaries = summarise(frame)
    taken: set[str] = set()

    def pick(canonical: str, role: str, accept) -> str | None:
        found = canonical if canonical in frame.columns else _first(summaries, _NAMES[role], accept, taken)
        if found is not None:
            taken.add(found)
        return found

    # an assignment column says which arm is the control (Hillstrom's "segment", not its "history_segment")
    treatment = pick("treatment", "treatment", lambda s: 2 <= s.distinct <= MAX_LABELS and _has_control(frame, s))
    if treatment is None:
        treatment = pick("treatment", "treatment", lambda s: 2 <= s.distinct <= MAX_LABELS)
    conversion = pick("converted", "conversion", lambda s: s.binary)
    revenue = pick("revenue", "revenue", lambda s: s.numeric and not s.binary)
    user_id = pick("user_id", "id", lambda s: s.distinct == frame.height and s.nulls == 0)
    treated = control = None
    arms = labels(frame, treatment) if treatment else ()
    if treatment and arms and not _is_binary(frame.get_column(treatment)):
        controls = [label for label in arms if re.search(_CONTROL, label, re.IGNORECASE)]
        if controls:
            control = controls[0]
            treated = next(label for label in arms if label != control)
    after = tuple(
        s.name for s in summaries if s.name not in taken and s.binary and re.search(_NAMES["after"], s.name, re.I)
    )
    return ColumnMap(
        id=user_id,
        treatment=treatment or "",
        treated_value=treated,
        control_value=control,
        conversion=conversion or "",
        revenue=revenue,
        cost=None,
        exclude=after,
    )

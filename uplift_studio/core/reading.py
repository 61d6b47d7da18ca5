"""Reading an experiment file without misreading it.

Polars reads what it is given; these checks stop the readings that look valid and are not: two columns of
the same name (a copied outcome would become a feature), a ``.gz`` that is not gzip (read as text, its cut
last row taken as data), a numeric column with a few placeholders such as ``n/a`` (read as text, so the
numbers become categories), a semicolon-separated file read as one column, and ISO dates read as a label
per day (they are parsed into days instead, with a note). Each is a :class:`DataError` or a note naming
the file, the column and the values.
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import polars as pl

from uplift_studio.core.errors import DataError
from uplift_studio.core.wording import CLI, Wording

GZIP_MAGIC = b"\x1f\x8b"
_PLACEHOLDER_SHARE = 0.8  # a text column at least this much numbers is numbers with a few placeholders
_PLACEHOLDER_LEVELS = 10
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$"


def _header(path: Path, gzipped: bool, shown: str) -> list[str]:
    opener = gzip.open if gzipped else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as handle:
            line = handle.readline()
    except (OSError, EOFError) as exc:
        raise DataError(f"{shown}: cannot be read ({exc}). Check that the file is complete.") from exc
    return next(csv.reader(io.StringIO(line)), [])


def _check_header(shown: str, names: list[str]) -> None:
    seen, repeated = set(), []
    for name in names:
        if name in seen and name not in repeated:
            repeated.append(name)
        seen.add(name)
    if repeated:
        raise DataError(
            f"{shown}: column name(s) {', '.join(map(repr, repeated))} appear more than once in the header. Each "
            "column needs its own name (a copy of an outcome would otherwise become a feature): rename or drop one."
        )
    if len(names) == 1 and (";" in names[0] or "\t" in names[0]):
        separator = "semicolons" if ";" in names[0] else "tabs"
        raise DataError(
            f"{shown}: the header {names[0][:60]!r} reads as one column: the file seems separated by {separator}. "
            "Save it as a comma-separated CSV (in a spreadsheet: CSV UTF-8, comma delimited)."
        )


def _numbers_with_placeholders(shown: str, frame: pl.DataFrame) -> None:
    for name, dtype in frame.schema.items():
        if dtype != pl.String:
            continue
        text = frame.get_column(name).str.strip_chars()
        present = text.filter(text.is_not_null() & (text != ""))
        if present.len() == 0:
            continue
        numeric = present.cast(pl.Float64, strict=False)
        others = present.filter(numeric.is_null())
        if 0 < others.len() <= (1 - _PLACEHOLDER_SHARE) * present.len() and others.n_unique() <= _PLACEHOLDER_LEVELS:
            counts = others.value_counts(sort=True).head(5)
            shown = ", ".join(f"{value!r} ({count:,} rows)" for value, count in counts.iter_rows())
            raise DataError(
                f"{shown}: column {name!r} holds numbers except for {others.len():,} value(s): {shown}. Leave those "
                "cells empty (missing values are allowed) or give them a number, so the column is read as numbers."
            )


def _parse_dates(frame: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    notes = []
    for name, dtype in frame.schema.items():
        if dtype != pl.String:
            continue
        text = frame.get_column(name).drop_nulls()
        if text.len() == 0 or not text.str.contains(_ISO_DATE).all():
            continue
        parsed = frame.get_column(name).str.to_datetime(strict=False)
        # days since 1970-01-01: a number the trees can split on, where a label per day could not generalise
        frame = frame.with_columns((parsed.dt.epoch("s") / 86_400.0).alias(name))
        notes.append(f"column {name!r} holds dates; it is used as days since 1970-01-01.")
    return frame, notes


def read_with_notes(
    path: Path, *, shown: str | None = None, wording: Wording = CLI
) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """The table in ``path`` and the notes of how it was read (see the module's list of checks).

    Errors name the file as ``shown`` (default: the path; an upload's temporary path means nothing to its
    user) and the setting to fix in ``wording``."""
    name = path.name.lower()
    shown = str(path) if shown is None else shown
    if not path.exists():
        raise DataError(
            f"{shown}: file not found. Check the path, or omit {wording.name('data')} to use the simulated campaign."
        )
    if path.is_dir():
        raise DataError(
            f"{shown}: is a folder, not a file. Point {wording.name('data')} at a .csv, .csv.gz or .parquet file."
        )
    parquet = name.endswith((".parquet", ".pq"))
    if not parquet and not name.endswith((".csv", ".csv.gz", ".txt")):
        raise DataError(
            f"{shown}: unknown file type. Use a .csv, .csv.gz or .parquet file (the name's ending decides)."
        )
    gzipped = name.endswith(".gz")
    if gzipped:
        with path.open("rb") as handle:
            if handle.read(2) != GZIP_MAGIC:
                raise DataError(
                    f"{shown}: the name says gzip but the file is not gzip-compressed. Rename it to .csv if it is "
                    "plain text, or compress it again."
                )
    if not parquet and path.stat().st_size > 0:
        _check_header(shown, _header(path, gzipped, shown))
    try:
        if parquet:
            frame = pl.read_parquet(path)
        else:
            # the whole file decides each column's type: a rare text value late in the file cannot break it
            frame = pl.read_csv(path, infer_schema_length=None, try_parse_dates=False)
    except pl.exceptions.NoDataError as exc:
        raise DataError(
            f"{shown}: the file is empty: it holds no rows. Export the experiment with one row per user."
        ) from exc
    except Exception as exc:  # polars raises several error types for unreadable files
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"{shown}: cannot be read as {'Parquet' if parquet else 'CSV'} ({first_line}). "
            "Check that the file is complete and in that format."
        ) from exc
    if frame.width == 0 or frame.height == 0:
        raise DataError(f"{shown}: the file holds no rows. Export the experiment with one row per user.")
    _numbers_with_placeholders(shown, frame)
    frame, notes = _parse_dates(frame)
    return frame, tuple(notes)


def read_table(path: Path, *, shown: str | None = None, wording: Wording = CLI) -> pl.DataFrame:
    """The table in ``path`` (see :func:`read_with_notes`)."""
    return read_with_notes(path, shown=shown, wording=wording)[0]

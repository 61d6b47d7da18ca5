"""Features as XGBoost reads them: categorical levels fixed once, a float32 matrix, and checked labels.

Every fold and every later scoring codes a categorical level alike because the levels are decided once,
from the whole experiment, sorted (so row order never changes a model).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from uplift_studio.core.errors import DataError


def is_categorical(dtype: pl.DataType) -> bool:
    return dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum))


def is_numeric(dtype: pl.DataType) -> bool:
    return dtype.is_numeric() or dtype == pl.Boolean or dtype == pl.Null


def as_frame(X: pl.DataFrame | np.ndarray) -> pl.DataFrame:
    if isinstance(X, pl.DataFrame):
        return X
    if isinstance(X, pl.LazyFrame):
        return X.collect()
    array = np.asarray(X)
    if array.ndim != 2:
        raise DataError(f"features must be a 2-D table, got an array of shape {array.shape}")
    return pl.DataFrame(array, schema=[f"x{i}" for i in range(array.shape[1])], orient="row")


def category_levels(frame: pl.DataFrame) -> dict[str, tuple[str, ...]]:
    """Levels of each categorical column: an Enum's declared categories, else the sorted observed values.

    Sorting makes the codes independent of row order, so the same data always gives the same model.
    """
    levels = {}
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.Enum):
            levels[name] = tuple(dtype.categories.to_list())
        elif is_categorical(dtype):
            levels[name] = tuple(frame[name].cast(pl.String).drop_nulls().unique().sort().to_list())
        elif not is_numeric(dtype):
            raise DataError(
                f"feature column {name!r} has type {dtype}, which the models cannot use; "
                "convert it to a number or a category (string), or leave it out of the features"
            )
    return levels


def encode(frame: pl.DataFrame, names: Sequence[str], categories: dict[str, tuple[str, ...]]) -> np.ndarray:
    """The float32 matrix XGBoost trains on: numbers as they are, categories as level codes, NaN = missing.

    A level outside the fitted ones becomes missing and takes the default branch each tree learned for
    missing values.
    """
    missing = [name for name in names if name not in frame.columns]
    if missing:
        listed = ", ".join(repr(name) for name in missing)
        raise DataError(
            f"the data lacks feature column(s) {listed} that the model was trained on; "
            "add them (null values are allowed) or refit the model without them"
        )
    columns = []
    for name in names:
        dtype = frame.schema[name]
        if name in categories:
            column = pl.col(name) if is_categorical(dtype) else pl.col(name).cast(pl.String)
            # The Enum's physical value is the level's position; a non-strict cast turns other values null.
            columns.append(column.cast(pl.Enum(list(categories[name])), strict=False).to_physical().cast(pl.Float32))
        elif is_numeric(dtype):
            columns.append(pl.col(name).cast(pl.Float32))
        else:
            raise DataError(
                f"feature column {name!r} has type {dtype} but the model was trained on numbers; "
                "supply it as numbers (null for unknown)"
            )
    # C order: XGBoost reads rows; a Fortran-ordered matrix would be copied inside every fit.
    matrix = frame.select(columns).to_numpy(order="c")
    infinite = np.isinf(matrix).any(axis=0)
    if infinite.any():
        bad = ", ".join(repr(name) for name, flag in zip(names, infinite, strict=True) if flag)
        raise DataError(f"feature column(s) {bad} hold infinite values; replace them with null or a number")
    return matrix


def binary_labels(values: Any, name: str, n: int) -> np.ndarray:
    array = np.asarray(values)
    if array.shape != (n,):
        raise DataError(f"{name} must have one value per user ({n}), got shape {array.shape}")
    if array.dtype.kind == "f" and np.isnan(array).any():
        raise DataError(f"{name} has missing values; it must be 0 or 1 for every user")
    if not np.isin(array, (0, 1)).all():
        raise DataError(f"{name} must be 0 or 1, found {sorted(set(np.unique(array).tolist()) - {0, 1})[:5]}")
    return array.astype(np.int8)


def checked_revenue(values: Any, converted: np.ndarray) -> np.ndarray:
    if values is None:
        return converted.astype(np.float64)
    revenue = np.asarray(values, dtype=np.float64)
    if revenue.shape != converted.shape:
        raise DataError(f"revenue must have one value per user ({converted.shape[0]}), got shape {revenue.shape}")
    if not np.isfinite(revenue).all() or (revenue < 0).any():
        raise DataError("revenue must be a finite number >= 0 for every user")
    return revenue

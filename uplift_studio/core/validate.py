"""Checks shared by every metric: one value per user, finite numbers, 0/1 arms, both arms present.

Each raises :class:`DataError` with the argument's name, the first offending row and the fix.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from uplift_studio.core.errors import DataError


def as_float_array(name: str, values: npt.ArrayLike, fix: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise DataError(f"{name} must be one-dimensional (one value per user); got shape {array.shape}.")
    # a finite sum means every value is finite (NaN and infinities propagate), without a mask of n booleans;
    # only a non-finite sum (or an overflow) pays for the mask that finds the rows
    if np.isfinite(array.sum()):
        return array
    finite = np.isfinite(array)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise DataError(
            f"{name} has {bad.size} non-finite value(s) (first at row {bad[0]}: {array[bad[0]].item()}); {fix}."
        )
    return array


def as_binary(name: str, values: npt.ArrayLike, fix: str) -> np.ndarray:
    """Return ``values`` as a bool/int8 array of 0/1 without copying bool or int8 input."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise DataError(f"{name} must be one-dimensional (one value per user); got shape {array.shape}.")
    if array.dtype == np.bool_ or array.size == 0:
        return array.astype(np.bool_, copy=False)
    if array.dtype.kind in "iu":
        # min/max are two cheap reductions; a full (a != 0) & (a != 1) mask would cost more memory
        if array.min() >= 0 and array.max() <= 1:
            return array.astype(np.int8, copy=False)
    elif array.dtype.kind == "f":
        if np.all((array == 0) | (array == 1)):
            return array.astype(np.int8)
    else:
        raise DataError(f"{name} must be numeric 0/1 or bool; got dtype {array.dtype}. {fix}.")
    bad = np.flatnonzero((array != 0) & (array != 1))
    raise DataError(
        f"{name} must be 0/1; found {bad.size} other value(s) (first at row {bad[0]}: {array[bad[0]].item()!r}). {fix}."
    )


def check_lengths(n: int, **arrays: np.ndarray | None) -> None:
    for name, array in arrays.items():
        if array is not None and array.shape[0] != n:
            raise DataError(
                f"{name} has {array.shape[0]} values but outcome has {n}; pass one value per user, aligned row by row."
            )


def check_both_arms(n_treated: int, n: int) -> None:
    if n == 0:
        raise DataError("no users to evaluate; pass at least one treated and one control user.")
    if n_treated == 0 or n_treated == n:
        missing = "treated (1)" if n_treated == 0 else "control (0)"
        raise DataError(
            f"treatment has no {missing} users among the {n} given; an uplift needs both arms of the experiment."
        )

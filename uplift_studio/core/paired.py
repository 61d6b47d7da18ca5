"""Paired comparisons at one budget: strategy ``first`` minus strategy ``second`` in projected incremental
revenue, on the same held-out users, with a 95% interval that counts the users both rankings contact.

A strategy's estimate at a tie-group boundary ``k`` is ``U(S) = k (mean_T(S) - mean_C(S))`` over its top-k
set ``S`` (core/curve.py), and between boundaries the mix ``(1 - w) U(S_lo) + w U(S_hi)`` (core/path.py).
Linearised (delta method), ``U(S)`` is a sum of one term per user of ``S``:

    treated i:  k (y_i - mean_T(S)) / sqrt(N_T (N_T - 1))      control i:  -k (y_i - mean_C(S)) / sqrt(N_C (N_C - 1))

scaled so that their squares add up to the curve's own variance ``k^2 (var_T / N_T + var_C / N_C)``
(ddof=1). The variance of the difference is the sum over users of the squared difference of the two
strategies' terms, ``var_1 + var_2 - 2 cov``: only users that both strategies contact add to ``cov``, so
two rankings that share most of their contacts compare far more precisely than their separate intervals
suggest, and the estimate never depends on a ratio (it stays defined when one strategy earns nothing).

The orders are sorted once, when the analysis is built, and stored in :class:`Rankings` with each
strategy's outcomes and arms already in its order, so a read is contiguous passes over the contacted users
and one scatter/gather by user for the shared ones: no sort.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from uplift_studio.core.budget import StrategyResult
from uplift_studio.core.errors import DataError
from uplift_studio.core.path import SpendPath
from uplift_studio.core.stats import Z95, interval


@dataclass(frozen=True, eq=False)
class Rankings:
    """Each strategy's targeting order of the evaluation users (row indices), and their outcomes and arms
    in that order.

    ``variance_treated`` / ``variance_control`` are each arm's outcome variance over all users: the
    curve's plug-in for an arm with a single user among the contacted (see ``Curve.se_points``).
    """

    orders: dict[str, np.ndarray]
    ranked_outcome: dict[str, np.ndarray]
    ranked_treated: dict[str, np.ndarray]
    variance_treated: float
    variance_control: float

    def __post_init__(self) -> None:
        for group in (self.orders, self.ranked_outcome, self.ranked_treated):
            for array in group.values():
                array.flags.writeable = False

    @property
    def n(self) -> int:
        return int(next(iter(self.orders.values())).shape[0])


def rank_users(outcome: npt.ArrayLike, treatment: npt.ArrayLike, orders: dict[str, np.ndarray]) -> Rankings:
    """:class:`Rankings` from the evaluation users' outcome, 0/1 treatment and each strategy's order."""
    values = np.ascontiguousarray(outcome, dtype=np.float64)
    treated = np.asarray(treatment).astype(bool)
    for name, order in orders.items():
        if order.shape != values.shape:
            raise DataError(f"the order of {name!r} ranks {order.shape[0]} users, the outcome has {values.shape[0]}")
    # row indices fit int32 below 2**31 users: half the memory of a cached analysis's orders
    index_type = np.int32 if values.shape[0] < 2**31 else np.int64
    return Rankings(
        orders={name: np.asarray(order, dtype=index_type) for name, order in orders.items()},
        ranked_outcome={name: values[order] for name, order in orders.items()},
        ranked_treated={name: treated[order] for name, order in orders.items()},
        variance_treated=float(np.var(values[treated], ddof=1)) if treated.sum() > 1 else 0.0,
        variance_control=float(np.var(values[~treated], ddof=1)) if (~treated).sum() > 1 else 0.0,
    )


@dataclass(frozen=True)
class PairedDifference:
    """``first`` minus ``second`` in projected incremental revenue at one budget, with its paired 95%
    interval. ``unpaired_se`` is what treating the two estimates as independent would give,
    ``sqrt(se_1^2 + se_2^2)``; ``shared_contacts`` is the share of ``first``'s contacts that ``second``
    contacts too (NaN when ``first`` contacts nobody)."""

    first: str
    second: str
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    unpaired_se: float
    shared_contacts: float

    def as_dict(self) -> dict[str, float | str]:
        return {
            "first": self.first,
            "second": self.second,
            "estimate": self.estimate,
            "se": self.se,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "unpaired_se": self.unpaired_se,
            "shared_contacts": None if math.isnan(self.shared_contacts) else self.shared_contacts,
        }


class _Terms(NamedTuple):
    """One strategy's linearised estimate at a depth: a term per contacted user, plus the variance of the
    plug-in parts (an arm with one contacted user), in evaluation units."""

    rows: np.ndarray
    values: np.ndarray
    plug_in_variance: float


def _endpoint(outcome: np.ndarray, treated: np.ndarray, k: int, rankings: Rankings) -> tuple[np.ndarray, float]:
    """Terms of ``U`` over the first ``k`` of the gathered users, and the SE of its plug-in part."""
    values, arm = outcome[:k], treated[:k]
    n_t = int(np.count_nonzero(arm))
    n_c = k - n_t
    if n_t == 0 or n_c == 0:
        return np.zeros(k), 0.0  # U is 0 by convention while an arm is empty: nothing estimated
    treated_values = values * arm
    sum_t = float(treated_values.sum())
    sum_c = float(values.sum()) - sum_t
    mean_t, mean_c = sum_t / n_t, sum_c / n_c
    weight_t = k / math.sqrt(n_t * (n_t - 1)) if n_t >= 2 else 0.0
    weight_c = k / math.sqrt(n_c * (n_c - 1)) if n_c >= 2 else 0.0
    terms = np.where(arm, weight_t * (values - mean_t), -weight_c * (values - mean_c))
    plug_in = 0.0
    if n_t == 1:
        plug_in += k * k * rankings.variance_treated
    if n_c == 1:
        plug_in += k * k * rankings.variance_control
    return terms, math.sqrt(plug_in)


def _terms(rankings: Rankings, path: SpendPath, depth: float) -> _Terms:
    """The linearised estimate of ``path`` after ``depth`` contacts, linear between its steps as its value."""
    contacts = path.contacts
    if not 0.0 <= depth <= path.n:
        raise DataError(f"depth must be between 0 and n = {path.n:g} users; got {depth!r}.")
    # integer steps searched with an integer: no float copy of the steps on the slider's path
    upper = int(np.searchsorted(contacts, math.ceil(depth), side="left"))
    upper = min(max(upper, 1), contacts.size - 1)
    k_lo, k_hi = int(contacts[upper - 1]), int(contacts[upper])
    weight = min(max((depth - k_lo) / (k_hi - k_lo), 0.0), 1.0) if k_hi > k_lo else 0.0
    end = k_hi if weight > 0 else k_lo
    name = path.strategy
    rows = rankings.orders[name][:end]
    outcome, treated = rankings.ranked_outcome[name][:end], rankings.ranked_treated[name][:end]
    values = np.zeros(end)
    plug_in_se = 0.0
    for k, share in ((k_lo, 1.0 - weight), (k_hi, weight)):
        if share > 0 and k > 0:
            part, part_se = _endpoint(outcome, treated, k, rankings)
            values[:k] += share * part
            plug_in_se += share * part_se
    return _Terms(rows, values, plug_in_se * plug_in_se)


def _dot(left: np.ndarray, right: np.ndarray) -> float:
    # not np.dot: BLAS wakes its thread pool for a vector product, which on a loaded 2-core machine made
    # a read 20-40 ms instead of 0.1 ms
    return float(np.sum(left * right))


def _shown_se(result: StrategyResult) -> float:
    return (result.ci_high - result.ci_low) / (2.0 * Z95)


def paired_difference(
    rankings: Rankings,
    paths: dict[str, SpendPath],
    results: dict[str, StrategyResult],
    first: str,
    second: str,
    scale: float,
) -> PairedDifference:
    """``first`` minus ``second`` at the budget of ``results`` (each strategy at its own depth), projected
    by ``scale`` (campaign users per evaluation user). The estimate is exactly the difference of the two
    shown incremental revenues; the SE is that of the difference of the linearised estimators."""
    for name in (first, second):
        if name not in paths or name not in results or name not in rankings.orders:
            raise DataError(f"no strategy {name!r} to compare; the strategies are {', '.join(paths)}.")
    one = _terms(rankings, paths[first], results[first].depth)
    two = _terms(rankings, paths[second], results[second].depth)
    # scatter the first strategy's terms by user, gather them at the second's contacts: the shared users
    by_user = np.zeros(rankings.n)
    by_user[one.rows] = one.values
    covariance = _dot(by_user[two.rows], two.values)
    variance = (
        _dot(one.values, one.values)
        + _dot(two.values, two.values)
        - 2.0 * covariance
        + one.plug_in_variance
        + two.plug_in_variance
    )
    se = math.sqrt(max(variance, 0.0)) * scale
    estimate = results[first].incremental_revenue - results[second].incremental_revenue
    low, high = interval(estimate, se)
    shared = float("nan")
    if one.rows.size:
        contacted = np.zeros(rankings.n, dtype=bool)
        contacted[one.rows] = True
        shared = float(np.count_nonzero(contacted[two.rows])) / one.rows.size
    return PairedDifference(
        first=first,
        second=second,
        estimate=float(estimate),
        se=se,
        ci_low=float(low),
        ci_high=float(high),
        unpaired_se=math.hypot(_shown_se(results[first]), _shown_se(results[second])),
        shared_contacts=shared,
    )


def comparisons(
    rankings: Rankings,
    paths: dict[str, SpendPath],
    results: dict[str, StrategyResult],
    scale: float,
    against: str = "uplift",
    others: tuple[str, ...] | None = None,
) -> dict[str, PairedDifference]:
    """``against`` minus each of ``others`` (default: every other strategy) that ``results`` holds, by the
    other strategy's name; empty without ``against``."""
    if against not in results:
        return {}
    names = [name for name in results if name != against and (others is None or name in others)]
    return {name: paired_difference(rankings, paths, results, against, name, scale) for name in names}

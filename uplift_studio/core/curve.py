"""The observed curve of a ranking: cumulative treated/control counts and outcome sums down the ranking,
read at tie-group boundaries (design section 3).

Users are sorted by score descending (or by score per unit of cost); users with equal scores form one
tie group and the curve has points only at tie-group boundaries, so a ranking never gains from the order
of equal scores. Everything reported (uplift, Qini, intervals, deciles, the spend path) is a function of
these sums.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from uplift_studio.core.errors import DataError
from uplift_studio.core.validate import as_binary, as_float_array, check_both_arms, check_lengths


def uplift_values(k, n_t, n_c, sum_t, sum_c) -> np.ndarray:
    """``U = (R_T/N_T - R_C/N_C) * k``, taken as 0 while either arm is empty."""
    both = (n_t > 0) & (n_c > 0)
    mean_t = np.divide(sum_t, n_t, out=np.zeros(np.shape(k)), where=both)
    mean_c = np.divide(sum_c, n_c, out=np.zeros(np.shape(k)), where=both)
    return (mean_t - mean_c) * k


def arm_variance(count: np.ndarray, total: np.ndarray, total_sq: np.ndarray, fallback: float) -> np.ndarray:
    """Sample variance (ddof=1) from a count, a sum and a sum of squares; ``fallback`` below 2 users."""
    variance = np.full(np.shape(count), fallback)
    enough = count >= 2
    np.divide(total_sq - total * total / np.maximum(count, 1), count - 1.0, out=variance, where=enough)
    # rounding in sumsq - sum^2/n can dip a hair below 0 for near-constant outcomes
    return np.maximum(variance, 0.0)


@dataclass(frozen=True, eq=False)
class Curve:
    """Cumulative statistics of the evaluation users in targeting order, at tie-group boundaries.

    All arrays have length ``m + 1`` (``m`` tie groups) and start with a 0 point: ``k[0] = 0`` and
    ``k[-1] = n``. Entry ``j`` sums the users of the first ``j`` tie groups. ``conv_t``/``conv_c`` are
    None when no conversions were given; ``cum_cost`` is None when costs are uniform (the ranking is then
    by score; with per-user costs it is by score per unit of cost). Arrays are read-only.
    """

    k: np.ndarray
    n_t: np.ndarray
    n_c: np.ndarray
    sum_t: np.ndarray
    sum_c: np.ndarray
    sumsq_t: np.ndarray
    sumsq_c: np.ndarray
    conv_t: np.ndarray | None = None
    conv_c: np.ndarray | None = None
    cum_cost: np.ndarray | None = None

    @property
    def n(self) -> int:
        """Number of evaluation users."""
        return int(self.k[-1])

    @property
    def total_uplift(self) -> float:
        """The observed total effect ``(mean_T - mean_C) * n``: where every uplift curve ends."""
        return float(self.uplift_points()[-1])

    def uplift_points(self) -> np.ndarray:
        """``U(k) = (R_T/N_T - R_C/N_C) * k`` at every boundary, 0 while ``N_T`` or ``N_C`` is 0."""
        return uplift_values(self.k, self.n_t, self.n_c, self.sum_t, self.sum_c)

    def qini_points(self) -> np.ndarray:
        """``Q(k) = R_T - R_C * N_T / N_C`` at every boundary, 0 while ``N_C`` is 0."""
        ratio = np.divide(self.n_t, self.n_c, out=np.zeros(self.k.shape), where=self.n_c > 0)
        return np.where(self.n_c > 0, self.sum_t - self.sum_c * ratio, 0.0)

    def se_points(self) -> np.ndarray:
        """Standard error of ``U(k)`` at every boundary: ``k * sqrt(var_T/N_T + var_C/N_C)``.

        Variances are sample variances (ddof=1) of the outcome among the top-k users of each arm, from the
        cumulative sums and squares. An arm with a single user in the top k carries no spread information,
        so its variance is taken as that arm's variance over all n users (a plug-in that keeps the interval
        finite); the SE is 0 while an arm is empty, where ``U`` is 0 by convention rather than estimated.
        """
        full_t = arm_variance(self.n_t[-1:], self.sum_t[-1:], self.sumsq_t[-1:], np.nan)[0]
        full_c = arm_variance(self.n_c[-1:], self.sum_c[-1:], self.sumsq_c[-1:], np.nan)[0]
        var_t = arm_variance(self.n_t, self.sum_t, self.sumsq_t, full_t)
        var_c = arm_variance(self.n_c, self.sum_c, self.sumsq_c, full_c)
        both = (self.n_t > 0) & (self.n_c > 0)
        spread = np.zeros(self.k.shape)
        np.divide(var_t, self.n_t, out=spread, where=both)
        spread += np.divide(var_c, self.n_c, out=np.zeros(self.k.shape), where=both)
        return self.k * np.sqrt(spread)

    def conversion_points(self) -> np.ndarray | None:
        """Incremental conversions ``(C_T/N_T - C_C/N_C) * k`` at every boundary, or None."""
        if self.conv_t is None or self.conv_c is None:
            return None
        return uplift_values(self.k, self.n_t, self.n_c, self.conv_t, self.conv_c)

    def cost_points(self) -> np.ndarray:
        """Cumulative evaluation cost at every boundary; with uniform costs, contacts (one unit each)."""
        return self.k.astype(np.float64) if self.cum_cost is None else self.cum_cost


def targeting_key(score: npt.ArrayLike, cost: npt.ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """The validated ranking key: the score, or the score per unit of cost (costs must be > 0)."""
    scores = as_float_array("score", score, "drop those users or give them a score")
    if cost is None:
        return scores, None
    costs = as_float_array("cost", cost, "give every user a contact cost > 0")
    check_lengths(scores.shape[0], cost=costs)
    if np.any(costs <= 0):
        bad = np.flatnonzero(costs <= 0)
        raise DataError(
            f"cost must be > 0 for every user; found {bad.size} value(s) <= 0 (first at row {bad[0]}: "
            f"{costs[bad[0]].item()}). Give free contacts a small positive cost or leave them out."
        )
    key = scores / costs
    if not np.all(np.isfinite(key)):
        raise DataError("score / cost overflows for some users; rescale the scores or the costs.")
    return key, costs


def targeting_order(score: npt.ArrayLike, cost: npt.ArrayLike | None = None) -> np.ndarray:
    """Row indices in targeting order: score (or score per unit of cost) descending, ties in row order."""
    key, _ = targeting_key(score, cost)
    return np.argsort(-key, kind="stable")


def _cumulative_at(values: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Sums of the first ``k`` values, for every ``k`` (a leading 0 makes ``k = 0`` a plain read)."""
    sums = np.empty(values.shape[0] + 1, dtype=np.result_type(values.dtype, np.int64))
    sums[0] = 0
    np.cumsum(values, out=sums[1:])
    # every score distinct: the boundaries are 0..n and the sums are already the curve
    return sums if k.size == sums.size else sums[k]


def build_curve(
    outcome: npt.ArrayLike,
    score: npt.ArrayLike,
    treatment: npt.ArrayLike,
    *,
    conversions: npt.ArrayLike | None = None,
    cost: npt.ArrayLike | None = None,
) -> Curve:
    """Build the :class:`Curve` of ``score`` on the experiment (``outcome``, ``treatment`` 0/1).

    Users are ranked by score descending, or by score per unit of cost when per-user ``cost`` (> 0) is
    given; ties keep row order (a stable argsort). ``conversions`` (0/1) adds incremental conversions.
    Cumulative sums are read at the tie-group boundaries.
    """
    outcome = as_float_array("outcome", outcome, "fill or drop those users")
    n = outcome.shape[0]
    treatment = as_binary("treatment", treatment, "map the treated label to 1 and the control label to 0")
    converted = None
    if conversions is not None:
        converted = as_binary("conversions", conversions, "pass converted as 0/1 (or bool)")
    key, costs = targeting_key(score, cost)
    check_lengths(n, score=key, treatment=treatment, conversions=converted)
    check_both_arms(int(np.count_nonzero(treatment)), n)

    order = np.argsort(-key, kind="stable")
    ranked_key = key[order]
    # a boundary closes each tie group: k = [0, ends of groups..., n]
    k = np.concatenate([[0], np.flatnonzero(ranked_key[1:] != ranked_key[:-1]) + 1, [n]]).astype(np.int64)
    del ranked_key
    treated = treatment[order].astype(np.bool_, copy=False)
    n_t = _cumulative_at(treated, k)
    values = outcome[order]
    treated_values = values * treated
    # y - y*t is exact (y or 0), so the control part needs no second mask
    control_values = values - treated_values
    del values
    sum_t, sum_c = _cumulative_at(treated_values, k), _cumulative_at(control_values, k)
    sumsq_t = _cumulative_at(np.square(treated_values, out=treated_values), k)
    sumsq_c = _cumulative_at(np.square(control_values, out=control_values), k)
    del treated_values, control_values
    conv_t = conv_c = None
    if converted is not None:
        bought = converted[order].astype(np.bool_)
        conv_t = _cumulative_at((bought & treated).astype(np.int64), k).astype(np.float64)
        conv_c = _cumulative_at((bought & ~treated).astype(np.int64), k).astype(np.float64)
    cum_cost = None if costs is None else _cumulative_at(costs[order], k)
    n_c = k - n_t
    arrays = (k, n_t, n_c, sum_t, sum_c, sumsq_t, sumsq_c, conv_t, conv_c, cum_cost)
    for array in arrays:
        if array is not None:
            array.flags.writeable = False
    return Curve(*arrays)

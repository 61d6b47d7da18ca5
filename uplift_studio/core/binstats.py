"""Mergeable per-score-bin sufficient statistics: curves of data that does not fit one machine.

Every figure we report is a sum over users, so a strategy's curve can be built from, per score bin and arm,
the count and the sums (and sums of squares) of conversions, revenue and cost. Bins are quantiles of the
score (1,024 by default, their edges fixed before the pass), so a tie group never straddles two bins and the
binned curve is exact at every bin edge and linear between them, as the exact curve is between tie groups.
Tables merge by addition: the same reducer runs over one machine's batches and over a cluster's partitions.

Sums are kept as integers on a fixed-point grid (revenue and cost to 2^-20, their squares to 2^-10, counts
and conversions exactly), so that addition is associative: the statistics are identical bit for bit
whatever the batches, partitions or order in which they are added. The grid is far below a cent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from uplift_studio.core.curve import Curve
from uplift_studio.core.errors import DataError

DEFAULT_BINS = 1024
STATS = ("users", "conversions", "revenue", "revenue_sq", "cost", "cost_sq")
_SCALE = np.array([1.0, 1.0, 2.0**20, 2.0**10, 2.0**20, 2.0**10])
# float64 adds integers exactly below 2**53: a bincount's partial sums must stay under it
_EXACT = 2.0**53
_LIMIT = 2.0**62


def quantile_edges(keys: np.ndarray, n_bins: int = DEFAULT_BINS) -> np.ndarray:
    """Ascending interior cut points at the ``n_bins``-quantiles of ``keys`` (repeated cuts merged)."""
    keys = np.asarray(keys, dtype=np.float64)
    if keys.size == 0:
        raise DataError("no scores to place the bin edges; the sample is empty.")
    if n_bins < 1:
        raise DataError(f"the number of bins must be at least 1, got {n_bins}.")
    inner = np.quantile(keys, np.linspace(0.0, 1.0, n_bins + 1)[1:-1], method="inverted_cdf")
    return np.unique(inner)


def bin_index(keys: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each key in targeting order: 0 holds the highest keys. Equal keys share a bin."""
    ascending = np.searchsorted(edges, np.asarray(keys, dtype=np.float64), side="right")
    return edges.size - ascending


def _fixed_point(values: np.ndarray, column: int) -> np.ndarray:
    scaled = np.rint(np.asarray(values, dtype=np.float64) * _SCALE[column])
    if float(np.abs(scaled).sum()) >= _LIMIT:
        raise DataError(f"{STATS[column]} values are too large to sum exactly; express them in thousands.")
    return scaled


def _exact_bincount(bins: np.ndarray, weights: np.ndarray, n_bins: int) -> np.ndarray:
    """``np.bincount`` of integer-valued weights, summed exactly: in pieces whose sums stay below 2**53."""
    largest = float(np.max(np.abs(weights))) if weights.size else 0.0
    piece = bins.size if largest == 0 else max(1, int(_EXACT // (largest * 2.0)))
    total = np.zeros(n_bins, dtype=np.int64)
    for start in range(0, bins.size, piece):
        part = np.bincount(bins[start : start + piece], weights[start : start + piece], minlength=n_bins)
        total += part.astype(np.int64)
    return total


@dataclass(frozen=True, eq=False)
class BinTable:
    """Per bin (targeting order) and arm (0 control, 1 treated), the integer sums of :data:`STATS`."""

    edges: np.ndarray  # ascending interior cut points of the key
    sums: np.ndarray  # int64, shape (bins, 2, len(STATS))

    @classmethod
    def empty(cls, edges: np.ndarray) -> BinTable:
        return cls(edges=edges, sums=np.zeros((edges.size + 1, 2, len(STATS)), dtype=np.int64))

    def __add__(self, other: BinTable) -> BinTable:
        if self.edges.shape != other.edges.shape or not np.array_equal(self.edges, other.edges):
            raise DataError("bin tables with different edges cannot be merged; fix the edges before the pass.")
        if float(np.abs(self.sums).max(initial=0)) + float(np.abs(other.sums).max(initial=0)) >= _LIMIT:
            raise DataError("the merged sums are too large to hold exactly; express revenue in thousands.")
        return BinTable(edges=self.edges, sums=self.sums + other.sums)

    def equals(self, other: BinTable) -> bool:
        return np.array_equal(self.edges, other.edges) and np.array_equal(self.sums, other.sums)

    @property
    def users(self) -> int:
        return int(self.sums[:, :, 0].sum())

    def as_float(self) -> np.ndarray:
        """The sums in their own units (float64), same shape as ``sums``."""
        return self.sums.astype(np.float64) / _SCALE


def accumulate(
    keys: np.ndarray,
    edges: np.ndarray,
    treatment: np.ndarray,
    converted: np.ndarray,
    revenue: np.ndarray,
    cost: np.ndarray | None = None,
) -> BinTable:
    """One batch's table: every user's statistics added into their key's bin and their arm."""
    n_bins = edges.size + 1
    cells = n_bins * 2
    cell = bin_index(keys, edges) * 2 + np.asarray(treatment, dtype=np.int64)
    sums = np.zeros((cells, len(STATS)), dtype=np.int64)
    sums[:, 0] = np.bincount(cell, minlength=cells)
    sums[:, 1] = _exact_bincount(cell, np.asarray(converted, dtype=np.float64), cells)
    money = [(2, np.asarray(revenue, dtype=np.float64))]
    if cost is not None:  # without per-user costs the cost columns stay 0: spend is contacts times one cost
        money.append((4, np.asarray(cost, dtype=np.float64)))
    for column, values in money:
        sums[:, column] = _exact_bincount(cell, _fixed_point(values, column), cells)
        sums[:, column + 1] = _exact_bincount(cell, _fixed_point(values * values, column + 1), cells)
    return BinTable(edges=edges, sums=sums.reshape(n_bins, 2, len(STATS)))


def binned_curve(table: BinTable, *, per_user_cost: bool = False) -> Curve:
    """The curve down the bins (targeting order); bins without users are skipped. Exact at bin edges."""
    sums = table.sums[table.sums[:, :, 0].sum(axis=1) > 0]
    cumulative = np.concatenate([np.zeros((1, 2, len(STATS)), dtype=np.int64), np.cumsum(sums, axis=0)])
    values = cumulative.astype(np.float64) / _SCALE
    n_c, n_t = cumulative[:, 0, 0], cumulative[:, 1, 0]
    return Curve(
        k=n_t + n_c,
        n_t=n_t,
        n_c=n_c,
        sum_t=values[:, 1, 2],
        sum_c=values[:, 0, 2],
        sumsq_t=values[:, 1, 3],
        sumsq_c=values[:, 0, 3],
        conv_t=values[:, 1, 1],
        conv_c=values[:, 0, 1],
        cum_cost=values[:, 0, 4] + values[:, 1, 4] if per_user_cost else None,
    )


def _arm_only(sums: np.ndarray, arm: int) -> np.ndarray:
    """Per-bin sums of one arm as rows of a two-arm table (the other arm empty)."""
    rows = np.zeros((sums.shape[0], 2, len(STATS)), dtype=np.int64)
    rows[:, arm] = sums
    return rows


def _chained(*blocks: np.ndarray) -> Curve:
    """The curve through blocks of tie groups (rows of a two-arm table) in the order given."""
    sums = np.concatenate(blocks)
    return binned_curve(BinTable(edges=np.zeros(sums.shape[0] - 1), sums=sums))


def perfect_binned_curves(outcomes: BinTable) -> tuple[Curve, Curve]:
    """The perfect uplift and Qini curves (:func:`uplift_studio.core.metrics.perfect_curves`) from a table
    keyed by :func:`outcome_keys`: responders in bins of their outcome, the last bin the users with outcome 0.

    Within a bin the outcome order is lost, so these are the exact curves at bin edges and linear between:
    the coefficients' normalisers are areas, and the interpolation changes them by a sliver of one bin.
    """
    responders, zeros = outcomes.sums[:-1], outcomes.sums[-1:]
    treated_responders = _arm_only(responders[:, 1], 1)  # bin 0 holds the largest outcomes: descending
    control_responders_ascending = _arm_only(responders[::-1, 0], 0)
    treated_zeros, control_zeros = _arm_only(zeros[:, 1], 1), _arm_only(zeros[:, 0], 0)
    # scikit-uplift's perfect uplift order: treated responders, control non-responders, then whichever of
    # control responders and treated non-responders is the larger group, the other last
    if int(responders[:, 0, 0].sum()) > int(zeros[0, 1, 0]):
        tail = (control_responders_ascending, treated_zeros)
    else:
        tail = (treated_zeros, control_responders_ascending)
    uplift = _chained(treated_responders, control_zeros, *tail)
    # the Qini order y * (2t - 1): treated by outcome descending, every zero one tie group, control last
    qini = _chained(treated_responders, zeros, control_responders_ascending)
    return uplift, qini


def outcome_keys(outcome: np.ndarray) -> np.ndarray:
    """Keys of the outcome table: a responder keeps its outcome; a zero goes below every edge (the last bin)."""
    outcome = np.asarray(outcome, dtype=np.float64)
    return np.where(outcome > 0, outcome, -1.0)


def outcome_edges(positive_outcomes: np.ndarray, n_bins: int = DEFAULT_BINS) -> np.ndarray:
    """Edges of the outcome table: quantiles of the responders' outcomes, and one cut below them for zeros."""
    positive = np.asarray(positive_outcomes, dtype=np.float64)
    positive = positive[positive > 0]
    inner = quantile_edges(positive, n_bins) if positive.size else np.empty(0)
    return np.concatenate([[0.0], inner])

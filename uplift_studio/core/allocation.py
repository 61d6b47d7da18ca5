r"""Who gets which offer under a budget: the multi-offer allocation path (issue 12, design section 8).

The algorithm of grf-labs' maq (Sverdrup, Wu, Athey and Wager, "Qini curves for multi-armed treatment
rules", 2024), vectorised over users. For each user, the upper-left convex hull of its offers in the
(expected cost, expected incremental revenue) plane, starting from "no offer" at (0, 0): offers with a
non-positive value, and offers dominated by a cheaper one or lying under the hull, are dropped. Each hull
edge is a *step* (give that user the next offer up its hull) with a slope, its incremental revenue per
incremental dollar; a user's slopes decrease along its hull. All steps of all users are sorted once by
slope, descending, and the path is the cumulative spend and value down that order: at any budget it says
who gets which offer. Its value at a step boundary is the optimum of the linear relaxation of the
multiple-choice knapsack (each user gets at most one offer, fractions allowed) at that spend, and it is
linear between (tests/core/test_offers_allocation.py checks it against ``scipy.optimize.linprog``).

Steps with equal slopes form one tie group, and reads exist only at tie-group boundaries, as on a
single-offer curve, so the evaluation cannot gain from the order of equal slopes. Once the profitable
steps are used up, the path goes on, like every single-offer curve, to the users that no offer helps: each
gets the offer that loses least per dollar (``value / cost`` highest), in that order. With one offer the
path is then exactly today's ranking by score per unit of cost.

No Python loop runs over users; the loops run over the K offers and their K (K - 1) / 2 pairs. Each user's
offers are put in cost order (one small sort per row), and an offer is a hull corner iff it lies strictly
above every chord between a cheaper point (the origin included) and a costlier one: iff every slope into it
exceeds the steepest slope out of it, a fixed number of comparisons of (n,) arrays. The one sort of all
steps is :func:`stable_order` (an ``np.sort`` of packed int64 words, exact, in user order on ties), and
every step array is gathered once from it (``benchmarks/bench_offers.py``: 1.5x to 1.7x one ``np.argsort``
of the slopes for 1,000,000 users x 4 offers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from uplift_studio.core.errors import DataError

NO_OFFER = -1


@dataclass(frozen=True, eq=False)
class Steps:
    """Moves in targeting order, each giving ``user`` the offer ``after`` in place of ``before``
    (:data:`NO_OFFER` for a first contact), and ``ends``: the step counts at tie-group boundaries
    (``ends[0] = 0``, ``ends[-1]`` = every step). ``profitable`` counts the steps of positive slope;
    ``cost_step`` and ``value_step`` are the allocation's own extra expected cost and value per step."""

    user: np.ndarray
    before: np.ndarray
    after: np.ndarray
    slope: np.ndarray
    ends: np.ndarray
    n_users: int
    n_offers: int
    profitable: int
    cost_step: np.ndarray | None = None
    value_step: np.ndarray | None = None

    def __post_init__(self) -> None:
        for array in (self.user, self.before, self.after, self.slope, self.ends, self.cost_step, self.value_step):
            if array is not None:
                array.flags.writeable = False

    @property
    def size(self) -> int:
        return int(self.user.size)

    def deltas(self, per_offer: np.ndarray) -> np.ndarray:
        """Per step, the change of a per-user, per-offer quantity (an (n, K) array; no offer counts 0)."""
        # a trailing 0 stands for "no offer", so a first contact subtracts it and no step needs a mask
        flat = np.append(per_offer.reshape(-1), 0.0)
        base = self.user.astype(np.int64) * self.n_offers
        previous = np.where(self.before == NO_OFFER, flat.size - 1, base + self.before)
        return flat[base + self.after] - flat[previous]

    def cumulative(self, per_step: np.ndarray) -> np.ndarray:
        """Cumulative sums of a per-step quantity at the tie-group boundaries (0 first)."""
        sums = np.empty(per_step.size + 1, dtype=np.result_type(per_step.dtype, np.float64))
        sums[0] = 0.0
        np.cumsum(per_step, out=sums[1:])
        return sums[self.ends]

    def contacts(self) -> np.ndarray:
        """Users holding an offer at each boundary (an upgrade adds none)."""
        first = self.before == NO_OFFER
        sums = np.zeros(first.size + 1, dtype=np.int64)
        np.cumsum(first, out=sums[1:])
        return sums[self.ends]

    def mix(self) -> np.ndarray:
        """Users holding each offer at each boundary: an (boundaries, K) array of counts."""
        counts = np.zeros((self.size + 1, self.n_offers), dtype=np.int32)
        rows = np.arange(1, self.size + 1)
        counts[rows, self.after] = 1
        upgrade = self.before != NO_OFFER
        counts[rows[upgrade], self.before[upgrade]] = -1
        return np.cumsum(counts, axis=0, out=counts)[self.ends]

    def per_user(self, per_offer: np.ndarray, group: int, weight: float) -> np.ndarray:
        """Each user's value of a per-offer quantity after the first ``group`` tie groups and ``weight`` of the
        next (the telescoping sum of its steps: the value of the offer it holds, 0 without one)."""
        full = int(self.ends[group])
        change = self.deltas(per_offer)
        totals = np.bincount(self.user[:full], weights=change[:full], minlength=self.n_users)
        if weight > 0 and group + 1 < self.ends.size:
            stop = int(self.ends[group + 1])
            totals += weight * np.bincount(self.user[full:stop], weights=change[full:stop], minlength=self.n_users)
        return totals

    def assigned(self, group: int) -> np.ndarray:
        """The offer each user holds after the first ``group`` tie groups (:data:`NO_OFFER` without one)."""
        full = int(self.ends[group])
        holding = np.full(self.n_users, NO_OFFER, dtype=np.int64)
        # a user's steps climb its hull, so its last step so far names its offer
        last = np.full(self.n_users, -1, dtype=np.int64)
        np.maximum.at(last, self.user[:full], np.arange(full))
        has = last >= 0
        holding[has] = self.after[last[has]]
        return holding


def _checked(value: npt.ArrayLike, cost: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    values = np.asarray(value, dtype=np.float64)
    costs = np.asarray(cost, dtype=np.float64)
    if values.ndim != 2 or values.shape != costs.shape or values.shape[1] == 0:
        raise DataError(
            f"value and cost must be (users, offers) arrays of one shape; got {values.shape} and {costs.shape}."
        )
    if not (np.all(np.isfinite(values)) and np.all(np.isfinite(costs))):
        raise DataError("value and cost must be finite for every user and offer; score every user first.")
    if np.any(costs <= 0):
        raise DataError("every offer's expected cost must be > 0 (a contact always costs something).")
    if values.shape[1] > 127:
        raise DataError(f"at most 127 offers can be allocated; got {values.shape[1]}.")
    return values, costs


def _corners(values: np.ndarray, costs: np.ndarray) -> tuple[np.ndarray, ...]:
    """Each user's hull, as (K, n) arrays whose row q is every user's q-th cheapest offer (equal costs by offer
    index): whether it is a hull corner, the offer, the corner before it (:data:`NO_OFFER`: the origin), and
    the edge's slope, extra cost and extra value (meaningful only at corners)."""
    n, k = values.shape
    if k == 1:
        cost_at, value_at, offer = costs.T, values.T, np.zeros((1, n), dtype=np.int8)
    else:
        by_cost = np.argsort(costs, axis=1, kind="stable")
        cost_at = np.take_along_axis(costs, by_cost, 1).T.copy()
        value_at = np.take_along_axis(values, by_cost, 1).T.copy()
        offer = by_cost.T.astype(np.int8)
        del by_cost
    corner = np.empty((k, n), dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        # chord[p, q]: the slope from place p to a costlier place q; an equal cost gives +inf (q is better,
        # so p is no corner), -inf (q is worse) or NaN (the same point: only the first can be a corner)
        chord = {(p, q): (value_at[q] - value_at[p]) / (cost_at[q] - cost_at[p]) for q in range(k) for p in range(q)}
        # the steepest way on from each place, and at least 0: past the best offer the hull is flat
        onward = np.zeros((k, n))
        for (p, _), slope in chord.items():
            np.fmax(onward[p], slope, out=onward[p])
        # q is a corner iff it lies strictly above every chord from a cheaper point (the origin included) to a
        # costlier one: every slope into q exceeds the steepest slope out of it; strict, so collinear points
        # and ties with the flat tail give no step (NaN compares False)
        for q in range(k):
            np.greater(value_at[q] / cost_at[q], onward[q], out=corner[q])
            for p in range(q):
                corner[q] &= chord[p, q] > onward[q]
    del chord, onward
    before = np.empty((k, n), dtype=np.int8)
    run, rise = np.empty((k, n)), np.empty((k, n))
    last_cost, last_value = np.zeros(n), np.zeros(n)
    last_offer = np.full(n, NO_OFFER, dtype=np.int8)
    for q in range(k):
        # the corners' own numbers and the chord's formula, so that equal slopes are exactly equal and the
        # slope into a corner is the one its test compared
        np.subtract(cost_at[q], last_cost, out=run[q])
        np.subtract(value_at[q], last_value, out=rise[q])
        before[q] = last_offer
        np.copyto(last_cost, cost_at[q], where=corner[q])
        np.copyto(last_value, value_at[q], where=corner[q])
        np.copyto(last_offer, offer[q], where=corner[q])
    with np.errstate(divide="ignore", invalid="ignore"):  # a place that is no corner may cost no more
        slope = np.divide(rise, run)
    return corner, offer, before, slope, run, rise


def hull(value: npt.ArrayLike, cost: npt.ArrayLike) -> tuple[np.ndarray, ...]:
    """Per user, its hull's offers in order (an (n, K) int8 array padded with :data:`NO_OFFER`), the slope of
    each hull edge (NaN padded), and each edge's extra cost and extra value (0 padded)."""
    values, costs = _checked(value, cost)
    n, k = values.shape
    offers = np.full((n, k), NO_OFFER, dtype=np.int8)
    slopes = np.full((n, k), np.nan)
    runs, rises = np.zeros((n, k)), np.zeros((n, k))
    edge = np.zeros(n, dtype=np.int64)
    for corner, offer, _, slope, run, rise in zip(*_corners(values, costs), strict=True):
        users = np.flatnonzero(corner)
        at = users, edge[users]
        offers[at], slopes[at], runs[at], rises[at] = offer[users], slope[users], run[users], rise[users]
        edge += corner
    return offers, slopes, runs, rises


def stable_order(key: np.ndarray) -> np.ndarray:
    """The positions of a float64 ``key`` in ascending order, equal keys by position: what
    ``np.argsort(key, kind="stable")`` gives, from one ``np.sort`` of int64 words instead.

    Each word is the key's order-preserving bits with the low bits replaced by the position, so the sort is
    of distinct plain integers (vectorised, several times faster than an argsort, which follows every index
    to its key). Keys that the dropped bits cannot tell apart land next to each other, and only those runs
    are re-sorted exactly: a handful unless keys differ by less than about 2**(shift - 52) of their size.
    """
    m = key.size
    if m == 0:
        return np.zeros(0, dtype=np.int64)
    shift = max((m - 1).bit_length(), 1)
    low = (1 << shift) - 1
    words = np.add(key, 0.0).view(np.int64)  # + 0.0 makes -0.0 the 0.0 it equals
    # a negative float's bits order backwards: flip all but the sign, and the int64 order is the float order
    words ^= (words >> 63) & np.int64(0x7FFF_FFFF_FFFF_FFFF)
    words &= ~low
    words |= np.arange(m, dtype=np.int64)
    words.sort()
    position = words & low
    words >>= shift
    same = words[1:] == words[:-1]
    if same.any():
        shared = np.zeros(m, dtype=bool)
        shared[1:] = same
        shared[:-1] |= same
        at = np.flatnonzero(shared)
        # runs numbered among their members only: a run starts where a member does not match the one before
        joins = np.zeros(at.size, dtype=bool)
        joins[at > 0] = same[at[at > 0] - 1]
        run = np.cumsum(~joins)
        position[at] = position[at[np.lexsort((position[at], key[position[at]], run))]]
    return position


def allocation_steps(value: npt.ArrayLike, cost: npt.ArrayLike) -> Steps:
    """The allocation path's steps for expected incremental ``value`` and expected ``cost`` per user and
    offer ((n, K) arrays, costs > 0): every hull step sorted once by slope, then the users no offer helps.

    Within a tie group steps are in user order; a user's own steps cannot tie (its hull's slopes strictly
    fall), so they stay in hull order.
    """
    values, costs = _checked(value, cost)
    n, k = values.shape
    corner, offer, before, slope, run, rise = _corners(values, costs)
    profitable = int(np.count_nonzero(corner))
    # users with no profitable offer get one step, in their empty cheapest place: the offer that loses least
    # per dollar (the cheapest on a tie)
    left = np.flatnonzero(~corner.any(axis=0))
    if left.size:
        ratio = values[left] / costs[left]
        least_bad = np.where(ratio == ratio.max(axis=1, keepdims=True), -costs[left], -np.inf).argmax(axis=1)
        picked = np.arange(left.size), least_bad
        slope[0, left], run[0, left], rise[0, left] = ratio[picked], costs[left][picked], values[left][picked]
        offer[0, left], before[0, left], corner[0, left] = least_bad, NO_OFFER, True
    # steps numbered user by user (cell = user * K + place), so the sort's tie-break is the user
    key = np.empty((n, k))
    np.negative(slope.T, out=key)
    key = key.reshape(-1)
    cells = None if profitable == corner.size else np.flatnonzero(corner.T)
    order = stable_order(key if cells is None else key[cells])  # one sort of every step, descending
    del key
    cell = order if cells is None else np.take(cells, order)
    del order, cells
    user, cell = np.divmod(cell, k)
    # the (K, n) arrays' index of each step: place * n + user
    cell *= n
    cell += user
    if n < 2**31:
        user = user.astype(np.int32)
    # each (K, n) array is let go once its steps are read, so the peak holds one copy of each, not two
    step_slope = np.take(slope.reshape(-1), cell)
    del slope
    cost_step = np.take(run.reshape(-1), cell)
    del run
    value_step = np.take(rise.reshape(-1), cell)
    del rise
    breaks = np.flatnonzero(step_slope[1:] != step_slope[:-1])
    ends = np.empty(breaks.size + 2, dtype=np.int64)
    ends[0], ends[-1] = 0, step_slope.size
    np.add(breaks, 1, out=ends[1:-1])
    return Steps(
        user=user,
        before=np.take(before.reshape(-1), cell),
        after=np.take(offer.reshape(-1), cell),
        slope=step_slope,
        ends=ends,
        n_users=n,
        n_offers=k,
        profitable=profitable,
        cost_step=cost_step,
        value_step=value_step,
    )


def ranking_steps(key: npt.ArrayLike, offer: npt.ArrayLike, n_offers: int, *, ties: bool = True) -> Steps:
    """Steps of a one-offer-per-user ranking: users by ``key`` descending, each given ``offer`` (one index,
    or one per user). Equal keys form a tie group when ``ties`` (a score), else every user is its own step
    (a random order)."""
    keys = np.asarray(key, dtype=np.float64)
    n = keys.size
    offers = np.broadcast_to(np.asarray(offer, dtype=np.int64), (n,))
    order = np.argsort(-keys, kind="stable")
    ranked = keys[order]
    if ties:
        ends = np.concatenate([[0], np.flatnonzero(ranked[1:] != ranked[:-1]) + 1, [n]]).astype(np.int64)
    else:
        ends = np.arange(n + 1, dtype=np.int64)
    return Steps(
        user=order,
        before=np.full(n, NO_OFFER, dtype=np.int8),
        after=np.ascontiguousarray(offers[order]).astype(np.int8),
        slope=ranked,
        ends=ends,
        n_users=n,
        n_offers=int(n_offers),
        profitable=int(np.count_nonzero(ranked > 0)),
    )

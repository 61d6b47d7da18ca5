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

The hull is found by gift wrapping from the origin: at most K rounds over an (n, K) array, each taking,
for every user at once, the offer of steepest positive slope from the current point (the farthest on a
tie, so collinear offers add no step). No Python loop runs over users.
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
    return values, costs


def hull(value: npt.ArrayLike, cost: npt.ArrayLike) -> tuple[np.ndarray, ...]:
    """Per user, its hull's offers in order (an (n, K) int8 array padded with :data:`NO_OFFER`), the slope of
    each hull edge (NaN padded), and each edge's extra cost and extra value (0 padded)."""
    values, costs = _checked(value, cost)
    n, k = values.shape
    if k > 127:
        raise DataError(f"at most 127 offers can be allocated; got {k}.")
    offers = np.full((n, k), NO_OFFER, dtype=np.int8)
    slopes = np.full((n, k), np.nan)
    runs, rises = np.zeros((n, k)), np.zeros((n, k))
    # offers as rows of contiguous user arrays: with K small, K passes over users beat reductions along a
    # K-long axis (numpy's per-row overhead made those most of the time)
    by_offer_value, by_offer_cost = np.ascontiguousarray(values.T), np.ascontiguousarray(costs.T)
    current_cost, current_value = np.zeros(n), np.zeros(n)
    live = np.arange(n)
    live_values, live_costs = by_offer_value, by_offer_cost
    for edge in range(k):
        steepest = np.full(live.size, -np.inf)
        best = np.zeros(live.size, dtype=np.int8)
        best_cost = np.zeros(live.size)
        run_of, rise_of = np.zeros(live.size), np.zeros(live.size)
        for offer in range(k):
            rise = live_values[offer] - current_value
            run = live_costs[offer] - current_cost
            # only up and to the right: a positive gain for a positive extra cost
            with np.errstate(divide="ignore", invalid="ignore"):
                slope = np.where((rise > 0) & (run > 0), rise / run, -np.inf)
            # steeper wins; on a tie the farther offer, since the nearer collinear one is no corner of the hull
            wins = (slope > steepest) | ((slope == steepest) & (live_costs[offer] > best_cost) & (slope > -np.inf))
            steepest = np.where(wins, slope, steepest)
            best = np.where(wins, np.int8(offer), best)
            best_cost = np.where(wins, live_costs[offer], best_cost)
            run_of, rise_of = np.where(wins, run, run_of), np.where(wins, rise, rise_of)
        moves = steepest > -np.inf
        if not moves.any():
            break
        if moves.all():
            chosen = live
        else:
            chosen, best, steepest = live[moves], best[moves], steepest[moves]
            run_of, rise_of, best_cost = run_of[moves], rise_of[moves], best_cost[moves]
        offers[chosen, edge] = best
        slopes[chosen, edge] = steepest
        runs[chosen, edge] = run_of
        rises[chosen, edge] = rise_of
        # the corners' own numbers, not sums of differences, so that equal slopes stay exactly equal
        current_cost, current_value = best_cost, values[chosen, best]
        if chosen.size < live.size:  # users whose hull is complete drop out of the next rounds
            live = chosen
            live_values, live_costs = by_offer_value[:, chosen], by_offer_cost[:, chosen]
    return offers, slopes, runs, rises


def allocation_steps(value: npt.ArrayLike, cost: npt.ArrayLike) -> Steps:
    """The allocation path's steps for expected incremental ``value`` and expected ``cost`` per user and
    offer ((n, K) arrays, costs > 0): every hull step sorted once by slope, then the users no offer helps."""
    values, costs = _checked(value, cost)
    offers, slopes, runs, rises = hull(values, costs)
    n, k = values.shape
    index = np.int32 if n < 2**31 else np.int64
    previous = np.full_like(offers, NO_OFFER)
    previous[:, 1:] = offers[:, :-1]
    on_hull = offers != NO_OFFER
    if on_hull.all():  # every offer a corner: the flat views are the steps
        users = np.repeat(np.arange(n, dtype=index), k)
        after, before, slope = offers.reshape(-1), previous.reshape(-1), slopes.reshape(-1)
        run, rise = runs.reshape(-1), rises.reshape(-1)
    else:
        cells = np.flatnonzero(on_hull)
        users = (cells // k).astype(index)
        after, before, slope = offers.reshape(-1)[cells], previous.reshape(-1)[cells], slopes.reshape(-1)[cells]
        run, rise = runs.reshape(-1)[cells], rises.reshape(-1)[cells]
    profitable = int(slope.size)

    # users with no profitable offer: the one that loses least per dollar
    left = np.flatnonzero(~on_hull[:, 0])
    if left.size:
        ratio = values[left] / costs[left]
        least_bad = np.where(ratio == ratio.max(axis=1, keepdims=True), -costs[left], -np.inf).argmax(axis=1)
        picked = np.arange(left.size), least_bad
        users = np.concatenate([users, left.astype(index)])
        after = np.concatenate([after, least_bad.astype(np.int8)])
        before = np.concatenate([before, np.full(left.size, NO_OFFER, dtype=np.int8)])
        slope = np.concatenate([slope, ratio[picked]])
        run = np.concatenate([run, costs[left][picked]])
        rise = np.concatenate([rise, values[left][picked]])
    # one sort of every step, descending; a user's own steps cannot tie (its hull's slopes strictly fall),
    # so their order survives any sort
    order = np.argsort(slope)[::-1]
    slope = slope[order]
    ends = np.concatenate([[0], np.flatnonzero(slope[1:] != slope[:-1]) + 1, [slope.size]]).astype(np.int64)
    return Steps(
        user=users[order],
        before=before[order],
        after=after[order],
        slope=slope,
        ends=ends,
        n_users=n,
        n_offers=k,
        profitable=profitable,
        cost_step=run[order],
        value_step=rise[order],
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

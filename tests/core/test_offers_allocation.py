"""The allocation path (issue 12): exact against the linear relaxation solved by linprog, ties and dominated
offers by hand, one offer reduces to today's single-offer curve exactly, and it reads like any spend path."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
from scipy.optimize import linprog

from uplift_studio.core import budget as budget_math
from uplift_studio.core.allocation import NO_OFFER, allocation_steps, hull, ranking_steps, stable_order
from uplift_studio.core.curve import build_curve
from uplift_studio.core.errors import DataError
from uplift_studio.core.offers_eval import arm_scores, evaluate_steps, read_at_spend
from uplift_studio.core.path import curve_path


def _path(value, cost):
    steps = allocation_steps(value, cost)
    spend = steps.cumulative(steps.deltas(np.asarray(cost, dtype=float)))
    gain = steps.cumulative(steps.deltas(np.asarray(value, dtype=float)))
    profitable = int(np.searchsorted(steps.ends, steps.profitable))
    return steps, spend[: profitable + 1], gain[: profitable + 1]


def _lp_optimum(value, cost, budget):
    """max sum v x subject to sum c x <= budget, sum_k x_ik <= 1, 0 <= x <= 1 (the knapsack's relaxation)."""
    n, k = value.shape
    constraints = np.vstack([cost.ravel(), np.kron(np.eye(n), np.ones(k))])
    solved = linprog(-value.ravel(), A_ub=constraints, b_ub=np.r_[budget, np.ones(n)], bounds=(0, 1), method="highs")
    assert solved.status == 0
    return -solved.fun


@pytest.mark.parametrize("seed", range(60))
def test_the_path_is_the_linear_relaxations_optimum_at_every_budget(seed):
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(1, 9)), int(rng.integers(1, 4))
    if seed % 3 == 0:  # small integers: many ties in cost, value and slope
        value = rng.integers(-3, 6, (n, k)).astype(float)
        cost = rng.integers(1, 4, (n, k)).astype(float)
    else:
        value, cost = rng.normal(1.0, 2.0, (n, k)), rng.uniform(0.1, 3.0, (n, k))
    _, spend, gain = _path(value, cost)
    top = spend[-1]
    for budget in np.r_[np.linspace(0.0, top, 13)[1:], top * 1.5, rng.uniform(0, top, 5)]:
        # beyond the profitable steps the relaxation keeps its best value: the path's last profitable point
        assert np.interp(budget, spend, gain) == pytest.approx(_lp_optimum(value, cost, budget), abs=1e-9)


def test_dominated_non_positive_and_under_the_hull_offers_are_dropped():
    # offers (cost, value): A (1, 2); B (2, 1) dominated by A; C (3, 3.5) under the line from A to D;
    # D (4, 5); E (5, -1) non-positive
    value = np.array([[2.0, 1.0, 3.5, 5.0, -1.0]])
    cost = np.array([[1.0, 2.0, 3.0, 4.0, 5.0]])
    offers, slopes, *_ = hull(value, cost)
    assert offers[0].tolist() == [0, 3, NO_OFFER, NO_OFFER, NO_OFFER]
    assert slopes[0, :2].tolist() == [2.0, 1.0]


def test_collinear_and_equal_offers_give_one_step():
    # B lies on the segment from the origin to C: one step straight to C; D equals C: not a second step
    offers, slopes, *_ = hull(np.array([[1.0, 2.0, 2.0]]), np.array([[1.0, 2.0, 2.0]]))
    assert offers[0, 0] in (1, 2) and offers[0, 1] == NO_OFFER
    assert slopes[0, 0] == 1.0


def test_ties_across_users_form_one_tie_group():
    # two users whose only steps have slope 2: one group, so no order between them is ever read
    steps = allocation_steps(np.array([[2.0], [4.0], [9.0]]), np.array([[1.0], [2.0], [3.0]]))
    assert steps.ends.tolist() == [0, 1, 3]
    assert steps.user[0] == 2


def test_users_no_offer_helps_come_last_by_least_loss_per_dollar():
    value = np.array([[-1.0, -3.0], [2.0, 1.0], [-2.0, -0.5]])
    cost = np.array([[1.0, 1.0], [1.0, 1.0], [1.0, 2.0]])
    steps = allocation_steps(value, cost)
    assert steps.profitable == 1
    assert steps.user.tolist() == [1, 2, 0]
    assert steps.after.tolist() == [0, 1, 0]  # user 2's least bad offer: -0.5 for $2


@pytest.mark.parametrize("per_user_cost", [False, True])
def test_one_offer_reduces_to_todays_single_offer_curve_exactly(per_user_cost):
    rng = np.random.default_rng(4)
    n = 500
    score = np.round(rng.normal(0.5, 2.0, n), 1)  # rounded: tie groups
    cost = rng.choice([0.5, 1.0, 2.0], n) if per_user_cost else np.ones(n)
    treatment = rng.integers(0, 2, n)
    converted = (rng.random(n) < 0.2).astype(int)
    revenue = converted * rng.gamma(2.0, 50.0, n)
    curve = build_curve(revenue, score, treatment, cost=cost if per_user_cost else None)
    today = curve_path("uplift", curve)

    steps = allocation_steps(score[:, None], cost[:, None])
    reference = ranking_steps(score / cost, 0, 1)
    # the same ranking, tie group for tie group
    assert steps.ends.tolist() == reference.ends.tolist() == curve.k.tolist()
    assert np.array_equal(np.sort(steps.user[: steps.ends[5]]), np.sort(reference.user[: reference.ends[5]]))
    scores = arm_scores(
        treatment, converted, revenue, np.array([0.5, 0.5]), np.array([1.0]), np.array([0.0]), method="ipw"
    )
    path = evaluate_steps("allocation", steps, scores, score[:, None], cost[:, None]).path
    assert np.array_equal(path.contacts, today.contacts)
    assert np.allclose(path.spend, today.spend, rtol=0, atol=1e-9)
    # the IPW value at a tie-group boundary is the IPW value of today's top-k users
    order = np.argsort(-(score / cost), kind="stable")
    ipw = np.concatenate([[0.0], np.cumsum(scores.value[order, 0])])[curve.k]
    assert np.allclose(path.value, ipw, rtol=0, atol=1e-9)
    # an offer path is read by spend: at any budget it holds today's curve read at that spend
    assert path.by_spend and not today.by_spend
    for budget in (20.0, 100.0, 333.0):
        mine = budget_math.at_budget(path, budget, population=n)
        point = today.at_spend(budget)  # a unit cost of 1: the spend axis is the budget's
        assert mine.spend == pytest.approx(budget) and mine.depth == pytest.approx(point.contacts)
        # (its value is the IPW value of today's top users, linear between the boundaries)
        assert mine.incremental_revenue == pytest.approx(np.interp(point.contacts, curve.k, ipw), abs=1e-9)
        # and projected by whole contacts, as today's single-offer paths are, it buys today's contacts
        whole = budget_math.at_budget(replace(path, by_spend=False), budget, population=n)
        theirs = budget_math.at_budget(today, budget, population=n, cost_per_contact=None if per_user_cost else 1.0)
        assert whole.contacts == theirs.contacts and whole.spend == pytest.approx(theirs.spend)


def test_the_allocation_is_a_spend_path_read_by_spend():
    value = np.array([[1.0, 3.0], [2.0, 2.5], [0.5, 0.6]])
    cost = np.array([[1.0, 2.0], [1.0, 3.0], [1.0, 1.5]])
    treatment = np.array([1, 2, 0])
    scores = arm_scores(
        treatment,
        np.array([1, 1, 0]),
        np.array([10.0, 20.0, 0.0]),
        np.array([0.4, 0.3, 0.3]),
        np.array([1.0, 1.0]),
        np.array([0.0, 0.0]),
        method="ipw",
    )
    offer_path = evaluate_steps("allocation", allocation_steps(value, cost), scores, value, cost)
    path = offer_path.path
    assert path.contacts[0] == 0 and path.spend[0] == 0
    assert np.all(np.diff(path.spend) > 0)
    # half-way through the first tie group, everything read is half-way too
    read = read_at_spend(offer_path, path.spend[1] / 2)
    assert read.expected_spend == pytest.approx(path.spend[1] / 2)
    assert read.value == pytest.approx(path.value[1] / 2)
    assert offer_path.mix[-1].sum() == 3


def test_bad_inputs_are_data_errors():
    with pytest.raises(DataError, match="expected cost must be > 0"):
        allocation_steps(np.ones((2, 2)), np.zeros((2, 2)))
    with pytest.raises(DataError, match="one shape"):
        allocation_steps(np.ones((2, 2)), np.ones((2, 3)))
    with pytest.raises(DataError, match="finite"):
        allocation_steps(np.array([[np.nan]]), np.ones((1, 1)))


def _reference_hull(value: np.ndarray, cost: np.ndarray) -> list[tuple[Fraction, Fraction]]:
    """One user's hull corners by hand, in exact arithmetic: offers by (cost, index), a chain from the origin
    that pops every corner not strictly above the line from the one before it to the next point, cut at the
    first offer of the highest value."""
    points = sorted((Fraction(c), Fraction(v), i) for i, (c, v) in enumerate(zip(cost, value, strict=True)))
    chain = [(Fraction(0), Fraction(0))]
    for c, v, _ in points:
        if c == chain[-1][0]:
            if len(chain) > 1 and v > chain[-1][1]:
                chain.pop()
            else:
                continue
        while len(chain) > 1:
            (c0, v0), (c1, v1) = chain[-2], chain[-1]
            if (v1 - v0) * (c - c1) > (v - v1) * (c1 - c0):  # strictly concave turn: keep
                break
            chain.pop()
        chain.append((c, v))
    best = max(v for _, v in chain)
    corners = chain[1 : 1 + [v for _, v in chain].index(best)]
    return [(c, v) for c, v in corners if v > 0]


@pytest.mark.parametrize("seed", range(40))
def test_the_hull_is_the_exact_upper_left_hull(seed):
    # small integers: equal costs, equal values, collinear offers and whole users that no offer helps
    rng = np.random.default_rng(seed)
    n, k = 30, int(rng.integers(1, 6))
    value = rng.integers(-2, 7, (n, k)).astype(float)
    cost = rng.integers(1, 5, (n, k)).astype(float)
    offers, slopes, runs, rises = hull(value, cost)
    for user in range(n):
        on = offers[user][offers[user] != NO_OFFER]
        expected = _reference_hull(value[user], cost[user])
        assert [(cost[user, o], value[user, o]) for o in on] == [(float(c), float(v)) for c, v in expected]
        assert np.all(np.diff(slopes[user, : on.size]) < 0)
        assert np.allclose(np.cumsum(runs[user, : on.size]), cost[user, on])
        assert np.allclose(np.cumsum(rises[user, : on.size]), value[user, on])


def test_steps_in_a_tie_group_are_in_user_order():
    rng = np.random.default_rng(3)
    value = rng.integers(1, 4, (200, 3)).astype(float)
    cost = rng.integers(1, 3, (200, 3)).astype(float)
    steps = allocation_steps(value, cost)
    groups = np.diff(steps.ends)
    assert groups.max() > 10  # the case this is about: many equal slopes
    for start, stop in zip(steps.ends[:-1], steps.ends[1:], strict=True):
        assert np.all(np.diff(steps.user[start:stop]) > 0)


@pytest.mark.parametrize("kind", ["normal", "within_the_dropped_bits", "signed_zeros_and_extremes", "rounded"])
def test_stable_order_is_a_stable_argsort(kind):
    rng = np.random.default_rng(11)
    for m in (1, 2, 7, 1000, 5000):
        if kind == "normal":
            key = rng.normal(size=m)
        elif kind == "within_the_dropped_bits":  # keys a few ulps apart: the packed words collide
            key = 1.0 + rng.integers(-50, 50, m) * np.finfo(float).eps
        elif kind == "signed_zeros_and_extremes":
            key = rng.choice([-0.0, 0.0, 1.0, -1.0, np.inf, -np.inf, 5e-324, -5e-324, 1e308, -1e308], m)
        else:
            key = np.round(rng.normal(size=m), 1) * rng.choice([1, -1], m)
        assert np.array_equal(stable_order(key), np.argsort(key, kind="stable"))
    assert stable_order(np.zeros(0)).size == 0

"""Projection to the campaign: exact budgets by hand, budgets never exceeded, edge cases, contact lists."""

from __future__ import annotations

import math

import numpy as np
import pytest

from uplift_studio.core import budget as bu
from uplift_studio.core import contacts as co
from uplift_studio.core.curve import build_curve, targeting_order
from uplift_studio.core.errors import DataError
from uplift_studio.core.path import SpendPath, curve_path
from uplift_studio.core.stats import Z95

# The 5-user experiment of test_evaluate: k = [0, 2, 5], U = [0, 0, 25/6], SE(5) = 5 sqrt(37) / 6; the first
# tie group (2 users) has no control user.

def path_of(*args, **kwargs) -> SpendPath:
    """The spend path of a single-offer ranking (the tie-group boundaries are its steps)."""
    return curve_path("test", build_curve(*args, **kwargs))


TWO_GROUPS = path_of(
    np.array([3.0, 1.0, 1.0, 0.0, 0.0]), np.array([2.0, 2.0, 1.0, 1.0, 1.0]), np.array([1, 1, 0, 1, 0])
)
SE_AT_5 = 5 * math.sqrt(37) / 6

# Per-user costs (test_evaluate): ranked by score per unit of cost, k = [0, 1, 3, 4], cum_cost = [0, 1, 4, 5],
# U = [0, 0, 6, 10].
WITH_COSTS = path_of(
    np.array([4.0, 2.0, 0.0, 1.0]),
    np.array([4.0, 3.0, 1.0, 2.0]),
    np.array([1, 1, 0, 0]),
    cost=np.array([2.0, 1.0, 1.0, 1.0]),
)


def random_curve(n: int, seed: int, *, per_user_cost: bool = False) -> SpendPath:
    rng = np.random.default_rng(seed)
    score = rng.random(n)
    treatment = rng.integers(0, 2, n)
    outcome = np.where(rng.random(n) < 0.1 + 0.2 * score * treatment, rng.gamma(4.0, 25.0, n), 0.0)
    cost = rng.uniform(0.5, 4.0, n) if per_user_cost else None
    return path_of(outcome, score, treatment, conversions=outcome > 0, cost=cost)


# ---------------------------------------------------------------------------------------------------------
# One cost per contact


def test_budget_with_one_cost_per_contact() -> None:
    # B = 3, c = 1, P = n = 5: 3 contacts, depth 3 = a third of the way from k = 2 to k = 5
    result = bu.at_budget(TWO_GROUPS, 3.0, cost_per_contact=1.0)
    assert (result.budget, result.contacts, result.spend, result.depth) == (3.0, 3, 3.0, 3.0)
    assert result.share_targeted == pytest.approx(0.6)
    assert result.incremental_revenue == pytest.approx(25 / 18)
    half_width = Z95 * SE_AT_5 / 3
    assert result.ci_low == pytest.approx(25 / 18 - half_width)
    assert result.ci_high == pytest.approx(25 / 18 + half_width)
    assert result.roi == pytest.approx(25 / 54)
    assert result.net == pytest.approx(25 / 18 - 3)
    assert result.incremental_conversions is None
    assert result.contacted_everyone is False


def test_population_scales_contacts_depth_and_revenue() -> None:
    # P = 10: each evaluation user stands for 2. B = 7, c = 1: 7 contacts, depth 3.5, U(3.5) = 25/12
    result = bu.at_budget(TWO_GROUPS, 7.0, cost_per_contact=1.0, population=10)
    assert (result.contacts, result.spend, result.depth) == (7, 7.0, 3.5)
    assert result.incremental_revenue == pytest.approx(2 * 25 / 12)
    assert result.ci_high - result.incremental_revenue == pytest.approx(2 * Z95 * SE_AT_5 / 2)
    assert result.roi == pytest.approx(25 / 6 / 7)
    # B = 7.5, c = 2: floor(3.75) = 3 contacts for 6
    result = bu.at_budget(TWO_GROUPS, 7.5, cost_per_contact=2.0, population=10)
    assert (result.contacts, result.spend, result.depth) == (3, 6.0, 1.5)
    assert result.incremental_revenue == 0.0  # inside the control-less first group


def test_a_budget_above_the_cost_of_everyone_contacts_everyone_and_says_so() -> None:
    result = bu.at_budget(TWO_GROUPS, 1_000.0, cost_per_contact=1.0, population=10)
    assert (result.contacts, result.spend, result.depth, result.share_targeted) == (10, 10.0, 5.0, 1.0)
    assert result.incremental_revenue == pytest.approx(2 * 25 / 6)
    assert result.contacted_everyone is True
    assert bu.at_budget(TWO_GROUPS, 10.0, cost_per_contact=1.0, population=10).contacted_everyone is True
    short = bu.at_budget(TWO_GROUPS, 9.99, cost_per_contact=1.0, population=10)
    assert (short.contacts, short.contacted_everyone) == (9, False)


def test_a_budget_below_one_contact_contacts_nobody() -> None:
    result = bu.at_budget(TWO_GROUPS, 0.5, cost_per_contact=1.0)
    assert (result.contacts, result.spend, result.incremental_revenue, result.net) == (0, 0.0, 0.0, 0.0)
    assert math.isnan(result.roi)


# ---------------------------------------------------------------------------------------------------------
# Per-user costs


def test_budget_with_per_user_costs() -> None:
    # B = 2.5: the spend reaches 2.5 half way through the tie group costing 1 -> 4, at depth 2
    result = bu.at_budget(WITH_COSTS, 2.5)
    assert (result.contacts, result.spend, result.depth) == (2, 2.5, 2.0)
    assert result.incremental_revenue == pytest.approx(3.0)  # U(2) half way from 0 to 6
    assert result.roi == pytest.approx(1.2) and result.net == pytest.approx(0.5)
    # B = 3 reaches depth 1 + 2 * (2/3): still 2 whole contacts, spending 2.5 of the 3
    result = bu.at_budget(WITH_COSTS, 3.0)
    assert (result.contacts, result.spend) == (2, 2.5)
    # P = 8: each evaluation user is 2 contacts and its cost counts twice; B = 5 -> depth 2, 4 contacts
    result = bu.at_budget(WITH_COSTS, 5.0, population=8)
    assert (result.contacts, result.spend, result.depth) == (4, 5.0, 2.0)
    assert result.incremental_revenue == pytest.approx(6.0)
    everyone = bu.at_budget(WITH_COSTS, 100.0)
    assert (everyone.contacts, everyone.spend, everyone.contacted_everyone) == (4, 5.0, True)
    assert everyone.incremental_revenue == pytest.approx(10.0)


def test_score_per_unit_of_cost_beats_score_at_the_same_budget() -> None:
    # 20 expensive users (score 10, cost 10, uplift 12 each) and 20 cheap ones (score 5, cost 1, uplift 6
    # each), half treated in each group. With $20, ranking by score buys 2 expensive users (U = 2 * 12 =
    # 24); ranking by score per dollar (1 vs 5) buys the 20 cheap ones (U = 20 * 6 = 120).
    treatment = np.tile([1, 0], 20)
    expensive = np.arange(40) < 20
    outcome = np.where(treatment == 1, np.where(expensive, 12.0, 6.0), 0.0)
    score = np.where(expensive, 10.0, 5.0)
    cost = np.where(expensive, 10.0, 1.0)
    per_dollar = path_of(outcome, score, treatment, cost=cost)
    # ranking by score alone, with the same per-user costs: score * cost / cost ranks like the score
    by_score = path_of(outcome, score * cost, treatment, cost=cost)
    smart = bu.at_budget(per_dollar, 20.0)
    naive = bu.at_budget(by_score, 20.0)
    assert smart.spend == naive.spend == 20.0
    assert (smart.contacts, naive.contacts) == (20, 2)
    assert smart.incremental_revenue == pytest.approx(120.0)
    assert naive.incremental_revenue == pytest.approx(24.0)
    assert smart.roi > naive.roi


# ---------------------------------------------------------------------------------------------------------
# Invariants


@pytest.mark.parametrize("per_user_cost", [False, True], ids=["one cost", "per-user costs"])
def test_a_budget_is_never_exceeded(per_user_cost: bool) -> None:
    curve = random_curve(1_000, seed=4, per_user_cost=per_user_cost)
    population = 1_234_567
    cost = None if per_user_cost else 1.7
    rng = np.random.default_rng(0)
    total = population * 1.7 if cost else curve.total_spend * population / curve.n
    budgets = np.concatenate([rng.uniform(0.01, 1.2 * total, 2_000), rng.uniform(0.01, 20.0, 200)])
    table = bu.frontier(curve, budgets, cost_per_contact=cost, population=population)
    spend, contacts = table["spend"].to_numpy(), table["contacts"].to_numpy()
    assert np.all(spend <= budgets)
    assert np.all((contacts >= 0) & (contacts <= population))
    if cost is not None:
        np.testing.assert_array_equal(contacts, np.minimum(population, np.floor(budgets / cost)))
    # the next contact would not fit (unless everyone is contacted)
    # (with per-user costs one more contact costs one evaluation user's cost, at most 4.0)
    assert np.all((contacts == population) | (spend + (cost or 4.0) > budgets))
    # the scalar read is the same projection
    for amount in budgets[:50]:
        one = bu.at_budget(curve, float(amount), cost_per_contact=cost, population=population)
        assert one.spend <= amount
        row = table.row(int(np.flatnonzero(budgets == amount)[0]), named=True)
        assert (one.contacts, one.spend) == (row["contacts"], row["spend"])
        assert one.incremental_revenue == pytest.approx(row["incremental_revenue"])


def test_incremental_conversions_are_projected_like_revenue() -> None:
    curve = random_curve(2_000, seed=6)
    result = bu.at_budget(curve, 1_500.0, cost_per_contact=1.0, population=4_000)
    # 1500 contacts of 4000 is depth 750 of 2000
    assert result.depth == 750.0
    assert result.incremental_conversions == pytest.approx(2 * curve.at_depth(750.0).conversions)
    assert result.incremental_revenue == pytest.approx(2 * curve.at_depth(750.0).value)


# ---------------------------------------------------------------------------------------------------------
# Frontier and break-even

# Three tie groups of 4 users (2 treated, 2 control each); treated outcomes 10, 10 | 2, 2 | 0, 0 and
# control outcomes all 0: k = [0, 4, 8, 12], U = [0, 40, 6 * 8 = 48, 4 * 12 = 48].
THREE_GROUPS = path_of(
    np.array([10.0, 10, 0, 0, 2, 2, 0, 0, 0, 0, 0, 0]),
    np.repeat([3.0, 2.0, 1.0], 4),
    np.tile([1, 1, 0, 0], 3),
)


def test_frontier_by_hand() -> None:
    table = bu.frontier(THREE_GROUPS, [2.0, 6.0, 8.0, 12.0, 100.0], cost_per_contact=1.0)
    assert table.columns == [
        "budget",
        "contacts",
        "spend",
        "incremental_revenue",
        "ci_low",
        "ci_high",
        "roi",
        "net",
        "marginal_roi",
    ]
    assert table["contacts"].to_list() == [2, 6, 8, 12, 12]
    np.testing.assert_allclose(table["incremental_revenue"], [20, 44, 48, 48, 48])
    np.testing.assert_allclose(table["roi"], [10, 44 / 6, 6, 4, 4])
    np.testing.assert_allclose(table["net"], [18, 38, 40, 36, 36])
    # the next dollar: 40/4 per contact in group 1, 8/4 in group 2 (from a boundary, the next group's
    # slope), 0 in group 3, nothing once everyone is contacted
    marginal = table["marginal_roi"].to_numpy()
    np.testing.assert_allclose(marginal[:4], [10, 2, 0, np.nan])
    assert np.isnan(marginal[4])


def test_break_even_budget_is_where_net_peaks() -> None:
    # c = 1.5: net at the boundaries = [0, 40 - 6, 48 - 12, 48 - 18] = [0, 34, 36, 30]: spend 12, where the
    # marginal ROI falls from 8 / 6 (> 1) to 0 (< 1)
    assert bu.break_even_budget(THREE_GROUPS, cost_per_contact=1.5) == pytest.approx(12.0)
    # c = 2.5: net = [0, 30, 28, 18]: spend 10; the second group returns 8 / 10 < 1 a dollar
    assert bu.break_even_budget(THREE_GROUPS, cost_per_contact=2.5) == pytest.approx(10.0)
    # P = 24 doubles revenue and spend alike: the same depth, twice the spend
    assert bu.break_even_budget(THREE_GROUPS, cost_per_contact=2.5, population=24) == pytest.approx(20.0)
    # nothing pays for itself: net peaks at 0 contacts
    assert bu.break_even_budget(TWO_GROUPS, cost_per_contact=1.0) == 0.0
    assert bu.break_even_budget(TWO_GROUPS, cost_per_contact=0.5) == pytest.approx(2.5)
    assert bu.break_even_budget(WITH_COSTS) == pytest.approx(5.0)


# ---------------------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize("budget", [0.0, -5.0, float("nan"), float("inf")])
def test_a_budget_that_is_not_positive_is_a_data_error(budget: float) -> None:
    with pytest.raises(DataError, match="budget must be a finite amount > 0"):
        bu.at_budget(TWO_GROUPS, budget, cost_per_contact=1.0)
    with pytest.raises(DataError, match="budget must be a finite amount > 0"):
        bu.frontier(TWO_GROUPS, [10.0, budget], cost_per_contact=1.0)


@pytest.mark.parametrize("cost", [0.0, -1.0, float("nan")])
def test_a_cost_that_is_not_positive_is_a_data_error(cost: float) -> None:
    with pytest.raises(DataError, match="cost_per_contact must be a finite amount > 0"):
        bu.at_budget(TWO_GROUPS, 10.0, cost_per_contact=cost)


def test_costs_must_be_given_once() -> None:
    with pytest.raises(DataError, match="cost_per_contact is required"):
        bu.at_budget(TWO_GROUPS, 10.0)
    with pytest.raises(DataError, match="per-user costs, so cost_per_contact would be ambiguous"):
        bu.at_budget(WITH_COSTS, 10.0, cost_per_contact=1.0)


@pytest.mark.parametrize("population", [0, -3, 2.5, float("inf")])
def test_a_population_that_is_not_a_positive_whole_number_is_a_data_error(population: float) -> None:
    with pytest.raises(DataError, match="population must be a whole number of users > 0"):
        bu.at_budget(TWO_GROUPS, 10.0, cost_per_contact=1.0, population=population)


# ---------------------------------------------------------------------------------------------------------
# Contact lists


def test_contact_order_is_the_curve_order_with_ties_in_row_order() -> None:
    score = np.array([1.0, 3.0, 2.0, 3.0, 1.0])
    np.testing.assert_array_equal(targeting_order(score), [1, 3, 2, 0, 4])
    # per unit of cost: 1/1, 3/3, 2/1, 3/1, 1/2 -> row 3, row 2, rows 0 and 1 (tied at 1), row 4
    np.testing.assert_array_equal(targeting_order(score, np.array([1.0, 3.0, 1.0, 1.0, 2.0])), [3, 2, 0, 1, 4])


def test_contacts_under_budget() -> None:
    score = np.array([1.0, 3.0, 2.0, 3.0, 1.0])
    listed = co.contacts_under_budget(score, 5.0, cost_per_contact=2.0)
    np.testing.assert_array_equal(listed.rows, [1, 3])
    np.testing.assert_array_equal(listed.cumulative_spend, [2.0, 4.0])
    assert (listed.contacts, listed.spend) == (2, 4.0)
    # per-user costs: down the order 3 (1), 2 (1), 0 (1) = 3; row 1 would bring it to 6 > 5, so the list
    # stops there (it never skips ahead to a cheaper user further down)
    cost = np.array([1.0, 3.0, 1.0, 1.0, 2.0])
    listed = co.contacts_under_budget(score, 5.0, cost=cost)
    np.testing.assert_array_equal(listed.rows, [3, 2, 0])
    np.testing.assert_array_equal(listed.cumulative_spend, [1.0, 2.0, 3.0])
    assert co.contacts_under_budget(score, 0.5, cost_per_contact=2.0).spend == 0.0


def test_contacts_under_budget_never_exceed_it() -> None:
    rng = np.random.default_rng(2)
    score, cost = rng.random(5_000), rng.uniform(0.5, 4.0, 5_000)
    for amount in rng.uniform(1.0, 12_000.0, 50):
        listed = co.contacts_under_budget(score, float(amount), cost=cost)
        assert listed.spend <= amount
        np.testing.assert_allclose(listed.cumulative_spend, np.cumsum(cost[listed.rows]))


def test_contact_list_bad_input() -> None:
    score = np.array([1.0, 2.0])
    with pytest.raises(DataError, match="exactly one of cost"):
        co.contacts_under_budget(score, 5.0)
    with pytest.raises(DataError, match="exactly one of cost"):
        co.contacts_under_budget(score, 5.0, cost=np.ones(2), cost_per_contact=1.0)
    with pytest.raises(DataError, match="budget must be a finite amount > 0"):
        co.contacts_under_budget(score, -1.0, cost_per_contact=1.0)
    with pytest.raises(DataError, match="cost must be > 0"):
        targeting_order(score, np.array([1.0, 0.0]))

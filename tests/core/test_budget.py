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
# Paths whose contacts can stay flat while spend grows: an allocation's upgrades

# Two users, offers A and B: user 0 gets A (cost 1, value 3) then B (cost 2, value 4), slope 3 then 1; user 1
# gets A (cost 1, value 2) then B (cost 3, value 2.5), slope 2 then 0.25. The path, by slope: u0 A, u1 A,
# u0 A -> B, u1 A -> B; its last two steps add spend and no contact.
UPGRADES = SpendPath(
    strategy="allocation",
    contacts=np.array([0, 1, 2, 2, 2]),
    spend=np.array([0.0, 1.0, 2.0, 3.0, 5.0]),
    value=np.array([0.0, 3.0, 5.0, 6.0, 6.5]),
    variance=np.array([0.0, 1.0, 2.0, 2.0, 4.0]),
    conversions=None,
    truth=None,
    unit_cost=False,
)


def test_a_path_with_upgrades_is_read_by_spend_and_single_offer_paths_by_depth() -> None:
    assert UPGRADES.by_spend
    assert not any(path.by_spend for path in (TWO_GROUPS, WITH_COSTS, THREE_GROUPS, random_curve(300, 1)))
    assert not random_curve(300, 1, per_user_cost=True).by_spend


def test_a_budget_reaches_into_the_upgrades() -> None:
    # $2.50 buys both first contacts and half of user 0's upgrade: 5 + 0.5 * 1, not the 5 read by depth
    result = bu.at_budget(UPGRADES, 2.5)
    assert (result.contacts, result.depth, result.spend) == (2, 2.0, 2.5)
    assert result.incremental_revenue == pytest.approx(5.5)
    assert result.ci_low == pytest.approx(5.5 - Z95 * math.sqrt(2.0))
    assert (result.roi, result.net) == (pytest.approx(2.2), pytest.approx(3.0))
    assert not result.contacted_everyone
    # within the first step the contacts are fractional too: depth 0.75, one contact when rounded
    early = bu.at_budget(UPGRADES, 0.75)
    assert (early.contacts, early.depth, early.incremental_revenue) == (1, 0.75, pytest.approx(2.25))
    assert bu.at_budget(UPGRADES, 4.0).incremental_revenue == pytest.approx(6.25)
    # beyond the path's spend: everyone, at its own total
    everyone = bu.at_budget(UPGRADES, 10.0)
    assert (everyone.spend, everyone.incremental_revenue, everyone.contacted_everyone) == (5.0, 6.5, True)
    # P = 2 n: each evaluation user stands for two, so $5 reads the path at $2.50
    doubled = bu.at_budget(UPGRADES, 5.0, population=4)
    assert (doubled.contacts, doubled.spend, doubled.incremental_revenue) == (4, 5.0, pytest.approx(11.0))


def test_the_frontier_of_a_path_with_upgrades() -> None:
    table = bu.frontier(UPGRADES, [1.0, 2.0, 2.5, 4.0, 10.0])
    np.testing.assert_allclose(table["spend"], [1.0, 2.0, 2.5, 4.0, 5.0])
    np.testing.assert_allclose(table["incremental_revenue"], [3.0, 5.0, 5.5, 6.25, 6.5])
    # the next dollar falls in the step after the budget: user 1's contact, then the two upgrades
    np.testing.assert_allclose(table["marginal_roi"].to_numpy(), [2.0, 1.0, 1.0, 0.25, np.nan])
    assert table["contacts"].to_list() == [1, 2, 2, 2, 2]


@pytest.fixture(scope="module")
def offer_analysis():
    from uplift_studio.core.offers_analysis import run_offer_analysis
    from uplift_studio.core.settings import ModelSettings
    from uplift_studio.core.simulate_offers import simulated_offers

    return run_offer_analysis(simulated_offers(3_000, seed=2), ModelSettings(n_estimators=10, folds=2))


def test_an_allocation_path_read_through_at_budget_gives_the_offer_analysis_figures(offer_analysis) -> None:
    from uplift_studio.core.offers_eval import per_user_at_spend

    offer_path = offer_analysis.paths["allocation"]
    path, scale = offer_path.path, offer_analysis.scale
    assert path.by_spend and np.any(np.diff(path.contacts) == 0)  # the path has upgrades
    expected_cost = offer_analysis.scores.cost[offer_analysis.scores.evaluation]
    holds_an_offer = np.ones_like(expected_cost)
    total = path.total_spend * scale
    budgets = [0.05 * total, 0.3 * total, 0.6 * total, 0.85 * total]
    # some budgets end within an upgrade, a step that adds spend and no contact: where a read by depth fails
    ends_in = np.searchsorted(path.spend, np.array(budgets) / scale)
    assert np.any(path.contacts[ends_in] == path.contacts[ends_in - 1])
    for budget in budgets:
        projected = bu.at_budget(path, budget, population=offer_analysis.population)
        own = offer_analysis.result("allocation", budget)
        assert projected.incremental_revenue == pytest.approx(own.incremental_revenue, rel=1e-12)
        assert (projected.ci_low, projected.ci_high) == (pytest.approx(own.ci_low), pytest.approx(own.ci_high))
        assert projected.spend == pytest.approx(own.expected_spend) == pytest.approx(budget)
        assert projected.depth * scale == pytest.approx(own.contacts)
        assert projected.contacts == round(own.contacts) == own.as_dict()["contacts"]
        assert projected.incremental_conversions == pytest.approx(own.incremental_conversions)
        # and both are the users' own figures: each user's score for the offer it holds at that spend (a
        # fraction of it within the tie group the budget ends in), summed and projected
        at = budget / scale
        per_user = per_user_at_spend(offer_path, offer_analysis.arm_scores.value, at)
        assert per_user.sum() * scale == pytest.approx(projected.incremental_revenue, rel=1e-9, abs=1e-6)
        assert per_user_at_spend(offer_path, expected_cost, at).sum() * scale == pytest.approx(budget, rel=1e-9)
        assert per_user_at_spend(offer_path, holds_an_offer, at).sum() == pytest.approx(projected.depth)


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

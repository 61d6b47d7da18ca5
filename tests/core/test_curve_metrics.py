"""Evaluation on observed outcomes: exact tiny curves, invariants, intervals, coefficients, deciles and
policy value."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from uplift_studio.core import curve as cv
from uplift_studio.core import metrics, policy
from uplift_studio.core.errors import DataError
from uplift_studio.core.path import curve_path
from uplift_studio.core.stats import Z95

# ---------------------------------------------------------------------------------------------------------
# A hand-checked experiment of 5 users in two tie groups, whose first group has no control user:
#
#   row  score  treated  outcome
#    0     2       1        3        group 1 (k = 2): 2 treated, 0 control
#    1     2       1        1
#    2     1       0        1        group 2 (k = 5): 1 treated, 2 control
#    3     1       1        0
#    4     1       0        0
#
# Boundaries k = [0, 2, 5]; N_T = [0, 2, 3]; N_C = [0, 0, 2]; R_T = [0, 4, 4]; R_C = [0, 0, 1];
# squares: sumsq_T = [0, 10, 10], sumsq_C = [0, 0, 1].
# U(2) = 0 (no control yet); U(5) = (4/3 - 1/2) * 5 = 25/6, the total observed effect.
# Q(2) = 0 (N_C = 0); Q(5) = 4 - 1 * 3/2 = 5/2.
# SE(5): var_T = (10 - 16/3) / 2 = 7/3, var_C = (1 - 1/2) / 1 = 1/2,
#        SE = 5 * sqrt(7/9 + 1/4) = 5 * sqrt(37) / 6.
TWO_GROUPS = {
    "outcome": np.array([3.0, 1.0, 1.0, 0.0, 0.0]),
    "score": np.array([2.0, 2.0, 1.0, 1.0, 1.0]),
    "treatment": np.array([1, 1, 0, 1, 0], dtype=np.int8),
}
SE_AT_5 = 5 * math.sqrt(37) / 6


def curve_of(case: dict[str, np.ndarray], **kwargs: object) -> cv.Curve:
    return cv.build_curve(case["outcome"], case["score"], case["treatment"], **kwargs)


def random_experiment(n: int, seed: int, *, ties: bool = False, effect: float = 1.0) -> dict[str, np.ndarray]:
    """Revenue whose uplift grows with the score; rounded scores make tie groups."""
    rng = np.random.default_rng(seed)
    score = rng.random(n)
    if ties:
        score = np.round(score * 20) / 20
    treatment = (rng.random(n) < 0.5).astype(np.int8)
    converted = rng.random(n) < 0.1 + 0.15 * effect * score * treatment
    outcome = np.where(converted, rng.gamma(4.0, 25.0, n), 0.0)
    return {
        "outcome": outcome,
        "score": score,
        "treatment": treatment,
        "conversions": converted,
        "cost": rng.uniform(0.5, 3.0, n),
    }


def reference_curve(
    outcome: np.ndarray,
    score: np.ndarray,
    treatment: np.ndarray,
    conversions: np.ndarray | None = None,
    cost: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The curve the slow, obvious way: stable argsort, cumulative sums, read where the key changes."""
    key = score if cost is None else score / cost
    order = np.argsort(-key, kind="stable")
    sorted_key = key[order]
    ends = np.r_[np.flatnonzero(sorted_key[1:] != sorted_key[:-1]), key.size - 1]
    t = treatment[order].astype(float)
    y = outcome[order]

    def cumulative(values: np.ndarray) -> np.ndarray:
        return np.r_[0.0, np.cumsum(values)[ends]]

    result = {
        "k": np.r_[0, ends + 1],
        "n_t": cumulative(t),
        "n_c": cumulative(1 - t),
        "sum_t": cumulative(y * t),
        "sum_c": cumulative(y * (1 - t)),
        "sumsq_t": cumulative(y * y * t),
        "sumsq_c": cumulative(y * y * (1 - t)),
    }
    if conversions is not None:
        c = conversions[order].astype(float)
        result["conv_t"] = cumulative(c * t)
        result["conv_c"] = cumulative(c * (1 - t))
    if cost is not None:
        result["cum_cost"] = cumulative(cost[order])
    return result


# ---------------------------------------------------------------------------------------------------------
# Exact tiny cases


def test_two_tie_groups_with_a_prefix_without_control() -> None:
    curve = curve_of(TWO_GROUPS)
    np.testing.assert_array_equal(curve.k, [0, 2, 5])
    np.testing.assert_array_equal(curve.n_t, [0, 2, 3])
    np.testing.assert_array_equal(curve.n_c, [0, 0, 2])
    np.testing.assert_array_equal(curve.sum_t, [0, 4, 4])
    np.testing.assert_array_equal(curve.sum_c, [0, 0, 1])
    np.testing.assert_array_equal(curve.sumsq_t, [0, 10, 10])
    np.testing.assert_array_equal(curve.sumsq_c, [0, 0, 1])
    assert curve.k.dtype == np.int64 and curve.n_t.dtype == np.int64 and curve.n_c.dtype == np.int64
    assert curve.conv_t is None and curve.conv_c is None and curve.cum_cost is None
    # the prefix of 2 has no control user: U and Q are 0 there by convention, and so is the SE
    np.testing.assert_allclose(curve.uplift_points(), [0, 0, 25 / 6])
    np.testing.assert_allclose(curve.qini_points(), [0, 0, 5 / 2])
    np.testing.assert_allclose(curve.se_points(), [0, 0, SE_AT_5])


def test_reads_between_boundaries_are_linear() -> None:
    curve = curve_of(TWO_GROUPS)
    # depth 3.5 is half way from k = 2 (U = 0, SE = 0) to k = 5 (U = 25/6, SE = 5 sqrt(37)/6)
    point = curve_path("s", curve).at_depth(3.5)
    assert point.contacts == 3.5
    assert point.value == pytest.approx(25 / 12)
    assert point.se == pytest.approx(SE_AT_5 / 2)
    assert point.ci_low == pytest.approx(25 / 12 - Z95 * SE_AT_5 / 2)
    assert point.ci_high == pytest.approx(25 / 12 + Z95 * SE_AT_5 / 2)
    assert point.conversions is None
    # inside the control-less first group U stays 0; arrays in, arrays out
    points = curve_path("s", curve).at_depth(np.array([0.0, 1.0, 2.0, 5.0]))
    np.testing.assert_allclose(points.value, [0, 0, 0, 25 / 6])
    np.testing.assert_allclose(points.se, [0, 0, 0, SE_AT_5])


def test_all_scores_tied_give_the_straight_line_to_the_total_effect() -> None:
    case = dict(TWO_GROUPS, score=np.full(5, 0.3))
    curve = curve_of(case)
    np.testing.assert_array_equal(curve.k, [0, 5])
    np.testing.assert_allclose(curve.uplift_points(), [0, 25 / 6])
    depths = np.array([0.0, 1.0, 2.5, 4.0, 5.0])
    np.testing.assert_allclose(curve_path("s", curve).at_depth(depths).value, 25 / 6 * depths / 5)


def test_conversions_give_incremental_conversions() -> None:
    # conversions = outcome > 0: rows 0, 1 (treated) and 2 (control) converted
    # C_T = [0, 2, 2], C_C = [0, 0, 1]; incremental conversions at 5 = (2/3 - 1/2) * 5 = 5/6
    curve = curve_of(TWO_GROUPS, conversions=TWO_GROUPS["outcome"] > 0)
    np.testing.assert_array_equal(curve.conv_t, [0, 2, 2])
    np.testing.assert_array_equal(curve.conv_c, [0, 0, 1])
    np.testing.assert_allclose(curve.conversion_points(), [0, 0, 5 / 6])
    assert curve_path("s", curve).at_depth(3.5).conversions == pytest.approx(5 / 12)


def test_per_user_costs_rank_by_score_per_unit_of_cost() -> None:
    #   row  score  cost  score/cost  treated  outcome
    #    0     4     2        2          1        4
    #    1     3     1        3          1        2
    #    2     1     1        1          0        0
    #    3     2     1        2          0        1     (ties with row 0)
    # order: row 1 | rows 0, 3 | row 2  ->  k = [0, 1, 3, 4], cum_cost = [0, 1, 4, 5]
    # N_T = [0, 1, 2, 2], N_C = [0, 0, 1, 2], R_T = [0, 2, 6, 6], R_C = [0, 0, 1, 1]
    # U = [0, 0, (6/2 - 1) * 3 = 6, (3 - 1/2) * 4 = 10]
    curve = cv.build_curve(
        np.array([4.0, 2.0, 0.0, 1.0]),
        np.array([4.0, 3.0, 1.0, 2.0]),
        np.array([1, 1, 0, 0]),
        cost=np.array([2.0, 1.0, 1.0, 1.0]),
    )
    np.testing.assert_array_equal(curve.k, [0, 1, 3, 4])
    np.testing.assert_array_equal(curve.cum_cost, [0, 1, 4, 5])
    np.testing.assert_allclose(curve.uplift_points(), [0, 0, 6, 10])
    # a spend of 2.5 is half way through the tie group that costs 1 -> 4: depth 1 + 2 * 0.5 = 2
    path = curve_path("s", curve)
    assert path.at_spend(2.5).contacts == pytest.approx(2.0)
    np.testing.assert_allclose(path.at_spend(np.array([0.0, 1.0, 5.0, 50.0])).contacts, [0, 1, 4, 4])


def test_a_path_of_uniform_costs_spends_one_unit_per_contact() -> None:
    path = curve_path("s", curve_of(TWO_GROUPS))
    assert path.unit_cost
    np.testing.assert_array_equal(path.spend, path.contacts)
    assert path.at_spend(3.5).value == pytest.approx(path.at_depth(3.5).value)


# ---------------------------------------------------------------------------------------------------------
# Invariants and agreement with the obvious implementation


@pytest.mark.parametrize("ties", [False, True], ids=["distinct scores", "tied scores"])
@pytest.mark.parametrize("with_extras", [False, True], ids=["outcome only", "conversions and costs"])
def test_build_matches_the_obvious_implementation(ties: bool, with_extras: bool) -> None:
    data = random_experiment(3_000, seed=11, ties=ties)
    extras = {"conversions": data["conversions"], "cost": data["cost"]} if with_extras else {}
    curve = cv.build_curve(data["outcome"], data["score"], data["treatment"], **extras)
    expected = reference_curve(data["outcome"], data["score"], data["treatment"], **extras)
    assert (curve.k.size < 3_001) == ties  # both code paths: every score distinct, or tie groups
    for field, values in expected.items():
        np.testing.assert_allclose(getattr(curve, field), values, rtol=1e-12, err_msg=field)
    np.testing.assert_array_equal(curve.n_t + curve.n_c, curve.k)


def test_curve_starts_at_zero_and_ends_at_the_total_observed_effect() -> None:
    for seed in range(5):
        data = random_experiment(2_000, seed=seed, ties=seed % 2 == 0)
        curve = cv.build_curve(data["outcome"], data["score"], data["treatment"])
        treated = data["treatment"] == 1
        mean_t, mean_c = data["outcome"][treated].mean(), data["outcome"][~treated].mean()
        uplift = curve.uplift_points()
        assert curve.k[0] == 0 and uplift[0] == 0 and curve.qini_points()[0] == 0
        assert curve.k[-1] == curve.n == 2_000
        assert uplift[-1] == pytest.approx((mean_t - mean_c) * 2_000, rel=1e-12)
        assert curve.total_uplift == pytest.approx(uplift[-1])
        r_t, r_c = data["outcome"][treated].sum(), data["outcome"][~treated].sum()
        assert curve.qini_points()[-1] == pytest.approx(r_t - r_c * treated.sum() / (~treated).sum())


def test_permuting_users_within_tie_groups_changes_nothing() -> None:
    rng = np.random.default_rng(5)
    n = 2_000
    score = rng.integers(0, 30, n).astype(float)  # 30 tie groups
    treatment = rng.integers(0, 2, n)
    outcome = rng.integers(0, 50, n).astype(float)  # whole numbers: every sum is exact
    curve = cv.build_curve(outcome, score, treatment)
    for _ in range(3):
        # any row permutation reorders the users inside each tie group (and nothing else)
        rows = rng.permutation(n)
        shuffled = cv.build_curve(outcome[rows], score[rows], treatment[rows])
        for field in ("k", "n_t", "n_c", "sum_t", "sum_c", "sumsq_t", "sumsq_c"):
            np.testing.assert_array_equal(getattr(shuffled, field), getattr(curve, field), err_msg=field)


def test_curve_arrays_are_read_only() -> None:
    curve = curve_of(TWO_GROUPS)
    with pytest.raises(ValueError, match="read-only"):
        curve.sum_t[1] = 0.0


def test_at_has_no_sort_and_accepts_scalars_and_arrays() -> None:
    data = random_experiment(5_000, seed=3)
    curve = cv.build_curve(data["outcome"], data["score"], data["treatment"])
    depths = np.array([0.0, 0.5, 1.0, 1234.25, 4999.5, 5000.0])
    points = curve_path("s", curve).at_depth(depths)
    uplift, se = curve.uplift_points(), curve.se_points()
    # with distinct scores k = 0..n, so a read is the linear interpolation of the boundary values
    np.testing.assert_allclose(points.value, np.interp(depths, curve.k, uplift))
    np.testing.assert_allclose(points.se, np.interp(depths, curve.k, se))
    assert isinstance(curve_path("s", curve).at_depth(10).value, float)


def test_at_rejects_depths_outside_the_evaluation_users() -> None:
    curve = curve_of(TWO_GROUPS)
    with pytest.raises(DataError, match="depth must be a number of users between 0 and n = 5"):
        curve_path("s", curve).at_depth(5.5)
    with pytest.raises(DataError, match="depth must be"):
        curve_path("s", curve).at_depth(np.array([1.0, np.nan]))


# ---------------------------------------------------------------------------------------------------------
# Validation


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"score": np.array([2.0, np.nan, 1.0, 1.0, 1.0])},
            r"score has 1 non-finite value\(s\) \(first at row 1",
        ),
        ({"outcome": np.array([3.0, 1.0, np.inf, 0.0, 0.0])}, r"outcome has 1 non-finite value"),
        (
            {"treatment": np.array([1, 2, 0, 1, 0])},
            r"treatment must be 0/1; found 1 other value\(s\) \(first at row 1: 2",
        ),
        ({"treatment": np.array([1.0, 0.5, 0.0, 1.0, 0.0])}, r"treatment must be 0/1"),
        ({"treatment": np.array(["a", "b", "a", "b", "a"])}, r"treatment must be numeric 0/1 or bool"),
        ({"treatment": np.ones(5, dtype=np.int8)}, r"treatment has no control \(0\) users among the 5"),
        ({"treatment": np.zeros(5, dtype=bool)}, r"treatment has no treated \(1\) users"),
        ({"score": np.ones(4)}, r"score has 4 values but outcome has 5"),
    ],
)
def test_bad_input_is_a_data_error_that_names_the_value(change: dict[str, np.ndarray], message: str) -> None:
    with pytest.raises(DataError, match=message):
        curve_of(dict(TWO_GROUPS, **change))


def test_bad_costs_and_conversions_are_data_errors() -> None:
    with pytest.raises(DataError, match=r"cost must be > 0 for every user; found 1 value\(s\) <= 0 \(first at row 3"):
        curve_of(TWO_GROUPS, cost=np.array([1.0, 1.0, 1.0, 0.0, 1.0]))
    with pytest.raises(DataError, match=r"cost has 3 values but outcome has 5"):
        curve_of(TWO_GROUPS, cost=np.ones(3))
    with pytest.raises(DataError, match=r"conversions must be 0/1"):
        curve_of(TWO_GROUPS, conversions=np.array([0, 1, 2, 0, 0]))
    with pytest.raises(DataError, match=r"no users to evaluate"):
        cv.build_curve([], [], [])


def test_bool_and_int8_treatment_give_the_same_curve() -> None:
    as_bool = curve_of(dict(TWO_GROUPS, treatment=TWO_GROUPS["treatment"].astype(bool)))
    as_float = curve_of(dict(TWO_GROUPS, treatment=TWO_GROUPS["treatment"].astype(float)))
    for other in (as_bool, as_float):
        np.testing.assert_array_equal(other.sum_t, curve_of(TWO_GROUPS).sum_t)


# ---------------------------------------------------------------------------------------------------------
# Standard error against the stratified bootstrap


def test_analytic_se_agrees_with_the_stratified_bootstrap() -> None:
    data = random_experiment(2_000, seed=21)
    depths = np.array([200.0, 500.0, 1_000.0, 2_000.0])
    n_boot = 1_000
    boot = metrics.bootstrap_uplift(data["outcome"], data["score"], data["treatment"], depths, n_boot=n_boot, seed=4)
    curve = cv.build_curve(data["outcome"], data["score"], data["treatment"])
    analytic = curve_path("s", curve).at_depth(depths)
    np.testing.assert_allclose(boot.uplift, analytic.value)
    # A bootstrap SD from B near-normal replicates has relative SE 1/sqrt(2B) = 2.2% at B = 1000; allow
    # 4.5 of those (10%) for each depth.
    tolerance = 4.5 / math.sqrt(2 * n_boot)
    np.testing.assert_allclose(analytic.se, boot.se, rtol=tolerance)
    assert boot.replicates.shape == (n_boot, 4)


def test_bootstrap_is_seeded() -> None:
    data = random_experiment(300, seed=2)
    first = metrics.bootstrap_uplift(data["outcome"], data["score"], data["treatment"], [150.0], n_boot=20, seed=9)
    again = metrics.bootstrap_uplift(data["outcome"], data["score"], data["treatment"], [150.0], n_boot=20, seed=9)
    np.testing.assert_array_equal(first.replicates, again.replicates)


# ---------------------------------------------------------------------------------------------------------
# Coefficients

# Six users, a tie at the top:
#   row  score  treated  converted
#    a    0.9      1        1        group k = 2
#    b    0.9      0        0
#    c    0.5      0        1        k = 3
#    d    0.4      1        1        k = 4
#    e    0.2      1        0        k = 5
#    f    0.1      0        0        k = 6
# N_T = [0,1,1,2,3,3], N_C = [0,1,2,2,2,3], R_T = [0,1,1,2,2,2], R_C = [0,0,1,1,1,1]
# Q = [0, 1, 1/2, 1, 1/2, 1]: trapezoids 1 + 4 * 3/4 = 4, random line 6 * 1 / 2 = 3 -> area 1.
# Perfect Qini (score y(2t-1)): {a,d} | {b,e,f} | c, k = [0,2,5,6], Q = [0,2,2,1]: area 2 + 6 + 3/2 - 3 = 6.5
#   -> qini_auc_score = 1 / 6.5 = 2/13.  negative_effect=False: points (0,0), (1,1), (6,1): 11/2 - 3 = 5/2
#   -> 1 / (5/2) = 2/5.
# U = [0, 2, 3/2, 2, 5/6, 2]: trapezoids 2 + 7/4 + 7/4 + 17/12 + 17/12 = 25/3, random line 6 -> area 7/3.
# Perfect uplift (1 control responder, 1 treated non-responder: not more, so TN before CR):
#   {a,d} | {b,f} | e | c, k = [0,2,4,5,6], U = [0, 2, 4, 10/3, 2] (an empty control arm's mean is 0)
#   area 2 + 6 + 11/3 + 8/3 - 6 = 25/3 -> uplift_auc_score = (7/3) / (25/3) = 7/25.
# (scikit-uplift 0.5.1 gives the same four numbers on this data.)
SIX = {
    "outcome": np.array([1, 0, 1, 1, 0, 0]),
    "score": np.array([0.9, 0.9, 0.5, 0.4, 0.2, 0.1]),
    "treatment": np.array([1, 0, 0, 1, 1, 0]),
}


def test_coefficients_on_a_hand_checked_case() -> None:
    args = (SIX["outcome"], SIX["score"], SIX["treatment"])
    assert metrics.qini_area(*args) == pytest.approx(1.0)
    assert metrics.uplift_area(*args) == pytest.approx(7 / 3)
    assert metrics.qini_auc_score(*args) == pytest.approx(2 / 13)
    assert metrics.qini_auc_score(*args, negative_effect=False) == pytest.approx(2 / 5)
    assert metrics.uplift_auc_score(*args) == pytest.approx(7 / 25)


def test_perfect_ranking_scores_one() -> None:
    rng = np.random.default_rng(8)
    n = 3_000
    treatment = rng.integers(0, 2, n)
    converted = (rng.random(n) < 0.1 + 0.1 * treatment).astype(int)
    revenue = converted * rng.gamma(4.0, 25.0, n)
    for outcome in (converted, revenue):
        perfect_qini = outcome * (2 * treatment - 1)
        assert metrics.qini_auc_score(outcome, perfect_qini, treatment) == pytest.approx(1.0)
        perfect_uplift = metrics._perfect_uplift_score(outcome.astype(float), treatment)
        assert metrics.uplift_auc_score(outcome, perfect_uplift, treatment) == pytest.approx(1.0)


def test_random_ranking_averages_about_zero() -> None:
    qini, uplift = [], []
    for seed in range(200):
        data = random_experiment(400, seed=seed)
        random_score = np.random.default_rng(10_000 + seed).random(400)
        qini.append(metrics.qini_auc_score(data["outcome"], random_score, data["treatment"]))
        uplift.append(metrics.uplift_auc_score(data["outcome"], random_score, data["treatment"]))
    for values in (np.array(qini), np.array(uplift)):
        standard_error = values.std(ddof=1) / math.sqrt(values.size)
        assert abs(values.mean()) < 3 * standard_error


def test_coefficient_of_a_constant_outcome_is_undefined() -> None:
    assert math.isnan(metrics.qini_auc_score(np.zeros(4), np.arange(4.0), np.array([1, 0, 1, 0])))
    with pytest.raises(DataError, match="needs a 0/1 outcome"):
        metrics.qini_auc_score(np.array([2.5, 0, 1, 0]), np.arange(4.0), np.array([1, 0, 1, 0]), negative_effect=False)


# ---------------------------------------------------------------------------------------------------------
# Deciles


def test_decile_table_splits_tie_groups_in_proportion() -> None:
    # five bins of one user over TWO_GROUPS: bins 1-2 are the first group (treated only), bins 3-5 take a
    # third of the second group each: 1/3 treated (outcome 0) and 2/3 control (outcome 1 in total)
    table = metrics.decile_table(curve_of(TWO_GROUPS), n_bins=5)
    assert table["bin"].to_list() == [1, 2, 3, 4, 5]
    np.testing.assert_allclose(table["users"], 1.0)
    np.testing.assert_allclose(table["n_treated"], [1, 1, 1 / 3, 1 / 3, 1 / 3])
    np.testing.assert_allclose(table["n_control"], [0, 0, 2 / 3, 2 / 3, 2 / 3])
    np.testing.assert_allclose(table["mean_treated"], [2, 2, 0, 0, 0])
    # an empty arm leaves the uplift unknown (null), never 0
    assert table["mean_control"].to_list()[:2] == [None, None]
    np.testing.assert_allclose(table["uplift"].to_numpy()[2:], [-0.5, -0.5, -0.5])
    assert table["uplift_se"].null_count() == 5  # fewer than 2 users in an arm of each bin


def test_decile_table_values() -> None:
    data = random_experiment(10_000, seed=13)
    curve = cv.build_curve(data["outcome"], data["score"], data["treatment"])
    table = metrics.decile_table(curve)
    assert table.height == 10
    assert table["users"].sum() == pytest.approx(10_000)
    assert table["n_treated"].sum() == pytest.approx(int(data["treatment"].sum()))
    # the top decile by hand: the 1000 highest scores
    top = np.argsort(-data["score"])[:1_000]
    y, t = data["outcome"][top], data["treatment"][top] == 1
    row = table.row(0, named=True)
    assert row["uplift"] == pytest.approx(y[t].mean() - y[~t].mean())
    se = math.sqrt(y[t].var(ddof=1) / t.sum() + y[~t].var(ddof=1) / (~t).sum())
    assert row["uplift_se"] == pytest.approx(se)
    assert row["uplift_ci_low"] == pytest.approx(row["uplift"] - Z95 * se)
    assert row["incremental_outcome"] == pytest.approx(row["uplift"] * 1_000)
    assert table["cumulative_capture"][-1] == pytest.approx(1.0)
    assert table.select(pl.col("cumulative_incremental_outcome").diff().drop_nulls()).to_series().to_list() == (
        pytest.approx(table["incremental_outcome"].to_list()[1:])
    )


def test_decile_table_rejects_bad_bins() -> None:
    with pytest.raises(DataError, match="n_bins must be a whole number between 1 and n = 5"):
        metrics.decile_table(curve_of(TWO_GROUPS), n_bins=6)


# ---------------------------------------------------------------------------------------------------------
# Policy value


def test_ipw_value_of_the_top_k_agrees_with_the_uplift_curve() -> None:
    data = random_experiment(20_000, seed=17, effect=2.0)
    y, t = data["outcome"], data["treatment"]
    curve = cv.build_curve(y, data["score"], t)
    depth = 5_000
    contact = np.zeros(y.size, dtype=bool)
    contact[np.argsort(-data["score"], kind="stable")[:depth]] = True
    value = policy.policy_value_ipw(y, t, contact)
    uplift = curve_path("s", curve).at_depth(depth).value
    assert value.contacts == depth and value.method == "ipw"

    # With e the treated share, IPW - U(k) = (N_T - k e) (mean_T / e + mean_C / (1 - e)) exactly (the two
    # differ only in weighting the arms by their expected rather than their observed counts in the top k).
    e = t.mean()
    top_t, top_c = contact & (t == 1), contact & (t == 0)
    mean_t, mean_c = y[top_t].mean(), y[top_c].mean()
    gap = (top_t.sum() - depth * e) * (mean_t / e + mean_c / (1 - e))
    assert value.estimate - uplift == pytest.approx(gap, rel=1e-9)
    # So they agree within sampling error: N_T - k e has SD sqrt(k e (1 - e)); allow 4 of those.
    tolerance = 4 * math.sqrt(depth * e * (1 - e)) * (mean_t / e + mean_c / (1 - e))
    assert abs(value.estimate - uplift) < tolerance
    # and both see the real effect, with intervals of the same size
    assert value.ci_low > 0 and curve_path("s", curve).at_depth(depth).ci_low > 0
    assert value.se == pytest.approx(curve_path("s", curve).at_depth(depth).se, rel=0.25)


def test_dr_value_equals_ipw_with_zero_models_and_shrinks_with_good_ones() -> None:
    data = random_experiment(20_000, seed=19, effect=2.0)
    y, t, score = data["outcome"], data["treatment"], data["score"]
    contact = score > 0.5
    ipw = policy.policy_value_ipw(y, t, contact)
    zero = np.zeros(y.size)
    assert policy.policy_value_dr(y, t, contact, zero, zero).estimate == pytest.approx(ipw.estimate)
    # the generating means: P(convert) * E(order) with E(order) = 4 * 25
    mu1 = (0.1 + 0.3 * score) * 100.0
    mu0 = np.full(y.size, 0.1 * 100.0)
    dr = policy.policy_value_dr(y, t, contact, mu1, mu0)
    assert dr.method == "dr" and dr.se < ipw.se
    assert abs(dr.estimate - ipw.estimate) < 3 * ipw.se


def test_policy_value_with_known_propensity_and_bad_input() -> None:
    y = np.array([3.0, 1.0, 1.0, 0.0, 0.0])
    t = np.array([1, 1, 0, 1, 0])
    contact = np.array([True, True, True, False, False])
    # e = 0.5: terms 3/0.5 = 6, 1/0.5 = 2, -1/0.5 = -2 -> V = 6; SE = sqrt(3 * var(6, 2, -2)) = sqrt(3 * 16)
    value = policy.policy_value_ipw(y, t, contact, propensity=0.5)
    assert value.estimate == pytest.approx(6.0)
    assert value.se == pytest.approx(math.sqrt(48))
    assert value.ci_high == pytest.approx(6.0 + Z95 * math.sqrt(48))
    with pytest.raises(DataError, match="propensity .* strictly between 0 and 1"):
        policy.policy_value_ipw(y, t, contact, propensity=1.0)
    with pytest.raises(DataError, match="contact must be 0/1"):
        policy.policy_value_ipw(y, t, np.array([0, 1, 2, 0, 0]))
    with pytest.raises(DataError, match="mu_treated has 2 values but outcome has 5"):
        policy.policy_value_dr(y, t, contact, np.zeros(2), np.zeros(5))

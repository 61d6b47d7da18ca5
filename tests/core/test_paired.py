"""Paired comparisons: uplift minus another strategy on the same held-out users, against the truth."""

from __future__ import annotations

import numpy as np
import pytest

from uplift_studio.core.analysis import AnalysisSettings, run_analysis
from uplift_studio.core.budget import at_budget
from uplift_studio.core.curve import build_curve, targeting_order
from uplift_studio.core.data import ColumnMap, from_frame
from uplift_studio.core.errors import DataError
from uplift_studio.core.paired import comparisons, paired_difference, rank_users
from uplift_studio.core.path import curve_path
from uplift_studio.core.settings import ModelSettings
from uplift_studio.core.simulate import simulate_campaign
from uplift_studio.core.view import BudgetView, format_difference, format_signed_money

TINY = AnalysisSettings(model=ModelSettings(n_estimators=10, folds=2))
COST = 2.0


def _fixed_score_campaign(seed: int, n: int, scores):
    """A simulated campaign ranked by fixed scores (no fit): rankings, paths with the truth, true values."""
    campaign = simulate_campaign(n, seed=seed)
    truth = campaign.truth
    revenue, treatment = campaign.revenue.astype(np.float64), campaign.treatment
    true_value = truth["true_incremental_revenue"].to_numpy()
    paths, orders = {}, {}
    for name, score in scores(truth, np.random.default_rng(seed + 10_000)).items():
        order = targeting_order(score)
        curve = build_curve(revenue, score, treatment)
        orders[name] = order
        paths[name] = curve_path(name, curve, np.concatenate([[0.0], np.cumsum(true_value[order])])[curve.k])
    return rank_users(revenue, treatment, orders), paths


def _model_like(truth, rng):
    # an uplift ranking that is right on average but noisy, and a response model that sees P(buy | contacted)
    value = truth["true_incremental_revenue"].to_numpy()
    return {
        "uplift": value + rng.normal(0.0, value.std(), value.size),
        "probability": truth["p_treated"].to_numpy() + rng.normal(0.0, 0.002, value.size),
    }


def _results(paths, budget, n):
    return {name: at_budget(path, budget, cost_per_contact=COST, population=n) for name, path in paths.items()}


@pytest.fixture(scope="module")
def analysis():
    return run_analysis(simulate_campaign(4_000, seed=11), TINY, use_cache=False)


@pytest.mark.parametrize("budget", [2.0, 37.0, 900.0, 3_000.0, 7_999.0, 1e7])
def test_the_estimate_is_the_difference_of_the_two_shown_figures(analysis, budget):
    view = analysis.view(budget, COST)
    difference = view.uplift_minus_probability
    shown = view.uplift.incremental_revenue - view.results["probability"].incremental_revenue
    assert difference.estimate == pytest.approx(shown, abs=1e-9)
    assert difference.ci_low <= difference.estimate <= difference.ci_high
    for name, other in analysis.comparisons(budget, COST).items():
        assert other.estimate == pytest.approx(
            view.uplift.incremental_revenue - view.results[name].incremental_revenue, abs=1e-9
        )


def test_with_per_user_costs_each_strategy_is_read_at_its_own_depth():
    campaign = simulate_campaign(3_000, seed=4)
    rng = np.random.default_rng(2)
    frame = campaign.frame.with_columns(cost=rng.uniform(0.5, 5.0, campaign.n_users))
    costed = from_frame(frame, ColumnMap(cost="cost"), source="costed", revenue_per_conversion=None)
    analysis = run_analysis(costed, TINY, use_cache=False)
    view = analysis.view(1_500.0, None)
    assert view.uplift.depth != view.results["probability"].depth
    shown = view.uplift.incremental_revenue - view.results["probability"].incremental_revenue
    assert view.uplift_minus_probability.estimate == pytest.approx(shown, abs=1e-9)
    assert 0 < view.uplift_minus_probability.se


def test_a_ranking_against_itself_is_exactly_zero_and_disjoint_contacts_are_unpaired():
    rankings, paths = _fixed_score_campaign(3, 2_000, _model_like)
    results = _results(paths, 1_000.0 * COST, 2_000)  # 1,000 of 2,000: the top half of each order
    same = paired_difference(rankings, paths, results, "uplift", "uplift", 1.0)
    assert same.estimate == 0.0 and same.se == 0.0 and same.shared_contacts == 1.0
    # a ranking and its reverse share no contact at half depth: no covariance, so the paired SE is the
    # unpaired one computed from the paths' own variances (this checks the per-user terms against them)
    order = rankings.orders["uplift"]
    reverse = rank_users(
        rankings.ranked_outcome["uplift"][np.argsort(order)],
        rankings.ranked_treated["uplift"][np.argsort(order)],
        {"uplift": order, "reverse": order[::-1].copy()},
    )
    outcome = reverse.ranked_outcome["uplift"][np.argsort(order)]
    treated = reverse.ranked_treated["uplift"][np.argsort(order)]
    score = np.empty(order.size)
    score[order] = -np.arange(order.size, dtype=np.float64)
    both = {"uplift": paths["uplift"], "reverse": curve_path("reverse", build_curve(outcome, -score, treated))}
    results = _results(both, 1_000.0 * COST, 2_000)
    disjoint = paired_difference(reverse, both, results, "uplift", "reverse", 1.0)
    assert disjoint.shared_contacts == 0.0
    assert disjoint.se == pytest.approx(disjoint.unpaired_se, rel=1e-9)


def test_the_paired_interval_covers_the_true_difference_at_the_nominal_rate():
    # 200 simulated campaigns of 3,000 users, ranked by fixed scores (no fit), 900 contacts each. The truth
    # of a difference is the sum of the true incremental revenue of each strategy's contacts. With nominal
    # 95% coverage the count's SD is sqrt(.95 * .05 / 200) = 0.015: [0.90, 0.99] is 3.2 SD below and 2.6 SD
    # above, so a failure means a wrong interval, not bad luck.
    covered, z, ratio = [], [], []
    for seed in range(200):
        rankings, paths = _fixed_score_campaign(seed, 3_000, _model_like)
        results = _results(paths, 900 * COST, 3_000)
        difference = paired_difference(rankings, paths, results, "uplift", "probability", 1.0)
        truth = results["uplift"].true_incremental_revenue - results["probability"].true_incremental_revenue
        covered.append(difference.ci_low <= truth <= difference.ci_high)
        z.append((difference.estimate - truth) / difference.se)
        ratio.append(difference.se / difference.unpaired_se)
    assert 0.90 <= np.mean(covered) <= 0.99, np.mean(covered)
    # unbiased for the truth (the mean z over 200 runs has SD 1 / sqrt(200) = 0.07), and the SE is the
    # spread of the errors: the SD of 200 z values has SD 1 / sqrt(400) = 0.05, so [0.85, 1.15] is 3 SD
    # either side, while the unpaired SE (which alone would still cover ~98.5%) gives an SD near 0.8
    assert abs(np.mean(z)) < 0.25, np.mean(z)
    assert 0.85 <= np.std(z, ddof=1) <= 1.15, np.std(z, ddof=1)
    # the rankings share contacts, so pairing narrows the interval in every run
    assert max(ratio) < 1.0 and np.median(ratio) < 0.95, (max(ratio), np.median(ratio))


def test_never_missing_when_probability_targeting_earns_nothing():
    def reversed_probability(truth, rng):
        # probability targeting that contacts the sleeping dogs first: it earns less than nothing
        value = truth["true_incremental_revenue"].to_numpy()
        return {"uplift": value + rng.normal(0.0, value.std(), value.size), "probability": -value}

    rankings, paths = _fixed_score_campaign(5, 3_000, reversed_probability)
    results = _results(paths, 600 * COST, 3_000)
    view = BudgetView(
        budget=600 * COST,
        cost_per_contact=COST,
        population=3_000,
        results=results,
        comparisons=comparisons(rankings, paths, results, 1.0, others=("probability",)),
    )
    assert results["probability"].incremental_revenue < 0 and view.lift_over_probability is None
    difference = view.uplift_minus_probability
    assert np.isfinite(difference.estimate) and difference.ci_low > 0
    assert "n/a" not in format_difference(difference)
    assert f"{format_signed_money(difference.estimate)} (95% interval" in view.sentence


def test_signed_money_reads_like_a_difference():
    assert format_signed_money(186_000.0) == "+$186k"
    assert format_signed_money(-3_210.0) == "-$3,210"
    assert format_signed_money(0.001) == "$0"  # rounds to nothing: no sign
    assert format_signed_money(None) == "n/a"


def test_an_unknown_strategy_is_a_data_error(analysis):
    with pytest.raises(DataError, match="no strategy 'nope'"):
        analysis.paired_difference("uplift", "nope", 1_000.0, COST)

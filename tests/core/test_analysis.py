import numpy as np
import pytest

import uplift_studio.core.analysis as analysis_module
from uplift_studio.core.analysis import AnalysisSettings, run_analysis
from uplift_studio.core.budget import at_budget
from uplift_studio.core.errors import DataError
from uplift_studio.core.metrics import qini_auc_score, uplift_auc_score
from uplift_studio.core.settings import ModelSettings
from uplift_studio.core.simulate import simulate_campaign

FAST = AnalysisSettings(model=ModelSettings(n_estimators=60, folds=3))


@pytest.fixture(scope="module")
def campaign():
    return simulate_campaign(8_000, seed=21)


@pytest.fixture(scope="module")
def analysis(campaign):
    return run_analysis(campaign, FAST, use_cache=False)


def test_every_strategy_has_a_curve_over_all_out_of_sample_users(analysis):
    assert analysis.strategies == ("random", "probability", "uplift", "oracle")
    for path in analysis.paths.values():
        assert path.contacts[-1] == analysis.n_evaluation == 8_000
    assert analysis.has_truth


def test_at_budget_is_the_budget_module_on_the_stored_paths(analysis):
    results = analysis.at_budget(3_000, 2.0)
    for name, result in results.items():
        direct = at_budget(analysis.paths[name], 3_000, cost_per_contact=2.0, population=analysis.population)
        assert result == direct
        assert analysis.view(3_000, 2.0).results[name] == direct
        assert result.spend <= 3_000
    assert results["uplift"].contacts == 1_500


def test_truth_at_budget_is_the_sum_of_true_value_of_the_contacted(analysis, campaign):
    # 1,500 contacts out of 8,000: the oracle's truth is the sum of the 1,500 largest true values.
    result = analysis.at_budget(3_000, 2.0)["oracle"]
    true_value = np.sort(campaign.truth["true_incremental_revenue"].to_numpy())[::-1]
    assert result.true_incremental_revenue == pytest.approx(true_value[:1_500].sum(), rel=1e-9)


def test_population_scales_the_projection(campaign, analysis):
    bigger = run_analysis(campaign, AnalysisSettings(model=FAST.model, population=80_000), use_cache=False)
    small, large = analysis.at_budget(3_000, 2.0)["uplift"], bigger.at_budget(30_000, 2.0)["uplift"]
    assert large.contacts == 10 * small.contacts
    assert large.incremental_revenue == pytest.approx(10 * small.incremental_revenue, rel=1e-9)
    assert large.roi == pytest.approx(small.roi, rel=1e-9)


def test_same_seed_same_numbers_bit_for_bit(campaign, analysis):
    again = run_analysis(campaign, FAST, use_cache=False)
    for name in analysis.strategies:
        assert np.array_equal(again.paths[name].value, analysis.paths[name].value)
        assert np.array_equal(again.paths[name].variance, analysis.paths[name].variance)
        assert again.at_budget(3_000, 2.0)[name] == analysis.at_budget(3_000, 2.0)[name]
    # the coefficient intervals' draws come from the model seed
    assert again.metrics == analysis.metrics


def test_disk_cache_returns_the_same_analysis_without_refitting(campaign, tmp_path, monkeypatch):
    monkeypatch.setenv("UPLIFT_STUDIO_CACHE", str(tmp_path))
    fits = []
    real = analysis_module.cross_fit_selected
    monkeypatch.setattr(analysis_module, "cross_fit_selected", lambda *a, **k: fits.append(1) or real(*a, **k))
    first = run_analysis(campaign, FAST)
    second = run_analysis(campaign, FAST)
    assert len(fits) == 1
    assert second.at_budget(3_000, 2.0)["uplift"] == first.at_budget(3_000, 2.0)["uplift"]
    run_analysis(campaign, AnalysisSettings(model=ModelSettings(n_estimators=61, folds=3)))
    assert len(fits) == 2, "other settings are another cache entry"


def test_bad_budget_is_a_data_error(analysis):
    with pytest.raises(DataError, match="budget"):
        analysis.at_budget(0, 2.0)
    with pytest.raises(DataError, match="cost"):
        analysis.at_budget(1_000, -1.0)


def test_budget_above_everyone_contacts_everyone(analysis):
    result = analysis.at_budget(1e9, 2.0)["uplift"]
    assert result.contacted_everyone
    assert result.contacts == analysis.population
    assert result.spend == pytest.approx(2.0 * analysis.population)


def test_segments_cover_every_user_and_agree_with_truth_better_than_chance(analysis):
    assert analysis.segments["users"].sum() == analysis.n_evaluation
    agreement = analysis.segment_agreement
    persuadable_row = agreement.filter(agreement["true"] == "persuadable")
    # The model calls most true persuadables persuadable (chance would be their 56% base share at best).
    assert persuadable_row["persuadable"].item() / persuadable_row.drop("true").sum_horizontal().item() > 0.6
    assert analysis.density.total == analysis.n_evaluation


def test_with_per_user_costs_random_stays_random_and_others_rank_per_dollar(campaign):
    from uplift_studio.core.data import ColumnMap, from_frame

    rng = np.random.default_rng(5)
    frame = campaign.frame.with_columns(cost=rng.uniform(0.5, 5.0, campaign.n_users))
    costed = from_frame(frame, ColumnMap(cost="cost"), source="costed", revenue_per_conversion=None)
    analysis = run_analysis(costed, FAST, use_cache=False)
    assert analysis.per_user_cost
    half = analysis.max_budget(None) / 2
    results = analysis.at_budget(half, None)
    # Half the total cost buys about half the users in random order (their costs are independent of the
    # order: sd of the share ~ 0.006 here); "cheapest first" would buy about 70% of them.
    assert abs(results["random"].share_targeted - 0.5) < 0.03
    for result in results.values():
        assert result.spend <= half + 1e-6


def test_coefficients_are_scikit_uplifts_with_intervals_around_them(analysis, campaign):
    mask = analysis.scores.evaluation
    revenue, treatment = campaign.revenue[mask], campaign.treatment[mask]
    for name, score in analysis.scores.strategies().items():
        figures = analysis.metrics[name]
        assert figures["qini_coefficient"] == pytest.approx(qini_auc_score(revenue, score[mask], treatment), abs=1e-12)
        assert figures["auuc"] == pytest.approx(uplift_auc_score(revenue, score[mask], treatment), abs=1e-12)
        for key in ("qini", "auuc"):
            estimate = figures["qini_coefficient" if key == "qini" else "auuc"]
            assert figures[f"{key}_ci_low"] < estimate < figures[f"{key}_ci_high"]
            assert figures[f"{key}_ci_high"] - figures[f"{key}_ci_low"] == pytest.approx(
                2 * 1.959963984540054 * figures[f"{key}_se"]
            )


def test_coefficient_se_matches_a_bootstrap_that_resamples_users_and_sorts_again(analysis, campaign):
    # The reference: 200 stratified resamples of the held-out users, each scored by qini_auc_score and
    # uplift_auc_score from scratch (a new sort, new normalisers). Its SE has a relative Monte Carlo error
    # of 1 / sqrt(2 * 199) = 5%, the analysis's (400 draws) 3.5%: together 6%, so 25% is 4 SD.
    mask = analysis.scores.evaluation
    revenue, treatment = campaign.revenue[mask].astype(float), campaign.treatment[mask]
    score = analysis.scores.expected_incremental_revenue[mask]
    treated_rows, control_rows = np.flatnonzero(treatment == 1), np.flatnonzero(treatment == 0)
    rng = np.random.default_rng(0)
    qini, auuc = [], []
    for _ in range(200):
        rows = np.concatenate(
            [rng.choice(treated_rows, treated_rows.size), rng.choice(control_rows, control_rows.size)]
        )
        qini.append(qini_auc_score(revenue[rows], score[rows], treatment[rows]))
        auuc.append(uplift_auc_score(revenue[rows], score[rows], treatment[rows]))
    figures = analysis.metrics["uplift"]
    assert figures["qini_se"] == pytest.approx(np.std(qini, ddof=1), rel=0.25)
    assert figures["auuc_se"] == pytest.approx(np.std(auuc, ddof=1), rel=0.25)


def test_disk_cache_keeps_the_rankings_and_the_coefficient_intervals(campaign, tmp_path, monkeypatch):
    monkeypatch.setenv("UPLIFT_STUDIO_CACHE", str(tmp_path))
    first = run_analysis(campaign, FAST)
    second = run_analysis(campaign, FAST)
    assert second is not first and second.metrics == first.metrics
    for name, order in first.rankings.orders.items():
        assert np.array_equal(second.rankings.orders[name], order)
        assert np.array_equal(second.rankings.ranked_outcome[name], first.rankings.ranked_outcome[name])
        assert not second.rankings.orders[name].flags.writeable
    assert second.view(3_000, 2.0).uplift_minus_probability == first.view(3_000, 2.0).uplift_minus_probability


def test_the_rankings_are_each_strategys_targeting_order(analysis, campaign):
    mask = analysis.scores.evaluation
    revenue = campaign.revenue[mask]
    for name, score in analysis.scores.strategies().items():
        order = analysis.rankings.orders[name]
        assert np.array_equal(order, np.argsort(-score[mask], kind="stable"))
        assert np.array_equal(analysis.rankings.ranked_outcome[name], revenue[order])

import numpy as np
import polars as pl
import pytest
from scipy import stats

from tests.helpers import hillstrom_columns, shared_file
from uplift_studio.core.data import ColumnMap, from_frame, load_experiment
from uplift_studio.core.errors import DataError
from uplift_studio.core.readout import ab_readout, difference_in_means, format_readout, sample_ratio_test
from uplift_studio.core.simulate import simulate_campaign


def test_difference_in_means_by_hand():
    # treated [1, 0, 1, 0]: mean .5, var(ddof=1) 1/3; control [0, 0, 1]: mean 1/3, var 1/3
    effect = difference_in_means(np.array([1.0, 0, 1, 0]), np.array([0.0, 0, 1]))
    assert effect.estimate == pytest.approx(0.5 - 1 / 3)
    assert effect.se == pytest.approx(np.sqrt((1 / 3) / 4 + (1 / 3) / 3))
    assert effect.ci_high - effect.ci_low == pytest.approx(2 * 1.959963984540054 * effect.se)
    assert effect.relative == pytest.approx((0.5 - 1 / 3) / (1 / 3))


def test_sample_ratio_check_flags_a_broken_split():
    chi2, p = sample_ratio_test(5_500, 4_500, 0.5)
    assert chi2 == pytest.approx(100.0)  # (500^2/5000) * 2
    assert p < 1e-20
    assert sample_ratio_test(5_020, 4_980, 0.5)[1] > 0.5
    with pytest.raises(DataError, match="expected-treated-share"):
        sample_ratio_test(1, 1, 1.5)


def test_each_offer_arm_check_is_pearsons_chi_square_against_the_design_share():
    from uplift_studio.core.offers import arm_checks

    counts, shares = np.array([5_100, 2_400, 2_500]), np.array([0.5, 0.25, 0.25])
    for check, count, share in zip(arm_checks(counts, shares, ("a", "b", "c")), counts, shares, strict=True):
        statistic, p = stats.chisquare([count, counts.sum() - count], np.array([share, 1 - share]) * counts.sum())
        assert check.p_value == pytest.approx(p, rel=1e-12)


def test_readout_warns_loudly_on_mismatch():
    frame = pl.DataFrame({"treatment": [1] * 700 + [0] * 300, "converted": [1, 0] * 500, "revenue": [5.0, 0.0] * 500})
    readout = ab_readout(from_frame(frame, ColumnMap(), source="t"), expected_treated_share=0.5)
    assert readout.srm_alert
    assert "SAMPLE RATIO MISMATCH" in format_readout(readout)
    assert not ab_readout(from_frame(frame, ColumnMap(), source="t"), expected_treated_share=0.7).srm_alert


def test_revenue_effect_interval_covers_the_true_average_effect_at_the_nominal_rate():
    # 400 seeded campaigns of 3,000 users. The truth of each is the mean of its users' true incremental
    # revenue. With nominal 95% coverage, the coverage count over 400 runs has SD sqrt(.95*.05/400) = 0.011,
    # so [0.90, 0.99] is more than 3.5 SDs either side: a failure means a wrong interval, not bad luck.
    covered = []
    for seed in range(400):
        campaign = simulate_campaign(3_000, seed=seed)
        effect = ab_readout(campaign).revenue_effect
        truth = campaign.truth["true_incremental_revenue"].mean()
        covered.append(effect.ci_low <= truth <= effect.ci_high)
    rate = np.mean(covered)
    assert 0.90 <= rate <= 0.99, rate


def test_hillstrom_matches_the_published_table():
    experiment = load_experiment(shared_file("hillstrom.csv.gz"), hillstrom_columns())
    readout = ab_readout(experiment)
    assert (readout.treated.users, readout.control.users) == (21_387, 21_306)
    assert (readout.treated.conversions, readout.control.conversions) == (189, 122)
    assert readout.treated.conversion_rate == pytest.approx(0.008837, abs=5e-7)
    assert readout.control.conversion_rate == pytest.approx(0.005726, abs=5e-7)
    assert readout.treated.revenue_per_user == pytest.approx(1.077202, abs=5e-7)
    assert readout.control.revenue_per_user == pytest.approx(0.652789, abs=5e-7)


def test_starbucks_reproduces_the_published_incremental_response_rate():
    experiment = load_experiment(
        shared_file("starbucks_promo_training.csv.gz"),
        ColumnMap(id="ID", treatment="Promotion", treated_value="Yes", control_value="No", conversion="purchase"),
        revenue_per_conversion=10.0,
    )
    readout = ab_readout(experiment)
    assert readout.conversion_effect.estimate == pytest.approx(0.009455, abs=5e-7)
    assert (readout.treated.users, readout.treated.conversions) == (42_364, 721)


def test_p_value_is_the_two_sided_normal_test_and_agrees_with_welch():
    # 20,000 users per arm with a small revenue effect: Welch's t test with ~4e4 degrees of freedom differs
    # from the normal test only by the gap between t and normal tails (relative ~1e-4 here)
    rng = np.random.default_rng(3)
    treated = rng.gamma(0.3, 50.0, 20_000) + 0.8
    control = rng.gamma(0.3, 50.0, 20_000)
    effect = difference_in_means(treated, control)
    welch = stats.ttest_ind(treated, control, equal_var=False)
    assert effect.p_value == pytest.approx(2 * stats.norm.sf(abs(effect.estimate / effect.se)), rel=1e-12)
    assert effect.p_value == pytest.approx(welch.pvalue, rel=1e-3, abs=1e-6)
    assert 0.001 < effect.p_value < 0.2  # a case where the p-value is neither 0 nor 1, so the check bites


def test_p_values_are_uniform_under_no_effect():
    # 400 null experiments: the share with p < 0.05 has SD sqrt(.05 * .95 / 400) = 0.011; [0.02, 0.09] is
    # 2.7 SD below and 3.6 SD above
    rng = np.random.default_rng(4)
    p_values = [difference_in_means(rng.exponential(5.0, 800), rng.exponential(5.0, 800)).p_value for _ in range(400)]
    assert 0.02 <= np.mean(np.array(p_values) < 0.05) <= 0.09


def test_the_readout_prints_and_exports_each_p_value():
    readout = ab_readout(simulate_campaign(3_000, seed=2))
    text = format_readout(readout)
    assert f"p = {readout.conversion_effect.p_value:.3g}" in text
    assert f"p = {readout.revenue_effect.p_value:.3g}" in text
    exported = readout.to_dict()
    assert exported["revenue_effect"]["p_value"] == readout.revenue_effect.p_value
    constant = difference_in_means(np.ones(5), np.ones(4))
    assert np.isnan(constant.p_value)  # no spread: nothing to test

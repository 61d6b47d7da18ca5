import numpy as np
import polars as pl
import pytest

from uplift_studio.core.data import CONVERTED, ID, REVENUE, TREATMENT
from uplift_studio.core.segments import SEGMENTS
from uplift_studio.core.simulate import TRUTH_COLUMNS, simulate_campaign


def test_same_seed_same_data_bit_for_bit():
    a, b = simulate_campaign(5_000, seed=3), simulate_campaign(5_000, seed=3)
    assert a.frame.equals(b.frame)
    assert a.truth.equals(b.truth)
    assert not a.frame.equals(simulate_campaign(5_000, seed=4).frame)


def test_experiment_holds_no_ground_truth(small_campaign):
    truth_only = set(TRUTH_COLUMNS) - {ID}
    assert not truth_only & set(small_campaign.frame.columns)
    assert small_campaign.truth.columns == list(TRUTH_COLUMNS)
    assert small_campaign.truth[ID].equals(small_campaign.frame[ID])


def test_features_are_a_realistic_crm_mix(small_campaign):
    frame = small_campaign.frame
    assert 10 <= len(small_campaign.features) <= 14
    kinds = {frame.schema[f] == pl.String for f in small_campaign.features}
    assert kinds == {True, False}, "numeric and categorical features"
    with_nulls = [f for f in small_campaign.features if frame[f].null_count() > 0]
    assert len(with_nulls) >= 3


def test_observed_outcomes_are_the_potential_outcomes_of_the_arm_received(small_campaign):
    frame, truth = small_campaign.frame, small_campaign.truth
    treated = frame[TREATMENT] == 1
    expected_conv = pl.Series(np.where(treated, truth["converted_if_treated"], truth["converted_if_control"]))
    expected_rev = pl.Series(np.where(treated, truth["revenue_if_treated"], truth["revenue_if_control"]))
    assert (frame[CONVERTED].cast(pl.Int64) == expected_conv.cast(pl.Int64)).all()
    assert np.allclose(frame[REVENUE].to_numpy(), expected_rev.to_numpy())
    assert (frame.filter(pl.col(CONVERTED) == 0)[REVENUE] == 0).all()
    assert np.allclose(truth["true_incremental_revenue"], truth["true_uplift"] * truth["order_value"])


def test_default_campaign_has_all_segments_plausible_rates_and_calibrated_random_roi():
    campaign = simulate_campaign()
    truth = campaign.truth
    assert campaign.n_users == 150_000
    assert abs(campaign.frame[TREATMENT].mean() - 0.5) < 0.005
    shares = dict(truth.group_by("segment").len().iter_rows())
    assert set(shares) == set(SEGMENTS)
    assert all(shares[s] / 150_000 > 0.05 for s in SEGMENTS)
    assert 0.02 < truth["p_control"].mean() < 0.08, "baseline conversion of a few percent"
    # Random targeting at $2 a contact: ROI = mean true incremental revenue / 2, calibrated to 1.3x.
    # Its sampling SD at 150,000 users is about 0.006 (measured over seeds), so +-0.03 is 5 SDs.
    roi = truth["true_incremental_revenue"].mean() / 2.0
    assert roi == pytest.approx(1.3, abs=0.03)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="treated_share"):
        simulate_campaign(100, treated_share=1.0)
    with pytest.raises(ValueError, match="n_users"):
        simulate_campaign(1)

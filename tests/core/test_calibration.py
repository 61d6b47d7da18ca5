"""Calibration: exact small cases, the simulator's truth (coverage over seeds), and the stored analysis."""

from __future__ import annotations

import json

import numpy as np
import pytest

from uplift_studio.core.calibration import aipw, best_linear_predictor, calibrate, format_calibration
from uplift_studio.core.errors import DataError
from uplift_studio.core.simulate import simulate_campaign
from uplift_studio.core.stats import Z95

REPLICATES_PER_SEED, USERS_PER_REPLICATE = 100, 4_000
SEEDS = (101, 202, 303)


def test_the_blp_matches_least_squares_and_the_hc1_sandwich():
    rng = np.random.default_rng(0)
    score = rng.normal(size=50)
    phi = 2.0 + 0.7 * score + rng.normal(size=50) * (1 + np.abs(score))
    blp = best_linear_predictor(phi, score)
    design = np.column_stack([np.ones(50), score - score.mean()])
    coefficients, *_ = np.linalg.lstsq(design, phi, rcond=None)
    residual = phi - design @ coefficients
    bread = np.linalg.inv(design.T @ design)
    sandwich = bread @ (design.T * residual**2) @ design @ bread * 50 / 48
    assert blp.intercept == pytest.approx(coefficients[0], rel=1e-12)
    assert blp.slope == pytest.approx(coefficients[1], rel=1e-12)
    assert blp.intercept_se == pytest.approx(np.sqrt(sandwich[0, 0]), rel=1e-10)
    assert blp.slope_se == pytest.approx(np.sqrt(sandwich[1, 1]), rel=1e-10)
    assert blp.slope_ci == pytest.approx((blp.slope - Z95 * blp.slope_se, blp.slope + Z95 * blp.slope_se))


def test_an_exactly_linear_pseudo_outcome_has_its_slope_and_no_error():
    score = np.array([1.0, 2.0, 4.0, 7.0])
    blp = best_linear_predictor(3.0 + 0.5 * (score - score.mean()), score)
    assert (blp.intercept, blp.slope) == pytest.approx((3.0, 0.5))
    assert blp.slope_se == pytest.approx(0.0, abs=1e-12)


def test_a_constant_score_has_no_slope_and_says_so():
    calibration = calibrate([0.0, 1.0, 0.0, 2.0], [1.0] * 4, [1, 1, 0, 0], [0.0] * 4, [0.0] * 4, 0.5, n_bins=2)
    assert np.isnan(calibration.blp.slope)
    assert "constant" in format_calibration(calibration)


def test_deciles_by_hand_with_a_tie_group_cut_by_an_edge():
    # ranked scores 3 | 2 2 | 1 with an edge after two users: the tie of 2s is shared, half in each decile
    outcome = np.array([4.0, 1.0, 3.0, 0.0])
    treatment = np.array([1, 0, 1, 0])
    calibration = calibrate(outcome, [3.0, 2.0, 2.0, 1.0], treatment, np.zeros(4), np.zeros(4), 0.5, n_bins=2)
    table = calibration.deciles
    assert table["predicted"].to_list() == pytest.approx([2.5, 1.5])
    assert table["users"].to_list() == [2.0, 2.0]
    # decile 1: the treated 4 and half of the tie group (treated 3, control 1) -> treated mean 11/3, control 1
    assert table["observed"].to_list()[0] == pytest.approx((4.0 + 1.5) / 1.5 - 0.5 / 0.5)
    # the pseudo-outcome with zero outcome models is Horvitz-Thompson: 2 y for the treated, -2 y for control
    assert calibration.blp.intercept == pytest.approx(np.mean([8.0, -2.0, 6.0, 0.0]))


def test_the_pseudo_outcome_is_the_learners_own():
    pytest.importorskip("xgboost")
    from uplift_studio.core import metalearners

    rng = np.random.default_rng(1)
    values = rng.random((4, 20))
    arm = (values[0] > 0.5).astype(float)
    assert np.array_equal(
        aipw(values[1], arm, values[2], values[3], 0.3), metalearners.aipw(values[1], arm, values[2], values[3], 0.3)
    )


def test_bad_inputs_name_the_argument():
    with pytest.raises(DataError, match="treated share"):
        calibrate([1.0, 0.0, 1.0], [1.0, 2.0, 3.0], [1, 0, 1], [0.0] * 3, [0.0] * 3, 1.0)
    with pytest.raises(DataError, match="mu_control has 2 values"):
        calibrate([1.0, 0.0, 1.0], [1.0, 2.0, 3.0], [1, 0, 1], [0.0] * 3, [0.0] * 2, 0.5)


def _replicates():
    """Independent samples of the simulated campaign with its truth as the score: each seed's users cut into
    equal parts (users are drawn independently, so the parts are independent experiments)."""
    for seed in SEEDS:
        experiment = simulate_campaign(REPLICATES_PER_SEED * USERS_PER_REPLICATE, seed=seed)
        truth = experiment.truth
        columns = {
            "outcome": experiment.revenue.astype(np.float64),
            "treatment": experiment.treatment,
            "score": truth["true_incremental_revenue"].to_numpy(),
            "mu_treated": (truth["p_treated"] * truth["order_value"]).to_numpy(),
            "mu_control": (truth["p_control"] * truth["order_value"]).to_numpy(),
        }
        for part in range(REPLICATES_PER_SEED):
            rows = slice(part * USERS_PER_REPLICATE, (part + 1) * USERS_PER_REPLICATE)
            yield {name: values[rows] for name, values in columns.items()}


@pytest.fixture(scope="module")
def truth_calibrations():
    return [
        (
            replicate,
            calibrate(propensity=0.5, **replicate),
            calibrate(**{**replicate, "score": 3 * replicate["score"]}, propensity=0.5),
        )
        for replicate in _replicates()
    ]


def _binomial_band(rate: float, trials: int) -> tuple[float, float]:
    """Where an observed coverage lands with probability ~0.997 if the true rate is ``rate``."""
    half_width = 3 * np.sqrt(rate * (1 - rate) / trials)
    return rate - half_width, rate + half_width


def test_the_truths_slope_interval_covers_one_at_the_nominal_rate(truth_calibrations):
    covered = [
        low <= 1.0 <= high for _, calibration, _ in truth_calibrations for low, high in [calibration.blp.slope_ci]
    ]
    low, high = _binomial_band(0.95, len(covered))
    assert low <= np.mean(covered) <= high


def test_the_truths_intercept_interval_covers_the_true_average_effect(truth_calibrations):
    covered = []
    for replicate, calibration, _ in truth_calibrations:
        low, high = calibration.blp.intercept_ci
        covered.append(low <= replicate["score"].mean() <= high)
    low, high = _binomial_band(0.95, len(covered))
    assert low <= np.mean(covered) <= high


def test_the_deciles_observed_intervals_cover_the_true_decile_means(truth_calibrations):
    # ranked by the truth, a decile's predicted uplift is its users' true mean incremental revenue
    covered = np.concatenate(
        [
            (table["observed_ci_low"] <= table["predicted"]) & (table["predicted"] <= table["observed_ci_high"])
            for table in (calibration.deciles for _, calibration, _ in truth_calibrations)
        ]
    )
    low, high = _binomial_band(0.95, covered.size)
    assert low <= covered.mean() <= high


def test_a_score_three_times_too_large_has_a_slope_near_a_third(truth_calibrations):
    slopes = np.array([scaled.blp.slope for _, _, scaled in truth_calibrations])
    errors = np.array([scaled.blp.slope_se for _, _, scaled in truth_calibrations])
    # pooled over replicates: the mean slope's standard error is the spread of the slopes / sqrt(count)
    assert abs(slopes.mean() - 1 / 3) < 3 * slopes.std(ddof=1) / np.sqrt(slopes.size)
    covered = [low <= 1 / 3 <= high for low, high in (scaled.blp.slope_ci for _, _, scaled in truth_calibrations)]
    low, high = _binomial_band(0.95, len(covered))
    assert low <= np.mean(covered) <= high
    # and the test can tell: on average the interval of the scaled score excludes 1
    assert np.mean(slopes + Z95 * errors < 1.0) > 0.5


def test_the_analysis_stores_its_calibration_and_the_report_shows_it(small_campaign, tmp_path):
    from uplift_studio.core import store
    from uplift_studio.core.analysis import AnalysisSettings, run_analysis
    from uplift_studio.core.report import format_report, report_dict
    from uplift_studio.core.settings import ModelSettings

    analysis = run_analysis(
        small_campaign, AnalysisSettings(model=ModelSettings(n_estimators=10, folds=2)), use_cache=False
    )
    calibration = analysis.calibration
    assert calibration.deciles.height == 10 and calibration.blp.n == analysis.n_evaluation
    assert calibration.propensity == pytest.approx(analysis.treated_share)
    mask = analysis.scores.evaluation
    predicted = analysis.scores.expected_incremental_revenue[mask]
    assert calibration.deciles["predicted"].mean() == pytest.approx(predicted.mean())
    assert calibration.deciles["predicted"].is_sorted(descending=True)

    store.dump(analysis, tmp_path / "entry.uplift", {"kind": "test"})
    again = store.load(tmp_path / "entry.uplift", {"kind": "test"}).calibration
    assert again.blp == calibration.blp and again.deciles.equals(calibration.deciles)

    payload = json.loads(json.dumps(report_dict(analysis, 2_000.0, 2.0)))
    assert payload["calibration"]["blp"]["slope"] == pytest.approx(calibration.blp.slope)
    assert len(payload["calibration"]["deciles"]) == 10
    assert "Calibration slope of the uplift score" in format_report(analysis, 2_000.0, 2.0)

"""The X- and DR-learners: exact on saturated cases (each model then estimates a cell mean, so the learner's
output is computable by hand), the scikit-learn contract, out-of-sample scores, and determinism."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from xgboost import XGBClassifier, XGBRegressor

from uplift_studio.core.crossfit import cross_fit, make_learner
from uplift_studio.core.data import CONVERTED, REVENUE, Experiment
from uplift_studio.core.errors import DataError
from uplift_studio.core.metalearners import DRLearner, XLearner, aipw
from uplift_studio.core.settings import ModelSettings
from uplift_studio.core.simulate import simulate_campaign
from uplift_studio.core.tlearner import TLearner

LEARNERS = {"t": TLearner, "x": XLearner, "dr": DRLearner}
# Trees that estimate cell means exactly: one split, full steps, no shrinkage, no sampling, enough rounds for
# the logistic fits' Newton steps to converge to the cell proportions.
EXACT = {
    "n_estimators": 60,
    "learning_rate": 1.0,
    "max_depth": 1,
    "reg_lambda": 0.0,
    "min_child_weight": 0.0,
    "subsample": 1.0,
    "colsample_bytree": 1.0,
    "n_jobs": 1,
}


def _exact(kind, value_model="order_value"):
    return kind(
        classifier=XGBClassifier(objective="binary:logistic", **EXACT),
        regressor=XGBRegressor(objective="reg:squarederror", **EXACT),
        value_model=value_model,
        random_state=0,
    )


def _cells(counts: dict[tuple[int, int], tuple[int, int]], revenue_of_buyer: dict[tuple[int, int], float]):
    """An experiment with one binary feature: counts[(x, arm)] = (buyers, non-buyers)."""
    rows = []
    for (x, arm), (buyers, others) in counts.items():
        rows += [(x, arm, 1, revenue_of_buyer[(x, arm)])] * buyers + [(x, arm, 0, 0.0)] * others
    frame = pl.DataFrame(rows, schema=["x", "arm", "y", "revenue"], orient="row")
    return frame.select(pl.col("x").cast(pl.Float64)), frame["y"], frame["arm"], frame["revenue"]


COUNTS = {(0, 1): (30, 70), (0, 0): (10, 90), (1, 1): (20, 180), (1, 0): (40, 160)}
VALUES = {(0, 1): 12.0, (0, 0): 12.0, (1, 1): 5.0, (1, 0): 7.0}


def _cell_rate(x: int, arm: int) -> float:
    buyers, others = COUNTS[(x, arm)]
    return buyers / (buyers + others)


@pytest.mark.parametrize("kind", [TLearner, XLearner], ids=["T", "X"])
def test_on_one_binary_feature_the_effect_is_each_cells_difference_in_means(kind):
    features, y, arm, revenue = _cells(COUNTS, VALUES)
    learner = _exact(kind, "revenue").fit(features, y, arm, revenue)
    grid = pl.DataFrame({"x": [0.0, 1.0]})
    expected_uplift = [_cell_rate(x, 1) - _cell_rate(x, 0) for x in (0, 1)]
    # X: tau1 = mean(Y1) - mu0 and tau0 = mu1 - mean(Y0) are both the difference in a saturated model
    np.testing.assert_allclose(learner.predict_uplift(grid), expected_uplift, atol=2e-6)
    expected_revenue = [_cell_rate(x, 1) * VALUES[(x, 1)] - _cell_rate(x, 0) * VALUES[(x, 0)] for x in (0, 1)]
    np.testing.assert_allclose(learner.predict(grid), expected_revenue, atol=2e-5)


@pytest.mark.parametrize("value_model", ["order_value", "revenue"])
def test_dr_learner_without_heterogeneity_is_the_difference_in_means(value_model):
    """With a constant feature every model is an arm mean; with stratum counts even, both cross-fitting halves
    hold the same mix, so each half's arm means are the overall ones and the AIPW corrections sum to zero."""
    counts = {(0, 1): (40, 160), (0, 0): (20, 180)}
    values = {(0, 1): 10.0, (0, 0): 10.0}
    features, y, arm, revenue = _cells(counts, values)
    learner = _exact(DRLearner, value_model).fit(features, y, arm, revenue)
    uplift = learner.predict_uplift(features[:1])
    np.testing.assert_allclose(uplift, [40 / 200 - 20 / 200], atol=2e-6)
    if value_model == "revenue":
        np.testing.assert_allclose(learner.predict(features[:1]), [(40 * 10 - 20 * 10) / 200], atol=2e-5)


def test_the_aipw_score_by_hand():
    outcome, arm = np.array([1.0, 0.0, 1.0, 0.0]), np.array([1, 1, 0, 0])
    mu1, mu0 = np.full(4, 0.5), np.full(4, 0.25)
    # 0.25 + (1 - 0.5) / 0.5 = 1.25; 0.25 + (0 - 0.5) / 0.5 = -0.75; 0.25 - (1 - 0.25) / 0.5 = -1.25; 0.25 + 0.5
    np.testing.assert_allclose(aipw(outcome, arm, mu1, mu0, 0.5), [1.25, -0.75, -1.25, 0.75])


# --- the scikit-learn contract ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [XLearner, DRLearner], ids=["X", "DR"])
def test_the_scikit_learn_contract(kind, small_campaign):
    features = small_campaign.frame.select(small_campaign.features)
    with pytest.raises(NotFittedError):
        kind().predict(features)
    learner = make_learner(ModelSettings(n_estimators=10, n_jobs=1, learner="x" if kind is XLearner else "dr"))
    assert type(learner) is kind
    copy = clone(learner)
    assert copy is not learner and copy.get_params()["value_model"] == learner.get_params()["value_model"]
    before = {name: repr(value) for name, value in learner.get_params(deep=True).items()}
    fitted = learner.fit(features, small_campaign.converted, small_campaign.treatment, small_campaign.revenue)
    assert fitted is learner
    assert {name: repr(value) for name, value in learner.get_params(deep=True).items()} == before
    state = {name: repr(value) for name, value in vars(learner).items()}
    first = learner.predict(features)
    assert np.array_equal(first, learner.predict(features))
    assert {name: repr(value) for name, value in vars(learner).items()} == state
    assert np.isfinite(first).all()


def test_a_dr_half_without_buyers_in_an_arm_is_a_clear_error():
    counts = {(0, 1): (1, 40), (0, 0): (10, 40)}
    features, y, arm, revenue = _cells(counts, {(0, 1): 5.0, (0, 0): 5.0})
    with pytest.raises(DataError, match="DR-learner needs buyers and non-buyers"):
        _exact(DRLearner).fit(features, y, arm, revenue)


def test_an_unknown_learner_is_a_data_error_naming_the_setting():
    with pytest.raises(DataError, match="learner must be one of t, x, dr"):
        ModelSettings(learner="s")


# --- cross-fitted, out of sample, deterministic ----------------------------------------------------------


def _noise_experiment(n: int, seed: int) -> Experiment:
    """The simulated features with a conversion that is a coin flip, unrelated to anything."""
    base = simulate_campaign(n, seed=seed)
    converted = (np.random.default_rng(seed).random(n) < 0.3).astype(np.int8)
    frame = base.frame.with_columns(pl.Series(CONVERTED, converted), pl.Series(REVENUE, converted * 10.0))
    return Experiment(frame=frame, features=base.features, source="noise outcome")


@pytest.mark.parametrize("learner", ["x", "dr"])
def test_cross_fitted_scores_carry_no_information_on_the_users_own_noise(learner):
    noise = _noise_experiment(8_000, seed=3)
    frame = noise.frame
    share = frame["treatment"].mean()
    arm = frame["treatment"].to_numpy()
    y = frame["converted"].to_numpy().astype(np.float64)
    transformed = y * (arm / share - (1 - arm) / (1 - share))  # its mean given x is the effect: zero here
    settings = ModelSettings(n_estimators=30, folds=3, n_jobs=1, learner=learner)
    scores = cross_fit(noise, settings)
    r = np.corrcoef(scores.uplift, transformed)[0, 1]
    assert abs(r) < 4 / math.sqrt(noise.n_users)  # about N(0, 1/n) when independent
    # the same learner scoring the users it was fitted on is caught by the same check
    in_sample = (
        make_learner(settings).fit(frame.select(noise.features), y, arm).predict_uplift(frame.select(noise.features))
    )
    assert np.corrcoef(in_sample, transformed)[0, 1] > 8 / math.sqrt(noise.n_users)


@pytest.mark.parametrize("learner", ["x", "dr"])
def test_the_same_seed_gives_the_same_scores_bit_for_bit_on_any_thread_count(learner, small_campaign):
    one = cross_fit(small_campaign, ModelSettings(n_estimators=10, folds=2, n_jobs=1, learner=learner))
    two = cross_fit(small_campaign, ModelSettings(n_estimators=10, folds=2, n_jobs=2, learner=learner))
    assert np.array_equal(one.expected_incremental_revenue, two.expected_incremental_revenue)
    t_learner = cross_fit(small_campaign, ModelSettings(n_estimators=10, folds=2, n_jobs=1))
    assert not np.array_equal(one.uplift, t_learner.uplift)
    # the per-arm models are the T-learner's: the probability strategy is the same whatever the learner
    assert np.array_equal(one.p_treated, t_learner.p_treated)


@pytest.mark.parametrize("kind", [TLearner, XLearner, DRLearner], ids=["T", "X", "DR"])
def test_the_contributions_add_up_to_the_learners_own_uplift(kind, small_campaign):
    """TreeSHAP values plus the bias are the prediction: the X-learner's blend and the DR-learner's effect model
    decompose the uplift the learner ranks by (probability scale), the T-learner's the margin difference."""
    import xgboost as xgb

    from uplift_studio.core.features import encode

    features = small_campaign.frame.select(small_campaign.features)
    learner = kind(random_state=1).fit(features, small_campaign.converted, small_campaign.treatment)
    names = list(learner.feature_names_in_)
    matrix = encode(features, names, learner.categories_)
    data = xgb.DMatrix(matrix, feature_names=names, feature_types=learner.feature_types_, enable_categorical=True)
    total = learner.contributions(data).sum(axis=1)
    if kind is TLearner:
        margins = [
            model.get_booster().predict(data, output_margin=True)
            for model in (learner.treated_classifier_, learner.control_classifier_)
        ]
        expected = margins[0].astype(np.float64) - margins[1].astype(np.float64)
    else:
        expected = learner.predict_uplift(features)
    np.testing.assert_allclose(total, expected, atol=1e-5)

r"""The X- and DR-learners: the T-learner's per-arm models, then a second stage fitted on the effect itself.

Both keep the T-learner's conversion models per arm (so ``p_treated`` and ``p_control``, the probability
strategy and the persuadability view mean the same whatever the learner) and its order value model; they
differ in how the effect is estimated. With ``value_model="order_value"`` the incremental revenue is the
learner's conversion uplift times the order value; with ``value_model="revenue"`` the same second stage is
fitted on revenue instead of conversion.

- **X-learner** (Künzel, Sekhon, Bickel and Yu, PNAS 2019): impute each user's effect with the other arm's
  model, ``D1 = Y - mu0(x)`` for the contacted and ``D0 = mu1(x) - Y`` for the others, regress each on x, and
  blend ``tau(x) = e tau0(x) + (1 - e) tau1(x)`` with the propensity ``e``, here the experiment's known share
  of contacted users.
- **DR-learner** (Kennedy, "Towards optimal doubly robust estimation of heterogeneous causal effects",
  2020/2023): the AIPW pseudo-outcome ``phi = mu1 - mu0 + T (Y - mu1) / e - (1 - T) (Y - mu0) / (1 - e)``
  from outcome models cross-fitted on two halves of the training rows (so no user's ``phi`` uses a model
  that saw them), regressed on x.
"""

from __future__ import annotations

import numpy as np
from xgboost import XGBClassifier, XGBRegressor

from uplift_studio.core.errors import DataError
from uplift_studio.core.tlearner import TLearner, Training

SEED_LIMIT = np.iinfo(np.int32).max


def aipw(outcome: np.ndarray, arm: np.ndarray, mu1: np.ndarray, mu0: np.ndarray, propensity: float) -> np.ndarray:
    """The doubly robust (AIPW) score of each user's effect: unbiased for the effect given x when either the
    outcome models or the propensity are right, and the propensity of an experiment is known."""
    return mu1 - mu0 + arm * (outcome - mu1) / propensity - (1 - arm) * (outcome - mu0) / (1 - propensity)


def _probability(model: XGBClassifier, features: np.ndarray) -> np.ndarray:
    return model.predict_proba(features)[:, 1].astype(np.float64)


def _values(model: XGBRegressor, features: np.ndarray) -> np.ndarray:
    return model.predict(features).astype(np.float64)


def _contributions(model: XGBRegressor, data) -> np.ndarray:
    return model.get_booster().predict(data, pred_contribs=True).astype(np.float64)


class XLearner(TLearner):
    """The X-learner on the T-learner's per-arm models (same constructor, fit and predict API)."""

    contribution_scale = "probability of conversion (the blended effect models)"

    def contributions(self, data) -> np.ndarray:
        # the blend is linear in the two effect models, so it is in their TreeSHAP values too: exact
        share = self.propensity_
        return share * _contributions(self.control_effect_, data) + (1 - share) * _contributions(
            self.treated_effect_, data
        )

    def _fit_effects(
        self, training: Training, classifier: XGBClassifier, regressor: XGBRegressor, rng: np.random.RandomState
    ) -> None:
        seeds = rng.randint(SEED_LIMIT, size=4)
        treated_x, control_x = training.treated_features, training.control_features
        treated_y, control_y = training.converted[training.treated], training.converted[training.control]
        self.treated_effect_ = self._fitted(
            regressor, seeds[0], treated_x, treated_y - _probability(self.control_classifier_, treated_x)
        )
        self.control_effect_ = self._fitted(
            regressor, seeds[1], control_x, _probability(self.treated_classifier_, control_x) - control_y
        )
        if self.value_model == "revenue":
            treated_r, control_r = training.revenue[training.treated], training.revenue[training.control]
            self.treated_revenue_effect_ = self._fitted(
                regressor, seeds[2], treated_x, treated_r - _values(self.control_regressor_, treated_x)
            )
            self.control_revenue_effect_ = self._fitted(
                regressor, seeds[3], control_x, _values(self.treated_regressor_, control_x) - control_r
            )

    def _blend(self, treated_model: XGBRegressor, control_model: XGBRegressor, matrix: np.ndarray) -> np.ndarray:
        share = self.propensity_
        return share * _values(control_model, matrix) + (1 - share) * _values(treated_model, matrix)

    def _effects(
        self, matrix: np.ndarray, p_treated: np.ndarray, p_control: np.ndarray, order_value: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        uplift = self._blend(self.treated_effect_, self.control_effect_, matrix)
        if self.value_model == "revenue":
            return uplift, self._blend(self.treated_revenue_effect_, self.control_revenue_effect_, matrix)
        return uplift, uplift * order_value


class DRLearner(TLearner):
    """The DR-learner on cross-fitted outcome models (same constructor, fit and predict API)."""

    contribution_scale = "probability of conversion (the pseudo-outcome regression)"

    def contributions(self, data) -> np.ndarray:
        return _contributions(self.effect_, data)

    def _fit_effects(
        self, training: Training, classifier: XGBClassifier, regressor: XGBRegressor, rng: np.random.RandomState
    ) -> None:
        from sklearn.model_selection import StratifiedKFold

        seeds = rng.randint(SEED_LIMIT, size=8)
        rows, arm, converted = training.rows, training.arm[training.rows], training.converted[training.rows]
        revenue_mode = self.value_model == "revenue"
        strata = arm.astype(np.int64) * 2 + converted
        counts = np.bincount(strata, minlength=4)
        if counts.min() < 2:
            # each half needs buyers and non-buyers in both arms, so each of the four groups needs two users
            raise DataError(
                f"the training data has only {counts.min()} user(s) in one of its arm x outcome groups "
                f"(control non-buyers, control buyers, treated non-buyers, treated buyers: {counts.tolist()}); "
                "a DR-learner needs buyers and non-buyers in each arm of each half (more data, or the T-learner)"
            )
        nuisance = {name: np.empty(rows.shape[0]) for name in ("mu1", "mu0", "r1", "r0")}
        halves = StratifiedKFold(n_splits=2, shuffle=True, random_state=int(seeds[0]))
        for half, (fit_part, score_part) in enumerate(halves.split(rows, strata)):
            score_x = np.take(training.matrix, rows[score_part], axis=0)
            for arm_value, suffix in ((1, "1"), (0, "0")):
                members = rows[fit_part][arm[fit_part] == arm_value]
                x = np.take(training.matrix, members, axis=0)
                seed = seeds[1 + half * 2 + arm_value]
                model = self._fitted(classifier, seed, x, training.converted[members])
                nuisance["mu" + suffix][score_part] = _probability(model, score_x)
                if revenue_mode:
                    value_model = self._fitted(regressor, seed, x, training.revenue[members])
                    nuisance["r" + suffix][score_part] = _values(value_model, score_x)
        features = np.take(training.matrix, rows, axis=0)
        share = self.propensity_
        target = aipw(converted, arm, nuisance["mu1"], nuisance["mu0"], share)
        self.effect_ = self._fitted(regressor, seeds[5], features, target)
        if revenue_mode:
            revenue_target = aipw(training.revenue[rows], arm, nuisance["r1"], nuisance["r0"], share)
            self.revenue_effect_ = self._fitted(regressor, seeds[6], features, revenue_target)

    def _effects(
        self, matrix: np.ndarray, p_treated: np.ndarray, p_control: np.ndarray, order_value: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        uplift = _values(self.effect_, matrix)
        if self.value_model == "revenue":
            return uplift, _values(self.revenue_effect_, matrix)
        return uplift, uplift * order_value

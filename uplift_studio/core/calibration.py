r"""Is the uplift score right in dollars, not only in order? Calibration of a score against held-out outcomes.

Two reads of the same out-of-sample scores:

- **Per score decile**: the mean predicted incremental revenue against the observed one, treated minus
  control mean outcome of the decile's users, with its 95% interval (:func:`uplift_studio.core.metrics.decile_table`,
  so the deciles are those of the decile view: edges at ``j n / 10`` down the ranking, a tie group cut by an
  edge shared in proportion).
- **Best linear predictor** (Chernozhukov, Demirer, Duflo and Fernández-Val, "Generic machine learning
  inference on heterogeneous treatment effects in randomized experiments", 2018): regress each user's
  doubly robust (AIPW) pseudo-outcome ``phi`` (:func:`uplift_studio.core.metalearners.aipw`, with the
  experiment's known treated share as the propensity) on the centred score, ``phi = a + b (s - mean s) + e``.
  Since ``E[phi | x]`` is the user's true effect, ``b`` is the slope of the true effect on the score: 1 when
  the score is calibrated, below 1 when it overstates the differences between users (0 when it carries no
  signal), and ``a`` is the average effect. Standard errors are heteroskedasticity-robust (HC1).

The pseudo-outcome's outcome models are the learner's own out-of-sample predictions (``p_treated x
order_value`` and ``p_control x order_value``); with a known propensity ``phi`` is unbiased for the effect
whatever they are, so they only change the variance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from uplift_studio.core.curve import build_curve
from uplift_studio.core.errors import DataError
from uplift_studio.core.metrics import decile_table
from uplift_studio.core.stats import Z95
from uplift_studio.core.validate import as_binary, as_float_array, check_lengths

DECILES = 10


def aipw(outcome: np.ndarray, arm: np.ndarray, mu1: np.ndarray, mu0: np.ndarray, propensity: float) -> np.ndarray:
    """The AIPW pseudo-outcome, as :func:`uplift_studio.core.metalearners.aipw` (repeated here, a line, so
    that a cached analysis reads its calibration without importing XGBoost)."""
    return mu1 - mu0 + arm * (outcome - mu1) / propensity - (1 - arm) * (outcome - mu0) / (1 - propensity)


@dataclass(frozen=True)
class BestLinearPredictor:
    """``phi = intercept + slope (score - mean score) + e``, with robust (HC1) standard errors."""

    intercept: float  # the average effect per user (the AIPW estimate)
    intercept_se: float
    slope: float  # 1 = calibrated; < 1 the score overstates differences; 0 = no signal
    slope_se: float
    n: int

    @property
    def slope_ci(self) -> tuple[float, float]:
        return self.slope - Z95 * self.slope_se, self.slope + Z95 * self.slope_se

    @property
    def intercept_ci(self) -> tuple[float, float]:
        return self.intercept - Z95 * self.intercept_se, self.intercept + Z95 * self.intercept_se

    def as_dict(self) -> dict[str, float]:
        slope_low, slope_high = self.slope_ci
        intercept_low, intercept_high = self.intercept_ci
        return {
            "slope": self.slope,
            "slope_se": self.slope_se,
            "slope_ci_low": slope_low,
            "slope_ci_high": slope_high,
            "intercept": self.intercept,
            "intercept_se": self.intercept_se,
            "intercept_ci_low": intercept_low,
            "intercept_ci_high": intercept_high,
            "n": self.n,
        }


@dataclass(frozen=True, eq=False)
class Calibration:
    """Predicted against observed uplift per score decile, and the best linear predictor test.

    ``deciles`` has one row per decile (1 = the highest scores): ``decile, users, predicted`` (mean score),
    ``observed`` (treated minus control mean outcome), ``observed_se``, ``observed_ci_low``,
    ``observed_ci_high``, ``n_treated`` and ``n_control``."""

    deciles: pl.DataFrame
    blp: BestLinearPredictor
    propensity: float

    def as_dict(self) -> dict:
        """The report JSON's ``calibration`` (design section 8)."""
        return {
            "score": "expected_incremental_revenue",
            "propensity": self.propensity,
            "blp": self.blp.as_dict(),
            "deciles": self.deciles.to_dicts(),
        }


def best_linear_predictor(pseudo_outcome: npt.ArrayLike, score: npt.ArrayLike) -> BestLinearPredictor:
    """OLS of ``pseudo_outcome`` on ``[1, score - mean(score)]`` with HC1 standard errors.

    With a centred regressor ``X'X`` is diagonal, so the sandwich ``(X'X)^-1 X' diag(e^2) X (X'X)^-1`` has
    closed-form entries: ``var(a) = sum e^2 / n^2`` and ``var(b) = sum c^2 e^2 / (sum c^2)^2``, each times
    ``n / (n - 2)``. A constant score has no slope (NaN)."""
    phi = as_float_array("pseudo_outcome", pseudo_outcome, "drop the users without an outcome")
    score = as_float_array("score", score, "score every held-out user")
    check_lengths(phi.shape[0], score=score)
    n = phi.shape[0]
    if n < 3:
        raise DataError(f"the best linear predictor needs at least 3 held-out users, got {n}.")
    centred = score - score.mean()
    spread = float(centred @ centred)
    intercept = float(phi.mean())
    slope = float(centred @ (phi - intercept)) / spread if spread > 0 else np.nan
    residual = phi - intercept - (centred * slope if spread > 0 else 0.0)
    squared = residual * residual
    correction = n / (n - 2)
    intercept_se = float(np.sqrt(squared.sum() / n**2 * correction))
    slope_se = float(np.sqrt((centred * centred) @ squared / spread**2 * correction)) if spread > 0 else np.nan
    return BestLinearPredictor(intercept=intercept, intercept_se=intercept_se, slope=slope, slope_se=slope_se, n=n)


def _predicted_per_decile(score: np.ndarray, k: np.ndarray, n_bins: int) -> np.ndarray:
    """Mean score per decile, with the decile table's edges: the ranked scores' cumulative sum read at the
    tie-group boundaries ``k`` and interpolated at the edges (exact, since a tie group's scores are equal)."""
    ranked = np.sort(score)[::-1]
    cumulative = np.concatenate([[0.0], np.cumsum(ranked)])[k]
    edges = np.linspace(0.0, score.shape[0], n_bins + 1)
    return np.diff(np.interp(edges, k, cumulative)) / np.diff(edges)


def calibrate(
    outcome: npt.ArrayLike,
    score: npt.ArrayLike,
    treatment: npt.ArrayLike,
    mu_treated: npt.ArrayLike,
    mu_control: npt.ArrayLike,
    propensity: float,
    n_bins: int = DECILES,
) -> Calibration:
    """The calibration of ``score`` (predicted effect on ``outcome`` per user) on held-out users.

    ``mu_treated``/``mu_control`` are out-of-sample predictions of the outcome in each arm (they enter the
    pseudo-outcome only), and ``propensity`` is the experiment's known share of contacted users."""
    outcome = as_float_array("outcome", outcome, "fill or drop those users")
    score = as_float_array("score", score, "score every held-out user")
    arm = as_binary("treatment", treatment, "map the treated label to 1 and the control label to 0")
    mu1 = as_float_array("mu_treated", mu_treated, "predict every held-out user")
    mu0 = as_float_array("mu_control", mu_control, "predict every held-out user")
    check_lengths(outcome.shape[0], score=score, treatment=arm, mu_treated=mu1, mu_control=mu0)
    if not 0.0 < propensity < 1.0:
        raise DataError(f"the treated share must be strictly between 0 and 1, got {propensity}.")
    curve = build_curve(outcome, score, arm)
    table = decile_table(curve, n_bins)
    deciles = table.select(
        pl.col("bin").alias("decile"),
        "users",
        pl.Series("predicted", _predicted_per_decile(score, curve.k, n_bins)),
        pl.col("uplift").alias("observed"),
        pl.col("uplift_se").alias("observed_se"),
        pl.col("uplift_ci_low").alias("observed_ci_low"),
        pl.col("uplift_ci_high").alias("observed_ci_high"),
        "n_treated",
        "n_control",
    )
    phi = aipw(outcome, arm.astype(np.float64), mu1, mu0, propensity)
    return Calibration(deciles=deciles, blp=best_linear_predictor(phi, score), propensity=float(propensity))


def format_calibration(calibration: Calibration) -> str:
    """The report table's line: the slope with its interval, and what it means."""
    blp = calibration.blp
    if not np.isfinite(blp.slope):
        return "Calibration (best linear predictor): the uplift score is constant, so it has no slope."
    low, high = blp.slope_ci
    if low <= 1.0 <= high:
        verdict = "consistent with a calibrated score (1)"
    elif high < 1.0:
        verdict = "below 1: the score overstates the differences between customers"
    else:
        verdict = "above 1: the score understates the differences between customers"
    return (
        f"Calibration slope of the uplift score (best linear predictor): {blp.slope:.2f} "
        f"[{low:.2f}, {high:.2f}], {verdict}."
    )

"""Scores of a ranking from its observed curve: Qini coefficient and AUUC (scikit-uplift's normalisation),
per-decile uplift, and the stratified bootstrap that the analytic intervals are tested against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from uplift_studio.core.curve import Curve, build_curve
from uplift_studio.core.errors import DataError
from uplift_studio.core.path import curve_path
from uplift_studio.core.stats import Z95
from uplift_studio.core.validate import as_binary, as_float_array, check_lengths

# ---------------------------------------------------------------------------------------------------------
# Bootstrap reference


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """Stratified bootstrap of ``U`` at fixed depths: ``replicates`` is ``n_boot x len(depths)``."""

    depths: np.ndarray
    uplift: np.ndarray
    replicates: np.ndarray

    @property
    def se(self) -> np.ndarray:
        return self.replicates.std(axis=0, ddof=1)


def bootstrap_uplift(
    outcome: npt.ArrayLike,
    score: npt.ArrayLike,
    treatment: npt.ArrayLike,
    depths: npt.ArrayLike,
    *,
    n_boot: int = 200,
    seed: int = 0,
) -> BootstrapResult:
    """``U`` at ``depths`` (users) on ``n_boot`` stratified resamples: the reference for the analytic SE.

    Treated and control users are resampled separately with replacement, so each replicate keeps the
    experiment's arm sizes (and n, so a depth means the same share in every replicate), as the analytic SE
    conditions on them. Each replicate is a full curve (a duplicated user ties with itself).
    """
    outcome = as_float_array("outcome", outcome, "fill or drop those users")
    score = as_float_array("score", score, "drop those users or give them a score")
    treatment = as_binary("treatment", treatment, "map the treated label to 1 and the control label to 0")
    check_lengths(outcome.shape[0], score=score, treatment=treatment)
    if n_boot < 2:
        raise DataError(f"n_boot must be at least 2 to estimate a spread; got {n_boot}.")
    points = np.atleast_1d(np.asarray(depths, dtype=np.float64))
    uplift = curve_path("uplift", build_curve(outcome, score, treatment)).at_depth(points).value
    treated_rows = np.flatnonzero(treatment)
    control_rows = np.flatnonzero(treatment == 0)
    rng = np.random.default_rng(seed)
    replicates = np.empty((n_boot, uplift.size))
    for replicate in range(n_boot):
        rows = np.concatenate(
            [
                treated_rows[rng.integers(0, treated_rows.size, treated_rows.size)],
                control_rows[rng.integers(0, control_rows.size, control_rows.size)],
            ]
        )
        resampled = build_curve(outcome[rows], score[rows], treatment[rows])
        replicates[replicate] = curve_path("uplift", resampled).at_depth(points).value
    return BootstrapResult(points, uplift, replicates)


# ---------------------------------------------------------------------------------------------------------
# Coefficients (scikit-uplift's normalisation)


def _area(k: np.ndarray, values: np.ndarray) -> float:
    """Trapezoid area under the points ``(k, values)`` (what sklearn.metrics.auc computes)."""
    return float(np.sum(np.diff(k) * (values[1:] + values[:-1])) / 2.0)


def _sklift_uplift_values(curve: Curve) -> np.ndarray:
    # scikit-uplift takes an empty arm's mean as 0 (so U = mean_T * k while N_C = 0), not U = 0
    mean_t = np.divide(curve.sum_t, curve.n_t, out=np.zeros(curve.k.shape), where=curve.n_t > 0)
    mean_c = np.divide(curve.sum_c, curve.n_c, out=np.zeros(curve.k.shape), where=curve.n_c > 0)
    return (mean_t - mean_c) * curve.k


def _sklift_qini_values(curve: Curve) -> np.ndarray:
    # scikit-uplift takes N_T / N_C as 0 while N_C = 0 (so Q = R_T there)
    ratio = np.divide(curve.n_t, curve.n_c, out=np.zeros(curve.k.shape), where=curve.n_c > 0)
    return curve.sum_t - curve.sum_c * ratio


def _area_above_random(curve: Curve, values: np.ndarray) -> float:
    """Area between the curve and the random line from (0, 0) to (n, value at n)."""
    return _area(curve.k, values) - 0.5 * curve.n * float(values[-1])


def _is_binary(values: np.ndarray) -> bool:
    return bool(np.all((values == 0) | (values == 1)))


def _perfect_uplift_score(outcome: np.ndarray, treatment: np.ndarray) -> np.ndarray:
    """scikit-uplift's perfect uplift ranking, extended from 0/1 to any outcome >= 0.

    For a 0/1 outcome it is exactly sklift's ``2 * (y == t) + (y if CR > TN else t)``: treated responders,
    then control non-responders, then control responders before treated non-responders when control
    responders (CR) outnumber treated non-responders (TN), else the reverse. For other outcomes a
    responder is a user with outcome > 0, and within a group treated responders come by outcome
    descending and control responders by outcome ascending (the order that helps the curve most).
    """
    treated = treatment.astype(bool)
    responder = outcome > 0
    control_responders = int(np.count_nonzero(responder & ~treated))
    treated_non_responders = int(np.count_nonzero(~responder & treated))
    group = np.where(treated, np.where(responder, 3.0, 0.0), np.where(responder, 0.0, 2.0))
    if control_responders > treated_non_responders:
        group[responder & ~treated] = 1.0
    else:
        group[~responder & treated] = 1.0
    if _is_binary(outcome):
        return group
    # groups are spaced wider than any within-group offset, so the offset only orders inside a group
    spacing = 2.0 * float(np.max(np.abs(outcome))) + 2.0
    within = np.where(treated, outcome, -outcome)
    return group * spacing + within


def perfect_uplift_curve(outcome: npt.ArrayLike, treatment: npt.ArrayLike) -> Curve:
    """The curve of the best possible ranking of the observed data (see ``_perfect_uplift_score``)."""
    outcome = as_float_array("outcome", outcome, "fill or drop those users")
    treatment = as_binary("treatment", treatment, "map the treated label to 1 and the control label to 0")
    check_lengths(outcome.shape[0], treatment=treatment)
    return build_curve(outcome, _perfect_uplift_score(outcome, treatment), treatment)


def perfect_qini_curve(outcome: npt.ArrayLike, treatment: npt.ArrayLike) -> Curve:
    """The curve of scikit-uplift's perfect Qini ranking with negative effects: score ``y * (2t - 1)``.

    Treated users with the largest outcomes first, control users with the largest outcomes last.
    """
    outcome = as_float_array("outcome", outcome, "fill or drop those users")
    treatment = as_binary("treatment", treatment, "map the treated label to 1 and the control label to 0")
    check_lengths(outcome.shape[0], treatment=treatment)
    return build_curve(outcome, outcome * (2.0 * treatment - 1.0), treatment)


def uplift_area(outcome: npt.ArrayLike, score: npt.ArrayLike, treatment: npt.ArrayLike) -> float:
    """Area between the uplift curve and the random line (outcome x users): ``uplift_auc_score``'s numerator.

    Trapezoids over the tie-group boundaries, with scikit-uplift's curve (an empty arm's mean is 0).
    """
    curve = build_curve(outcome, score, treatment)
    return _area_above_random(curve, _sklift_uplift_values(curve))


def qini_area(outcome: npt.ArrayLike, score: npt.ArrayLike, treatment: npt.ArrayLike) -> float:
    """Area between the Qini curve and the random line (outcome x users): ``qini_auc_score``'s numerator.

    Trapezoids over the tie-group boundaries, with scikit-uplift's curve (``N_T / N_C`` is 0 while
    ``N_C`` is 0, so ``Q = R_T`` there).
    """
    curve = build_curve(outcome, score, treatment)
    return _area_above_random(curve, _sklift_qini_values(curve))


def _ratio(actual: float, perfect: float) -> float:
    # a perfect ranking no better than random (e.g. a constant outcome) leaves the coefficient undefined
    return actual / perfect if perfect != 0 else float("nan")


def uplift_auc_score(outcome: npt.ArrayLike, score: npt.ArrayLike, treatment: npt.ArrayLike) -> float:
    """Normalised area under the uplift curve, as scikit-uplift's ``uplift_auc_score``.

    ``(A(score) - A_random) / (A(perfect) - A_random)`` where ``A`` is the trapezoid area under the uplift
    curve ``U(k) = (R_T/N_T - R_C/N_C) * k`` over the tie-group boundaries (k in users, from 0 to n),
    ``A_random = n * U(n) / 2`` is the area under the straight line from (0, 0) to (n, U(n)), and the
    perfect curve ranks the observed users as sklift's ``perfect_uplift_curve`` does (see
    ``_perfect_uplift_score``; identical for a 0/1 outcome, extended to revenue). As in sklift, an empty
    arm's mean is taken as 0 in these curves (``Curve.uplift_points`` takes ``U = 0`` instead; the two
    differ only over a top prefix that lacks one arm). 1 is the perfect ranking, about 0 a random one; NaN
    when the perfect ranking is no better than random.
    """
    outcome = as_float_array("outcome", outcome, "fill or drop those users")
    treatment = as_binary("treatment", treatment, "map the treated label to 1 and the control label to 0")
    actual = build_curve(outcome, score, treatment)
    perfect = perfect_uplift_curve(outcome, treatment)
    return _ratio(
        _area_above_random(actual, _sklift_uplift_values(actual)),
        _area_above_random(perfect, _sklift_uplift_values(perfect)),
    )


def qini_auc_score(
    outcome: npt.ArrayLike, score: npt.ArrayLike, treatment: npt.ArrayLike, *, negative_effect: bool = True
) -> float:
    """Qini coefficient, as scikit-uplift's ``qini_auc_score``.

    ``(A(score) - A_random) / (A(perfect) - A_random)`` where ``A`` is the trapezoid area under the Qini
    curve ``Q(k) = R_T - R_C * N_T / N_C`` over the tie-group boundaries (k in users, from 0 to n) and
    ``A_random = n * Q(n) / 2``. With ``negative_effect=True`` (the default) the perfect curve is that of
    the score ``y * (2t - 1)`` (treated users with the largest outcomes first, control users with the
    largest outcomes last); with ``False`` (0/1 outcome only) it is sklift's three points
    ``(0, 0), (Q(n), Q(n)), (n, Q(n))``: every incremental responder first, nobody the contact puts off.
    As in sklift, ``N_T / N_C`` is taken as 0 while ``N_C`` is 0 (``Curve.qini_points`` takes ``Q = 0``
    there). 1 is the perfect ranking, about 0 a random one; NaN when the perfect ranking is no better than
    random.
    """
    outcome = as_float_array("outcome", outcome, "fill or drop those users")
    treatment = as_binary("treatment", treatment, "map the treated label to 1 and the control label to 0")
    actual = build_curve(outcome, score, treatment)
    actual_area = _area_above_random(actual, _sklift_qini_values(actual))
    if negative_effect:
        perfect = perfect_qini_curve(outcome, treatment)
        return _ratio(actual_area, _area_above_random(perfect, _sklift_qini_values(perfect)))
    if not _is_binary(outcome):
        raise DataError(
            "qini_auc_score(negative_effect=False) counts incremental responders, so it needs a 0/1 "
            "outcome; use negative_effect=True for revenue."
        )
    n = actual.n
    total = float(_sklift_qini_values(actual)[-1])
    perfect_area = _area(np.array([0.0, total, n]), np.array([0.0, total, total])) - 0.5 * n * total
    return _ratio(actual_area, perfect_area)


# ---------------------------------------------------------------------------------------------------------
# Deciles


def decile_table(curve: Curve, n_bins: int = 10) -> pl.DataFrame:
    """Observed uplift per score bin (deciles by default), from the curve's cumulative sums.

    Bin edges sit at depths ``j * n / n_bins``; the cumulative sums are linearly interpolated there, so a
    tie group cut by an edge is shared between the two bins in proportion (its expected split under a
    random order within the tie), and counts can be fractional. Per bin: treated/control counts and mean
    outcomes, ``uplift = mean_T - mean_C`` with ``se = sqrt(var_T/n_T + var_C/n_C)`` (sample variances,
    NaN below 2 users in an arm) and its 95% interval, ``incremental_outcome = uplift * users``, and the
    cumulative capture: the running sum of ``incremental_outcome`` over its total across bins.
    """
    if not isinstance(n_bins, int | np.integer) or n_bins < 1 or n_bins > curve.n:
        raise DataError(f"n_bins must be a whole number between 1 and n = {curve.n}; got {n_bins!r}.")
    edges = np.linspace(0.0, curve.n, n_bins + 1)

    def per_bin(cumulative: np.ndarray) -> np.ndarray:
        return np.diff(np.interp(edges, curve.k, cumulative))

    n_t, n_c = per_bin(curve.n_t), per_bin(curve.n_c)
    sum_t, sum_c = per_bin(curve.sum_t), per_bin(curve.sum_c)
    sumsq_t, sumsq_c = per_bin(curve.sumsq_t), per_bin(curve.sumsq_c)
    # bins are few, so plain divisions with NaN where an arm is empty are clearer than masked ones
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_t = np.where(n_t > 0, sum_t / n_t, np.nan)
        mean_c = np.where(n_c > 0, sum_c / n_c, np.nan)
        var_t = np.where(n_t >= 2, np.maximum(sumsq_t - sum_t * mean_t, 0.0) / (n_t - 1), np.nan)
        var_c = np.where(n_c >= 2, np.maximum(sumsq_c - sum_c * mean_c, 0.0) / (n_c - 1), np.nan)
        uplift = mean_t - mean_c
        se = np.sqrt(var_t / n_t + var_c / n_c)
    users = np.diff(edges)
    incremental = uplift * users
    cumulative = np.cumsum(incremental)
    total = cumulative[-1]
    capture = cumulative / total if np.isfinite(total) and total != 0 else np.full(n_bins, np.nan)
    return pl.DataFrame(
        {
            "bin": np.arange(1, n_bins + 1),
            "users": users,
            "n_treated": n_t,
            "n_control": n_c,
            "mean_treated": mean_t,
            "mean_control": mean_c,
            "uplift": uplift,
            "uplift_se": se,
            "uplift_ci_low": uplift - Z95 * se,
            "uplift_ci_high": uplift + Z95 * se,
            "incremental_outcome": incremental,
            "cumulative_incremental_outcome": cumulative,
            "cumulative_capture": capture,
        },
        nan_to_null=True,
    )


# ---------------------------------------------------------------------------------------------------------
# Coefficient intervals (a resampling of per-bin sufficient statistics)

COEFFICIENT_REPLICATES = 400
_USERS_PER_BIN = 100
_MAX_BINS = 500


def perfect_curves(outcome: npt.ArrayLike, treatment: npt.ArrayLike) -> tuple[Curve, Curve]:
    """The perfect uplift and perfect Qini curves of the observed data: the coefficients' normalisers,
    shared by every strategy of one data set."""
    return perfect_uplift_curve(outcome, treatment), perfect_qini_curve(outcome, treatment)


def _bin_edges(curve: Curve) -> np.ndarray:
    """About ``n / 100`` (at most 500) tie-group boundaries spread evenly over the depth: the edges of the
    bins the resampling works on. A tie group is never cut, so no bin depends on the order of ties."""
    bins = int(np.clip(curve.n // _USERS_PER_BIN, 1, _MAX_BINS))
    wanted = np.linspace(0, curve.n, bins + 1)
    return np.unique(np.searchsorted(curve.k, wanted, side="left").clip(0, curve.k.size - 1))


def _resampled_arm(
    counts: np.ndarray, sums: np.ndarray, squares: np.ndarray, n_boot: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin (count, sum) of one arm on ``n_boot`` replicates, cumulated down the bins (leading 0 column).

    A stratified bootstrap resample's bin counts and sums are, per bin, sums of many users' multinomial
    weights times (1, y): Gaussian with covariance ``[[c, s], [s, q]]`` per bin (c, s, q the bin's count,
    sum and sum of squares) less the term that fixes the arm's size. Drawing them directly costs
    ``n_boot x bins``, not ``n_boot x users``; the arm's total count is then conditioned to its size, as
    the stratified resample keeps it.
    """
    shape = (n_boot, counts.size)
    first, second = rng.standard_normal(shape), rng.standard_normal(shape)
    root = np.sqrt(counts)
    loading = np.divide(sums, root, out=np.zeros(counts.shape), where=counts > 0)
    residual = np.sqrt(np.maximum(squares - loading * loading, 0.0))
    count_draws = counts + root * first
    sum_draws = sums + loading * first + residual * second
    total = counts.sum()
    if total > 0:
        excess = count_draws.sum(axis=1, keepdims=True) - total
        count_draws -= counts / total * excess
        sum_draws -= sums / total * excess
    zero = np.zeros((n_boot, 1))
    return np.hstack([zero, np.cumsum(count_draws, axis=1)]), np.hstack([zero, np.cumsum(sum_draws, axis=1)])


def _areas_above_random(k: np.ndarray, values: np.ndarray) -> np.ndarray:
    """:func:`_area_above_random` per row of ``k`` and ``values`` (replicates x points)."""
    area = np.sum(np.diff(k, axis=1) * (values[:, 1:] + values[:, :-1]), axis=1) / 2.0
    return area - 0.5 * k[:, -1] * values[:, -1]


def coefficient_intervals(
    curve: Curve,
    perfect: tuple[Curve, Curve],
    *,
    n_boot: int = COEFFICIENT_REPLICATES,
    rng: np.random.Generator,
) -> dict[str, float]:
    """The Qini coefficient and AUUC of ``curve`` (exactly :func:`qini_auc_score` and
    :func:`uplift_auc_score`) with 95% intervals ``estimate +- 1.96 SE``.

    The SE is that of a stratified bootstrap over the users at the curve's fixed order (a resampled user
    keeps its score, so the ranking never changes), drawn from per-bin sufficient statistics (see
    ``_resampled_arm``): the curve's cumulative counts, sums and squares at about n / 100 tie-group
    boundaries. The normalisers (the observed data's best ranking, ``perfect``) are held at their observed
    value: their own sampling error is a small fraction of the areas'. tests/core/test_analysis.py checks
    the SE against a bootstrap that resamples users and re-sorts.
    """
    if n_boot < 2:
        raise DataError(f"n_boot must be at least 2 to estimate a spread; got {n_boot}.")
    perfect_uplift, perfect_qini = perfect
    uplift_normaliser = _area_above_random(perfect_uplift, _sklift_uplift_values(perfect_uplift))
    qini_normaliser = _area_above_random(perfect_qini, _sklift_qini_values(perfect_qini))
    auuc = _ratio(_area_above_random(curve, _sklift_uplift_values(curve)), uplift_normaliser)
    qini = _ratio(_area_above_random(curve, _sklift_qini_values(curve)), qini_normaliser)

    edges = _bin_edges(curve)

    def per_bin(cumulative: np.ndarray) -> np.ndarray:
        return np.diff(cumulative[edges].astype(np.float64))

    n_t, sum_t = _resampled_arm(per_bin(curve.n_t), per_bin(curve.sum_t), per_bin(curve.sumsq_t), n_boot, rng)
    n_c, sum_c = _resampled_arm(per_bin(curve.n_c), per_bin(curve.sum_c), per_bin(curve.sumsq_c), n_boot, rng)
    k = n_t + n_c
    # an arm barely present in the top bin is taken as empty, as scikit-uplift takes an empty arm's mean as 0
    treated, control = n_t > 0.5, n_c > 0.5
    mean_t = np.divide(sum_t, n_t, out=np.zeros(k.shape), where=treated)
    mean_c = np.divide(sum_c, n_c, out=np.zeros(k.shape), where=control)
    ratio = np.divide(n_t, n_c, out=np.zeros(k.shape), where=control)
    uplift_areas = _areas_above_random(k, (mean_t - mean_c) * k)
    qini_areas = _areas_above_random(k, sum_t - sum_c * ratio)
    out = {"qini_coefficient": float(qini), "auuc": float(auuc)}
    for name, estimate, areas, normaliser in (
        ("qini", qini, qini_areas, qini_normaliser),
        ("auuc", auuc, uplift_areas, uplift_normaliser),
    ):
        se = float(np.std(areas, ddof=1) / abs(normaliser)) if normaliser != 0 else float("nan")
        low, high = estimate - Z95 * se, estimate + Z95 * se
        out |= {f"{name}_se": se, f"{name}_ci_low": float(low), f"{name}_ci_high": float(high)}
    return out

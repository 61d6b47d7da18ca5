"""The A/B readout of an experiment: arms, rates, average effects with intervals, sample-ratio check.

Intervals are normal (Wald) intervals for a difference of two independent means with unequal variances:
``diff +- 1.96 sqrt(s_T^2 / n_T + s_C^2 / n_C)`` (sample variances, ddof=1). The sample-ratio-mismatch
check is Pearson's chi-square goodness-of-fit test of the arm sizes against the expected treated share.
Each effect's p-value is the two-sided normal (Wald) test of "no effect" from the same SE,
``2 (1 - Phi(|diff| / SE))``; Welch's t test differs only by the gap between t and normal tails, a
relative 1e-4 at 20,000 users per arm (tests/core/test_readout.py).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from uplift_studio.core.data import Experiment
from uplift_studio.core.errors import DataError
from uplift_studio.core.stats import Z95

SRM_ALERT_P = 0.001


@dataclass(frozen=True)
class Arm:
    users: int
    conversions: int
    conversion_rate: float
    revenue: float
    revenue_per_user: float
    conversion_rate_se: float  # standard errors of the two means (sample SD / sqrt(users))
    revenue_per_user_se: float


@dataclass(frozen=True)
class Effect:
    """A difference of means, treated minus control, with its standard error, 95% interval and the
    two-sided p-value of the normal test of no effect (NaN when the SE is 0: both arms constant)."""

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    relative: float  # estimate / control mean (nan when the control mean is 0)
    p_value: float


@dataclass(frozen=True)
class Readout:
    source: str
    treated: Arm
    control: Arm
    conversion_effect: Effect
    revenue_effect: Effect
    expected_treated_share: float
    observed_treated_share: float
    srm_chi2: float
    srm_p_value: float
    notes: tuple[str, ...]

    @property
    def srm_alert(self) -> bool:
        return self.srm_p_value < SRM_ALERT_P

    def to_dict(self) -> dict:
        out = asdict(self)
        out["srm_alert"] = self.srm_alert
        out["notes"] = list(self.notes)
        return out


def difference_in_means(treated: np.ndarray, control: np.ndarray) -> Effect:
    """Treated minus control mean, with the unequal-variance standard error and a 95% normal interval."""
    mean_t, mean_c = float(np.mean(treated)), float(np.mean(control))
    var_t = float(np.var(treated, ddof=1)) if treated.size > 1 else 0.0
    var_c = float(np.var(control, ddof=1)) if control.size > 1 else 0.0
    estimate = mean_t - mean_c
    se = float(np.sqrt(var_t / treated.size + var_c / control.size))
    relative = estimate / mean_c if mean_c != 0 else float("nan")
    # 2 * (1 - Phi(|z|)) = erfc(|z| / sqrt 2): exact, and no scipy.stats import (1.2 s) on the app's start
    p_value = math.erfc(abs(estimate) / se / math.sqrt(2.0)) if se > 0 else float("nan")
    return Effect(estimate, se, estimate - Z95 * se, estimate + Z95 * se, relative, p_value)


def _arm(converted: np.ndarray, revenue: np.ndarray) -> Arm:
    users = int(converted.size)
    conversions = int(converted.sum())
    total = float(revenue.sum())

    def se(values: np.ndarray) -> float:
        return float(np.std(values, ddof=1) / np.sqrt(users)) if users > 1 else float("nan")

    return Arm(users, conversions, conversions / users, total, total / users, se(converted), se(revenue))


def sample_ratio_test(n_treated: int, n_control: int, expected_treated_share: float) -> tuple[float, float]:
    """Pearson chi-square statistic and p-value of the arm sizes against the expected split (1 dof)."""
    if not 0.0 < expected_treated_share < 1.0:
        raise DataError(f"--expected-treated-share must be strictly between 0 and 1, got {expected_treated_share}.")
    total = n_treated + n_control
    expected = np.array([expected_treated_share, 1.0 - expected_treated_share]) * total
    observed = np.array([n_treated, n_control], dtype=np.float64)
    chi2 = float(np.sum((observed - expected) ** 2 / expected))
    # a chi-square with 1 dof is a squared standard normal: P(X > x) = erfc(sqrt(x / 2))
    return chi2, math.erfc(math.sqrt(chi2 / 2.0))


def ab_readout(experiment: Experiment, expected_treated_share: float = 0.5) -> Readout:
    """The classic A/B readout of ``experiment`` (design section 6, ``describe``)."""
    treatment = experiment.treatment.astype(bool)
    converted = experiment.converted.astype(np.float64)
    revenue = experiment.revenue.astype(np.float64)
    n_treated = int(treatment.sum())
    if min(n_treated, treatment.size - n_treated) < 2:
        raise DataError(
            f"{experiment.source}: {n_treated} treated and {treatment.size - n_treated} control users; an effect "
            "and its interval need at least 2 users in each arm. Use more users (--users) or check the treatment "
            "labels (--treatment, --treated-value, --control-value)."
        )
    treated = _arm(converted[treatment], revenue[treatment])
    control = _arm(converted[~treatment], revenue[~treatment])
    chi2, p_value = sample_ratio_test(treated.users, control.users, expected_treated_share)
    return Readout(
        source=experiment.source,
        treated=treated,
        control=control,
        conversion_effect=difference_in_means(converted[treatment], converted[~treatment]),
        revenue_effect=difference_in_means(revenue[treatment], revenue[~treatment]),
        expected_treated_share=expected_treated_share,
        observed_treated_share=treated.users / (treated.users + control.users),
        srm_chi2=chi2,
        srm_p_value=p_value,
        notes=experiment.notes,
    )


def format_readout(readout: Readout) -> str:
    """A plain-text table an analyst can paste into a message."""
    t, c = readout.treated, readout.control
    conv, rev = readout.conversion_effect, readout.revenue_effect
    lines = [
        f"A/B readout: {readout.source}",
        "",
        f"{'arm':<10}{'users':>10}{'conversions':>13}{'conv. rate':>12}{'revenue':>15}{'rev./user':>11}",
        f"{'treated':<10}{t.users:>10,}{t.conversions:>13,}{t.conversion_rate:>12.4%}{t.revenue:>15,.2f}"
        f"{t.revenue_per_user:>11.4f}",
        f"{'control':<10}{c.users:>10,}{c.conversions:>13,}{c.conversion_rate:>12.4%}{c.revenue:>15,.2f}"
        f"{c.revenue_per_user:>11.4f}",
        "",
        f"Effect on conversion rate: {conv.estimate:+.6f} ({conv.estimate * 100:+.3f} points, "
        f"{conv.relative:+.1%} relative), 95% CI [{conv.ci_low:+.6f}, {conv.ci_high:+.6f}], "
        f"p = {conv.p_value:.3g}",
        f"Effect on revenue per user: {rev.estimate:+.4f} ({rev.relative:+.1%} relative), "
        f"95% CI [{rev.ci_low:+.4f}, {rev.ci_high:+.4f}], p = {rev.p_value:.3g}",
        f"Sample ratio: treated share {readout.observed_treated_share:.4f} vs expected "
        f"{readout.expected_treated_share:.4f}; chi-square {readout.srm_chi2:.2f}, p = {readout.srm_p_value:.3g}",
    ]
    if readout.srm_alert:
        lines += [
            "",
            "!!! SAMPLE RATIO MISMATCH (p < 0.001): the arms are not split as designed. The assignment or the",
            "!!! logging is broken; do not trust the effects above until the cause is found.",
        ]
    if readout.notes:
        lines += ["", *[f"Note: {note}" for note in readout.notes]]
    return "\n".join(lines)

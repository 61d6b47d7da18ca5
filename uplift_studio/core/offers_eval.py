r"""Honest evaluation of offer allocations on held-out users: IPW and doubly robust scores (issue 12).

With the design's arm shares ``e_a`` (control ``e_0``), observed arm ``A``, revenue ``Y`` and conversion
``C``, and out-of-sample models ``mu_a(x)`` (expected revenue under arm ``a``) and ``p_a(x)`` (conversion),
the doubly robust (AIPW) score of offer ``k`` against no offer, for one user, is::

    value_k = mu_k - mu_0 + 1{A=k} (Y - mu_k) / e_k - 1{A=0} (Y - mu_0) / e_0
    spend_k = contact_k + redemption_k (p_k + 1{A=k} (C - p_k) / e_k)      (the redemption is measured)

and the IPW score is the same with ``mu = p = 0``. Given the users' features and the allocation, each score
is unbiased for that user's true effect (IPW always; DR as long as the models never saw the user's
outcome). An allocation's value at a step is the sum of its users' scores for the offers they hold, so
down a path of steps it is one cumulative sum of score changes; its variance is ``n/(n-1) (sum phi^2 -
(sum phi)^2 / n)`` over the n evaluation users' values ``phi`` (0 without an offer), again a cumulative
sum. :func:`half_sample_se` is the resampling check of that formula. The spend's variance counts only what
is random given the users, the redemptions: the sum of squared deviations of the spend scores from the
expected costs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from uplift_studio.core.allocation import Steps
from uplift_studio.core.errors import DataError
from uplift_studio.core.path import SpendPath
from uplift_studio.core.stats import interval

METHODS = ("dr", "ipw")


@dataclass(frozen=True, eq=False)
class ArmScores:
    """Per evaluation user and offer ((n, K) each), unbiased scores of the offer's effect against no offer:
    incremental revenue, incremental conversions, and the spend it causes."""

    value: np.ndarray
    conversions: np.ndarray
    spend: np.ndarray


def arm_scores(
    arm: np.ndarray,
    converted: np.ndarray,
    revenue: np.ndarray,
    shares: np.ndarray,
    contact_cost: np.ndarray,
    redemption_cost: np.ndarray,
    *,
    p: np.ndarray | None = None,
    order_value: np.ndarray | None = None,
    method: str = "dr",
) -> ArmScores:
    """The scores of the module docstring; ``p`` ((n, K + 1), control first) and ``order_value`` are the
    out-of-sample models, needed by ``method="dr"``."""
    if method not in METHODS:
        raise DataError(f"method must be one of {', '.join(METHODS)}; got {method!r}.")
    n, n_offers = arm.size, contact_cost.size
    received = arm[:, None] == np.arange(n_offers + 1)[None, :]
    weight = received / shares[None, :]
    conversions = converted.astype(np.float64)[:, None]
    outcome = revenue.astype(np.float64)[:, None]
    if method == "ipw":
        revenue_mean = conversion_mean = np.zeros((n, n_offers + 1))
    else:
        if p is None or order_value is None:
            raise DataError("the doubly robust scores need the models' p and order_value; pass them or use ipw.")
        conversion_mean = p
        revenue_mean = p * order_value[:, None]

    def effect(observed: np.ndarray, mean: np.ndarray) -> np.ndarray:
        corrected = mean + weight * (observed - mean)
        return corrected[:, 1:] - corrected[:, :1]

    converted_if = conversion_mean[:, 1:] + weight[:, 1:] * (conversions - conversion_mean[:, 1:])
    return ArmScores(
        value=effect(outcome, revenue_mean),
        conversions=effect(conversions, conversion_mean),
        spend=contact_cost[None, :] + redemption_cost[None, :] * converted_if,
    )


@dataclass(frozen=True, eq=False)
class OfferPath:
    """A strategy's steps evaluated: ``path`` is its :class:`SpendPath` (spend = the models' expected cost,
    the axis a budget is read on; value = the scores' incremental revenue with its variance; truth when
    simulated), and along the same boundaries the measured spend with its variance, the true expected
    spend, the expected value the models promised and the mix of offers held."""

    steps: Steps
    path: SpendPath
    measured_spend: np.ndarray
    measured_spend_variance: np.ndarray
    true_spend: np.ndarray | None
    expected_value: np.ndarray
    mix: np.ndarray

    def position(self, spend: float) -> tuple[int, float]:
        """The tie group a spend (evaluation units) falls in and how far into it: ``(group, weight)`` such that
        every read is ``read[group] + weight * (read[group + 1] - read[group])``."""
        axis = self.path.spend
        spend = min(max(float(spend), 0.0), float(axis[-1]))
        upper = int(np.clip(np.searchsorted(axis, spend, side="left"), 1, axis.size - 1))
        width = axis[upper] - axis[upper - 1]
        weight = float(np.clip((spend - axis[upper - 1]) / width, 0.0, 1.0)) if width > 0 else 0.0
        if weight == 1.0:
            return upper, 0.0
        return upper - 1, weight

    def read(self, values: np.ndarray, spend: float) -> float | np.ndarray:
        group, weight = self.position(spend)
        if weight == 0.0:
            return values[group]
        return values[group] + weight * (values[group + 1] - values[group])


def _variance(total: np.ndarray, squares: np.ndarray, n: int) -> np.ndarray:
    return np.maximum(squares - total * total / n, 0.0) * n / max(n - 1, 1)


def evaluate_steps(
    strategy: str,
    steps: Steps,
    scores: ArmScores,
    expected_value: np.ndarray,
    expected_cost: np.ndarray,
    *,
    true_value: np.ndarray | None = None,
    true_cost: np.ndarray | None = None,
) -> OfferPath:
    """Evaluate a strategy's steps on the evaluation users (every array (n, K), rows aligned)."""
    n = steps.n_users

    def cumulative(per_offer: np.ndarray) -> np.ndarray:
        return steps.cumulative(steps.deltas(per_offer))

    value = cumulative(scores.value)
    value_variance = _variance(value, cumulative(scores.value**2), n)
    spend = cumulative(scores.spend)
    # Given the users, only the redemptions are random: the spread of the scores around the expected cost
    # (known contact costs add none, so without a redemption cost the spend is exact), conservative by the
    # models' squared error where they miss.
    spend_variance = cumulative((scores.spend - expected_cost) ** 2)
    path = SpendPath(
        strategy=strategy,
        contacts=steps.contacts(),
        spend=np.maximum.accumulate(cumulative(expected_cost)),  # a rounding dip would break the binary search
        value=value,
        variance=value_variance,
        conversions=cumulative(scores.conversions),
        truth=None if true_value is None else cumulative(true_value),
        unit_cost=False,
        # every strategy is read where its expected spend reaches the budget, an allocation's upgrades included
        by_spend=True,
    )
    return OfferPath(
        steps=steps,
        path=path,
        measured_spend=spend,
        measured_spend_variance=spend_variance,
        true_spend=None if true_cost is None else cumulative(true_cost),
        expected_value=cumulative(expected_value),
        mix=steps.mix(),
    )


@dataclass(frozen=True)
class OfferRead:
    """A strategy at one spend, in evaluation units: value and measured spend with their 95% intervals."""

    contacts: float
    expected_spend: float
    value: float
    value_se: float
    spend: float
    spend_se: float
    conversions: float
    truth: float | None
    true_spend: float | None
    contacts_by_offer: np.ndarray

    @property
    def ci(self) -> tuple[float, float]:
        return interval(self.value, self.value_se)

    @property
    def spend_ci(self) -> tuple[float, float]:
        return interval(self.spend, self.spend_se)


class MeasuredRead(NamedTuple):
    """What an offer path holds beyond its :class:`SpendPath` at one spend, in evaluation units: the measured
    spend and its standard error, the true expected spend (simulation) and the users holding each offer."""

    spend: float
    spend_se: float
    true_spend: float | None
    contacts_by_offer: np.ndarray


def measured_at_spend(offer_path: OfferPath, spend: float) -> MeasuredRead:
    """The measured side of ``offer_path`` once ``spend`` (evaluation units) is spent, read at the tie-group
    boundaries around it and linear between, the standard error like :class:`SpendPath`'s."""
    read = offer_path.read
    return MeasuredRead(
        spend=float(read(offer_path.measured_spend, spend)),
        spend_se=float(read(np.sqrt(offer_path.measured_spend_variance), spend)),
        true_spend=None if offer_path.true_spend is None else float(read(offer_path.true_spend, spend)),
        contacts_by_offer=np.asarray(read(offer_path.mix.astype(np.float64), spend)),
    )


def read_at_spend(offer_path: OfferPath, spend: float) -> OfferRead:
    """Everything about a strategy once ``spend`` (evaluation units) is spent: its path read by spend, and the
    measured side (:func:`measured_at_spend`)."""
    point = offer_path.path.at_spend(float(spend))
    measured = measured_at_spend(offer_path, spend)
    return OfferRead(
        contacts=point.contacts,
        expected_spend=point.spend,
        value=point.value,
        value_se=point.se,
        spend=measured.spend,
        spend_se=measured.spend_se,
        conversions=point.conversions,
        truth=point.truth,
        true_spend=measured.true_spend,
        contacts_by_offer=measured.contacts_by_offer,
    )


def per_user_at_spend(offer_path: OfferPath, per_offer: np.ndarray, spend: float) -> np.ndarray:
    """Each evaluation user's contribution (e.g. score of the offer held) at ``spend``: a pass over the steps,
    for paired comparisons and resampling, not for a slider."""
    group, weight = offer_path.position(spend)
    return offer_path.steps.per_user(per_offer, group, weight)


def half_sample_se(contributions: np.ndarray, replicates: int = 400, seed: int = 0) -> float:
    """Standard error of ``sum(contributions)`` by the half-sample bootstrap: twice the sum over a random half
    of the users (drawn without replacement), whose spread matches the analytic variance's."""
    values = np.asarray(contributions, dtype=np.float64)
    n = values.size
    half = n // 2
    rng = np.random.default_rng(seed)
    totals = np.array([values[rng.permutation(n)[:half]].sum() * n / half for _ in range(replicates)])
    return float(totals.std(ddof=1))

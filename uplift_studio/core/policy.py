"""Off-policy value of a contact rule on a randomized experiment: inverse propensity weighting and the
doubly robust (AIPW) estimator, with intervals (design section 3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from uplift_studio.core.errors import DataError
from uplift_studio.core.stats import Z95
from uplift_studio.core.validate import as_binary, as_float_array, check_both_arms, check_lengths

# ---------------------------------------------------------------------------------------------------------
# Off-policy value of a contact rule


@dataclass(frozen=True)
class PolicyValue:
    """Estimated incremental outcome of contacting the users of a contact rule, with its 95% interval."""

    estimate: float
    se: float
    contacts: int
    method: str

    @property
    def ci_low(self) -> float:
        return self.estimate - Z95 * self.se

    @property
    def ci_high(self) -> float:
        return self.estimate + Z95 * self.se


def _policy_inputs(
    outcome: npt.ArrayLike, treatment: npt.ArrayLike, contact: npt.ArrayLike, propensity: npt.ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | float]:
    outcome = as_float_array("outcome", outcome, "fill or drop those users")
    treatment = as_binary("treatment", treatment, "map the treated label to 1 and the control label to 0")
    contact = as_binary("contact", contact, "pass the contact rule as a boolean mask, one entry per user")
    check_lengths(outcome.shape[0], treatment=treatment, contact=contact)
    n_treated = int(np.count_nonzero(treatment))
    check_both_arms(n_treated, outcome.shape[0])
    if propensity is None:
        return outcome, treatment.astype(np.float64), contact.astype(bool), n_treated / outcome.shape[0]
    share = np.asarray(propensity, dtype=np.float64)
    if share.ndim not in (0, 1) or (share.ndim == 1 and share.shape[0] != outcome.shape[0]):
        raise DataError(
            f"propensity must be one number or one value per user ({outcome.shape[0]}); got shape {share.shape}."
        )
    if not np.all((share > 0) & (share < 1)):
        raise DataError(
            "propensity (the probability of being treated) must be strictly between 0 and 1 for every user; "
            "users who could only be in one arm carry no information on the effect, so leave them out."
        )
    return outcome, treatment.astype(np.float64), contact.astype(bool), share if share.ndim else float(share)


def _policy_value(per_user_effect: np.ndarray, contact: np.ndarray, method: str) -> PolicyValue:
    # V = sum over the contacted of an unbiased per-user effect; assignments are independent, so its
    # variance is the sum of the per-user variances, estimated (conservatively) by s * sample variance
    contacted = per_user_effect[contact]
    contacts = contacted.size
    estimate = float(contacted.sum())
    se = float(np.sqrt(contacts * contacted.var(ddof=1))) if contacts >= 2 else float("nan")
    return PolicyValue(estimate, se, contacts, method)


def policy_value_ipw(
    outcome: npt.ArrayLike,
    treatment: npt.ArrayLike,
    contact: npt.ArrayLike,
    propensity: npt.ArrayLike | None = None,
) -> PolicyValue:
    """Incremental outcome of contacting the users in ``contact`` (a boolean mask), by inverse propensity.

    ``V = sum over contacted i of [t_i y_i / e_i - (1 - t_i) y_i / (1 - e_i)]``, the sum of the contacted
    users' treated-minus-untreated potential outcomes, with ``e`` the probability of treatment (default:
    the observed treated share, right for a randomized experiment). SE from the per-user terms' spread.
    """
    y, t, contact, e = _policy_inputs(outcome, treatment, contact, propensity)
    effect = t * y / e - (1.0 - t) * y / (1.0 - e)
    return _policy_value(effect, contact, "ipw")


def policy_value_dr(
    outcome: npt.ArrayLike,
    treatment: npt.ArrayLike,
    contact: npt.ArrayLike,
    mu_treated: npt.ArrayLike,
    mu_control: npt.ArrayLike,
    propensity: npt.ArrayLike | None = None,
) -> PolicyValue:
    """Doubly robust incremental outcome of contacting the users in ``contact`` (a boolean mask).

    ``V = sum over contacted i of [mu1_i - mu0_i + t_i (y_i - mu1_i) / e_i - (1 - t_i)(y_i - mu0_i) /
    (1 - e_i)]`` with out-of-sample predictions ``mu1``/``mu0`` of the outcome with and without contact
    (the AIPW estimator: unbiased if either the models or the propensity are right, and tighter than IPW
    when the models are good).
    """
    y, t, contact, e = _policy_inputs(outcome, treatment, contact, propensity)
    mu1 = as_float_array("mu_treated", mu_treated, "predict the outcome with contact for every user")
    mu0 = as_float_array("mu_control", mu_control, "predict the outcome without contact for every user")
    check_lengths(y.shape[0], mu_treated=mu1, mu_control=mu0)
    effect = mu1 - mu0 + t * (y - mu1) / e - (1.0 - t) * (y - mu0) / (1.0 - e)
    return _policy_value(effect, contact, "dr")

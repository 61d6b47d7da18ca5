r"""A simulated three-offer campaign whose truth is known for every user and offer (issue 12).

The customers, their conversion without contact ``p_control(x) = sigmoid(b(x))``, their order value and
the one-offer effect ``tau(x)`` (logit scale) are those of :mod:`uplift_studio.core.simulate` (same seed,
same users). On top, three offers with their own effects on the logit scale::

    E-mail    contact $0.10                  tau_email(x)    = 0.45 tau(x)                      cheap, weak
    Letter    contact $0.60                  tau_letter(x)   = 0.9 tau(x) + 0.8 lapsed(x) persuadability(x)
    Discount  $0.50 + $10 per redemption     tau_discount(x) = 1.1 tau(x) + 3 (discount(x) - 0.33) persuadability(x)

    p_offer(x) = sigmoid(b(x) + tau_offer(x))
    lapsed(x) = sigmoid(2 (log recency - log 90)), persuadability(x) = sigmoid(-3 (b(x) + 2.9)) as there;
    discount(x) = discount_affinity (its mean 1/3 where missing)

so the e-mail is the best value per dollar for most users, the letter wins back lapsed customers and the
discount moves the deal-seekers but costs its redemption on every conversion: who should get which offer
depends on the user and on the budget. Assignment is one categorical draw per user with ``arm_shares``
(default a quarter each, control first); potential outcomes share one uniform ``u`` (``converted_if_arm =
u < p_arm``) and one basket ``order_value * Gamma(4, 1/4)``, so an offer never hurts someone another helps by
chance. The draws come from ``np.random.default_rng([seed, 12])`` after the base campaign's own.

Truth per user: ``p_control``, ``p__<offer>``, ``order_value`` and ``true_incremental_revenue__<offer> =
(p__<offer> - p_control) * order_value``; an offer's true expected cost is ``contact + redemption *
p__<offer>``. Nothing here was tuned to a result.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from uplift_studio.core.data import ID, ColumnMap
from uplift_studio.core.offers import OfferExperiment, offers_from_frame
from uplift_studio.core.simulate import DEFAULT_SEED, simulate_campaign

CONTROL_LABEL = "No offer"
OFFERS = ("E-mail", "Letter", "Discount")
CONTACT_COST = {"E-mail": 0.10, "Letter": 0.60, "Discount": 0.50}
REDEMPTION_COST = {"Discount": 10.0}
DEFAULT_ARM_SHARES = (0.25, 0.25, 0.25, 0.25)
DEFAULT_OFFER_USERS = 60_000
COLUMNS = ColumnMap(id=ID, treatment="offer", control_value=CONTROL_LABEL, conversion="converted", revenue="revenue")
"""How the simulated file's columns map (its treatment column is ``offer``, holding the labels)."""


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)


def simulate_offer_campaign(
    n_users: int = DEFAULT_OFFER_USERS, seed: int = DEFAULT_SEED, arm_shares: tuple[float, ...] = DEFAULT_ARM_SHARES
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The experiment file (labels in ``offer``, as a real export holds them) and its truth, keyed by id."""
    shares = np.asarray(arm_shares, dtype=np.float64)
    if shares.shape != (len(OFFERS) + 1,) or np.any(shares <= 0) or abs(shares.sum() - 1.0) > 1e-9:
        raise ValueError(f"arm_shares must be {len(OFFERS) + 1} positive shares adding up to 1, got {arm_shares!r}")
    base = simulate_campaign(n_users, 0.5, seed)
    truth, frame = base.truth, base.frame
    p_control = truth["p_control"].to_numpy()
    base_logit = _logit(p_control)
    tau = _logit(truth["p_treated"].to_numpy()) - base_logit
    recency = frame["recency_days"].to_numpy().astype(np.float64)
    discount = frame["discount_affinity"].fill_null(1.5 / 4.5).to_numpy()
    lapsed = _sigmoid(2.0 * (np.log(recency) - np.log(90.0)))
    persuadability = _sigmoid(-3.0 * (base_logit + 2.9))
    effects = {
        "E-mail": 0.45 * tau,
        "Letter": 0.9 * tau + 0.8 * lapsed * persuadability,
        "Discount": 1.1 * tau + 3.0 * (discount - 0.33) * persuadability,
    }
    p_arm = np.column_stack([p_control] + [_sigmoid(base_logit + effects[offer]) for offer in OFFERS])

    rng = np.random.default_rng([seed, 12])
    n = frame.height
    arm = rng.choice(len(OFFERS) + 1, size=n, p=shares)
    u = rng.random(n)
    order_value = truth["order_value"].to_numpy()
    basket = np.round(order_value * rng.gamma(4.0, 0.25, n), 2)
    converted = (u < p_arm[np.arange(n), arm]).astype(np.int8)
    labels = pl.Series((CONTROL_LABEL, *OFFERS)).gather(pl.Series(arm.astype(np.uint32)))
    features = frame.drop(ID, "treatment", "converted", "revenue")
    experiment = pl.DataFrame(
        {ID: frame[ID], "offer": labels, "converted": converted, "revenue": converted * basket}
    ).hstack(features)
    true = {ID: frame[ID], "p_control": p_control, "order_value": order_value}
    for index, offer in enumerate(OFFERS, start=1):
        true[f"p__{offer}"] = p_arm[:, index]
    for index, offer in enumerate(OFFERS, start=1):
        true[f"true_incremental_revenue__{offer}"] = (p_arm[:, index] - p_control) * order_value
    return experiment, pl.DataFrame(true)


def simulated_offers(
    n_users: int = DEFAULT_OFFER_USERS,
    seed: int = DEFAULT_SEED,
    *,
    arm_shares: tuple[float, ...] = DEFAULT_ARM_SHARES,
    contact_cost: dict[str, float] | None = None,
    redemption_cost: dict[str, float] | None = None,
) -> OfferExperiment:
    """The simulated campaign validated like a file (the design's arm shares and the documented costs unless
    others are given), with its truth."""
    raw, truth = simulate_offer_campaign(n_users, seed, arm_shares)
    experiment = offers_from_frame(
        raw,
        COLUMNS,
        arms=OFFERS,
        contact_cost=CONTACT_COST if contact_cost is None else contact_cost,
        redemption_cost=REDEMPTION_COST if redemption_cost is None else redemption_cost,
        arm_shares=dict(zip((CONTROL_LABEL, *OFFERS), arm_shares, strict=True)),
        source=f"simulated offer campaign (users={n_users}, seed={seed})",
    )
    return OfferExperiment(**{**experiment.__dict__, "truth": truth, "fingerprint": ""})

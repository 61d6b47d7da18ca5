"""``run_offer_analysis(experiment) -> OfferAnalysis``: the allocation and its baselines, evaluated on held-out
users, and the reads the report, the contact list and the app make of it (issue 12).

Strategies (each an :class:`uplift_studio.core.offers_eval.OfferPath` whose ``path`` is a
:class:`uplift_studio.core.path.SpendPath`): ``allocation`` (the hull path of the models' expected
incremental revenue and cost), each offer alone ranked by its own expected incremental revenue per
expected dollar, ``random_offer`` (a random offer to users in random order), ``cheapest_offer`` (the
offer of lowest contact cost, users in random order) and, on simulated data, ``oracle`` (the hull path of
the true values and costs). A budget is read on the expected-cost axis; the value and the spend it buys
are measured from actual outcomes (:mod:`uplift_studio.core.offers_eval`) and projected to the campaign
population (each evaluation user stands for P / n).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from uplift_studio.core.allocation import NO_OFFER, Steps, allocation_steps, ranking_steps
from uplift_studio.core.budget import at_budget
from uplift_studio.core.errors import DataError
from uplift_studio.core.offers import OfferExperiment
from uplift_studio.core.offers_eval import (
    ArmScores,
    OfferPath,
    arm_scores,
    evaluate_steps,
    measured_at_spend,
    per_user_at_spend,
)
from uplift_studio.core.offers_models import OfferScores, cross_fit_offers
from uplift_studio.core.settings import ModelSettings
from uplift_studio.core.stats import interval

BASELINES = ("random_offer", "cheapest_offer")


@dataclass(frozen=True)
class OfferResult:
    """A strategy at a campaign budget, projected to the population: revenue and measured spend with 95%
    intervals, the expected spend the budget bought, ROI = revenue / measured spend, the offers held."""

    strategy: str
    budget: float
    contacts: float
    expected_spend: float
    incremental_revenue: float
    ci_low: float
    ci_high: float
    spend: float
    spend_ci_low: float
    spend_ci_high: float
    incremental_conversions: float
    roi: float
    contacts_by_offer: dict[str, int]
    true_incremental_revenue: float | None
    true_spend: float | None

    def as_dict(self) -> dict:
        keys = ("incremental_revenue", "ci_low", "ci_high", "spend", "spend_ci_low", "spend_ci_high", "roi")
        out = {key: getattr(self, key) for key in keys}
        out["contacts"] = int(round(self.contacts))
        out["expected_spend"] = self.expected_spend
        out["incremental_conversions"] = self.incremental_conversions
        if self.true_incremental_revenue is not None:
            out["true_incremental_revenue"] = self.true_incremental_revenue
            out["true_spend"] = self.true_spend
        return out


@dataclass(frozen=True)
class Difference:
    """A paired difference in projected incremental revenue at one budget, on the same held-out users."""

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    versus: str

    def as_dict(self) -> dict:
        return {
            "estimate": self.estimate,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "se": self.se,
            "offer": self.versus,
        }


@dataclass(frozen=True, eq=False)
class OfferAnalysis:
    """Everything the offer report, the contact list and the app read; frozen arrays."""

    source: str
    offers: tuple[str, ...]
    control: str
    contact_cost: np.ndarray
    redemption_cost: np.ndarray
    arm_shares: np.ndarray
    n_users: int
    n_evaluation: int
    population: int
    method: str
    settings: ModelSettings
    scores: OfferScores
    arm_scores: ArmScores
    paths: dict[str, OfferPath]
    notes: tuple[str, ...]
    arm_checks: tuple

    @property
    def scale(self) -> float:
        return self.population / self.n_evaluation

    @property
    def has_truth(self) -> bool:
        return "oracle" in self.paths

    def _spend(self, budget: float) -> float:
        if not (np.isfinite(budget) and budget > 0):
            raise DataError(f"budget must be a finite amount > 0; got {budget!r}.")
        return float(budget) / self.scale

    def result(self, strategy: str, budget: float) -> OfferResult:
        """One strategy at ``budget``: the budget projection every path shares (:func:`budget.at_budget`, read
        by spend), and the measured spend and the mix read at the same spend; binary searches and array reads."""
        offer_path = self.paths[strategy]
        spend = self._spend(budget)
        projected = at_budget(offer_path.path, float(budget), population=self.population)
        measured = measured_at_spend(offer_path, spend)
        scale = self.scale
        measured_spend = measured.spend * scale
        spend_low, spend_high = interval(measured_spend, measured.spend_se * scale)
        mix = {
            offer: int(round(count * scale))
            for offer, count in zip(self.offers, measured.contacts_by_offer, strict=True)
        }
        revenue = projected.incremental_revenue
        return OfferResult(
            strategy=strategy,
            budget=float(budget),
            contacts=projected.depth * scale,
            expected_spend=projected.spend,
            incremental_revenue=revenue,
            ci_low=projected.ci_low,
            ci_high=projected.ci_high,
            spend=measured_spend,
            spend_ci_low=spend_low,
            spend_ci_high=spend_high,
            incremental_conversions=projected.incremental_conversions,
            roi=revenue / measured_spend if measured_spend > 0 else float("nan"),
            contacts_by_offer=mix,
            true_incremental_revenue=projected.true_incremental_revenue,
            true_spend=None if measured.true_spend is None else measured.true_spend * scale,
        )

    def at_budget(self, budget: float) -> dict[str, OfferResult]:
        return {name: self.result(name, budget) for name in self.paths}

    def mix_at_budget(self, budget: float) -> dict[str, int]:
        """Campaign users given each offer by the allocation at ``budget``: what the app's mix shows."""
        return self.result("allocation", budget).contacts_by_offer

    def best_offer(self, budget: float) -> str:
        """The single offer whose own ranking earns most (estimated) at ``budget``."""
        return max(self.offers, key=lambda offer: self.result(offer, budget).incremental_revenue)

    def difference(self, first: str, second: str, budget: float) -> Difference:
        """``first`` minus ``second`` at ``budget``: per-user differences of the held scores, so the shared
        users' noise cancels; SE from their spread."""
        spend = self._spend(budget)
        values = self.arm_scores.value
        gap = per_user_at_spend(self.paths[first], values, spend) - per_user_at_spend(self.paths[second], values, spend)
        n = gap.size
        se = float(np.sqrt(np.var(gap, ddof=1) * n)) * self.scale if n > 1 else float("nan")
        estimate = float(gap.sum()) * self.scale
        low, high = interval(estimate, se)
        return Difference(estimate, se, low, high, second)

    def difference_vs_best_offer(self, budget: float) -> Difference:
        return self.difference("allocation", self.best_offer(budget), budget)


def _truth(experiment: OfferExperiment, user_id: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    truth = experiment.truth
    if truth is None:
        return None
    joined = pl.DataFrame({"user_id": user_id}).join(truth, on="user_id", how="left", maintain_order="left")
    value = np.column_stack([joined[f"true_incremental_revenue__{offer}"].to_numpy() for offer in experiment.offers])
    p = np.column_stack([joined[f"p__{offer}"].to_numpy() for offer in experiment.offers])
    return value, experiment.contact_cost[None, :] + experiment.redemption_cost[None, :] * p


def strategy_steps(
    eir: np.ndarray, cost: np.ndarray, contact_cost: np.ndarray, seed: int, truth=None
) -> dict[str, Steps]:
    """Every strategy's steps on the evaluation users (``truth``: true values and costs, for the oracle)."""
    n, k = eir.shape
    steps = {"allocation": allocation_steps(eir, cost)}
    for index in range(k):
        steps[index] = ranking_steps(eir[:, index] / cost[:, index], index, k)
    rng = np.random.default_rng([seed, 12])
    order = rng.random(n)
    steps["random_offer"] = ranking_steps(order, rng.integers(k, size=n), k, ties=False)
    steps["cheapest_offer"] = ranking_steps(order, int(np.argmin(contact_cost)), k, ties=False)
    if truth is not None:
        steps["oracle"] = allocation_steps(*truth)
    return steps


def run_offer_analysis(
    experiment: OfferExperiment,
    settings: ModelSettings = ModelSettings(),  # noqa: B008 - frozen, so a shared default is safe
    *,
    population: int | None = None,
    method: str = "dr",
    progress: Callable[[int, int], None] | None = None,
) -> OfferAnalysis:
    """Cross-fit the per-arm models, build every strategy's steps on the out-of-sample users and evaluate
    them with ``method`` ("dr" or "ipw") scores at the design's arm shares."""
    scores = cross_fit_offers(experiment, settings, progress)
    rows = np.flatnonzero(scores.evaluation)
    if population is not None and not (isinstance(population, int) and population > 0):
        raise DataError(f"population must be a whole number of users > 0; got {population!r}.")
    p, order_value = scores.p[rows], scores.order_value[rows]
    scored = arm_scores(
        experiment.arm[rows],
        experiment.converted[rows],
        experiment.revenue[rows],
        experiment.arm_shares,
        experiment.contact_cost,
        experiment.redemption_cost,
        p=p,
        order_value=order_value,
        method=method,
    )
    eir, cost = scores.eir[rows], scores.cost[rows]
    truth = _truth(experiment, scores.user_id[rows])
    paths = {}
    for name, steps in strategy_steps(eir, cost, experiment.contact_cost, settings.seed, truth).items():
        label = experiment.offers[name] if isinstance(name, int) else name
        values, costs = truth if name == "oracle" else (eir, cost)
        paths[label] = evaluate_steps(
            label,
            steps,
            scored,
            values,
            costs,
            true_value=None if truth is None else truth[0],
            true_cost=None if truth is None else truth[1],
        )
    return OfferAnalysis(
        source=experiment.source,
        offers=experiment.offers,
        control=experiment.control,
        contact_cost=experiment.contact_cost,
        redemption_cost=experiment.redemption_cost,
        arm_shares=experiment.arm_shares,
        n_users=experiment.n_users,
        n_evaluation=int(rows.size),
        population=int(rows.size if population is None else population),
        method=method,
        settings=settings,
        scores=scores,
        arm_scores=scored,
        paths=paths,
        notes=experiment.notes,
        arm_checks=experiment.arm_checks,
    )


def allocation_targets(
    user_id: np.ndarray, eir: np.ndarray, cost: np.ndarray, offers: tuple[str, ...], budget: float
) -> pl.DataFrame:
    """The contact list of an allocation: down the path's steps until the next would exceed ``budget`` (no
    projection), one row per user with the offer it ends on, in the order its offer was settled:
    ``rank, user_id, offer, expected_value, expected_cost, cumulative_spend``."""
    if not (np.isfinite(budget) and budget > 0):
        raise DataError(f"budget must be a finite amount > 0; got {budget!r}.")
    steps = allocation_steps(eir, cost)
    spent = np.cumsum(steps.deltas(cost))
    taken = int(np.searchsorted(np.round(spent, 8), float(budget), side="right"))
    last = np.full(steps.n_users, -1, dtype=np.int64)
    np.maximum.at(last, steps.user[:taken], np.arange(taken))
    users = np.flatnonzero(last >= 0)
    users = users[np.argsort(last[users], kind="stable")]
    held = steps.after[last[users]]
    unit_cost = cost[users, held]
    return pl.DataFrame(
        {
            "rank": np.arange(1, users.size + 1, dtype=np.int64),
            "user_id": user_id[users],
            "offer": pl.Series(offers).gather(pl.Series(held.astype(np.uint32)))
            if users.size
            else pl.Series([], dtype=pl.String),
            "expected_value": eir[users, held],
            "expected_cost": np.round(unit_cost, 8),
            "cumulative_spend": np.round(np.cumsum(unit_cost), 8),
        }
    )


__all__ = ["NO_OFFER", "OfferAnalysis", "OfferResult", "allocation_targets", "run_offer_analysis"]

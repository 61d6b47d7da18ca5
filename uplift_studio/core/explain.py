"""``explain``: why the uplift model targets whom it targets, who they are, and a rule a person can apply.

Three parts, each from out-of-sample scores and actual outcomes: the uplift drivers (TreeSHAP of the final
T-learner, checked bin by bin against observed effects), the profiles of the contacted users and of each
predicted segment, and a depth-2 targeting rule whose value is measured on users it was not fitted on.

The rule's value is cross-fitted: the evaluation users are split in two halves; the rule fitted on one half
(its budget scaled to the half) chooses whom to contact in the other, and the doubly robust value of those
contacts is summed over both halves, so no user is valued by a rule that saw them. The model is read at the
same spend on its own observed path. The rule shown is the one fitted on all evaluation users.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import polars as pl

from uplift_studio.core.analysis import Analysis
from uplift_studio.core.budget import StrategyResult, at_budget
from uplift_studio.core.curve import targeting_order
from uplift_studio.core.data import COST, REVENUE, TREATMENT, Experiment
from uplift_studio.core.drivers import Driver, uplift_drivers
from uplift_studio.core.errors import DataError
from uplift_studio.core.formats import format_money
from uplift_studio.core.policy import PolicyValue, policy_value_dr
from uplift_studio.core.policytree import (
    BinnedFeatures,
    PairTables,
    Rule,
    bin_features,
    describe_split,
    rule_under_budget,
)
from uplift_studio.core.profiles import Profile, profile
from uplift_studio.core.segments import SEGMENTS, classify
from uplift_studio.core.stats import interval


@dataclass(frozen=True)
class RuleValue:
    """Projected value of a contact set with its interval, and what it spends."""

    incremental_revenue: float
    ci_low: float
    ci_high: float
    spend: float
    contacts: int


@dataclass(frozen=True, eq=False)
class Explanation:
    ranking: pl.DataFrame
    drivers: tuple[Driver, ...]
    profiles: tuple[Profile, ...]
    rule: Rule
    binned: BinnedFeatures
    leaves: tuple[dict, ...]
    rule_value: RuleValue
    model_value: RuleValue
    price: float
    learner: str  # the final learner whose uplift the drivers decompose, on this scale:
    scale: str


@dataclass(frozen=True, eq=False)
class HeldOut:
    """The evaluation users and, per user, what the rule's value is read from: the treatment, the revenue,
    the model's revenue with and without a contact, the AIPW score of the revenue a contact adds (gamma),
    and the unit cost (ones when one cost per contact: the tables then count contacts)."""

    frame: pl.DataFrame
    treatment: np.ndarray
    revenue: np.ndarray
    mu1: np.ndarray
    mu0: np.ndarray
    gamma: np.ndarray
    unit_cost: np.ndarray


def held_out_outcomes(analysis: Analysis, experiment: Experiment) -> HeldOut:
    scores, mask = analysis.scores, analysis.scores.evaluation
    frame = experiment.frame.filter(pl.Series(mask))
    revenue = frame[REVENUE].cast(pl.Float64).to_numpy()
    treatment = frame[TREATMENT].to_numpy().astype(np.float64)
    mu1 = scores.p_treated[mask] * scores.order_value[mask]
    mu0 = scores.p_control[mask] * scores.order_value[mask]
    share = analysis.treated_share
    gamma = mu1 - mu0 + treatment * (revenue - mu1) / share - (1 - treatment) * (revenue - mu0) / (1 - share)
    unit_cost = frame[COST].to_numpy() if analysis.per_user_cost else np.ones(frame.height)
    return HeldOut(frame, treatment, revenue, mu1, mu0, gamma, unit_cost)


def _value(analysis: Analysis, held_out: HeldOut, contact: np.ndarray, cost: np.ndarray) -> RuleValue:
    estimate: PolicyValue = policy_value_dr(
        held_out.revenue, held_out.treatment, contact, held_out.mu1, held_out.mu0, analysis.treated_share
    )
    scale = analysis.scale
    low, high = interval(estimate.estimate * scale, estimate.se * scale)
    return RuleValue(estimate.estimate * scale, low, high, float(cost[contact].sum()) * scale, int(contact.sum()))


def _leaves(rule: Rule, codes: np.ndarray, treatment: np.ndarray, revenue: np.ndarray) -> tuple[dict, ...]:
    leaf = rule.leaf(codes)
    out = []
    for index in range(4):
        inside = leaf == index
        treated, control = revenue[inside & (treatment == 1)], revenue[inside & (treatment == 0)]
        effect = float(treated.mean() - control.mean()) if treated.size and control.size else float("nan")
        spread = treated.var(ddof=1) / treated.size + control.var(ddof=1) / control.size
        se = float(np.sqrt(spread)) if treated.size > 1 and control.size > 1 else float("nan")
        low, high = interval(effect, se)
        out.append(
            {
                "contact": rule.contact[index],
                "users": int(inside.sum()),
                "observed_effect": effect,
                "ci_low": low,
                "ci_high": high,
            }
        )
    return tuple(out)


@dataclass(frozen=True, eq=False)
class Groundwork:
    """What does not depend on the budget: drivers, segment profiles, scores, binned features and the pair
    tables of all evaluation users and of each cross-fitting half (unit costs when one cost per contact)."""

    ranking: pl.DataFrame
    drivers: tuple[Driver, ...]
    segment_profiles: tuple[Profile, ...]
    held_out: HeldOut
    learner: str
    scale: str
    binned: BinnedFeatures
    tables: PairTables
    halves: tuple[tuple[np.ndarray, np.ndarray, PairTables], ...]


def prepare_explanation(analysis: Analysis, experiment: Experiment, learner) -> Groundwork:
    """The budget-independent part of :func:`explain` (``learner``: fitted on all users)."""
    if experiment.fingerprint != analysis.fingerprint:
        raise DataError("the experiment is not the one these results were fitted on; fit again.")
    scores, mask = analysis.scores, analysis.scores.evaluation
    ranking, drivers = uplift_drivers(learner, experiment, mask, scores.uplift[mask], seed=analysis.settings.model.seed)
    held_out = held_out_outcomes(analysis, experiment)
    frame, gamma, unit_cost = held_out.frame, held_out.gamma, held_out.unit_cost
    segments = classify(scores.p_control[mask], scores.p_treated[mask], analysis.thresholds)
    segment_profiles = tuple(
        profile(f"{name.capitalize()}s", frame, experiment.features, segments == code)
        for code, name in enumerate(SEGMENTS)
        if (segments == code).any()
    )
    binned = bin_features(frame, experiment.features, gamma)
    half = (scores.fold[mask] % 2 == 0) if analysis.settings.model.holdout is None else _halves(frame.height)
    halves = []
    for fit_part in (half, ~half):
        codes = bin_features(frame, experiment.features, gamma, fit_rows=fit_part).codes
        halves.append((fit_part, codes, PairTables(codes[fit_part], gamma[fit_part], unit_cost[fit_part])))
    return Groundwork(
        ranking=ranking,
        drivers=drivers,
        segment_profiles=segment_profiles,
        held_out=held_out,
        learner=analysis.settings.model.learner_name,
        scale=learner.contribution_scale,
        binned=binned,
        tables=PairTables(binned.codes, gamma, unit_cost),
        halves=tuple(halves),
    )


def explain_at(
    ground: Groundwork, analysis: Analysis, experiment: Experiment, budget: float, cost_per_contact: float | None
) -> Explanation:
    """Profiles of the contacted users and the targeting rule at ``budget``, on the prepared groundwork."""
    scores, mask, held_out = analysis.scores, analysis.scores.evaluation, ground.held_out
    unit = 1.0 if analysis.per_user_cost else float(cost_per_contact)
    cost = held_out.unit_cost * unit
    result: StrategyResult = analysis.at_budget(budget, cost_per_contact)["uplift"]
    contacted = np.zeros(held_out.frame.height, dtype=bool)
    order = targeting_order(scores.expected_incremental_revenue[mask], cost if analysis.per_user_cost else None)
    contacted[order[: int(round(result.depth))]] = True
    profiles = (profile("Contacted users", held_out.frame, experiment.features, contacted), *ground.segment_profiles)

    # in the tables' units (contacts when one cost per contact): the budget, and the price per unit
    budget_units = budget / analysis.scale / unit
    rule, price = rule_under_budget(ground.tables, ground.binned.codes, held_out.unit_cost, budget_units)
    rule_contacts = np.zeros(held_out.frame.height, dtype=bool)
    for fit_part, codes, tables in ground.halves:
        share = fit_part.sum() / fit_part.size
        part_rule, _ = rule_under_budget(
            tables, codes[fit_part], held_out.unit_cost[fit_part], budget_units * share, near=price
        )
        rule_contacts[~fit_part] = part_rule.contacts(codes[~fit_part])
    rule_value = _value(analysis, held_out, rule_contacts, cost)
    return Explanation(
        ranking=ground.ranking,
        drivers=ground.drivers,
        profiles=profiles,
        rule=rule,
        binned=ground.binned,
        leaves=_leaves(rule, ground.binned.codes, held_out.treatment, held_out.revenue),
        rule_value=rule_value,
        model_value=_model_at_spend(analysis, rule_value.spend, cost_per_contact),
        price=price / unit,
        learner=ground.learner,
        scale=ground.scale,
    )


def explain(
    analysis: Analysis, experiment: Experiment, budget: float, cost_per_contact: float | None, learner
) -> Explanation:
    """Drivers, profiles and the targeting rule at ``budget`` (``learner``: fitted on all users)."""
    ground = prepare_explanation(analysis, experiment, learner)
    return explain_at(ground, analysis, experiment, budget, cost_per_contact)


def _halves(n: int) -> np.ndarray:
    return np.arange(n) % 2 == 0


def _model_at_spend(analysis: Analysis, spend: float, cost_per_contact: float | None) -> RuleValue:
    """The uplift model's observed value when it spends what the rule spends."""
    cost = None if analysis.per_user_cost else cost_per_contact
    if spend <= 0:
        return RuleValue(0.0, 0.0, 0.0, 0.0, 0)
    result = at_budget(analysis.paths["uplift"], spend, cost_per_contact=cost, population=analysis.population)
    return RuleValue(result.incremental_revenue, result.ci_low, result.ci_high, result.spend, result.contacts)


def _rule_dict(explanation: Explanation) -> dict:
    rule, binned, leaves = explanation.rule, explanation.binned, explanation.leaves

    def side(split, first_leaf: int) -> dict:
        return {
            "split": describe_split(binned, split),
            "yes": {"leaf": first_leaf, **leaves[first_leaf]},
            "no": {"leaf": first_leaf + 1, **leaves[first_leaf + 1]},
        }

    return {
        "split": describe_split(binned, rule.root),
        "yes": side(rule.left, 0),
        "no": side(rule.right, 2),
        "shadow_price": explanation.price,
        "note": "leaf effects are observed on the users the rule was fitted on; rule_value is cross-fitted",
    }


def explanation_dict(explanation: Explanation) -> dict:
    """The report keys of the explanation: drivers, profiles, rule, rule_value, model_value."""
    return {
        "drivers": [
            {
                "feature": driver.feature,
                "importance": driver.importance,
                "scale": explanation.scale,
                "learner": explanation.learner,
                "bins": [asdict(bin_) for bin_ in driver.bins],
            }
            for driver in explanation.drivers
        ],
        "importance": explanation.ranking.to_dicts(),
        "profiles": [
            {
                "group": item.name,
                "users": item.users,
                "sentence": item.sentence,
                "traits": [asdict(trait) for trait in item.traits],
            }
            for item in explanation.profiles
        ],
        "rule": _rule_dict(explanation),
        "rule_value": asdict(explanation.rule_value),
        "model_value": asdict(explanation.model_value),
    }


def format_explanation(explanation: Explanation) -> str:
    """The readable text of the explain command."""
    lines = [f"Uplift drivers (mean |contribution| to the uplift in {explanation.scale}, final {explanation.learner}):"]
    for row in explanation.ranking.head(8).iter_rows(named=True):
        lines.append(f"  {row['feature']:<22}{row['importance']:.4f}")
    for driver in explanation.drivers:
        lines.append(f"Observed vs predicted conversion uplift by {driver.feature} (out-of-sample users):")
        for bin_ in driver.bins:
            lines.append(
                f"  {bin_.label:<24}{bin_.users:>9,} users  observed {bin_.observed_uplift:+.4f} "
                f"[{bin_.ci_low:+.4f}, {bin_.ci_high:+.4f}]  predicted {bin_.predicted_uplift:+.4f}"
            )
    lines.append("")
    lines += [item.sentence for item in explanation.profiles]
    rule = _rule_dict(explanation)
    lines += ["", "Targeting rule (depth 2, doubly robust scores, cost at the budget's shadow price):"]
    for branch, label in ((rule["yes"], "if"), (rule["no"], "else")):
        lines.append(f"  {label} {rule['split']}:" if label == "if" else "  otherwise:")
        for answer, leaf in (("if", branch["yes"]), ("else", branch["no"])):
            action = "contact" if leaf["contact"] else "skip"
            head = f"if {branch['split']}" if answer == "if" else "otherwise"
            lines.append(f"    {head}: {action} ({leaf['users']:,} users)")
    rule_value, model_value = explanation.rule_value, explanation.model_value
    lines.append(
        f"Rule (cross-fitted): {format_money(rule_value.incremental_revenue)} "
        f"[{format_money(rule_value.ci_low)}, {format_money(rule_value.ci_high)}] "
        f"for {format_money(rule_value.spend)}; "
        f"model at the same spend: {format_money(model_value.incremental_revenue)} "
        f"[{format_money(model_value.ci_low)}, {format_money(model_value.ci_high)}]."
    )
    return "\n".join(lines)

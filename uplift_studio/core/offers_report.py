"""The offer report at one budget: the JSON's ``offers`` block (issue 12) and the readable table."""

from __future__ import annotations

from uplift_studio.core.formats import format_money
from uplift_studio.core.offers_analysis import BASELINES, OfferAnalysis

_LABELS = {
    "allocation": "allocation (who gets which)",
    "random_offer": "random offer",
    "cheapest_offer": "everyone the cheapest",
    "oracle": "oracle (true values)",
}


def strategy_names(analysis: OfferAnalysis) -> tuple[str, ...]:
    """Report order: the allocation, each offer alone, the baselines, the oracle when simulated."""
    return ("allocation", *analysis.offers, *BASELINES) + (("oracle",) if analysis.has_truth else ())


def offers_dict(analysis: OfferAnalysis, budget: float) -> dict:
    """``{"offers": {...}, "difference_vs_best_offer": {...}}`` with the keys of issue 12 (add, never rename)."""
    results = analysis.at_budget(budget)
    offers = {}
    for name in strategy_names(analysis):
        offers[name] = results[name].as_dict()
    offers["allocation"]["contacts_by_offer"] = results["allocation"].contacts_by_offer
    return {
        "offers": offers,
        "difference_vs_best_offer": analysis.difference_vs_best_offer(budget).as_dict(),
    }


def offer_report_dict(analysis: OfferAnalysis, budget: float, versions: dict[str, str]) -> dict:
    """The whole report JSON of an offer analysis: design section 7's header keys, then the offer blocks."""
    allocation = analysis.result("allocation", budget)
    return {
        "n_users": analysis.n_users,
        "population": analysis.population,
        "budget": float(budget),
        "contacts": int(round(allocation.contacts)),
        "spend": allocation.spend,
        **offers_dict(analysis, budget),
        "arms": {
            "control": analysis.control,
            "offers": list(analysis.offers),
            "contact_cost": dict(zip(analysis.offers, analysis.contact_cost.tolist(), strict=True)),
            "redemption_cost": dict(zip(analysis.offers, analysis.redemption_cost.tolist(), strict=True)),
            "sample_ratio": [
                {
                    "arm": check.label,
                    "users": check.users,
                    "design_share": check.design_share,
                    "observed_share": check.observed_share,
                    "p_value": check.p_value,
                }
                for check in analysis.arm_checks
            ],
        },
        "settings": {
            "model": analysis.settings.as_dict(),
            "population": analysis.population,
            "evaluation": analysis.method,
            "source": analysis.source,
            "n_evaluation": analysis.n_evaluation,
        },
        "versions": versions,
    }


def format_offer_report(analysis: OfferAnalysis, budget: float) -> str:
    """The readable table of ``report`` for several offers."""
    results = analysis.at_budget(budget)
    costs = ", ".join(
        f"{offer} {format_money(contact)}" + (f" + {format_money(redemption)} per redemption" if redemption > 0 else "")
        for offer, contact, redemption in zip(
            analysis.offers, analysis.contact_cost, analysis.redemption_cost, strict=True
        )
    )
    truth = analysis.has_truth
    lines = [
        f"Uplift Studio offer report: {analysis.source}",
        f"{analysis.n_users:,} users ({analysis.n_evaluation:,} scored out of sample), campaign population "
        f"{analysis.population:,}; budget {format_money(budget)}; control {analysis.control!r}; offers: {costs}.",
        f"Value and spend measured from actual outcomes ({analysis.method.upper()} scores at the design's arm "
        "shares); the budget buys expected cost.",
        "",
        f"{'strategy':<28}{'contacts':>10}{'spend':>11}{'95% interval':>24}{'incr. revenue':>15}"
        f"{'95% interval':>26}{'ROI':>7}" + (f"{'truth':>12}" if truth else ""),
    ]
    for name in strategy_names(analysis):
        r = results[name]
        spend_interval = f"[{format_money(r.spend_ci_low)}, {format_money(r.spend_ci_high)}]"
        value_interval = f"[{format_money(r.ci_low)}, {format_money(r.ci_high)}]"
        label = _LABELS.get(name, f"{name} alone")
        row = (
            f"{label[:27]:<28}{r.contacts:>10,.0f}{format_money(r.spend):>11}{spend_interval:>24}"
            f"{format_money(r.incremental_revenue):>15}{value_interval:>26}{r.roi:>6.2f}x"
        )
        if truth:
            row += f"{format_money(r.true_incremental_revenue):>12}"
        lines.append(row)
    mix = results["allocation"].contacts_by_offer
    lines += [
        "",
        "Offers the allocation sends at this budget: " + ", ".join(f"{o} {n:,}" for o, n in mix.items()) + ".",
    ]
    difference = analysis.difference_vs_best_offer(budget)
    lines.append(
        f"Allocation minus the best single offer ({difference.versus}): {format_money(difference.estimate)} "
        f"[{format_money(difference.ci_low)}, {format_money(difference.ci_high)}] incremental revenue, paired on "
        "the same held-out customers."
    )
    checks = "; ".join(
        f"{c.label} {c.observed_share:.1%} (design {c.design_share:.1%}, p = {c.p_value:.2g})"
        for c in analysis.arm_checks
    )
    lines.append(f"Arm shares: {checks}.")
    lines += [f"Note: {note}" for note in analysis.notes]
    return "\n".join(lines)

"""The report of a large experiment's analysis: design section 7's keys where they exist, and a table."""

from __future__ import annotations

import math

from uplift_studio.core.formats import format_money
from uplift_studio.core.scale_result import ScaleResult
from uplift_studio.core.strategies import strategy_label


def scale_report_dict(result: ScaleResult, budget: float, cost_per_contact: float | None) -> dict:
    """The report JSON (section 7's keys; no truth, which a file does not carry) and the engine's own."""
    results = result.at_budget(budget, cost_per_contact)
    first = next(iter(results.values()))
    return {
        "n_users": result.n_users,
        "population": result.population,
        "treated_share": result.treated_share,
        "budget": float(budget),
        "cost_per_contact": None if result.per_user_cost else cost_per_contact,
        "contacts": first.contacts,
        "spend": first.spend,
        "strategies": {name: r.report_entry() for name, r in results.items()},
        "metrics": result.metrics,
        "settings": result.settings.as_dict(),
        "versions": result.versions,
        "engine": {"name": result.engine, "sample_users": result.sample_users, "bins": result.settings.bins},
    }


def format_scale_report(result: ScaleResult, budget: float, cost_per_contact: float | None) -> str:
    results = result.at_budget(budget, cost_per_contact)
    cost_text = "per-user costs" if result.per_user_cost else f"${cost_per_contact:,.2f} per contact"
    lines = [
        f"Uplift Studio report: {result.source} ({result.engine} engine)",
        f"{result.n_users:,} users scored out of sample ({result.treated_share:.1%} treated); models fitted on a "
        f"stratified sample of {result.sample_users:,}; curves from {result.settings.bins:,} score bins per "
        f"strategy. Campaign population {result.population:,}; budget {format_money(budget)} at {cost_text}.",
        "",
        f"{'strategy':<24}{'contacts':>12}{'spend':>12}{'incr. revenue':>15}{'95% interval':>28}{'ROI':>8}{'net':>13}",
    ]
    for name, r in results.items():
        interval = f"[{format_money(r.ci_low)}, {format_money(r.ci_high)}]"
        lines.append(
            f"{strategy_label(name):<24}{r.contacts:>12,.0f}{format_money(r.spend):>12}"
            f"{format_money(r.incremental_revenue):>15}{interval:>28}{r.roi:>7.2f}x{format_money(r.net):>13}"
        )
    qini = ", ".join(
        f"{name} {m['qini_coefficient']:.3f} [{m['qini_ci_low']:.3f}, {m['qini_ci_high']:.3f}]"
        for name, m in result.metrics.items()
        if math.isfinite(m["qini_coefficient"])
    )
    lines += ["", f"Qini coefficients (95% interval): {qini}."]
    lines.append(
        "Break-even budget (marginal ROI falls to 1) for uplift targeting: "
        f"{format_money(result.break_even_budget('uplift', cost_per_contact))}."
    )
    if next(iter(results.values())).contacted_everyone:
        lines.append("The budget exceeds the cost of contacting everyone: every strategy contacts all users.")
    lines += [f"Note: {note}" for note in result.notes]
    return "\n".join(lines)

"""The report at one budget: the JSON of design section 7, a readable table, and the executive sentence."""

from __future__ import annotations

import math

from uplift_studio.core.analysis import Analysis
from uplift_studio.core.calibration import format_calibration
from uplift_studio.core.formats import format_money
from uplift_studio.core.strategies import strategy_label
from uplift_studio.core.view import format_difference

_COEFFICIENTS = (("qini_coefficient", "qini"), ("auuc", "auuc"))


def metric_intervals(analysis: Analysis) -> dict[str, dict[str, dict[str, float]]]:
    """Per strategy, the Qini coefficient and AUUC each with its SE and 95% interval."""
    return {
        name: {
            key: {
                "estimate": m[key],
                "se": m[f"{prefix}_se"],
                "ci_low": m[f"{prefix}_ci_low"],
                "ci_high": m[f"{prefix}_ci_high"],
            }
            for key, prefix in _COEFFICIENTS
        }
        for name, m in analysis.metrics.items()
    }


def model_dict(analysis: Analysis) -> dict:
    """The learner that made the uplift scores; with ``auto``, the choice per fold and every candidate's
    out-of-sample Qini with its paired interval against the selected one (design section 8's ``model``)."""
    model = analysis.settings.model
    selection = analysis.selection
    return {
        "learner": model.learner,
        "name": model.learner_name,
        "value_model": None if selection is not None else model.value_model,
        "chosen": list(selection.chosen_names) if selection is not None else None,
        "selection": selection.as_dict() if selection is not None else None,
    }


def format_selection(analysis: Analysis) -> list[str]:
    """The table's lines on the automatic choice (none for a learner the user chose)."""
    selection = analysis.selection
    if selection is None:
        return []
    counts: dict[int, list[int]] = {}
    for fold, index in enumerate(selection.chosen):
        counts.setdefault(int(index), []).append(fold + 1)
    chosen = "; ".join(
        f"{selection.labels[index]} (fold{'s' if len(folds) > 1 else ''} {', '.join(map(str, folds))})"
        for index, folds in counts.items()
    )
    lines = [
        "Model chosen automatically (nested cross-fitting: each fold's choice used its training part only, by "
        f"revenue Qini on inner folds): {chosen}.",
        "Candidates' revenue Qini on the held-out users (each fitted on its fold's selection sample), and minus "
        "the selected one's (95% interval, paired on the same users):",
    ]
    for index, label in enumerate(selection.labels):
        low, high = selection.interval(index)
        mark = "  <- chosen" if index in counts else ""
        lines.append(
            f"  {label:<58}{selection.qini[index]:>8.3f}{selection.qini[index] - selection.selected_qini:>+9.3f}"
            f" [{low:+.3f}, {high:+.3f}]{mark}"
        )
    lines.append(
        f"  selected (per fold){'':<39}{selection.selected_qini:>8.3f}; the reported model (winners refitted "
        f"on whole training parts) {selection.refit_qini:.3f}."
    )
    return lines


def report_dict(analysis: Analysis, budget: float, cost_per_contact: float | None) -> dict:
    """Design section 7's keys exactly (add, never rename)."""
    view = analysis.view(budget, cost_per_contact)
    results = view.results
    any_result = next(iter(results.values()))
    payload = {
        "n_users": analysis.n_users,
        "population": analysis.population,
        "treated_share": analysis.treated_share,
        "budget": float(budget),
        "cost_per_contact": None if analysis.per_user_cost else float(cost_per_contact),
        # one cost per contact: every strategy buys the same contacts; per-user costs: the uplift strategy's
        "contacts": int(results.get("uplift", any_result).contacts),
        "spend": float(results.get("uplift", any_result).spend),
        "strategies": {name: r.report_entry() for name, r in results.items()},
        "metrics": {
            name: {"qini_coefficient": m["qini_coefficient"], "auuc": m["auuc"]} for name, m in analysis.metrics.items()
        },
        "settings": {
            **analysis.settings.as_dict(),
            "source": analysis.source,
            "fingerprint": analysis.fingerprint,
            "n_evaluation": analysis.n_evaluation,
            "per_user_cost": analysis.per_user_cost,
        },
        "versions": analysis.versions,
    }
    if analysis.has_truth:
        payload["truth"] = {name: {"incremental_revenue": r.true_incremental_revenue} for name, r in results.items()}
    # kept (add, never rename); the ratio is None when probability targeting earns nothing: read the difference
    payload["lift_over_probability"] = view.lift_over_probability
    versus = view.uplift_minus_probability
    payload["uplift_minus_probability"] = None if versus is None else versus.as_dict()
    payload["comparisons"] = {
        f"uplift_minus_{name}": difference.as_dict()
        for name, difference in analysis.comparisons(budget, cost_per_contact).items()
    }
    payload["metric_intervals"] = metric_intervals(analysis)
    payload["share_of_oracle"] = view.share_of_oracle
    payload["break_even_budget"] = analysis.break_even_budget("uplift", cost_per_contact)
    payload["contacted_everyone"] = bool(any_result.contacted_everyone)
    payload["calibration"] = analysis.calibration.as_dict()
    payload["model"] = model_dict(analysis)
    return payload


def executive_sentence(analysis: Analysis, budget: float, cost_per_contact: float | None) -> str:
    """One plain-language sentence with the headline and its uncertainty (:attr:`BudgetView.sentence`)."""
    return analysis.view(budget, cost_per_contact).sentence


def format_report(analysis: Analysis, budget: float, cost_per_contact: float | None) -> str:
    """The readable table of the report command."""
    view = analysis.view(budget, cost_per_contact)
    results = view.results
    any_result = next(iter(results.values()))
    cost_text = "per-user costs" if analysis.per_user_cost else f"${cost_per_contact:,.2f} per contact"
    lines = [
        f"Uplift Studio report: {analysis.source}",
        f"{analysis.n_users:,} users ({analysis.n_evaluation:,} scored out of sample), campaign population "
        f"{analysis.population:,}; budget {format_money(budget)} at {cost_text}.",
        "",
        f"{'strategy':<24}{'contacts':>10}{'spend':>11}{'incr. revenue':>15}{'95% interval':>26}{'ROI':>7}"
        f"{'net':>12}" + (f"{'truth':>12}" if analysis.has_truth else ""),
    ]
    for name, r in results.items():
        interval = f"[{format_money(r.ci_low)}, {format_money(r.ci_high)}]"
        row = (
            f"{strategy_label(name):<24}{r.contacts:>10,.0f}{format_money(r.spend):>11}"
            f"{format_money(r.incremental_revenue):>15}"
            f"{interval:>26}{r.roi:>6.2f}x{format_money(r.net):>12}"
        )
        if analysis.has_truth:
            row += f"{format_money(r.true_incremental_revenue):>12}"
        lines.append(row)
    lines.append("")
    versus = view.uplift_minus_probability
    if versus is not None:
        lines.append(
            f"Uplift minus probability targeting: {format_difference(versus)} incremental revenue, paired on the "
            "same held-out customers."
        )
    oracle_share = view.share_of_oracle
    if oracle_share is not None:
        lines.append(f"Uplift strategy's share of the oracle (true value): {oracle_share:.1%}.")
    qini = ", ".join(
        f"{name} {m['qini_coefficient']:.3f} [{m['qini_ci_low']:.3f}, {m['qini_ci_high']:.3f}]"
        for name, m in analysis.metrics.items()
        if math.isfinite(m["qini_coefficient"])
    )
    lines.append(f"Qini coefficients (95% interval): {qini}.")
    lines.append(format_calibration(analysis.calibration))
    lines += format_selection(analysis)
    lines.append(
        "Break-even budget (marginal ROI falls to 1) for uplift targeting: "
        f"{format_money(analysis.break_even_budget('uplift', cost_per_contact))}."
    )
    if any_result.contacted_everyone:
        lines.append("The budget exceeds the cost of contacting everyone: every strategy contacts all users.")
    lines += ["", view.sentence]
    lines += [f"Note: {note}" for note in analysis.notes]
    return "\n".join(lines)

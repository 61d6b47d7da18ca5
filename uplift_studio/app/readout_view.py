"""The experiment's A/B readout in the app, from the core function behind ``uplift-studio describe``: users,
conversion and revenue per arm with intervals, the average effects with interval and p-value, the
sample-ratio check, and each strategy's Qini coefficient and AUUC on the held-out users."""

from __future__ import annotations

from uplift_studio.app import markup
from uplift_studio.core.analysis import Analysis
from uplift_studio.core.readout import Arm, Effect, Readout
from uplift_studio.core.stats import Z95
from uplift_studio.core.strategies import strategy_label


def _share(value: float, digits: int = 4) -> str:
    return f"{value:.{digits}%}"


def _rate_interval(arm: Arm) -> str:
    se = arm.conversion_rate_se
    return f"{_share(max(arm.conversion_rate - Z95 * se, 0.0), 3)} to {_share(arm.conversion_rate + Z95 * se, 3)}"


def _revenue_interval(arm: Arm) -> str:
    se = arm.revenue_per_user_se
    return f"${max(arm.revenue_per_user - Z95 * se, 0.0):,.4f} to ${arm.revenue_per_user + Z95 * se:,.4f}"


def _p_value(effect: Effect) -> str:
    p = effect.p_value
    return "< 0.0001" if p < 1e-4 else f"{p:.4f}"


def _arm_row(name: str, key: str, arm: Arm) -> dict[str, str]:
    return {
        "name": name,
        "key": key,
        "users": f"{arm.users:,}",
        "conversions": f"{arm.conversions:,}",
        "rate": _share(arm.conversion_rate),
        "rate_ci": _rate_interval(arm),
        "revenue": f"${arm.revenue_per_user:,.4f}",
        "revenue_ci": _revenue_interval(arm),
    }


def _dollars(value: float) -> str:
    """Signed cents and below: an effect per user is a fraction of a dollar."""
    return f"{'-' if value < 0 else '+'}${abs(value):,.4f}"


def _interval(effect: Effect, money: bool) -> str:
    if money:
        return f"{_dollars(effect.ci_low)} to {_dollars(effect.ci_high)}"
    return f"{effect.ci_low * 100:+.3f} to {effect.ci_high * 100:+.3f} points"


def readout_html(readout: Readout, analysis: Analysis | None, labels: tuple[str, str] = ("treated", "control")) -> str:
    treated_label, control_label = labels
    conversion, revenue = readout.conversion_effect, readout.revenue_effect
    effects = [
        {
            "name": "Conversion rate",
            "estimate": f"{conversion.estimate * 100:+.3f} points ({conversion.relative:+.1%} relative)",
            "interval": _interval(conversion, money=False),
            "p_value": _p_value(conversion),
        },
        {
            "name": "Revenue per user",
            "estimate": f"{_dollars(revenue.estimate)} ({revenue.relative:+.1%} relative)",
            "interval": _interval(revenue, money=True),
            "p_value": _p_value(revenue),
        },
    ]
    scores = []
    if analysis is not None:
        for name, values in analysis.metrics.items():
            scores.append({"name": strategy_label(name), **_score_cells(values)})
    return markup.render(
        "readout.html",
        source=readout.source,
        arms=[
            _arm_row(f"Treated ({treated_label})", "treated", readout.treated),
            _arm_row(f"Control ({control_label})", "control", readout.control),
        ],
        effects=effects,
        srm_alert=readout.srm_alert,
        observed_share=_share(readout.observed_treated_share, 2),
        expected_share=_share(readout.expected_treated_share, 2),
        chi2=f"{readout.srm_chi2:.2f}",
        srm_p=f"{readout.srm_p_value:.3g}",
        scores=scores,
    )


def _score_cells(values: dict[str, float]) -> dict[str, str]:
    cells = {}
    for key, shown in (("qini_coefficient", "qini"), ("auuc", "auuc")):
        low, high = values.get(f"{shown}_ci_low"), values.get(f"{shown}_ci_high")
        cells[shown] = f"{values[key]:+.4f}"
        cells[f"{shown}_ci"] = "" if low is None or high is None else f"{low:+.4f} to {high:+.4f}"
    return cells

"""Pure views of an :class:`Explanation`: the drivers' ranking, each driver's observed check, and the
profiles and rule in words (one Jinja2 template, autoescaped), for the app and the snapshot alike."""

from __future__ import annotations

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (registers the Bokeh options these views use)
import numpy as np

from uplift_studio.app.markup import render
from uplift_studio.core.drivers import Driver
from uplift_studio.core.explain import Explanation, explanation_dict
from uplift_studio.core.formats import format_money

DRIVERS_SHOWN = 8


def drivers_chart(explanation: Explanation) -> hv.Bars:
    """Mean absolute contribution of each feature to the predicted uplift (on the learner's scale), largest first."""
    top = explanation.ranking.head(DRIVERS_SHOWN)
    return hv.Bars(
        {"feature": top["feature"].to_numpy()[::-1], "importance": top["importance"].to_numpy()[::-1]},
        hv.Dimension("feature", label="Feature"),
        hv.Dimension("importance", label=f"Mean |contribution| ({explanation.scale.split(' (')[0]})"),
    ).opts(
        backend="bokeh",
        invert_axes=True,
        responsive=True,
        height=300,
        color="#1f78b4",
        title=f"What the uplift depends on (TreeSHAP, final {explanation.learner})",
        tools=["hover"],
    )


def driver_check(driver: Driver) -> hv.Overlay:
    """Observed conversion uplift per bin with its 95% interval, beside the model's mean predicted uplift."""
    labels = np.array([bin_.label for bin_ in driver.bins])
    observed = np.array([bin_.observed_uplift for bin_ in driver.bins])
    low = np.array([bin_.ci_low for bin_ in driver.bins])
    high = np.array([bin_.ci_high for bin_ in driver.bins])
    predicted = np.array([bin_.predicted_uplift for bin_ in driver.bins])
    x = hv.Dimension("bin", label=driver.feature)
    y = hv.Dimension("uplift", label="Conversion uplift")
    return hv.Overlay(
        [
            hv.ErrorBars((labels, observed, observed - low, high - observed), x, [y, "neg", "pos"]).opts(
                backend="bokeh", color="#222222"
            ),
            hv.Scatter((labels, observed), x, y, label="Observed (held-out users)").opts(
                backend="bokeh", size=8, color="#222222"
            ),
            hv.Scatter((labels, predicted), x, y, label="Model (out of sample)").opts(
                backend="bokeh", size=9, marker="diamond", color="#1f78b4"
            ),
        ]
    ).opts(
        backend="bokeh", responsive=True, height=260, title=f"Uplift by {driver.feature}", legend_position="top_left"
    )


def explanation_html(explanation: Explanation) -> str:
    payload = explanation_dict(explanation)
    rule, model = explanation.rule_value, explanation.model_value
    return render(
        "explanation.html",
        profiles=[item["sentence"] for item in payload["profiles"]],
        rule=payload["rule"],
        rule_value=format_money(rule.incremental_revenue),
        rule_interval=f"{format_money(rule.ci_low)} to {format_money(rule.ci_high)}",
        rule_spend=format_money(rule.spend),
        model_value=format_money(model.incremental_revenue),
        model_interval=f"{format_money(model.ci_low)} to {format_money(model.ci_high)}",
    )

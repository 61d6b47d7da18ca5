"""The offers view's curve (issue 12): projected incremental revenue against spend for the allocation (with its
95% band), each offer alone targeted by its own uplift, and a random offer to random users; the budget marker
is its own layer. Pure functions of the :class:`OfferAnalysis`, read through the core's budget projection."""

from __future__ import annotations

from typing import TYPE_CHECKING

import holoviews as hv
import numpy as np

from uplift_studio.app.offers_markup import ALLOCATION_COLOR, OFFER_COLORS, RANDOM_COLOR
from uplift_studio.app.offers_state import budget_top, strategy_label
from uplift_studio.app.plot_style import MARKER_STYLE, MONEY_FORMAT, axis_formats, overlay
from uplift_studio.core.budget import frontier

if TYPE_CHECKING:
    from uplift_studio.core.offers_analysis import OfferAnalysis

CURVE_POINTS = 300
CURVE_HEIGHT = 400
SPEND = hv.Dimension("spend", label="Spend on offers", unit="$")
REVENUE = hv.Dimension("incremental_revenue", label="Projected incremental revenue", unit="$")


def curve_strategies(analysis: OfferAnalysis) -> list[str]:
    return ["allocation", *analysis.offers, "random_offer"]


def _curve(analysis: OfferAnalysis, name: str, budgets: np.ndarray) -> dict[str, np.ndarray]:
    table = frontier(analysis.paths[name].path, budgets, population=analysis.population)
    # from the origin, and only up to where the strategy has reached everyone it would contact
    spend = np.concatenate([[0.0], table["spend"].to_numpy()])
    keep = np.concatenate([[True], np.diff(spend) > 1e-9])
    columns = {
        "spend": spend,
        "incremental_revenue": np.concatenate([[0.0], table["incremental_revenue"].to_numpy()]),
        "ci_low": np.concatenate([[0.0], table["ci_low"].to_numpy()]),
        "ci_high": np.concatenate([[0.0], table["ci_high"].to_numpy()]),
    }
    return {key: values[keep] for key, values in columns.items()}


def offer_curves(analysis: OfferAnalysis, points: int = CURVE_POINTS) -> hv.Overlay:
    """The allocation's curve and band against each single offer and the random-offer baseline."""
    top = budget_top(analysis)
    budgets = np.linspace(top / points, top, points)
    layers: list[hv.Element] = []
    allocation = _curve(analysis, "allocation", budgets)
    band = hv.Area(
        (allocation["spend"], allocation["ci_low"], allocation["ci_high"]),
        kdims=[SPEND],
        vdims=[REVENUE, "ci_high"],
        label="Allocation: 95% interval",
    ).opts(color=ALLOCATION_COLOR, alpha=0.15, line_alpha=0, backend="bokeh")
    layers.append(band)
    for index, name in enumerate(curve_strategies(analysis)):
        data = allocation if name == "allocation" else _curve(analysis, name, budgets)
        if name == "allocation":
            style = {"color": ALLOCATION_COLOR, "line_width": 3}
        elif name == "random_offer":
            style = {"color": RANDOM_COLOR, "line_width": 2, "line_dash": "dashed"}
        else:
            style = {"color": OFFER_COLORS[(index - 1) % len(OFFER_COLORS)], "line_width": 2}
        curve = hv.Curve(
            (data["spend"], data["incremental_revenue"]), kdims=[SPEND], vdims=[REVENUE], label=strategy_label(name)
        )
        layers.append(curve.opts(**style, tools=["hover"], backend="bokeh"))
    zero = hv.HLine(0).opts(color="#bcccdc", line_width=1, backend="bokeh")
    return overlay(
        [*layers, zero],
        title="Incremental revenue by spend: the allocation against each offer alone",
        height=CURVE_HEIGHT,
        responsive=True,
        show_grid=True,
        legend_position="top_left",
        xlim=(0, top),
        hooks=[axis_formats(MONEY_FORMAT, MONEY_FORMAT)],
    )


def offer_marker(budget: float) -> hv.VLine:
    """The current budget on the spend axis (contact costs only: the budget is the spend)."""
    return hv.VLine(float(budget), kdims=[SPEND, REVENUE]).opts(**MARKER_STYLE, backend="bokeh")

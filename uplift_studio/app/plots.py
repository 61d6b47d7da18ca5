"""Pure plots: ``(Analysis, settings) -> HoloViews objects``, shared by the dashboard and the snapshot.

Nothing here holds state or touches Panel. Each function reads the frozen :class:`Analysis` and returns
HoloViews elements whose data is what the analyst sees, so tests can assert on the data directly. The
curves (O(number of tie groups) to draw) are separate from the budget marker and the KPIs (a binary
search), so the dashboard can redraw the cheap layers on a slider tick and never the expensive ones.
"""

from __future__ import annotations

from collections.abc import Sequence

import holoviews as hv
import numpy as np
import polars as pl

from uplift_studio.app.plot_style import (
    BREAK_EVEN_STYLE,
    BUDGET,
    MARKER_STYLE,
    MAX_CURVE_POINTS,
    MONEY_FORMAT,
    REVENUE,
    ROI,
    ROI_FORMAT,
    SHARE,
    SHARE_FORMAT,
    STRATEGY_COLORS,
    axis_formats,
    chosen,
    frontier_budgets,
    overlay,
)
from uplift_studio.app.plots_comparison import (  # noqa: F401 - the views' one public module is plots
    comparison_columns,
    comparison_roi_range,
    roi_axis,
    strategy_comparison,
    strategy_comparison_columns,
    strategy_table,
)
from uplift_studio.app.plots_segments import (  # noqa: F401
    QUADRANTS_HEIGHT,
    decile_dominance,
    decile_frame,
    persuadability_notes,
    persuadability_quadrants,
    segment_agreement_table,
)
from uplift_studio.core.analysis import Analysis
from uplift_studio.core.stats import Z95
from uplift_studio.core.strategies import STRATEGY_LABELS

# ---------------------------------------------------------------------------------------------------------
# Efficiency curve


def downsample_indices(x: np.ndarray, y: np.ndarray, max_points: int = MAX_CURVE_POINTS) -> np.ndarray:
    """Indices of at most ``max_points`` curve points that keep the drawn shape (M4 aggregation).

    The x range is cut into ``max_points // 4`` equal buckets; each keeps its first, last, lowest and
    highest point (Jugel et al., "M4: a visualization-oriented time series data aggregation", VLDB 2014).
    Every kept point is a real tie-group boundary, so a large tie group still draws as its straight
    segment (its two ends are the last point of one bucket and the first of a later one) and no point is
    invented. Needs no sort: x is non-decreasing.
    """
    n = x.size
    if n <= max_points:
        return np.arange(n)
    buckets = max(max_points // 4, 1)
    cuts = np.searchsorted(x, np.linspace(x[0], x[-1], buckets + 1)[1:-1], side="left")
    starts = np.concatenate([[0], cuts])
    starts = starts[np.concatenate([[True], np.diff(starts) > 0]) & (starts < n)]
    counts = np.diff(np.append(starts, n))
    bucket = np.repeat(np.arange(starts.size), counts)
    keep = np.zeros(n, dtype=bool)
    keep[starts] = True
    keep[starts + counts - 1] = True
    for extreme in (np.minimum.reduceat(y, starts), np.maximum.reduceat(y, starts)):
        hits = np.flatnonzero(y == np.repeat(extreme, counts))
        first = np.concatenate([[True], bucket[hits][1:] != bucket[hits][:-1]])
        keep[hits[first]] = True
    return np.flatnonzero(keep)


def _curve_frame(analysis: Analysis, name: str, with_band: bool = False) -> pl.DataFrame:
    path = analysis.paths[name]
    index = downsample_indices(path.contacts, path.value)
    columns = {
        "share_targeted": path.contacts[index] / path.n,
        "incremental_revenue": path.value[index] * analysis.scale,
    }
    if with_band:
        half_width = Z95 * path.se[index] * analysis.scale
        columns["ci_low"] = columns["incremental_revenue"] - half_width
        columns["ci_high"] = columns["incremental_revenue"] + half_width
    return pl.DataFrame(columns)


def total_incremental_revenue(analysis: Analysis) -> float:
    """The observed total effect projected to the campaign: where every strategy's curve ends."""
    return float(next(iter(analysis.paths.values())).value[-1]) * analysis.scale


def efficiency_curve(analysis: Analysis, strategies: Sequence[str] | None = None) -> hv.Overlay:
    """Projected incremental revenue against the share of users targeted, one curve per strategy.

    ``x = k / n`` and ``y = U(k) * P / n`` at (a shape-keeping subset of) the tie-group boundaries; the
    dashed diagonal is what contacting at random is expected to give, and the shaded band is the uplift
    strategy's 95% interval.
    """
    names = chosen(analysis, strategies)
    total = total_incremental_revenue(analysis)
    diagonal = pl.DataFrame({"share_targeted": [0.0, 1.0], "incremental_revenue": [0.0, total]})
    layers: list[hv.Element] = [
        hv.Curve(diagonal, SHARE, REVENUE, label="Random (expected)").opts(
            backend="bokeh", color="#444444", line_dash="dashed", line_width=1.5
        )
    ]
    if "uplift" in names:
        band = _curve_frame(analysis, "uplift", with_band=True).select("share_targeted", "ci_low", "ci_high")
        layers.append(
            hv.Area(band, SHARE, ["ci_low", "ci_high"], label="Uplift 95% interval").opts(
                backend="bokeh", color=STRATEGY_COLORS["uplift"], alpha=0.18, line_alpha=0
            )
        )
    for name in names:
        frame = _curve_frame(analysis, name)
        layers.append(
            hv.Curve(frame, SHARE, REVENUE, label=STRATEGY_LABELS.get(name, name)).opts(
                backend="bokeh",
                color=STRATEGY_COLORS.get(name, "#000000"),
                line_width=2.5 if name == "uplift" else 1.8,
                tools=["hover"],
            )
        )
    return overlay(
        layers,
        title="Who to contact: incremental revenue by share targeted",
        xlabel=SHARE.label,
        ylabel=f"{REVENUE.label} ($)",
        hooks=[axis_formats(SHARE_FORMAT, MONEY_FORMAT)],
        legend_position="bottom_right",
        responsive=True,
        height=360,
        show_grid=True,
    )


def budget_marker(analysis: Analysis, budget: float, cost_per_contact: float | None) -> hv.VLine:
    """The share of users the budget reaches down the uplift ranking: its own cheap layer over the curve."""
    return marker_at(analysis.at_budget(budget, cost_per_contact)["uplift"].share_targeted)


def marker_at(share: float) -> hv.VLine:
    """The budget marker at a share of users targeted."""
    return hv.VLine(share, kdims=[SHARE, REVENUE]).opts(**MARKER_STYLE, backend="bokeh")


def frontier_marker(budget: float) -> hv.VLine:
    """The budget marker on the budget frontier: the current budget, styled as the efficiency curve's
    marker, its own cheap layer to compose over :func:`budget_frontier` and move in place."""
    return hv.VLine(float(budget), kdims=[BUDGET, REVENUE]).opts(**MARKER_STYLE, backend="bokeh")


# ---------------------------------------------------------------------------------------------------------
# Budget frontier


def budget_frontier(
    analysis: Analysis, cost_per_contact: float | None, strategies: Sequence[str] | None = None
) -> hv.Overlay:
    """Projected incremental revenue (left axis, solid) and ROI (right axis, dashed) against the budget,
    per strategy, with the spend line (ROI = 1) and the uplift strategy's break-even budget, beyond which
    the next dollar returns less than a dollar."""
    names = chosen(analysis, strategies)
    budgets = frontier_budgets(analysis, cost_per_contact)
    frontiers = analysis.frontier(budgets, cost_per_contact)
    layers: list[hv.Element] = [
        hv.Curve(
            pl.DataFrame({"budget": budgets, "incremental_revenue": frontiers[names[0]]["spend"]})
            if names
            else pl.DataFrame({"budget": budgets, "incremental_revenue": budgets}),
            BUDGET,
            REVENUE,
            label="Spend (ROI = 1)",
        ).opts(
            backend="bokeh",
            color="#444444",
            line_dash="dotted",
            line_width=1.2,
        )
    ]
    for name in names:
        frame = frontiers[name]
        label = STRATEGY_LABELS.get(name, name)
        color = STRATEGY_COLORS.get(name, "#000000")
        layers.append(
            hv.Curve(frame.select("budget", "incremental_revenue"), BUDGET, REVENUE, label=label).opts(
                backend="bokeh",
                color=color,
                line_width=2.2 if name == "uplift" else 1.6,
                tools=["hover"],
            )
        )
        layers.append(
            hv.Curve(frame.select("budget", "roi"), BUDGET, ROI, label=f"{label} ROI").opts(
                backend="bokeh",
                color=color,
                line_dash="dashed",
                line_width=1.2,
                tools=["hover"],
            )
        )
    if "uplift" in analysis.paths:
        break_even = analysis.break_even_budget("uplift", cost_per_contact)
        layers.append(hv.VLine(break_even, kdims=[BUDGET, REVENUE]).opts(**BREAK_EVEN_STYLE, backend="bokeh"))
    return overlay(
        layers,
        overlay_only={"multi_y": True},
        hooks=[axis_formats(MONEY_FORMAT, MONEY_FORMAT, ROI_FORMAT)],
        title="Budget frontier: revenue (solid), ROI (dashed); grey line: uplift break-even",
        legend_position="right",
        responsive=True,
        height=360,
        show_grid=True,
    )


def kpis(analysis: Analysis, budget: float, cost_per_contact: float | None) -> dict:
    """The headline figures for the uplift strategy at ``budget`` (the dashboard's cards and the snapshot's):
    incremental revenue with its 95% interval, ROI with its interval, contacts, spend, net, the lift over
    conversion-probability targeting, and (simulated data) the share of the oracle's true value."""
    view = analysis.view(budget, cost_per_contact)
    results = view.results
    uplift = view.uplift
    return {
        "budget": float(budget),
        "cost_per_contact": cost_per_contact,
        "contacts": uplift.contacts,
        "share_targeted": uplift.share_targeted,
        "spend": uplift.spend,
        "incremental_revenue": uplift.incremental_revenue,
        "ci_low": uplift.ci_low,
        "ci_high": uplift.ci_high,
        "roi": uplift.roi,
        "roi_low": uplift.roi_low,
        "roi_high": uplift.roi_high,
        "net": uplift.net,
        "incremental_conversions": uplift.incremental_conversions,
        "probability_incremental_revenue": results["probability"].incremental_revenue
        if "probability" in results
        else None,
        "lift_over_probability": view.lift_over_probability,
        "uplift_minus_probability": None if (versus := view.uplift_minus_probability) is None else versus.as_dict(),
        "share_of_oracle": view.share_of_oracle,
        "true_incremental_revenue": uplift.true_incremental_revenue,
        "contacted_everyone": uplift.contacted_everyone,
        "simulated": analysis.has_truth,
    }

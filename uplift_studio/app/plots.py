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
    BUDGET,
    FRONTIER_POINTS,
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
    overlay,
)
from uplift_studio.app.plots_segments import (  # noqa: F401
    decile_dominance,
    decile_frame,
    persuadability_quadrants,
    segment_agreement_table,
)
from uplift_studio.core.analysis import Analysis
from uplift_studio.core.budget import StrategyResult
from uplift_studio.core.formats import format_money
from uplift_studio.core.stats import Z95
from uplift_studio.core.strategies import STRATEGY_LABELS
from uplift_studio.core.view import BudgetView

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
    return hv.VLine(share, kdims=[SHARE, REVENUE]).opts(
        backend="bokeh", color="#e7298a", line_width=2, line_dash="dotdash"
    )


# ---------------------------------------------------------------------------------------------------------
# Budget frontier


def frontier_budgets(analysis: Analysis, cost_per_contact: float | None, points: int = FRONTIER_POINTS) -> np.ndarray:
    """Budgets from 1% of the cost of contacting everyone up to that cost (smaller budgets reach too few
    evaluation users for a readable ROI)."""
    top = analysis.max_budget(cost_per_contact)
    return np.linspace(top / 100.0, top, points)


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
        layers.append(
            hv.VLine(break_even, kdims=[BUDGET, REVENUE]).opts(backend="bokeh", color="#e7298a", line_width=1.5)
        )
    return overlay(
        layers,
        overlay_only={"multi_y": True},
        hooks=[axis_formats(MONEY_FORMAT, MONEY_FORMAT, ROI_FORMAT)],
        title="Budget frontier: revenue (solid) and ROI (dashed) by budget; pink line: uplift break-even",
        legend_position="right",
        responsive=True,
        height=360,
        show_grid=True,
    )


# ---------------------------------------------------------------------------------------------------------
# Strategies at one budget


def strategy_table(analysis: Analysis, budget: float, cost_per_contact: float | None) -> pl.DataFrame:
    """Every strategy at ``budget``: contacts, spend, projected incremental revenue with its 95% interval,
    ROI with its interval (the revenue interval over the fixed spend), net, and the truth when simulated."""
    results = analysis.at_budget(budget, cost_per_contact)
    return _results_frame(results)


def _results_frame(results: dict[str, StrategyResult]) -> pl.DataFrame:
    rows = list(results.values())
    spend = np.array([r.spend for r in rows])
    return pl.DataFrame(
        {
            "strategy": [r.strategy for r in rows],
            "contacts": [r.contacts for r in rows],
            "spend": spend,
            "incremental_revenue": [r.incremental_revenue for r in rows],
            "ci_low": [r.ci_low for r in rows],
            "ci_high": [r.ci_high for r in rows],
            "roi": [r.roi for r in rows],
            "roi_low": [r.roi_low for r in rows],
            "roi_high": [r.roi_high for r in rows],
            "net": [r.net for r in rows],
            "true_incremental_revenue": [r.true_incremental_revenue for r in rows],
        },
        schema_overrides={"true_incremental_revenue": pl.Float64},
        nan_to_null=False,
    )


def strategy_comparison_columns(analysis: Analysis, budget: float, cost_per_contact: float | None) -> dict:
    """The comparison's data at ``budget`` (see :func:`comparison_columns`)."""
    return comparison_columns(analysis.view(budget, cost_per_contact))


def comparison_columns(view: BudgetView) -> dict:
    """The comparison's data at the view's budget: bars (ROI, revenue, contacts), whiskers (interval) and the
    true ROI, as plain columns; what :func:`strategy_comparison` draws and what a budget tick sends in place."""
    table = _results_frame(view.results)
    spend = table["spend"].replace(0.0, None)
    return {
        "strategy": table["strategy"].to_list(),
        "roi": table["roi"].to_numpy(),
        "roi_low": table["roi_low"].to_numpy(),
        "roi_high": table["roi_high"].to_numpy(),
        "incremental_revenue": table["incremental_revenue"].to_numpy(),
        "contacts": table["contacts"].to_numpy(),
        "true_roi": (table["true_incremental_revenue"] / spend).fill_null(np.nan).to_numpy(),
        "title": f"ROI by strategy at a {format_money(view.budget)} budget (95% interval)",
    }


def comparison_roi_range(analysis: Analysis, cost_per_contact: float | None) -> tuple[float, float]:
    """An ROI axis that holds every strategy's interval at every budget of the frontier, so that a slider
    moves the bars against a fixed scale (and the chart never needs a redraw to fit them)."""
    budgets = frontier_budgets(analysis, cost_per_contact)
    low, high = 0.0, 1.0
    for frame in analysis.frontier(budgets, cost_per_contact).values():
        spend = frame["spend"].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            lows = np.where(spend > 0, frame["ci_low"].to_numpy() / spend, np.nan)
            highs = np.where(spend > 0, frame["ci_high"].to_numpy() / spend, np.nan)
        low, high = min(low, float(np.nanmin(lows))), max(high, float(np.nanmax(highs)))
    pad = 0.05 * (high - low)
    return low - pad, high + pad


def strategy_comparison(
    analysis: Analysis, budget: float, cost_per_contact: float | None, *, fixed_axis: bool = False
) -> hv.Overlay:
    """ROI of each strategy at ``budget`` with its 95% interval; on simulated data, the true ROI as a marker.
    ``fixed_axis`` spans the ROI axis over every budget (see :func:`comparison_roi_range`)."""
    columns = strategy_comparison_columns(analysis, budget, cost_per_contact)
    strategy = hv.Dimension("strategy", label="Strategy")
    bars = hv.Bars(
        {name: np.asarray(columns[name]) for name in ("strategy", "roi", "incremental_revenue", "contacts")},
        strategy,
        [ROI, REVENUE, "contacts"],
    ).opts(
        backend="bokeh",
        color=hv.dim("strategy").categorize(STRATEGY_COLORS, default="#000000"),
        line_alpha=0,
        tools=["hover"],
    )
    errors = hv.ErrorBars(
        {
            "strategy": np.asarray(columns["strategy"]),
            "roi": columns["roi"],
            "error_low": columns["roi"] - columns["roi_low"],
            "error_high": columns["roi_high"] - columns["roi"],
        },
        strategy,
        [ROI, "error_low", "error_high"],
    ).opts(backend="bokeh", color="#222222", line_width=1.5)
    layers: list[hv.Element] = [bars, errors]
    if analysis.has_truth:
        truth = {"strategy": np.asarray(columns["strategy"]), "true_roi": columns["true_roi"]}
        layers.append(
            hv.Scatter(truth, strategy, hv.Dimension("true_roi", label=ROI.label), label="True ROI").opts(
                backend="bokeh", marker="diamond", size=12, color="#e7298a", tools=["hover"]
            )
        )
    limits = {"ylim": comparison_roi_range(analysis, cost_per_contact)} if fixed_axis else {}
    return overlay(
        layers,
        title=columns["title"],
        hooks=[axis_formats(None, ROI_FORMAT)],
        responsive=True,
        height=320,
        show_grid=True,
        legend_position="top_left",
        **limits,
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
        "share_of_oracle": view.share_of_oracle,
        "true_incremental_revenue": uplift.true_incremental_revenue,
        "contacted_everyone": uplift.contacted_everyone,
        "simulated": analysis.has_truth,
    }

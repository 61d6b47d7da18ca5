"""The strategies at one budget: their table and the ROI comparison, whose bars a budget tick moves in place
(see :mod:`uplift_studio.app.bokeh_refs`) against an axis that fits every budget's values."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import polars as pl

from uplift_studio.app.plot_style import (
    BREAK_EVEN_STYLE,
    REVENUE,
    ROI,
    ROI_FORMAT,
    STRATEGY_COLORS,
    axis_formats,
    frontier_budgets,
    overlay,
)
from uplift_studio.core.analysis import Analysis
from uplift_studio.core.budget import StrategyResult
from uplift_studio.core.formats import format_money
from uplift_studio.core.view import BudgetView

# the comparison's fixed axis covers intervals from this share of the full campaign's cost up (see
# comparison_roi_range), with a margin of this share of its span around the values
INTERVAL_REACH, ROI_AXIS_MARGIN = 0.10, 0.08
COMPARISON_VALUES = ("roi", "roi_low", "roi_high", "true_roi")
BAR_COLUMNS = ("roi", "incremental_revenue", "contacts", "roi_low", "roi_high")
ROI_LOW = hv.Dimension("roi_low", label="ROI, 95% interval from")
ROI_HIGH = hv.Dimension("roi_high", label="ROI, 95% interval to")


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
    true ROI, as plain columns; what :func:`strategy_comparison` draws and what a budget tick sends in place.
    ``title_clipped`` is the title for when some of them run past a fixed axis."""
    table = _results_frame(view.results)
    spend = table["spend"].replace(0.0, None)
    title = f"ROI at a {format_money(view.budget)} budget (95% interval)"
    return {
        "strategy": table["strategy"].to_list(),
        "roi": table["roi"].to_numpy(),
        "roi_low": table["roi_low"].to_numpy(),
        "roi_high": table["roi_high"].to_numpy(),
        "incremental_revenue": table["incremental_revenue"].to_numpy(),
        "contacts": table["contacts"].to_numpy(),
        "true_roi": (table["true_incremental_revenue"] / spend).fill_null(np.nan).to_numpy(),
        "title": title,
        "title_clipped": title.replace("95% interval)", "95%, cut at axis)"),
    }


def comparison_values(columns: dict) -> np.ndarray:
    """Every finite ROI the comparison draws: bars, whisker ends and true ROIs."""
    values = np.concatenate([np.asarray(columns[name], dtype=np.float64) for name in COMPARISON_VALUES])
    return values[np.isfinite(values)]


def roi_axis(values: np.ndarray) -> tuple[float, float]:
    """An ROI axis holding ``values``, 0 (where bars start) and the break-even 1x line, with a margin."""
    low = min(0.0, float(values.min(initial=0.0)))
    high = max(1.0, float(values.max(initial=1.0)))
    pad = ROI_AXIS_MARGIN * (high - low)
    return low - pad, high + pad


def comparison_roi_range(analysis: Analysis, cost_per_contact: float | None) -> tuple[float, float]:
    """A fixed ROI axis, so that a budget tick moves the bars against a stable scale without a redraw: it
    holds every strategy's ROI and 95% interval at each frontier budget that reaches at least
    ``INTERVAL_REACH`` of the cost of contacting everyone. Below that the projection rests on a few dozen
    evaluation users, intervals run to -30x..+60x (Hillstrom) and would squash the 1-8x bars of every
    budget an analyst weighs; there the title says what runs past the axis, and the hover gives it."""
    budgets = frontier_budgets(analysis, cost_per_contact)
    reached = budgets >= INTERVAL_REACH * analysis.max_budget(cost_per_contact)
    values = []
    for frame in analysis.frontier(budgets[reached], cost_per_contact).values():
        spend = frame["spend"].to_numpy()
        paid = spend > 0
        for column in ("roi", "ci_low", "ci_high"):
            ratio = frame[column].to_numpy()[paid] / (1.0 if column == "roi" else spend[paid])
            values.append(ratio[np.isfinite(ratio)])
    return roi_axis(np.concatenate(values) if values else np.array([]))


def strategy_comparison(
    analysis: Analysis, budget: float, cost_per_contact: float | None, *, fixed_axis: bool = False
) -> hv.Overlay:
    """ROI of each strategy at ``budget`` with its 95% interval and the break-even line (ROI = 1); on
    simulated data, the true ROI as a marker. The ROI axis fits this budget's values, or with
    ``fixed_axis`` those of every budget (see :func:`comparison_roi_range`), for in-place moves."""
    columns = strategy_comparison_columns(analysis, budget, cost_per_contact)
    strategy = hv.Dimension("strategy", label="Strategy")
    # the interval rides on the bars as hover columns: it stays readable where whiskers are cut at the axis
    bars = hv.Bars(
        {name: np.asarray(columns[name]) for name in ("strategy", *BAR_COLUMNS)},
        strategy,
        [ROI, REVENUE, "contacts", ROI_LOW, ROI_HIGH],
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
    break_even = hv.HLine(1.0, kdims=[strategy, ROI]).opts(**BREAK_EVEN_STYLE, line_dash="dashed", backend="bokeh")
    layers: list[hv.Element] = [bars, errors, break_even]
    if analysis.has_truth:
        truth = {"strategy": np.asarray(columns["strategy"]), "true_roi": columns["true_roi"]}
        layers.append(
            hv.Scatter(truth, strategy, hv.Dimension("true_roi", label=ROI.label), label="True ROI").opts(
                backend="bokeh", marker="diamond", size=12, color="#e7298a", tools=["hover"]
            )
        )
    values = comparison_values(columns)
    axis = comparison_roi_range(analysis, cost_per_contact) if fixed_axis else roi_axis(values)
    clipped = bool(((values < axis[0]) | (values > axis[1])).any())
    return overlay(
        layers,
        title=columns["title_clipped" if clipped else "title"],
        hooks=[axis_formats(None, ROI_FORMAT)],
        responsive=True,
        height=320,
        show_grid=True,
        legend_position="top_left",
        ylim=axis,
    )

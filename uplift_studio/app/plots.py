"""Pure plots: ``(Analysis, settings) -> HoloViews objects``, shared by the dashboard and the snapshot.

Nothing here holds state or touches Panel. Each function reads the frozen :class:`Analysis` and returns
HoloViews elements whose data is what the analyst sees, so tests can assert on the data directly. The
curves (O(number of tie groups) to draw) are separate from the budget marker and the KPIs (a binary
search), so the dashboard can redraw the cheap layers on a slider tick and never the expensive ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (registers the Bokeh options these plots use)
import numpy as np
import polars as pl
from bokeh.models import Axis, NumeralTickFormatter

from uplift_studio.core.analysis import Analysis
from uplift_studio.core.budget import StrategyResult
from uplift_studio.core.formats import format_money
from uplift_studio.core.segments import SEGMENTS
from uplift_studio.core.stats import Z95
from uplift_studio.core.strategies import STRATEGY_LABELS
from uplift_studio.core.view import BudgetView

STRATEGY_COLORS = {"random": "#8c8c8c", "probability": "#d95f02", "uplift": "#1f78b4", "oracle": "#33a02c"}
SEGMENT_COLORS = {"persuadable": "#1b7837", "sure thing": "#5e3c99", "lost cause": "#636363", "sleeping dog": "#b2182b"}
MAX_CURVE_POINTS = 2_000
FRONTIER_POINTS = 200


_MONEY_FORMAT, _SHARE_FORMAT, _ROI_FORMAT = "$0.[0]a", "0%", "0.0[0]"


def _axis_formats(x: str | None, left: str | None, right: str | None = None) -> Callable:
    """A render hook giving the axes numeral formats (``$684k``, ``25%``, ``6.8``).

    A hook, not the ``xformatter``/``yformatter`` options: HoloViews 1.23 ignores those on twin-axis
    (``multi_y``) plots, and a formatter model put in the options would be shared by every document the
    element is rendered in, which Bokeh refuses; the hook makes new models at each render."""

    def hook(plot, element) -> None:
        figure = plot.state
        for side, pattern in (("below", x), ("left", left), ("right", right)):
            if pattern is None:
                continue
            for axis in getattr(figure, side):
                current = getattr(axis, "formatter", None)
                # hooks run again at every update: keep the model, so a budget tick sends nothing new
                if isinstance(axis, Axis) and not (
                    isinstance(current, NumeralTickFormatter) and current.format == pattern
                ):
                    axis.formatter = NumeralTickFormatter(format=pattern)

    return hook


SHARE = hv.Dimension("share_targeted", label="Share of users targeted", range=(0, 1))
REVENUE = hv.Dimension("incremental_revenue", label="Projected incremental revenue", unit="$")
BUDGET = hv.Dimension("budget", label="Budget", unit="$")
ROI = hv.Dimension("roi", label="ROI (revenue / spend)")


def _columns(frame: pl.DataFrame) -> dict[str, np.ndarray]:
    """A frame as a dict of numpy columns, for ``hv.Bars``: HoloViews 1.23's narwhals interface fails on
    Polars data for bars (numeric x: it filters a Series with a slice; grouped bars: its group-by)."""
    return {name: frame.get_column(name).to_numpy() for name in frame.columns}


def _overlay(layers: Sequence[hv.Element], overlay_only: dict | None = None, **plot_options) -> hv.Overlay:
    """An overlay whose plot options survive being overlaid again (``curve * marker``): HoloViews drops an
    overlay's own options when it is composed, but takes them from its first element."""
    first, *rest = layers
    allowed = hv.Store.options(backend="bokeh")[type(first).__name__].groups["plot"].allowed_keywords
    first = first.opts(**{key: value for key, value in plot_options.items() if key in allowed}, backend="bokeh")
    return hv.Overlay([first, *rest]).opts(**plot_options, **(overlay_only or {}), backend="bokeh")


def compose(base: hv.Overlay, *layers: hv.Element) -> hv.Overlay:
    """``base * layers`` (e.g. a view and its budget marker) keeping ``base``'s own plot options (legend
    position, twin axes, hooks), which HoloViews drops when an overlay is composed again."""
    options = hv.Store.lookup_options("bokeh", base, "plot").kwargs
    composed = base
    for layer in layers:
        composed = composed * layer
    return composed.opts(**options, backend="bokeh")


def _chosen(analysis: Analysis, strategies: Sequence[str] | None) -> list[str]:
    if strategies is None:
        return list(analysis.strategies)
    return [name for name in analysis.strategies if name in strategies]


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
    names = _chosen(analysis, strategies)
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
    return _overlay(
        layers,
        title="Who to contact: incremental revenue by share targeted",
        xlabel=SHARE.label,
        ylabel=f"{REVENUE.label} ($)",
        hooks=[_axis_formats(_SHARE_FORMAT, _MONEY_FORMAT)],
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
# Deciles


def decile_frame(analysis: Analysis, strategies: Sequence[str] | None = None) -> pl.DataFrame:
    """Observed incremental revenue per score decile and strategy, projected to the campaign, with its
    95% interval (``uplift * users * P / n +- 1.96 * se * users * P / n``) and the cumulative capture."""
    names = _chosen(analysis, strategies)
    width = 0.8 / max(len(names), 1)
    frames = []
    for position, name in enumerate(names):
        table = analysis.deciles[name]
        scale = pl.col("users") * analysis.scale
        frames.append(
            table.select(
                decile=pl.col("bin"),
                strategy=pl.lit(name),
                # bars of one decile sit side by side around the decile's integer position
                position=pl.col("bin") - 0.4 + width * (position + 0.5),
                incremental_revenue=pl.col("uplift") * scale,
                ci_low=pl.col("uplift_ci_low") * scale,
                ci_high=pl.col("uplift_ci_high") * scale,
                cumulative_capture=pl.col("cumulative_capture"),
            )
        )
    return pl.concat(frames) if frames else pl.DataFrame()


def decile_dominance(analysis: Analysis, strategies: Sequence[str] | None = None) -> hv.Overlay:
    """Incremental revenue per score decile, bars grouped by strategy with 95% error bars, and each
    strategy's cumulative capture (share of the total observed effect reached by decile d) on the right axis.

    A good ranking puts its revenue in the first deciles and its negative effects (sleeping dogs) last.
    """
    frame = decile_frame(analysis, strategies)
    names = _chosen(analysis, strategies)
    width = 0.8 / max(len(names), 1)
    position = hv.Dimension("position", label="Score decile (1 = highest score)")
    # Bokeh cannot dodge error bars inside nested categorical bars, so bars sit at numeric positions
    bars = hv.Bars(
        _columns(frame.select("position", "incremental_revenue", "strategy", "decile")),
        position,
        [REVENUE, "strategy", "decile"],
    ).opts(
        backend="bokeh",
        color=hv.dim("strategy").categorize(STRATEGY_COLORS, default="#000000"),
        bar_width=width * 0.95,
        line_alpha=0,
        tools=["hover"],
    )
    errors = hv.ErrorBars(
        frame.select(
            "position",
            "incremental_revenue",
            (pl.col("incremental_revenue") - pl.col("ci_low")).alias("error_low"),
            (pl.col("ci_high") - pl.col("incremental_revenue")).alias("error_high"),
        ),
        position,
        [REVENUE, "error_low", "error_high"],
    ).opts(backend="bokeh", line_width=1, color="#333333")
    capture_dim = hv.Dimension("cumulative_capture", label="Cumulative capture of the total effect")
    captures = [
        hv.Curve(
            frame.filter(pl.col("strategy") == name).select("decile", "cumulative_capture"),
            hv.Dimension("decile", label=position.label),
            capture_dim,
            label=f"{STRATEGY_LABELS.get(name, name)}",
        ).opts(
            backend="bokeh",
            color=STRATEGY_COLORS.get(name, "#000000"),
            line_dash="dotted",
            line_width=1.5,
            tools=["hover"],
        )
        for name in names
    ]
    return _overlay(
        [bars, errors, *captures],
        overlay_only={"multi_y": True},
        hooks=[_axis_formats("0", _MONEY_FORMAT, _SHARE_FORMAT)],
        title="Decile dominance: incremental revenue per score decile (dotted: cumulative capture)",
        xticks=[(d, str(d)) for d in range(1, 11)],
        legend_position="top_right",
        responsive=True,
        height=360,
        show_grid=True,
    )


# ---------------------------------------------------------------------------------------------------------
# Persuadability quadrants


def _segment_label(row: dict) -> str:
    name = row["segment"].capitalize() + "s"
    users = f"{row['users'] * 1:,} users"
    if row["uplift"] is None or not math.isfinite(row["uplift"]):
        return f"{name}\n{users}"
    share = row["share_of_incremental"]
    share_text = "" if share is None else f"\n{share:.0%} of incremental revenue"
    uplift = row["uplift"]
    return f"{name}\n{users}\nuplift {'-' if uplift < 0 else '+'}${abs(uplift):.2f} per user{share_text}"


def persuadability_quadrants(analysis: Analysis) -> hv.Overlay:
    """Users on the (P(buy | not contacted), P(buy | contacted)) plane as a density (never one glyph per
    user), the segment boundaries ``p_treated = p_control +- delta`` and ``p_control = t`` (within the
    band), and each predicted segment's users, observed uplift and share of the incremental revenue."""
    grid = analysis.density
    counts = grid.counts.astype(np.float64)
    counts[counts == 0] = np.nan  # empty cells stay transparent rather than the darkest colour
    x_dim = hv.Dimension("p_control", label="P(buy | not contacted)")
    y_dim = hv.Dimension("p_treated", label="P(buy | contacted)")
    density = hv.QuadMesh((grid.x_edges, grid.y_edges, counts), [x_dim, y_dim], hv.Dimension("users")).opts(
        backend="bokeh", cmap="Blues", logz=True, colorbar=True, tools=["hover"], clabel="users per cell"
    )
    top = float(max(grid.x_edges[-1], grid.y_edges[-1]))
    delta, sure = analysis.thresholds.delta, analysis.thresholds.sure_thing_p_control
    boundaries = hv.Path(
        [
            {"p_control": [0.0, top - delta], "p_treated": [delta, top]},
            {"p_control": [delta, top], "p_treated": [0.0, top - delta]},
            {"p_control": [sure, sure], "p_treated": [sure - delta, sure + delta]},
        ],
        [x_dim, y_dim],
    ).opts(backend="bokeh", color="#222222", line_width=1.5, line_dash="dashed")

    anchors = {
        "persuadable": (0.22 * top, 0.78 * top),
        "sleeping dog": (0.78 * top, 0.22 * top),
        "sure thing": ((sure + top) / 2, (sure + top) / 2),
        "lost cause": (min(sure / 2, 0.2 * top), min(sure / 2, 0.2 * top)),
    }
    rows = {row["segment"]: row for row in analysis.segments.iter_rows(named=True)}
    labels = hv.Labels(
        pl.DataFrame(
            {
                "p_control": [anchors[s][0] for s in SEGMENTS],
                "p_treated": [anchors[s][1] for s in SEGMENTS],
                "text": [_segment_label(rows[s]) for s in SEGMENTS],
                "segment": list(SEGMENTS),
            }
        ),
        [x_dim, y_dim],
        ["text", "segment"],
    ).opts(
        backend="bokeh",
        text_font_size="9pt",
        text_color=hv.dim("segment").categorize(SEGMENT_COLORS),
        text_font_style="bold",
        background_fill_color="white",
        background_fill_alpha=0.8,
    )
    title = "Persuadability: P(buy) without vs with contact"
    agreement = segment_agreement_table(analysis)
    if agreement is not None:
        overall = agreement["agree"].sum() / agreement["users"].sum()
        title += f" (agrees with the true segment for {overall:.0%})"
    return _overlay(
        [density, boundaries, labels], title=title, responsive=True, height=460, xlim=(0, top), ylim=(0, top)
    )


def segment_agreement_table(analysis: Analysis) -> pl.DataFrame | None:
    """Predicted against true segments (simulated data only; None otherwise): one row per true segment
    with the users in each predicted segment, the row total and the share predicted correctly."""
    table = analysis.segment_agreement
    if table is None:
        return None
    present = [s for s in SEGMENTS if s in table.columns]
    ordered = pl.DataFrame({"true": list(SEGMENTS)}).join(table, on="true", how="left").fill_null(0)
    ordered = ordered.with_columns([pl.lit(0, dtype=pl.UInt32).alias(s) for s in SEGMENTS if s not in present])
    ordered = ordered.select(
        pl.col("true").alias("true segment"), *[pl.col(s).cast(pl.Int64) for s in SEGMENTS]
    ).with_columns(users=pl.sum_horizontal(list(SEGMENTS)))
    agree = pl.coalesce([pl.when(pl.col("true segment") == s).then(pl.col(s)) for s in SEGMENTS])
    return ordered.with_columns(agree=agree).with_columns(
        agreement=pl.when(pl.col("users") > 0).then(pl.col("agree") / pl.col("users"))
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
    names = _chosen(analysis, strategies)
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
    return _overlay(
        layers,
        overlay_only={"multi_y": True},
        hooks=[_axis_formats(_MONEY_FORMAT, _MONEY_FORMAT, _ROI_FORMAT)],
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
    return _overlay(
        layers,
        title=columns["title"],
        hooks=[_axis_formats(None, _ROI_FORMAT)],
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

"""Shared style of the views: dimensions, colours, axis formats and the overlay helpers every view uses."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (registers the Bokeh options these plots use)
import numpy as np
import polars as pl
from bokeh.models import Axis, FixedTicker, NumeralTickFormatter, Title

from uplift_studio.core.analysis import Analysis

STRATEGY_COLORS = {"random": "#8c8c8c", "probability": "#d95f02", "uplift": "#1f78b4", "oracle": "#33a02c"}
SEGMENT_COLORS = {"persuadable": "#1b7837", "sure thing": "#5e3c99", "lost cause": "#636363", "sleeping dog": "#b2182b"}
SUBTITLE_FONT = "8.5pt"
MAX_CURVE_POINTS = 2_000
FRONTIER_POINTS = 200
# the current budget, pink and dot-dashed on every view; the break-even line is grey and solid, apart
MARKER_STYLE = {"color": "#e7298a", "line_width": 2, "line_dash": "dotdash"}
BREAK_EVEN_STYLE = {"color": "#4d4d4d", "line_width": 1.5}


MONEY_FORMAT, SHARE_FORMAT, ROI_FORMAT = "$0.[0]a", "0%", "0.0[0]"

# Canvas, not HoloViews' default WebGL: no view draws more than a few thousand points, and a WebGL plot is
# copied onto its canvas (drawImage) at every repaint, which a budget tick causes; without a GPU (headless
# browsers, remote desktops, many laptops' software rendering) that copy was most of a tick's time.
hv.Store.renderers["bokeh"].webgl = False
# Once per process, when the first view is drawn (this module's import): it builds the option builders that
# hv.opts.Bars and the like read. Importing the Bokeh plotting above makes Bokeh the current backend without
# them, and Panel's extension builds them only if HoloViews was imported before its first call, which the
# app no longer does (see deferred). Not once per session: the rebuilt builders and caches outlived the
# sessions and pinned the allocator's arenas (RSS stayed up after sessions closed).
hv.Store.set_current_backend("bokeh")


def axis_formats(x: str | None, left: str | None, right: str | None = None) -> Callable:
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


def subtitles(*lines: str, color: str = "#4a5563") -> Callable:
    """A render hook adding ``lines`` under the title, smaller, as one Bokeh Title: what a view needs said
    (what its boundaries mean, why a share passes 100%) that would make the title too long to fit. Bokeh
    never wraps a title, so the caller breaks the lines (see ``plots_segments.wrapped``).

    Found again by name at every update, so a re-render edits its text and adds no title."""
    name, text = f"subtitle-{color}", "\n".join(lines)

    def hook(plot, element) -> None:
        figure = plot.state
        for item in figure.above:
            if isinstance(item, Title) and item.name == name:
                item.text = text
                return
        figure.add_layout(
            Title(
                text=text,
                name=name,
                text_font_size=SUBTITLE_FONT,
                text_font_style="normal",
                text_color=color,
                text_line_height=1.15,
                standoff=2,
            ),
            "above",
        )

    return hook


def integer_ticks(ticks: Sequence[int]) -> Callable:
    """A render hook that labels exactly ``ticks`` on the x axis (Bokeh's own ticker skips odd deciles)."""

    def hook(plot, element) -> None:
        for axis in plot.state.below:
            current = getattr(axis, "ticker", None)
            if isinstance(axis, Axis) and not (isinstance(current, FixedTicker) and list(current.ticks) == list(ticks)):
                axis.ticker = FixedTicker(ticks=list(ticks))

    return hook


SHARE = hv.Dimension("share_targeted", label="Share of users targeted", range=(0, 1))
REVENUE = hv.Dimension("incremental_revenue", label="Projected incremental revenue", unit="$")
BUDGET = hv.Dimension("budget", label="Budget", unit="$")
ROI = hv.Dimension("roi", label="ROI (revenue / spend)")


def columns_of(frame: pl.DataFrame) -> dict[str, np.ndarray]:
    """A frame as a dict of numpy columns, for ``hv.Bars``: HoloViews 1.23's narwhals interface fails on
    Polars data for bars (numeric x: it filters a Series with a slice; grouped bars: its group-by)."""
    return {name: frame.get_column(name).to_numpy() for name in frame.columns}


def overlay(layers: Sequence[hv.Element], overlay_only: dict | None = None, **plot_options) -> hv.Overlay:
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


def frontier_budgets(analysis: Analysis, cost_per_contact: float | None, points: int = FRONTIER_POINTS) -> np.ndarray:
    """Budgets from 1% of the cost of contacting everyone up to that cost (smaller budgets reach too few
    evaluation users for a readable ROI)."""
    top = analysis.max_budget(cost_per_contact)
    return np.linspace(top / 100.0, top, points)


def chosen(analysis: Analysis, strategies: Sequence[str] | None) -> list[str]:
    if strategies is None:
        return list(analysis.strategies)
    return [name for name in analysis.strategies if name in strategies]

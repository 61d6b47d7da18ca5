"""The executive snapshot: one self-contained HTML file with the headline numbers, their uncertainty, the
views of the dashboard and a budget slider that works offline (design section 1).

The page is laid out here: the KPI cards, the strategy table and the sentence come from
:mod:`uplift_studio.app.markup` (the app's own templates), the four views from :mod:`plots`. The slider
(:mod:`snapshot_slider`) carries the texts of every one of its positions, precomputed by
:meth:`Analysis.view`; :mod:`snapshot_file` turns the layout into one offline, deterministic file.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import importlib.metadata
import json
from pathlib import Path
from typing import TypedDict, Unpack

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401 - registers the Bokeh renderer and its options for plots.py
from bokeh.document import Document
from bokeh.layouts import column, row
from bokeh.models import Column, Div, InlineStyleSheet, Row, Span
from bokeh.models.plots import Plot

from uplift_studio.app import explain_views, markup, plots
from uplift_studio.app.plot_style import compose
from uplift_studio.app.plots_calibration import calibration_view
from uplift_studio.app.snapshot_file import offline_html
from uplift_studio.app.snapshot_slider import CURVE_MARKER, FRONTIER_MARKER, check_budget, slider_widget
from uplift_studio.core.analysis import Analysis
from uplift_studio.core.errors import DataError
from uplift_studio.core.explain import Explanation
from uplift_studio.core.formats import format_money
from uplift_studio.core.outputs import write_text
from uplift_studio.core.scale_result import ScaleResult
from uplift_studio.core.strategies import STRATEGY_LABELS

DEFAULT_TITLE = "Uplift Studio: executive snapshot"
# where two plots of this width do not fit side by side, a pair stacks: at half of a laptop's window the
# frontier's outside legend and twin axis left its frame a third of the width, and long titles were cut
PAIR_BASIS_PX = 600

_STYLE = """
:host { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #1d2733; }
h1 { font-size: 22px; margin: 0 0 4px 0; }
.subtitle { color: #5b6573; font-size: 13px; }
.sentence { padding: 10px 14px; border-left: 4px solid #1f78b4; background: #f9fbfd; }
table.manifest { border-collapse: collapse; font-size: 13px; width: 100%; }
.manifest th, .manifest td { padding: 4px 10px; border-bottom: 1px solid #e3e8ef; text-align: left; }
.manifest th { color: #5b6573; font-weight: 600; vertical-align: top; width: 210px; }
.manifest td { white-space: normal; font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px;
  word-break: break-all; }
h2 { font-size: 16px; margin: 8px 0 4px 0; }
.help { color: #5b6573; font-size: 12px; margin: 2px 0 0 0; }
"""


def _render(element: hv.Element, height: int, document: Document) -> Plot:
    # into the snapshot's own document, never bokeh's curdoc(): that is a process-wide stack, and while a server
    # runs in the process it can hold another session's (even a destroyed) document
    # mode "server": only then does HoloViews attach the plot to ``doc``; in its default mode it ignores it and
    # takes curdoc(), which under a loaded server was a destroyed session's document ("no attribute _theme")
    figure = hv.renderer("bokeh").instance(mode="server").get_plot(element, doc=document).state
    # canvas, not WebGL: it spares the 190 kB WebGL bundle and draws the same on machines without a GPU
    figure.output_backend = "canvas"
    figure.sizing_mode = "stretch_width"
    figure.height = height
    return figure


def _pair(left: Plot, right: Plot) -> Row:
    """Two plots side by side where both have room, one above the other in a narrower window (or tab)."""
    for figure in (left, right):
        # a basis, not a minimum: alone on its line in a phone's width, a plot still shrinks to fit
        figure.styles = {**figure.styles, "flex": f"1 1 {PAIR_BASIS_PX}px"}
    return row(left, right, sizing_mode="stretch_width", styles={"flex-wrap": "wrap"})


def _named_marker(figure: Plot, location: float, name: str) -> Span | None:
    """The budget marker's Span in a rendered figure (HoloViews draws an ``hv.VLine`` as a Span), named for
    the slider; the last match, since the marker is the overlay's top layer and a break-even line may sit at
    the same place."""
    spans = figure.select({"type": Span})
    matches = [span for span in spans if span.dimension == "height" and span.location == location]
    if not matches:
        return None
    matches[-1].name = name
    return matches[-1]


def _versions(analysis: Analysis) -> dict[str, str]:
    out = dict(analysis.versions)
    for name in ("holoviews", "bokeh", "panel"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


def _manifest_markup(analysis: Analysis, cost_per_contact: float | None, exported: str) -> str:
    settings = analysis.settings.as_dict()
    economics = "per-user contact costs" if analysis.per_user_cost else f"${cost_per_contact:,.2f} per contact"
    metrics = ", ".join(
        f"{STRATEGY_LABELS.get(name, name)} {values['qini_coefficient']:.3f}"
        for name, values in analysis.metrics.items()
    )
    rows = [
        ("Data", analysis.source),
        ("Data fingerprint", analysis.fingerprint),
        (
            "Users",
            f"{analysis.n_users:,} in the experiment, {analysis.n_evaluation:,} scored out of sample, "
            f"treated share {analysis.treated_share:.1%}",
        ),
        ("Campaign population", f"{analysis.population:,} (each scored user stands for {analysis.scale:,.4g})"),
        ("Economics", economics),
        ("Seed", str(settings["model"].get("seed"))),
        ("Settings", json.dumps(settings, sort_keys=True, default=str)),
        ("Qini coefficients", metrics),
        ("Package versions", ", ".join(f"{name} {version}" for name, version in sorted(_versions(analysis).items()))),
        ("Analysed", analysis.created),
        ("Exported", exported),
    ]
    rows += [("Note", note) for note in analysis.notes]
    body = "".join(f"<tr><th>{html.escape(key)}</th><td>{html.escape(value)}</td></tr>" for key, value in rows)
    return (
        "<h2>Run manifest</h2><p class='help'>Everything needed to reproduce these numbers with "
        f"uplift-studio.</p><table class='manifest'><tbody>{body}</tbody></table>"
    )


def snapshot_layout(
    analysis: Analysis,
    budget: float,
    cost_per_contact: float | None,
    *,
    title: str = DEFAULT_TITLE,
    explanation: Explanation | None = None,
) -> Column:
    """The snapshot's Bokeh layout: header, KPI cards, budget slider, sentence, strategy table, the four
    views and the manifest. The slider's CustomJS copies each position's precomputed texts and markers."""
    check_budget(budget)
    render = functools.partial(_render, document=Document())
    if not analysis.per_user_cost and cost_per_contact is None:
        raise DataError("cost_per_contact is required: this analysis has no per-user costs (e.g. 2.0).")
    if "uplift" not in analysis.paths:
        raise DataError("the snapshot reports the uplift strategy, and this analysis has none.")
    cost = None if analysis.per_user_cost else float(cost_per_contact)
    budget = float(budget)
    view = analysis.view(budget, cost)
    style = InlineStyleSheet(css=markup.CSS + _STYLE)

    def div(text: str, name: str | None = None) -> Div:
        # disable_math: dollar amounts must never be read as TeX (that would also pull in MathJax)
        return Div(text=text, name=name, disable_math=True, stylesheets=[style], sizing_mode="stretch_width")

    exported = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    cost_text = "per-user contact costs" if analysis.per_user_cost else f"{format_money(cost)} per contact"
    header = div(
        f"<h1>{html.escape(title)}</h1><div class='subtitle'>{html.escape(analysis.source)} &middot; "
        f"{analysis.n_users:,} users &middot; campaign of {analysis.population:,} customers &middot; {cost_text}"
        f" &middot; analysed {html.escape(analysis.created)}</div>"
    )
    kpis = div(markup.kpi_html(view), name="snapshot_kpis")
    sentence = div(markup.sentence_html(view), name="snapshot_sentence")
    table = div(markup.strategy_table_html(view), name="snapshot_table")
    help_text = div(
        "<p class='help'>Move the budget: the figures, the sentence, the table and the pink markers follow. "
        "Extra revenue is observed on the experiment (users scored out of sample) and projected to the "
        "campaign; the interval is 95%.</p>"
    )

    efficiency = render(compose(plots.efficiency_curve(analysis), plots.budget_marker(analysis, budget, cost)), 380)
    frontier = render(compose(plots.budget_frontier(analysis, cost), plots.frontier_marker(budget)), 380)
    spans = [
        _named_marker(efficiency, view.uplift.share_targeted, CURVE_MARKER),
        _named_marker(frontier, budget, FRONTIER_MARKER),
    ]
    slider = slider_widget(analysis, budget, cost, [kpis, sentence, table], [span for span in spans if span])
    deciles = render(plots.decile_dominance(analysis), plots.QUADRANTS_HEIGHT)
    if isinstance(analysis, ScaleResult):
        # per-bin tables hold each strategy's curve, not each user's two probabilities or a paired ranking
        per_user = [
            div(
                f"<p class='help'>Computed by the {html.escape(analysis.engine)} engine from per-score-bin tables "
                f"({analysis.settings.bins:,} bins per strategy; models fitted on a stratified sample of "
                f"{analysis.sample_users:,} users): the views that need each user's scores (persuadability, "
                "calibration, the paired comparison with probability targeting) come with the local engine.</p>"
            )
        ]
        second_row = row(deciles, sizing_mode="stretch_width")
    else:
        quadrants = render(plots.persuadability_quadrants(analysis), plots.QUADRANTS_HEIGHT)
        per_user = [row(render(calibration_view(analysis), 360), sizing_mode="stretch_width")]
        second_row = _pair(deciles, quadrants)
    manifest = div(_manifest_markup(analysis, cost, exported), name="snapshot_manifest")
    explained = []
    if explanation is not None:
        # at the exported budget: the rule and the contacted users' profile are not recomputed per position
        explained = [
            div(
                f"<h2>Who the persuadables are (at the {format_money(budget)} budget)</h2>"
                + explain_views.explanation_html(explanation),
                name="snapshot_explanation",
            ),
            _pair(
                render(explain_views.drivers_chart(explanation), 300),
                render(explain_views.driver_check(explanation.drivers[0]), 300),
            ),
        ]
    return column(
        header,
        kpis,
        slider,
        help_text,
        sentence,
        table,
        _pair(efficiency, frontier),
        second_row,
        *per_user,
        *explained,
        manifest,
        sizing_mode="stretch_width",
        name="snapshot",
    )


class SnapshotOptions(TypedDict, total=False):
    """What a snapshot may add to the analysis and the budget: its title and an explanation section."""

    title: str
    explanation: Explanation | None


def snapshot_html(
    analysis: Analysis, budget: float, cost_per_contact: float | None, **options: Unpack[SnapshotOptions]
) -> str:
    """The snapshot as one HTML string: inline BokehJS and CSS, no request to any host, deterministic
    apart from the export date in the manifest. ``explanation`` adds its section (see ``explain``)."""
    layout = snapshot_layout(analysis, budget, cost_per_contact, **options)
    return offline_html(layout, options.get("title", DEFAULT_TITLE))


def write_snapshot(
    analysis: Analysis,
    path: str | Path,
    budget: float,
    cost_per_contact: float | None,
    **options: Unpack[SnapshotOptions],
) -> Path:
    """Write :func:`snapshot_html` to ``path`` (UTF-8) whole or not at all; a :class:`DataError` names the
    path when it cannot."""
    path = Path(path)
    write_text(snapshot_html(analysis, budget, cost_per_contact, **options), path)
    return path

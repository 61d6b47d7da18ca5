"""The executive snapshot: one self-contained HTML file with the headline numbers, their uncertainty, the
views of the dashboard and a budget slider that works offline (design section 1).

Every script and style sheet is inline (``bokeh.resources.INLINE``), so the file opens with no server and
no network. The slider recomputes the figures in the browser from per-strategy curve tables shipped as
``ColumnDataSource`` arrays; the JavaScript repeats :func:`uplift_studio.core.budget.at_budget` step for
step (contacts, depth, linear interpolation of U and its SE, spend, ROI, net).

Exactness with a bounded size: a file that shipped every tie-group boundary would grow with the number of
users. Instead each strategy's table holds the curve read (``Curve.at``) at the depth that every slider
position reaches, plus depth 0, plus every boundary when a curve has few of them. The slider can only
take those positions, so the browser reads stored values and its figures are the Python ones, to the bit
for one cost per contact. The file's size depends on the number of slider positions, not on the users.

Exports are deterministic apart from the export date: Bokeh's model ids come from a process-wide counter
and its document and element ids are random UUIDs, so the serialized document is renumbered (ids in order
of first appearance) after rendering, without touching the live models.
"""

from __future__ import annotations

import datetime as dt
import html
import importlib.metadata
import json
import math
import numbers
import re
from dataclasses import dataclass
from pathlib import Path

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401 - registers the Bokeh renderer and its options for plots.py
import numpy as np
from bokeh.core.json_encoder import serialize_json
from bokeh.document import Document
from bokeh.embed import file_html
from bokeh.io.doc import patch_curdoc
from bokeh.layouts import column, row
from bokeh.models import Column, ColumnDataSource, CustomJS, Div, InlineStyleSheet, Slider, Span
from bokeh.models.plots import Plot
from bokeh.resources import INLINE, Resources

from uplift_studio.app import plots
from uplift_studio.core.analysis import Analysis
from uplift_studio.core.budget import StrategyResult
from uplift_studio.core.errors import DataError
from uplift_studio.core.formats import format_money, format_roi, format_share
from uplift_studio.core.report import executive_sentence
from uplift_studio.core.stats import Z95
from uplift_studio.core.strategies import STRATEGY_LABELS

DEFAULT_TITLE = "Uplift Studio: executive snapshot"
SLIDER_POSITIONS = 400
"""Target number of budget slider positions; the nice step chosen gives between half and all of them."""
EXACT_BOUNDARIES = 2_000
"""A curve with at most this many tie-group boundaries ships them all (exact at any budget)."""

_NICE_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)
_STYLE = """
:host { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #1d2733; }
h1 { font-size: 22px; margin: 0 0 4px 0; }
.subtitle { color: #5b6573; font-size: 13px; }
.kpis { display: grid; grid-template-columns: repeat(6, minmax(150px, 1fr)); gap: 10px; width: 100%; }
.kpi { background: #f4f7fb; border: 1px solid #dbe3ee; border-radius: 8px; padding: 10px 12px; }
.kpi .label { font-size: 12px; color: #5b6573; text-transform: uppercase; letter-spacing: 0.03em; }
.kpi .value { font-size: 26px; font-weight: 700; margin: 4px 0; color: #12355b; }
.kpi .note { font-size: 12px; color: #39424e; }
.sentence { font-size: 16px; line-height: 1.45; margin: 0; padding: 10px 14px; border-left: 4px solid #1f78b4;
  background: #f9fbfd; }
table { border-collapse: collapse; font-size: 13px; width: 100%; }
th, td { padding: 4px 10px; text-align: right; border-bottom: 1px solid #e3e8ef; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { color: #5b6573; font-weight: 600; }
tr[data-strategy="uplift"] td { font-weight: 700; }
.manifest th { text-align: left; vertical-align: top; width: 210px; }
.manifest td { text-align: left; white-space: normal; font-family: ui-monospace, Menlo, Consolas, monospace;
  font-size: 12px; word-break: break-all; }
h2 { font-size: 16px; margin: 8px 0 4px 0; }
.help { color: #5b6573; font-size: 12px; margin: 2px 0 0 0; }
"""
# a string template: file_html prepends "{% extends base %}" (Bokeh's FILE) itself
_PAGE_TEMPLATE = """{% block postamble %}<style>body { margin: 16px 24px; background: #ffffff; }</style>{% endblock %}
"""


# ---------------------------------------------------------------------------------------------------------
# The slider and the curve tables it reads


@dataclass(frozen=True)
class BudgetSlider:
    """The positions the budget slider can take: ``start + i * step`` up to ``end``, and ``value``."""

    start: float
    end: float
    step: float
    value: float

    def positions(self) -> np.ndarray:
        """Every budget the slider can reach, and the initial one (which may sit between positions)."""
        count = int(round((self.end - self.start) / self.step)) + 1
        reachable = self.start + self.step * np.arange(count, dtype=np.float64)
        return np.unique(np.append(reachable, self.value))


def budget_slider(analysis: Analysis, budget: float, cost_per_contact: float | None) -> BudgetSlider:
    """A slider from one step up to the cost of contacting everyone, in a round step.

    The step is the smallest of 1, 2, 2.5, 5 x 10^k giving at most :data:`SLIDER_POSITIONS` positions, and
    never below the cost of one contact (a position that buys nobody shows nothing). Whole-dollar steps
    keep every position an exact float in Python and in the browser.
    """
    _check_budget(budget)
    top = max(analysis.max_budget(cost_per_contact), float(budget))
    raw = top / SLIDER_POSITIONS
    if not analysis.per_user_cost and cost_per_contact is not None:
        raw = max(raw, float(cost_per_contact))
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in _NICE_STEPS if m * magnitude >= raw)
    step = float(max(1.0, math.ceil(step)))
    # a budget below one step starts the slider at itself, so the chosen budget is always on it
    start = min(step, float(budget))
    end = start + math.ceil((top - start) / step) * step
    return BudgetSlider(start=start, end=end, step=step, value=float(budget))


def curve_table(
    analysis: Analysis, strategy: str, budgets: np.ndarray, cost_per_contact: float | None
) -> dict[str, np.ndarray]:
    """One strategy's curve read at every depth that ``budgets`` reach (and at depth 0), in evaluation users.

    Columns: ``depth``, ``uplift`` (U), ``se``, ``conversions`` (incremental conversions), ``truth``
    (simulated data: the true cumulative incremental revenue) and ``cost`` (per-user costs: the cumulative
    evaluation cost). Depths are those of :meth:`Analysis.at_budget`: ``contacts * n / P`` with the
    contacts the budget buys; with per-user costs also the depth where the spend reaches each budget (the
    browser floors it to whole contacts) and one contact less (when rounding overshoots the budget).
    """
    path = analysis.paths[strategy]
    n, scale = path.n, analysis.scale
    frontier = analysis.frontier(budgets, cost_per_contact)[strategy]
    contacts = frontier["contacts"].to_numpy().astype(np.float64)
    depths = [np.zeros(1), np.clip(contacts / scale, 0.0, n)]
    if analysis.per_user_cost:
        depths.append(np.atleast_1d(path.at_spend(budgets / scale).contacts))
        depths.append(np.clip((contacts - 1.0) / scale, 0.0, n))
    if path.contacts.size <= EXACT_BOUNDARIES:
        depths.append(path.contacts.astype(np.float64))
    grid = np.unique(np.concatenate(depths))
    point = path.at_depth(grid)
    table = {"depth": grid, "uplift": np.asarray(point.value), "se": np.asarray(point.se)}
    if point.conversions is not None:
        table["conversions"] = np.asarray(point.conversions)
    if point.truth is not None:
        table["truth"] = np.asarray(point.truth)
    if not path.unit_cost:
        table["cost"] = np.asarray(point.spend)
    return table


# ---------------------------------------------------------------------------------------------------------
# Figures as text: the Python side of what the browser recomputes (the JavaScript below mirrors it)


def _strategy_figures(results: dict[str, StrategyResult]) -> list[dict[str, str]]:
    figures = []
    for name, result in results.items():
        truth = result.true_incremental_revenue
        figures.append(
            {
                "name": name,
                "label": html.escape(STRATEGY_LABELS.get(name, name)),
                "contacts": f"{result.contacts:,}",
                "spend": format_money(result.spend),
                "revenue": format_money(result.incremental_revenue),
                "interval": f"{format_money(result.ci_low)} to {format_money(result.ci_high)}",
                "roi": format_roi(result.roi),
                "net": format_money(result.net),
                "truth": format_money(truth),
            }
        )
    return figures


def kpi_markup(analysis: Analysis, budget: float, cost_per_contact: float | None) -> str:
    """The headline cards for the uplift strategy at ``budget`` (the browser writes the same markup)."""
    results = analysis.at_budget(budget, cost_per_contact)
    uplift = results["uplift"]
    probability = results.get("probability")
    lift = analysis.view(budget, cost_per_contact).lift_over_probability
    cards = [
        (
            "Extra revenue, uplift targeting",
            "incremental_revenue",
            format_money(uplift.incremental_revenue),
            f'95% interval <span data-kpi="interval">{format_money(uplift.ci_low)} to '
            f"{format_money(uplift.ci_high)}</span>",
        ),
        (
            "Return on spend (ROI)",
            "roi",
            format_roi(uplift.roi),
            "" if probability is None else f"probability targeting {format_roi(probability.roi)}",
        ),
        (
            "Customers contacted",
            "contacts",
            f"{uplift.contacts:,}",
            f"{format_share(uplift.share_targeted)} of the campaign",
        ),
        ("Spend", "spend", format_money(uplift.spend), f"budget {format_money(budget)}"),
        ("Net (extra revenue - spend)", "net", format_money(uplift.net), "after paying for the contacts"),
        (
            "Lift over probability targeting",
            "lift",
            format_share(lift, signed=True),
            "" if probability is None else f"it brings {format_money(probability.incremental_revenue)}",
        ),
    ]
    return _cards(cards)


def _cards(cards: list[tuple[str, str, str, str]]) -> str:
    body = "".join(
        f'<div class="kpi"><div class="label">{label}</div><div class="value" data-kpi="{key}">{value}</div>'
        f'<div class="note">{note}</div></div>'
        for label, key, value, note in cards
    )
    return f'<div class="kpis">{body}</div>'


def strategy_markup(analysis: Analysis, budget: float, cost_per_contact: float | None) -> str:
    """Every strategy at ``budget``: contacts, spend, extra revenue with its interval, ROI, net (and truth)."""
    return _table(_strategy_figures(analysis.at_budget(budget, cost_per_contact)), analysis.has_truth)


def _table(figures: list[dict[str, str]], has_truth: bool) -> str:
    columns = ["contacts", "spend", "revenue", "interval", "roi", "net"] + (["truth"] if has_truth else [])
    heads = ["Contacts", "Spend", "Extra revenue", "95% interval", "ROI", "Net"] + (["True value"] if has_truth else [])
    header = "".join(f"<th>{head}</th>" for head in ["Strategy", *heads])
    rows = "".join(
        f'<tr data-strategy="{figure["name"]}"><td>{figure["label"]}</td>'
        + "".join(f"<td>{figure[key]}</td>" for key in columns)
        + "</tr>"
        for figure in figures
    )
    return f'<table class="strategies"><thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table>'


def sentence_markup(analysis: Analysis, budget: float, cost_per_contact: float | None) -> str:
    return f'<p class="sentence">{html.escape(executive_sentence(analysis, budget, cost_per_contact))}</p>'


# The browser's half. Python's float formatting rounds the exact decimal value of the double, ties to even;
# Number.toFixed breaks ties away from zero and "%" would multiply in floating point, so the digits are
# rounded from the exact expansion (toFixed(100) is exact for the magnitudes shown) as strings.
_SLIDER_JS = (Path(__file__).with_name("snapshot_slider.js")).read_text(encoding="utf-8")

_STATE_COLUMNS = (
    "contacts",
    "spend",
    "depth",
    "share_targeted",
    "incremental_revenue",
    "ci_low",
    "ci_high",
    "incremental_conversions",
    "roi",
    "net",
    "contacted_everyone",
    "true_incremental_revenue",
)


def _state_data(results: dict[str, StrategyResult], budget: float) -> dict[str, list]:
    data: dict[str, list] = {"strategy": list(results), "budget": [float(budget)] * len(results)}
    for key in _STATE_COLUMNS:
        values = [getattr(result, key) for result in results.values()]
        if key == "contacted_everyone":
            data[key] = [bool(value) for value in values]
        else:
            data[key] = [math.nan if value is None else float(value) for value in values]
    return data


# ---------------------------------------------------------------------------------------------------------
# Page


def _check_budget(budget: float) -> None:
    if isinstance(budget, bool) or not isinstance(budget, numbers.Real) or not math.isfinite(budget) or budget <= 0:
        raise DataError(
            f"budget must be a finite amount > 0; got {budget!r}. Enter the campaign's budget in the same "
            "currency as the costs."
        )


def _render(element: hv.Element, height: int) -> Plot:
    figure = hv.render(element, backend="bokeh")
    # canvas, not WebGL: it spares the 190 kB WebGL bundle and draws the same on machines without a GPU
    figure.output_backend = "canvas"
    figure.sizing_mode = "stretch_width"
    figure.height = height
    return figure


def _marker_span(figure: Plot, location: float) -> Span | None:
    """The budget marker's Span in a rendered figure (HoloViews draws an ``hv.VLine`` as a Span); the last
    match, since the marker is the overlay's top layer and a break-even line may sit at the same place."""
    spans = figure.select({"type": Span})
    matches = [span for span in spans if span.dimension == "height" and span.location == location]
    return matches[-1] if matches else None


def _marker_style(analysis: Analysis, budget: float, cost_per_contact: float | None) -> dict:
    marker = plots.budget_marker(analysis, budget, cost_per_contact)
    return dict(hv.Store.lookup_options("bokeh", marker, "style").kwargs)


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
    analysis: Analysis, budget: float, cost_per_contact: float | None, *, title: str = DEFAULT_TITLE
) -> Column:
    """The snapshot's Bokeh layout: header, KPI cards, budget slider, sentence, strategy table, the four
    views and the manifest. The slider's CustomJS recomputes cards, sentence, table and markers."""
    _check_budget(budget)
    # plots.py builds options with hv.opts.<Element>, which exist once a backend is selected: the dashboard's
    # hv.extension does it, a command-line export has nothing else that would
    hv.Store.set_current_backend("bokeh")
    if not analysis.per_user_cost and cost_per_contact is None:
        raise DataError("cost_per_contact is required: this analysis has no per-user costs (e.g. 2.0).")
    if "uplift" not in analysis.paths:
        raise DataError("the snapshot reports the uplift strategy, and this analysis has none.")
    cost = None if analysis.per_user_cost else float(cost_per_contact)
    budget = float(budget)
    results = analysis.at_budget(budget, cost)
    slider_range = budget_slider(analysis, budget, cost)
    budgets = slider_range.positions()
    style = InlineStyleSheet(css=_STYLE)

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
    kpis = div(kpi_markup(analysis, budget, cost), name="snapshot_kpis")
    sentence = div(sentence_markup(analysis, budget, cost), name="snapshot_sentence")
    table = div(strategy_markup(analysis, budget, cost), name="snapshot_table")
    slider = Slider(
        start=slider_range.start,
        end=slider_range.end,
        step=slider_range.step,
        value=slider_range.value,
        title="Budget",
        format="$0,0",
        name="budget_slider",
        sizing_mode="stretch_width",
    )
    help_text = div(
        "<p class='help'>Move the budget: the figures, the sentence, the table and the pink markers follow. "
        "Extra revenue is observed on the experiment (users scored out of sample) and projected to the "
        "campaign; the interval is 95%.</p>"
    )

    efficiency_element = plots.compose(plots.efficiency_curve(analysis), plots.budget_marker(analysis, budget, cost))
    efficiency = _render(efficiency_element, 380)
    marker_location = results["uplift"].share_targeted
    curve_span = _marker_span(efficiency, marker_location)
    if curve_span is not None:
        curve_span.name = "snapshot_curve_marker"
    frontier_element = plots.compose(
        plots.budget_frontier(analysis, cost),
        hv.VLine(budget, kdims=[plots.BUDGET, plots.REVENUE]).opts(**_marker_style(analysis, budget, cost)),
    )
    frontier = _render(frontier_element, 380)
    frontier_span = _marker_span(frontier, budget)
    frontier_span.name = "snapshot_frontier_marker"
    deciles = _render(plots.decile_dominance(analysis), 380)
    quadrants = _render(plots.persuadability_quadrants(analysis), 440)

    sources = [
        ColumnDataSource(data=curve_table(analysis, name, budgets, cost), name=f"curve_{name}")
        for name in analysis.strategies
    ]
    state = ColumnDataSource(data=_state_data(results, budget), name="snapshot_state")
    path = next(iter(analysis.paths.values()))
    config = {
        "strategies": list(analysis.strategies),
        "labels": [html.escape(STRATEGY_LABELS.get(name, name)) for name in analysis.strategies],
        "n": path.n,
        "population": analysis.population,
        "scale": analysis.scale,
        "per_user_cost": analysis.per_user_cost,
        "cost_per_contact": cost,
        "total_cost": None if path.unit_cost else path.total_spend,
        "has_truth": analysis.has_truth,
        "z95": Z95,
        "state_columns": list(_STATE_COLUMNS),
    }
    slider.js_on_change(
        "value",
        CustomJS(
            args={
                "slider": slider,
                "sources": sources,
                "state": state,
                "kpis": kpis,
                "sentence": sentence,
                "table": table,
                "curve_span": curve_span,
                "frontier_span": frontier_span,
                "config": json.dumps(config, sort_keys=True),
            },
            code=_SLIDER_JS,
        ),
    )
    manifest = div(_manifest_markup(analysis, cost, exported), name="snapshot_manifest")
    return column(
        header,
        kpis,
        slider,
        help_text,
        sentence,
        table,
        row(efficiency, frontier, sizing_mode="stretch_width"),
        row(deciles, quadrants, sizing_mode="stretch_width"),
        manifest,
        sizing_mode="stretch_width",
        name="snapshot",
    )


def snapshot_html(
    analysis: Analysis, budget: float, cost_per_contact: float | None, *, title: str = DEFAULT_TITLE
) -> str:
    """The snapshot as one HTML string: inline BokehJS and CSS, no request to any host, deterministic
    apart from the export date in the manifest."""
    layout = snapshot_layout(analysis, budget, cost_per_contact, title=title)
    # file_html's document copies curdoc()'s JS event callbacks; inside a Panel session those belong to the
    # session's page, so a blank document stands in for curdoc. The exception is caught inside the block
    # because patch_curdoc only pops its entry when the block exits normally.
    blank = Document()
    failure: Exception | None = None
    with patch_curdoc(blank):
        try:
            # _always_new: a temporary document, so models HoloViews shares between plots (and with a live
            # dashboard) are never attached to this one
            page = file_html(layout, INLINE, title, template=_PAGE_TEMPLATE, _always_new=True)
        except Exception as exc:  # re-raised below, once curdoc is restored
            failure = exc
    if failure is not None:
        raise failure
    return _stable_ids(_without_external_resources(page))


def write_snapshot(
    analysis: Analysis,
    path: str | Path,
    budget: float,
    cost_per_contact: float | None,
    *,
    title: str = DEFAULT_TITLE,
) -> Path:
    """Write :func:`snapshot_html` to ``path`` (UTF-8); a :class:`DataError` names the path when it cannot."""
    path = Path(path)
    page = snapshot_html(analysis, budget, cost_per_contact, title=title)
    try:
        path.write_text(page, encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise DataError(
            f"{path}: cannot write the snapshot ({reason}). Check that the folder exists and is writable, "
            "and that the path is a file name (e.g. snapshot.html)."
        ) from exc
    return path


def _without_external_resources(page: str) -> str:
    """Drop the ``<script src>`` and ``<link>`` tags of other packages' models.

    Bokeh's resources list the ``__javascript__`` and ``__css__`` files of every model class registered in
    the process, used or not: once HoloViews has imported Panel, that includes Panel's ES-module shim, as a
    path relative to the page (or a CDN address). The snapshot uses none of those models, and an offline
    file must request nothing, so exactly those tags go.
    """
    resources = Resources.build(INLINE)
    for url in resources.js_files:
        for text in {url, html.escape(url)}:
            page = page.replace(f'<script src="{text}"></script>\n', "").replace(f'<script src="{text}"></script>', "")
    for url in resources.css_files:
        for text in {url, html.escape(url)}:
            page = re.sub(rf'\s*<link rel="stylesheet" href="{re.escape(text)}" type="text/css" />', "", page)
    return page


# ---------------------------------------------------------------------------------------------------------
# Deterministic ids

_JSON_SCRIPT = re.compile(r'<script type="application/json" id="(?P<id>[^"]+)">\s*(?P<json>.*?)\s*</script>', re.S)
_RENDER_ITEMS = re.compile(r"const render_items = (?P<items>\[.*?\]);\n")


def _stable_ids(page: str) -> str:
    """Renumber Bokeh's ids in the page: model ids (a process-wide counter) in order of first appearance,
    and the random document, element and script ids, so the same analysis gives the same bytes."""
    found = _JSON_SCRIPT.search(page)
    items = _RENDER_ITEMS.search(page)
    if found is None or items is None:
        raise RuntimeError("unexpected Bokeh page layout: cannot find its document JSON and render items")
    docs = json.loads(html.unescape(found.group("json")))
    render_items = json.loads(items.group("items"))

    model_ids: dict[str, str] = {}

    def collect(value: object) -> None:
        if isinstance(value, dict):
            if value.get("type") == "object" and "id" in value and value["id"] not in model_ids:
                model_ids[value["id"]] = f"p{1000 + len(model_ids)}"
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    def rename(value: object) -> object:
        if isinstance(value, dict):
            return {
                key: (model_ids.get(item, item) if key == "id" and isinstance(item, str) else rename(item))
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [rename(item) for item in value]
        return value

    collect(docs)
    random_ids: dict[str, str] = {found.group("id"): "snapshot-json"}
    new_docs = {}
    for number, (doc_id, doc) in enumerate(docs.items()):
        random_ids[doc_id] = f"snapshot-doc-{number}"
        new_docs[random_ids[doc_id]] = rename(doc)
    new_items = []
    for item in render_items:
        roots = {}
        for model_id, element_id in item.get("roots", {}).items():
            random_ids[element_id] = f"snapshot-root-{len(random_ids)}"
            roots[model_ids.get(model_id, model_id)] = random_ids[element_id]
        new_items.append(
            {
                **item,
                "docid": random_ids.get(item["docid"], item["docid"]),
                "roots": roots,
                "root_ids": [model_ids.get(root, root) for root in item.get("root_ids", [])],
            }
        )

    docs_text = html.escape(serialize_json(new_docs), quote=False)
    page = page[: found.start("json")] + docs_text + page[found.end("json") :]
    items = _RENDER_ITEMS.search(page)
    assert items is not None
    page = page[: items.start("items")] + json.dumps(new_items, separators=(",", ":")) + page[items.end("items") :]
    # the remaining occurrences are attributes and the getElementById call: exact, random strings
    for old, new in random_ids.items():
        page = page.replace(f'"{old}"', f'"{new}"').replace(f"'{old}'", f"'{new}'")
    for item in render_items:
        for old in item.get("root_ids", []):
            page = page.replace(f'data-root-id="{old}"', f'data-root-id="{model_ids.get(old, old)}"')
    return page

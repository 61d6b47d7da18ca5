"""The offline snapshot of an offer analysis (issue 12): the allocation's KPI cards, a budget slider, the mix of
offers, the strategy table, the curve against each offer alone and a manifest, in one self-contained file.

The slider is the single-offer snapshot's (:mod:`snapshot_slider`): every position's texts and bar widths are
computed here by the app's own :func:`offer_view` and :mod:`offers_markup`, and the page only looks them up.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from bokeh.document import Document
from bokeh.layouts import column
from bokeh.models import Div, InlineStyleSheet

from uplift_studio.app import markup, offers_markup
from uplift_studio.app.offers_state import budget_top, offer_view
from uplift_studio.app.plot_style import compose
from uplift_studio.app.plots_offers import CURVE_HEIGHT, offer_curves, offer_marker
from uplift_studio.app.snapshot import _STYLE, _named_marker, _render
from uplift_studio.app.snapshot_file import offline_html
from uplift_studio.app.snapshot_slider import (
    BAR,
    MARKER,
    TEXT,
    SliderStates,
    check_budget,
    slider_range,
    states_slider,
)
from uplift_studio.core.formats import format_money
from uplift_studio.core.outputs import write_text

if TYPE_CHECKING:
    from uplift_studio.core.offers_analysis import OfferAnalysis

DEFAULT_TITLE = "Uplift Studio: several offers, executive snapshot"
OFFER_MARKER = "snapshot_offer_marker"


def offer_slider_states(analysis: OfferAnalysis, budgets: np.ndarray) -> SliderStates:
    """The offers markup's texts, the mix's bar widths and the marker at each of ``budgets``."""
    texts: dict[str, int] = {}
    rows: list[dict[str, str]] = []
    bars: dict[str, list[float]] = {}
    for budget in budgets:
        view = offer_view(analysis, float(budget))
        fields = offers_markup.fields(view)
        if rows and fields.keys() != rows[0].keys():
            raise RuntimeError(f"the offers markup's fields change with the budget (at {budget})")
        rows.append(fields)
        for text in fields.values():
            texts.setdefault(text, len(texts))
        for key, width in offers_markup.bar_widths(view).items():
            bars.setdefault(key, []).append(width)
    columns: dict[str, np.ndarray] = {"budget": np.asarray(budgets, dtype=np.float64)}
    index_type = np.int16 if len(texts) < 2**15 else np.int32
    for key in rows[0]:
        columns[TEXT + key] = np.array([texts[row[key]] for row in rows], dtype=index_type)
    for key, widths in bars.items():
        columns[BAR + key] = np.array(widths, dtype=np.float64)
    columns[MARKER + OFFER_MARKER] = columns["budget"]
    return SliderStates(columns=columns, texts=list(texts))


def _manifest(analysis: OfferAnalysis, exported: str) -> str:
    rows = [
        ("Data", analysis.source),
        ("Users", f"{analysis.n_users:,} in the experiment, {analysis.n_evaluation:,} scored out of sample"),
        ("Campaign population", f"{analysis.population:,}"),
        ("Control", analysis.control),
        (
            "Offers",
            "; ".join(
                f"{offer}: {format_money(contact)} a contact, {format_money(redemption)} a redemption"
                for offer, contact, redemption in zip(
                    analysis.offers, analysis.contact_cost, analysis.redemption_cost, strict=True
                )
            ),
        ),
        ("Evaluation", f"{analysis.method.upper()} scores at the design's arm shares"),
        ("Settings", json.dumps(analysis.settings.as_dict(), sort_keys=True, default=str)),
        ("Exported", exported),
    ]
    rows += [("Note", note) for note in analysis.notes]
    body = "".join(f"<tr><th>{html.escape(key)}</th><td>{html.escape(value)}</td></tr>" for key, value in rows)
    return f"<h2>Run manifest</h2><table class='manifest'><tbody>{body}</tbody></table>"


def offer_snapshot_layout(analysis: OfferAnalysis, budget: float, *, title: str = DEFAULT_TITLE) -> column:
    """Header, KPI cards, the budget slider, the mix, the table, the curve and the manifest."""
    check_budget(budget)
    budget = float(budget)
    view = offer_view(analysis, budget)
    style = InlineStyleSheet(css=markup.CSS + offers_markup.CSS + _STYLE)

    def div(text: str, name: str | None = None) -> Div:
        return Div(text=text, name=name, disable_math=True, stylesheets=[style], sizing_mode="stretch_width")

    exported = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    header = div(f"<h1>{html.escape(title)}</h1>" + offers_markup.source_html(analysis))
    kpis = div(offers_markup.kpi_html(view), name="snapshot_offer_kpis")
    mix = div(offers_markup.mix_html(view), name="snapshot_offer_mix")
    table = div("<h2>Strategies at this budget</h2>" + offers_markup.table_html(view), name="snapshot_offer_table")
    help_text = div(
        "<p class='help'>Move the budget: the figures, the mix of offers, the table and the pink marker follow.</p>"
    )
    render = functools.partial(_render, document=Document())
    curve = render(compose(offer_curves(analysis), offer_marker(budget)), CURVE_HEIGHT)
    spans = [span for span in [_named_marker(curve, budget, OFFER_MARKER)] if span is not None]
    positions = slider_range(budget_top(analysis), budget, float(np.min(analysis.contact_cost)))
    states = offer_slider_states(analysis, positions.positions())
    slider = states_slider(positions, states, [kpis, mix, table], spans)
    manifest = div(_manifest(analysis, exported), name="snapshot_manifest")
    return column(
        header, kpis, slider, help_text, mix, table, curve, manifest, sizing_mode="stretch_width", name="snapshot"
    )


def offer_snapshot_html(analysis: OfferAnalysis, budget: float, *, title: str = DEFAULT_TITLE) -> str:
    return offline_html(offer_snapshot_layout(analysis, budget, title=title), title)


def write_offer_snapshot(analysis: OfferAnalysis, path: str | Path, budget: float) -> Path:
    """Write :func:`offer_snapshot_html` to ``path`` whole or not at all."""
    path = Path(path)
    write_text(offer_snapshot_html(analysis, budget), path)
    return path

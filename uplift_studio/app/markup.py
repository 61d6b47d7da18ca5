"""The markup of the headline cards, the strategy table and the sentence, shared by the app and the snapshot.

One set of Jinja2 templates (autoescaped: a label or a note from a user's file can never become markup)
renders a :class:`BudgetView`. Every text that changes with the budget sits in an element with a
``data-field`` attribute, and :func:`fields` gives those texts by the same names, so the snapshot's slider
fills the very same markup from precomputed fields and never formats a number itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import jinja2
import polars as pl

from uplift_studio.core.analysis import Analysis
from uplift_studio.core.budget import StrategyResult
from uplift_studio.core.formats import format_count, format_money, format_roi, format_share
from uplift_studio.core.strategies import strategy_label
from uplift_studio.core.view import BudgetView, format_signed_money

CSS = """
.kpis { display: flex; flex-wrap: wrap; gap: 10px; }
.kpi { padding: 10px 14px; border-radius: 8px; background: #f4f7fb; border: 1px solid #d9e2ec; min-width: 170px; }
.kpi-label { font-size: 12px; color: #52606d; text-transform: uppercase; letter-spacing: .04em; }
.kpi-value { font-size: 26px; font-weight: 600; color: #102a43; margin: 2px 0; }
.kpi-detail { font-size: 12px; color: #52606d; }
table.us { border-collapse: collapse; font-size: 13px; width: 100%; }
table.us th, table.us td { padding: 4px 8px; border-bottom: 1px solid #e4e7eb; text-align: right; }
table.us th:first-child, table.us td:first-child { text-align: left; }
table.us tr.uplift td { font-weight: 600; }
/* a figure and its interval stay on one line where the window has room; in a narrower one a cell wraps
   rather than the table running past its card (the readout and strategy tables did under ~1,100 px) */
@media (min-width: 1200px) { table.us td { white-space: nowrap; } }
.sentence { font-size: 16px; line-height: 1.45; color: #102a43; margin: 4px 0; }
.source { font-size: 13px; color: #52606d; }
"""


@dataclass(frozen=True)
class Card:
    key: str
    label: str
    value: str
    detail: str
    hidden: bool = False


@dataclass(frozen=True)
class Column:
    key: str
    title: str


CARD_LABELS = {
    "incremental_revenue": "Incremental revenue",
    "roi": "ROI",
    "contacts": "Contacts",
    "spend": "Spend",
    "net": "Net (revenue - spend)",
    "versus_probability": "Uplift vs probability",
    "oracle": "Share of oracle",
}

COLUMNS = (
    Column("label", "Strategy"),
    Column("contacts", "Contacts"),
    Column("spend", "Spend"),
    Column("incremental_revenue", "Incr. revenue"),
    Column("interval", "95% interval"),
    Column("roi", "ROI"),
    Column("net", "Net"),
    Column("truth", "Truth"),
)


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("uplift_studio.app", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def cards(view: BudgetView) -> list[Card]:
    """The headline cards of the uplift strategy at the view's budget."""
    uplift = view.uplift
    probability = view.results.get("probability")
    difference = view.uplift_minus_probability
    versus = (format_signed_money(None), "")
    if probability is not None and difference is not None:
        versus = (
            format_signed_money(difference.estimate),
            f"95% {format_signed_money(difference.ci_low)} to {format_signed_money(difference.ci_high)}; "
            f"targeting likely buyers earns {format_money(probability.incremental_revenue)}",
        )
    values = {
        "incremental_revenue": (
            format_money(uplift.incremental_revenue),
            f"95% interval {format_money(uplift.ci_low)} to {format_money(uplift.ci_high)}",
        ),
        "roi": (format_roi(uplift.roi), f"95% interval {format_roi(uplift.roi_low)} to {format_roi(uplift.roi_high)}"),
        "contacts": (
            format_count(uplift.contacts),
            f"{format_share(uplift.contacts / view.population)} of {format_count(view.population)} customers",
        ),
        "spend": (format_money(uplift.spend), f"of a {format_money(view.budget)} budget"),
        "net": (format_money(uplift.net), "incremental revenue minus spend"),
        "versus_probability": versus,
        "oracle": (format_share(view.share_of_oracle), "of the true value the best ranking would earn"),
    }
    hidden = {"oracle": view.share_of_oracle is None, "versus_probability": difference is None}
    return [Card(key, label, *values[key], hidden=hidden.get(key, False)) for key, label in CARD_LABELS.items()]


def _cells(result: StrategyResult) -> dict[str, str]:
    return {
        "label": strategy_label(result.strategy),
        "contacts": format_count(result.contacts),
        "spend": format_money(result.spend),
        "incremental_revenue": format_money(result.incremental_revenue),
        "interval": f"{format_money(result.ci_low)} to {format_money(result.ci_high)}",
        "roi": format_roi(result.roi),
        "net": format_money(result.net),
        "truth": format_money(result.true_incremental_revenue),
    }


def table_columns(view: BudgetView) -> tuple[Column, ...]:
    """The strategy table's columns: the truth only on simulated data."""
    return COLUMNS if view.simulated else tuple(column for column in COLUMNS if column.key != "truth")


def fields(view: BudgetView) -> dict[str, str]:
    """Every budget-dependent text of the markup by its ``data-field`` name."""
    texts = {}
    for card in cards(view):
        texts[f"{card.key}.value"] = card.value
        texts[f"{card.key}.detail"] = card.detail
    keys = [column.key for column in table_columns(view)]
    for name, result in view.results.items():
        cells = _cells(result)
        texts.update({f"{name}.{key}": cells[key] for key in keys})
    texts["sentence"] = view.sentence
    return texts


def render(template: str, **context) -> str:
    """Any of the package's templates, autoescaped."""
    return _environment().get_template(template).render(**context)


def kpi_html(view: BudgetView) -> str:
    return _environment().get_template("kpis.html").render(cards=cards(view))


def strategy_table_html(view: BudgetView) -> str:
    rows = [{"strategy": name, "cells": _cells(result)} for name, result in view.results.items()]
    return _environment().get_template("strategies.html").render(columns=table_columns(view), rows=rows)


def sentence_html(view: BudgetView) -> str:
    return _environment().get_template("sentence.html").render(sentence=view.sentence)


def agreement_html(table: pl.DataFrame) -> str:
    """The predicted-against-true segment table (counts, and the share predicted correctly)."""

    def cell(name: str, value) -> str:
        if value is None:
            return "n/a"
        if name == "agreement":
            return format_share(value)
        return format_count(value) if isinstance(value, int) else str(value)

    rows = [[cell(name, value) for name, value in row.items()] for row in table.iter_rows(named=True)]
    return render("agreement.html", columns=table.columns, rows=rows)


def source_html(analysis: Analysis) -> str:
    """The data line: where the numbers come from, how many users were scored out of sample, the model."""
    return render(
        "source.html",
        source=analysis.source,
        users=format_count(analysis.n_users),
        scored=format_count(analysis.n_evaluation),
        population=format_count(analysis.population),
        folds=analysis.settings.model.folds,
        learner=analysis.settings.model.learner_name,
        rounds=analysis.settings.model.n_estimators,
        notes=analysis.notes,
    )

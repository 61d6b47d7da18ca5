"""The markup of the offers view (issue 12), shared by the app and the snapshot: the allocation's KPI cards, the
mix of offers at the budget (a bar per offer) and the strategy table, from the package's autoescaped Jinja2
templates (an offer label from a user's file is text, never markup).

As in :mod:`uplift_studio.app.markup`, every text a budget changes sits in an element with a ``data-field``
and every bar in one with a ``data-bar``; :func:`fields` and :func:`bar_widths` give them by name, so the
snapshot's slider fills the same markup from precomputed values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from uplift_studio.app.markup import Card, Column, render
from uplift_studio.app.offers_state import OfferView, strategy_label
from uplift_studio.core.formats import format_count, format_money, format_roi, format_share
from uplift_studio.core.view import format_signed_money

if TYPE_CHECKING:
    from uplift_studio.core.offers_analysis import OfferAnalysis, OfferResult

OFFER_COLORS = ("#d95f02", "#7570b3", "#e6ab02", "#66a61e", "#a6761d", "#e7298a", "#1b9e77", "#666666")
ALLOCATION_COLOR = "#1f78b4"
RANDOM_COLOR = "#8c8c8c"

CSS = """
.offer-mix { font-size: 13px; color: #102a43; width: 100%; max-width: 960px; }
.offer-mix-title { font-size: 14px; font-weight: 600; margin: 0 0 6px 0; }
.offer-mix-row { display: grid; grid-template-columns: 180px minmax(240px, 1fr) 80px 56px; gap: 10px;
  align-items: center; margin: 4px 0; width: 100%; }
.offer-mix-label { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.offer-mix-track { background: #eef2f7; border-radius: 4px; height: 18px; }
.offer-mix-bar { height: 18px; border-radius: 4px; min-width: 1px; }
.offer-mix-count { text-align: right; font-variant-numeric: tabular-nums; }
.offer-mix-share { text-align: right; color: #52606d; font-variant-numeric: tabular-nums; }
.offers-source { font-size: 13px; color: #52606d; margin: 0 0 6px 0; }
.offer-kpis .kpi { flex: 1 1 0; min-width: 150px; }
"""

COLUMNS = (
    Column("label", "Strategy"),
    Column("contacts", "Contacts"),
    Column("spend", "Spend"),
    Column("spend_interval", "95% interval"),
    Column("incremental_revenue", "Incr. revenue"),
    Column("interval", "95% interval"),
    Column("roi", "ROI"),
    Column("truth", "Truth"),
)


def _interval(low: float, high: float, money=format_money) -> str:
    return f"{money(low)} to {money(high)}"


def cards(view: OfferView) -> list[Card]:
    """The allocation at the view's budget, and how it compares with the best single offer."""
    allocation = view.allocation
    spend_detail = f"of a {format_money(view.budget)} budget"
    if allocation.spend_ci_high - allocation.spend_ci_low > 0.005:  # redemptions make the spend uncertain
        spend_detail = f"95% interval {_interval(allocation.spend_ci_low, allocation.spend_ci_high)}; {spend_detail}"
    mix = view.mix
    return [
        Card(
            "incremental_revenue",
            "Incremental revenue",
            format_money(allocation.incremental_revenue),
            f"95% interval {_interval(allocation.ci_low, allocation.ci_high)}",
        ),
        Card("spend", "Spend", format_money(allocation.spend), spend_detail),
        Card("roi", "ROI", format_roi(allocation.roi), "revenue per $1 spent"),
        Card(
            "contacts",
            "Contacts",
            format_count(sum(mix.values())),
            f"{format_share(sum(mix.values()) / view.population)} of {format_count(view.population)} customers",
        ),
        Card(
            "versus_best",
            "Vs best single offer",
            format_signed_money(view.difference_estimate),
            f"95% {_interval(view.difference_low, view.difference_high, format_signed_money)} (paired) against "
            f"{view.best_offer} alone, {format_money(view.results[view.best_offer].incremental_revenue)}",
        ),
    ]


def _cells(name: str, result: OfferResult) -> dict[str, str]:
    return {
        "label": strategy_label(name),
        "contacts": format_count(result.contacts),
        "spend": format_money(result.spend),
        "spend_interval": _interval(result.spend_ci_low, result.spend_ci_high),
        "incremental_revenue": format_money(result.incremental_revenue),
        "interval": _interval(result.ci_low, result.ci_high),
        "roi": format_roi(result.roi),
        "truth": format_money(result.true_incremental_revenue),
    }


def table_columns(view: OfferView) -> tuple[Column, ...]:
    """The truth only on simulated data; the spend's interval only when redemptions make the spend uncertain."""
    hidden = {"truth"} if not view.simulated else set()
    hidden |= set() if view.redeemed else {"spend_interval"}
    return tuple(column for column in COLUMNS if column.key not in hidden)


def mix_title(view: OfferView) -> str:
    return f"Who gets which offer at {format_money(view.budget)}: {format_count(sum(view.mix.values()))} contacts"


def _bars(view: OfferView) -> list[dict]:
    mix = view.mix
    total = sum(mix.values())
    widths = bar_widths(view)
    return [
        {
            "offer": offer,
            "index": index,
            "width": widths[f"offers.mix.{index}"],
            "color": OFFER_COLORS[index % len(OFFER_COLORS)],
            "count": format_count(mix[offer]),
            "share": format_share(mix[offer] / total) if total else "0.0%",
        }
        for index, offer in enumerate(view.offers)
    ]


def bar_widths(view: OfferView) -> dict[str, float]:
    """Each offer's bar as a percentage of the track: its contacts over all the allocation's contacts."""
    mix = view.mix
    total = sum(mix.values())
    return {
        f"offers.mix.{index}": round(100.0 * mix[offer] / total, 2) if total else 0.0
        for index, offer in enumerate(view.offers)
    }


def fields(view: OfferView) -> dict[str, str]:
    """Every budget-dependent text of the offers markup by its ``data-field`` name."""
    texts = {}
    for card in cards(view):
        texts[f"offers.{card.key}.value"] = card.value
        texts[f"offers.{card.key}.detail"] = card.detail
    texts["offers.mix.title"] = mix_title(view)
    for bar in _bars(view):
        texts[f"offers.mix.{bar['index']}.count"] = bar["count"]
        texts[f"offers.mix.{bar['index']}.share"] = bar["share"]
    keys = [column.key for column in table_columns(view)]
    for index, (name, result) in enumerate(view.results.items()):
        cells = _cells(name, result)
        texts.update({f"offers.{index}.{key}": cells[key] for key in keys})
    return texts


def kpi_html(view: OfferView) -> str:
    return render("offer_kpis.html", cards=cards(view))


def mix_html(view: OfferView) -> str:
    return render("offer_mix.html", title=mix_title(view), bars=_bars(view))


def table_html(view: OfferView) -> str:
    rows = [
        {"strategy": name, "index": index, "cells": _cells(name, result)}
        for index, (name, result) in enumerate(view.results.items())
    ]
    return render("offer_table.html", columns=table_columns(view), rows=rows)


def source_html(analysis: OfferAnalysis) -> str:
    """Where the numbers come from: the data, the control label, each offer's costs, how value is measured."""
    costs = "; ".join(
        f"{offer} {format_money(contact)} a contact"
        + (f" + {format_money(redemption)} a redemption" if redemption > 0 else "")
        for offer, contact, redemption in zip(
            analysis.offers, analysis.contact_cost, analysis.redemption_cost, strict=True
        )
    )
    method = "doubly robust" if analysis.method == "dr" else "inverse-propensity"
    return render(
        "offer_source.html",
        source=analysis.source,
        control=analysis.control,
        costs=costs,
        method=method,
        users=format_count(analysis.n_users),
        scored=format_count(analysis.n_evaluation),
        population=format_count(analysis.population),
        notes=analysis.notes,
    )

"""The shared markup: every budget-dependent text sits in a data-field whose text is fields()'s."""

from __future__ import annotations

import dataclasses
import re
from html import unescape

from uplift_studio.app import markup
from uplift_studio.core.view import format_signed_money

FIELD = re.compile(r'data-field="(?P<name>[^"]+)">(?P<text>[^<]*)<')


def _rendered_fields(page: str) -> dict[str, str]:
    return {match["name"]: unescape(match["text"]) for match in FIELD.finditer(page)}


def test_every_field_of_the_markup_holds_its_text(analysis):
    view = analysis.view(3_000.0, 2.0)
    page = markup.kpi_html(view) + markup.strategy_table_html(view) + markup.sentence_html(view)
    rendered = _rendered_fields(page)
    assert rendered == markup.fields(view)
    assert rendered["uplift.contacts"] == "1,500"
    assert rendered["sentence"] == view.sentence


def test_the_truth_column_and_oracle_card_exist_only_on_simulated_data(analysis, real_like_analysis):
    simulated, real = analysis.view(3_000.0, 2.0), real_like_analysis.view(3_000.0, 2.0)
    assert "uplift.truth" in markup.fields(simulated) and "uplift.truth" not in markup.fields(real)
    assert 'data-kpi="oracle" hidden' in markup.kpi_html(real)
    assert 'data-kpi="oracle" hidden' not in markup.kpi_html(simulated)


def test_text_is_escaped(analysis):
    view = analysis.view(3_000.0, 2.0)
    hostile = dataclasses.replace(view.uplift, strategy="<img src=x onerror=alert(1)>")
    page = markup.strategy_table_html(dataclasses.replace(view, results={**view.results, "uplift": hostile}))
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_the_probability_card_shows_the_paired_difference_with_its_interval(analysis):
    view = analysis.view(3_000.0, 2.0)
    difference = view.uplift_minus_probability
    card = next(card for card in markup.cards(view) if card.key == "versus_probability")
    assert card.label == "Uplift vs probability" and not card.hidden
    assert card.value == format_signed_money(difference.estimate)
    low, high = format_signed_money(difference.ci_low), format_signed_money(difference.ci_high)
    assert card.detail.startswith(f"95% {low} to {high}; ")
    assert "n/a" not in card.value + card.detail
    assert f"{format_signed_money(difference.estimate)} (95% interval {low} to {high})" in view.sentence


def test_without_probability_targeting_the_card_is_hidden(analysis):
    view = analysis.view(3_000.0, 2.0)
    alone = dataclasses.replace(
        view, results={name: r for name, r in view.results.items() if name != "probability"}, comparisons={}
    )
    assert 'data-kpi="versus_probability" hidden' in markup.kpi_html(alone)
    assert "likely to buy" not in alone.sentence

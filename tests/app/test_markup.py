"""The shared markup: every budget-dependent text sits in a data-field whose text is fields()'s."""

from __future__ import annotations

import dataclasses
import re
from html import unescape

from uplift_studio.app import markup

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

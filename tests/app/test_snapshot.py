"""The executive snapshot without a browser: the slider carries, for every position, the texts the app's
markup shows at that budget (at_budget's figures, formatted in Python), the page is self-contained and
deterministic, its size does not grow with the users, and the file is written (or a DataError says why
not). tests/ui/test_snapshot_browser.py runs its JavaScript."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pytest
from bokeh.document import Document
from bokeh.io.doc import patch_curdoc
from bokeh.models import ColumnDataSource, CustomJS, Div, Slider, Title

from uplift_studio.app import markup, snapshot, snapshot_slider
from uplift_studio.core.analysis import AnalysisSettings, run_analysis
from uplift_studio.core.data import ColumnMap, from_frame
from uplift_studio.core.errors import DataError
from uplift_studio.core.formats import format_count, format_money, format_roi
from uplift_studio.core.settings import ModelSettings
from uplift_studio.core.simulate import simulate_campaign
from uplift_studio.core.strategies import strategy_label
from uplift_studio.core.view import format_signed_money

COST = 2.0
BUDGET = 2_500.0
MAX_BYTES = 3_000_000
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _model(layout, name: str):
    found = layout.select_one({"name": name})
    assert found is not None, f"no model named {name!r} in the snapshot"
    return found


def _strings(value):
    """Every string in a Bokeh document's JSON, except the base64 payload of arrays."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not (key == "data" and value.get("type") == "bytes"):
                yield from _strings(item)


@pytest.fixture(scope="module")
def per_user_cost_analysis(app_cache_dir, small_experiment):
    """The small campaign with a contact cost per user (0.5 to 3.5), ranked by score per unit of cost."""
    rng = np.random.default_rng(3)
    frame = small_experiment.frame.with_columns(contact_cost=rng.uniform(0.5, 3.5, small_experiment.n_users))
    experiment = from_frame(frame, ColumnMap(cost="contact_cost"), source="per-user cost campaign")
    analysis = run_analysis(experiment, AnalysisSettings(model=ModelSettings(n_estimators=20, folds=3, n_jobs=2)))
    assert analysis.per_user_cost
    return analysis


# --------------------------------------------------------------------------------------------------------
# the slider and what it shows at each position


def test_slider_runs_from_one_step_to_everyone_in_a_round_step(analysis):
    slider = snapshot_slider.budget_slider(analysis, BUDGET, COST)
    everyone = analysis.max_budget(COST)
    positions = slider.positions()
    assert slider.step >= COST and slider.step == round(slider.step)
    assert int(f"{slider.step:.0f}".rstrip("0") or "0") in (1, 2, 25, 5)
    assert slider.start == slider.step and slider.value == BUDGET
    assert everyone <= slider.end < everyone + slider.step
    assert snapshot_slider.SLIDER_POSITIONS // 2 <= positions.size <= snapshot_slider.SLIDER_POSITIONS + 2
    assert BUDGET in positions
    assert np.all(np.diff(positions) > 0)


def test_a_budget_below_one_step_starts_the_slider():
    class Tiny:  # only what budget_slider reads
        per_user_cost = False

        @staticmethod
        def max_budget(cost):
            return 1_000_000.0

    slider = snapshot_slider.budget_slider(Tiny(), 300.0, COST)
    assert slider.step == 2_500.0
    assert slider.start == 300.0 and 300.0 in slider.positions()


@pytest.mark.parametrize("budget", [0, -5.0, float("nan"), float("inf"), True])
def test_bad_budgets_are_data_errors(analysis, budget):
    with pytest.raises(DataError, match="budget must be a finite amount > 0"):
        snapshot.snapshot_html(analysis, budget, COST)


def test_a_missing_cost_per_contact_is_a_data_error(analysis):
    with pytest.raises(DataError, match="cost_per_contact is required"):
        snapshot.snapshot_html(analysis, BUDGET, None)


def _embedded_states(layout) -> snapshot_slider.SliderStates:
    """The per-position columns and texts the page's slider callback reads, from the layout's models."""
    (callback,) = _model(layout, "budget_slider").js_property_callbacks["change:value"]
    positions, texts = callback.args["positions"], callback.args["texts"]
    return snapshot_slider.SliderStates(
        columns={key: np.asarray(column) for key, column in positions.data.items()}, texts=list(texts.data["text"])
    )


def _formatted_at_budget(analysis, budget: float, cost: float | None) -> dict[str, str]:
    """at_budget's figures in the app's formats, by data-field name: what an analyst must read."""
    results = analysis.at_budget(budget, cost)
    uplift = results["uplift"]
    expected = {
        "incremental_revenue.value": format_money(uplift.incremental_revenue),
        "incremental_revenue.detail": f"95% interval {format_money(uplift.ci_low)} to {format_money(uplift.ci_high)}",
        "roi.value": format_roi(uplift.roi),
        "roi.detail": f"95% interval {format_roi(uplift.roi_low)} to {format_roi(uplift.roi_high)}",
        "contacts.value": format_count(uplift.contacts),
        "spend.value": format_money(uplift.spend),
        "spend.detail": f"of a {format_money(budget)} budget",
        "net.value": format_money(uplift.net),
    }
    difference = analysis.view(budget, cost).uplift_minus_probability
    if "probability" in results and difference is not None:
        expected["versus_probability.value"] = format_signed_money(difference.estimate)
    for name, result in results.items():
        expected |= {
            f"{name}.label": strategy_label(name),
            f"{name}.contacts": format_count(result.contacts),
            f"{name}.spend": format_money(result.spend),
            f"{name}.incremental_revenue": format_money(result.incremental_revenue),
            f"{name}.interval": f"{format_money(result.ci_low)} to {format_money(result.ci_high)}",
            f"{name}.roi": format_roi(result.roi),
            f"{name}.net": format_money(result.net),
        }
        if analysis.has_truth:
            expected[f"{name}.truth"] = format_money(result.true_incremental_revenue)
    return expected


def _check_every_position(analysis, layout, budget: float, cost: float | None) -> None:
    """At every slider position the page carries markup.fields(view) for that budget, whose numbers are
    at_budget's formatted figures, the card visibility of the view, and the markers' locations."""
    states = _embedded_states(layout)
    positions = snapshot_slider.budget_slider(analysis, budget, cost).positions()
    np.testing.assert_array_equal(states.columns["budget"], positions)
    for index, position in enumerate(positions):
        view = analysis.view(float(position), cost)
        fields = states.fields(index)
        assert fields == markup.fields(view), position
        expected = _formatted_at_budget(analysis, float(position), cost)
        assert {key: fields[key] for key in expected} == expected, position
        assert fields["sentence"] == view.sentence
        for card in markup.cards(view):
            assert bool(states.columns[f"hidden:{card.key}"][index]) == card.hidden
        uplift = analysis.at_budget(float(position), cost)["uplift"]
        assert states.columns["marker:snapshot_curve_marker"][index] == uplift.share_targeted
        assert states.columns["marker:snapshot_frontier_marker"][index] == position


def test_every_slider_position_shows_at_budgets_figures(analysis, layout):
    _check_every_position(analysis, layout, BUDGET, COST)


def test_every_per_user_cost_position_shows_at_budgets_figures(per_user_cost_analysis):
    layout = snapshot.snapshot_layout(per_user_cost_analysis, 1_500.0, None)
    _check_every_position(per_user_cost_analysis, layout, 1_500.0, None)


def test_repeated_texts_are_stored_once(analysis, layout):
    states = _embedded_states(layout)
    assert len(set(states.texts)) == len(states.texts)
    cells = sum(1 for key in states.columns if key.startswith("text:")) * states.columns["budget"].size
    assert len(states.texts) < cells / 2


def test_the_slider_script_formats_nothing_and_writes_only_text():
    script = Path(snapshot_slider.__file__).with_name("snapshot_slider.js").read_text(encoding="utf-8")
    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("//"))
    assert "textContent" in code
    for forbidden in ("innerHTML", "outerHTML", ".text =", "toFixed", "toLocaleString", "Intl.", "scale", "cost"):
        assert forbidden not in code, forbidden


# --------------------------------------------------------------------------------------------------------
# the document


@pytest.fixture(scope="module")
def layout(analysis):
    return snapshot.snapshot_layout(analysis, BUDGET, COST)


def test_the_initial_markup_is_the_apps(analysis, layout):
    view = analysis.view(BUDGET, COST)
    assert _model(layout, "snapshot_kpis").text == markup.kpi_html(view)
    assert _model(layout, "snapshot_table").text == markup.strategy_table_html(view)
    assert _model(layout, "snapshot_sentence").text == markup.sentence_html(view)
    assert markup.CSS in _model(layout, "snapshot_kpis").stylesheets[0].css


def test_the_slider_callback_fills_the_markup_and_moves_the_markers(analysis, layout):
    slider = _model(layout, "budget_slider")
    assert isinstance(slider, Slider) and slider.value == BUDGET
    (callback,) = slider.js_property_callbacks["change:value"]
    assert isinstance(callback, CustomJS)
    assert callback.args["slider"] is slider
    assert isinstance(callback.args["positions"], ColumnDataSource)
    assert [div.name for div in callback.args["divs"]] == ["snapshot_kpis", "snapshot_sentence", "snapshot_table"]
    # the markers it moves: the efficiency curve's budget marker (at the uplift share) and the frontier's
    curve_span, frontier_span = callback.args["spans"]
    assert curve_span is _model(layout, "snapshot_curve_marker")
    assert curve_span.location == analysis.at_budget(BUDGET, COST)["uplift"].share_targeted
    assert frontier_span is _model(layout, "snapshot_frontier_marker")
    assert frontier_span.location == BUDGET
    # one marker look on both views: plots.frontier_marker is the curve's marker at a budget
    style = ("line_color", "line_dash", "line_width")
    assert [getattr(frontier_span, key) for key in style] == [getattr(curve_span, key) for key in style]


def test_the_header_reads_cents_and_counts_with_separators(analysis):
    layout = snapshot.snapshot_layout(analysis, 500.0, 0.1)
    header = layout.children[0].text
    assert "$0.10 per contact" in header and "$0 per contact" not in header
    assert f"{analysis.n_users:,} users" in header and "," in f"{analysis.n_users:,}"
    texts = [div.text for div in layout.select({"type": Div})]
    assert not any("-0.0%" in text or "-$0 " in text for text in texts)
    # the views' notes (why capture passes 100%, what the segment boundaries are) travel with the page
    notes = [title.text for title in layout.select({"type": Title}) if (title.name or "").startswith("subtitle")]
    assert any("cumulative capture" in text for text in notes) and any("Dashed diagonals" in text for text in notes)


def test_divs_never_read_dollars_as_tex(layout):
    divs = list(layout.select({"type": Div}))
    assert divs and all(div.disable_math for div in divs)


def test_a_real_file_without_truth_has_no_truth_column(real_like_analysis):
    layout = snapshot.snapshot_layout(real_like_analysis, BUDGET, COST)
    table = _model(layout, "snapshot_table").text
    assert "<th>Truth</th>" not in table and 'data-strategy="oracle"' not in table
    columns = _embedded_states(layout).columns
    assert not [key for key in columns if key.endswith(".truth")]
    assert columns["hidden:oracle"].all()


# --------------------------------------------------------------------------------------------------------
# the page


@pytest.fixture(scope="module")
def page(analysis):
    return snapshot.snapshot_html(analysis, BUDGET, COST)


def test_the_page_is_self_contained(page):
    assert "BEGIN bokeh.min.js" in page and "BEGIN bokeh-widgets.min.js" in page
    assert not re.search(r"<script[^>]*\bsrc=", page), "a script is loaded from somewhere"
    assert not re.search(r"<link\b", page), "a style sheet or font is loaded from somewhere"
    # BokehJS's own code holds addresses in strings (map tiles, MathJax) that this page never loads; the
    # markup and the document (every text and style sheet the snapshot adds) hold none
    found = re.search(r'<script type="application/json" id="snapshot-json">(.*?)</script>', page, re.S)
    markup = re.sub(r"<script>.*?</script>", "", page[: found.start()] + page[found.end() :], flags=re.S)
    texts = [markup, *_strings(json.loads(html.unescape(found.group(1))))]
    remote = re.compile(r"https?:|//[a-z]|@import|@font-face|url\(")
    assert not [text for text in texts if remote.search(text)]
    # only the bundles the page uses: no MathJax (1.8 MB), no WebGL
    assert "BEGIN bokeh-mathjax" not in page and "BEGIN bokeh-gl" not in page


def test_the_manifest_says_how_to_reproduce_the_run(analysis, page):
    found = re.search(r'<script type="application/json" id="snapshot-json">(.*?)</script>', page, re.S)
    text = html.unescape("\n".join(_strings(json.loads(html.unescape(found.group(1))))))
    assert analysis.fingerprint in text and analysis.source in text
    assert f"{analysis.n_users:,} in the experiment, {analysis.n_evaluation:,} scored out of sample" in text
    assert f"{analysis.population:,}" in text
    assert json.dumps(analysis.settings.as_dict(), sort_keys=True, default=str) in text
    assert f'"seed": {analysis.settings.model.seed}' in text
    for name, version in analysis.versions.items():
        assert f"{name} {version}" in text
    assert "bokeh 3." in text and "holoviews 1." in text
    assert f"Analysed</th><td>{analysis.created}" in text
    assert len(TIMESTAMP.findall(text)) >= 2  # analysed and exported


def test_exports_are_byte_identical_apart_from_the_date(analysis, page):
    again = snapshot.snapshot_html(analysis, BUDGET, COST)
    assert TIMESTAMP.sub("", again) == TIMESTAMP.sub("", page)
    # Bokeh's random document, element and script ids are gone, and model ids are renumbered from p1000
    assert not UUID.search(page)
    assert 'id="snapshot-json"' in page and '"docid":"snapshot-doc-0"' in page
    assert '"id":"p1000"' in page


def test_other_budgets_give_other_pages(analysis, page):
    assert TIMESTAMP.sub("", snapshot.snapshot_html(analysis, BUDGET + 1_000, COST)) != TIMESTAMP.sub("", page)


def test_a_panel_sessions_document_callbacks_stay_out(analysis):
    # file_html copies curdoc()'s JS event callbacks into the page; in a dashboard session curdoc is the
    # session's document, whose callbacks would run (and fail) in the snapshot
    session = Document()
    session.js_on_event("document_ready", CustomJS(code="console.log('session-only callback')"))
    with patch_curdoc(session):
        page = snapshot.snapshot_html(analysis, BUDGET, COST)
    assert "session-only callback" not in page


def test_per_user_costs_export(per_user_cost_analysis):
    page = snapshot.snapshot_html(per_user_cost_analysis, 1_500.0, None)
    assert "per-user contact costs" in page
    assert len(page.encode()) < MAX_BYTES


# --------------------------------------------------------------------------------------------------------
# writing the file


def test_write_snapshot_writes_the_page(analysis, tmp_path):
    path = snapshot.write_snapshot(analysis, tmp_path / "snapshot.html", BUDGET, COST)
    assert path == tmp_path / "snapshot.html"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "budget_slider" in text


@pytest.mark.parametrize("where", ["missing/snapshot.html", "."])
def test_an_unwritable_path_is_a_data_error(analysis, tmp_path, where):
    target = tmp_path / where
    with pytest.raises(DataError, match=rf"{re.escape(str(target))}: cannot write \(.+\)\. Check"):
        snapshot.write_snapshot(analysis, target, BUDGET, COST)


# --------------------------------------------------------------------------------------------------------
# size: the file does not grow with the number of users


@pytest.fixture(scope="module")
def default_campaign_page(app_cache_dir):
    """The default campaign (150,000 users) with the default model, as the report and the CLI run it."""
    analysis = run_analysis(simulate_campaign())
    return analysis, snapshot.snapshot_html(analysis, 100_000.0, COST)


def test_the_default_campaign_fits_in_3_mb(default_campaign_page):
    _, page = default_campaign_page
    assert len(page.encode("utf-8")) <= MAX_BYTES


def test_the_default_campaign_slider_shows_at_budgets_figures(default_campaign_page):
    analysis, _ = default_campaign_page
    _check_every_position(analysis, snapshot.snapshot_layout(analysis, 100_000.0, COST), 100_000.0, COST)


def test_a_million_user_campaign_fits_in_3_mb_like_the_default(default_campaign_page):
    # only the size is at stake, so a light model (about 30 s on 2 cores); the curves still have a million users
    analysis = run_analysis(
        simulate_campaign(1_000_000),
        AnalysisSettings(model=ModelSettings(n_estimators=20, folds=2)),
        use_cache=False,
    )
    assert analysis.paths["uplift"].n == 1_000_000
    page = snapshot.snapshot_html(analysis, 100_000.0, COST)
    size = len(page.encode("utf-8"))
    default_size = len(default_campaign_page[1].encode("utf-8"))
    print(f"snapshot size: {default_size:,} bytes at 150,000 users, {size:,} bytes at 1,000,000 users")
    assert size <= MAX_BYTES
    # nearly seven times the users, and the same file give or take the labels and the slider's positions
    assert abs(size - default_size) < 0.05 * default_size


def test_two_separate_exports_of_the_same_run_are_identical_apart_from_the_dates(tmp_path):
    # Two processes, two empty caches: each simulates, fits and exports on its own, so the same seed must
    # give the same models, numbers and page, bit for bit (only the analysed/exported dates differ).
    import os
    import subprocess
    import sys

    pages = []
    for run in ("first", "second"):
        out = tmp_path / f"{run}.html"
        env = {**os.environ, "UPLIFT_STUDIO_CACHE": str(tmp_path / f"cache_{run}")}
        command = [
            sys.executable,
            "-m",
            "uplift_studio.cli",
            "export",
            "--users",
            "3000",
            "--n-estimators",
            "10",
            "--folds",
            "2",
            "--budget",
            "1000",
            "--out",
            str(out),
        ]
        subprocess.run(command, env=env, check=True, capture_output=True)
        pages.append(TIMESTAMP.sub("<date>", out.read_text()))
    assert pages[0] == pages[1]
    assert "<date>" in pages[0]

"""The executive snapshot without a browser: the slider's tables hold at_budget's own numbers at every
position, the page is self-contained and deterministic, its size does not grow with the users, and the
file is written (or a DataError says why not). tests/ui/test_snapshot_browser.py runs its JavaScript."""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pytest
from bokeh.document import Document
from bokeh.io.doc import patch_curdoc
from bokeh.models import ColumnDataSource, CustomJS, Div, Slider

from uplift_studio.app import snapshot
from uplift_studio.core.analysis import AnalysisSettings, run_analysis
from uplift_studio.core.data import ColumnMap, from_frame
from uplift_studio.core.errors import DataError
from uplift_studio.core.formats import format_money, format_roi
from uplift_studio.core.report import executive_sentence
from uplift_studio.core.settings import ModelSettings
from uplift_studio.core.simulate import simulate_campaign
from uplift_studio.core.stats import Z95

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


def _read(table: dict, column: str, depth: float) -> float:
    """The browser's read (the slider JavaScript): a stored depth returns its stored value."""
    depths = np.asarray(table["depth"])
    values = np.asarray(table[column])
    upper = int(np.searchsorted(depths, depth, side="left"))
    if upper < depths.size and depths[upper] == depth:
        return float(values[upper])
    upper = min(max(upper, 1), depths.size - 1)
    weight = (depth - depths[upper - 1]) / (depths[upper] - depths[upper - 1])
    return float(values[upper - 1] + weight * (values[upper] - values[upper - 1]))


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
# the slider and its tables


def test_slider_runs_from_one_step_to_everyone_in_a_round_step(analysis):
    slider = snapshot.budget_slider(analysis, BUDGET, COST)
    everyone = analysis.max_budget(COST)
    positions = slider.positions()
    assert slider.step >= COST and slider.step == round(slider.step)
    assert int(f"{slider.step:.0f}".rstrip("0") or "0") in (1, 2, 25, 5)
    assert slider.start == slider.step and slider.value == BUDGET
    assert everyone <= slider.end < everyone + slider.step
    assert snapshot.SLIDER_POSITIONS // 2 <= positions.size <= snapshot.SLIDER_POSITIONS + 2
    assert BUDGET in positions
    assert np.all(np.diff(positions) > 0)


def test_a_budget_below_one_step_starts_the_slider():
    class Tiny:  # only what budget_slider reads
        per_user_cost = False

        @staticmethod
        def max_budget(cost):
            return 1_000_000.0

    slider = snapshot.budget_slider(Tiny(), 300.0, COST)
    assert slider.step == 2_500.0
    assert slider.start == 300.0 and 300.0 in slider.positions()


@pytest.mark.parametrize("budget", [0, -5.0, float("nan"), float("inf"), True])
def test_bad_budgets_are_data_errors(analysis, budget):
    with pytest.raises(DataError, match="budget must be a finite amount > 0"):
        snapshot.snapshot_html(analysis, budget, COST)


def test_a_missing_cost_per_contact_is_a_data_error(analysis):
    with pytest.raises(DataError, match="cost_per_contact is required"):
        snapshot.snapshot_html(analysis, BUDGET, None)


def _check_tables_reproduce_at_budget(analysis, cost, budgets, exact: bool):
    scale = analysis.scale
    for name in analysis.strategies:
        table = snapshot.curve_table(analysis, name, budgets, cost)
        assert np.all(np.diff(table["depth"]) > 0)
        for budget in budgets:
            expected = analysis.at_budget(float(budget), cost)[name]
            revenue = _read(table, "uplift", expected.depth) * scale
            half_width = Z95 * _read(table, "se", expected.depth) * scale
            truth = _read(table, "truth", expected.depth) * scale if "truth" in table else None
            if exact:
                assert expected.depth in table["depth"]
                assert revenue == expected.incremental_revenue
                assert revenue - half_width == expected.ci_low
                assert truth == expected.true_incremental_revenue
            else:
                assert revenue == pytest.approx(expected.incremental_revenue, rel=1e-12, abs=1e-9)
                assert revenue - half_width == pytest.approx(expected.ci_low, rel=1e-12, abs=1e-9)


def test_tables_hold_at_budgets_numbers_at_every_slider_position(analysis):
    budgets = snapshot.budget_slider(analysis, BUDGET, COST).positions()
    assert analysis.paths["uplift"].contacts.size > snapshot.EXACT_BOUNDARIES  # the resampled case, not the exact one
    _check_tables_reproduce_at_budget(analysis, COST, budgets, exact=True)


def test_per_user_cost_tables_hold_the_spend_and_depth_of_every_position(per_user_cost_analysis):
    analysis = per_user_cost_analysis
    budgets = snapshot.budget_slider(analysis, 1_500.0, None).positions()
    _check_tables_reproduce_at_budget(analysis, None, budgets, exact=True)
    path = analysis.paths["uplift"]
    table = snapshot.curve_table(analysis, "uplift", budgets, None)
    assert np.all(np.diff(table["cost"]) > 0)
    np.testing.assert_array_equal(table["cost"], path.at_depth(table["depth"]).spend)


def test_a_curve_with_few_boundaries_ships_them_all(analysis, monkeypatch):
    monkeypatch.setattr(snapshot, "EXACT_BOUNDARIES", 10**9)
    path = analysis.paths["uplift"]
    table = snapshot.curve_table(analysis, "uplift", np.array([BUDGET]), COST)
    assert set(path.contacts.astype(float)) <= set(table["depth"])
    # between stored steps the browser's straight line is the path's own interpolation
    depth = (path.contacts[10] + path.contacts[11]) / 2
    assert _read(table, "uplift", depth) == pytest.approx(path.at_depth(depth).value, rel=1e-12)


def test_table_size_depends_on_the_slider_not_on_the_users(analysis):
    budgets = snapshot.budget_slider(analysis, BUDGET, COST).positions()
    table = snapshot.curve_table(analysis, "uplift", budgets, COST)
    assert table["depth"].size <= budgets.size + 1 < analysis.n_evaluation / 10


# --------------------------------------------------------------------------------------------------------
# the document


@pytest.fixture(scope="module")
def layout(analysis):
    return snapshot.snapshot_layout(analysis, BUDGET, COST)


def test_initial_figures_are_at_budgets(analysis, layout):
    results = analysis.at_budget(BUDGET, COST)
    uplift = results["uplift"]
    kpis = _model(layout, "snapshot_kpis").text
    assert f'data-kpi="incremental_revenue">{format_money(uplift.incremental_revenue)}<' in kpis
    interval = f"{format_money(uplift.ci_low)} to {format_money(uplift.ci_high)}"
    assert f'95% interval <span data-kpi="interval">{interval}</span>' in kpis
    assert f'data-kpi="roi">{format_roi(uplift.roi)}<' in kpis
    assert f'data-kpi="contacts">{uplift.contacts:,}<' in kpis
    assert f'data-kpi="spend">{format_money(uplift.spend)}<' in kpis
    assert f'data-kpi="net">{format_money(uplift.net)}<' in kpis
    sentence = _model(layout, "snapshot_sentence").text
    assert html.unescape(re.sub(r"<[^>]+>", "", sentence)) == executive_sentence(analysis, BUDGET, COST)
    table = _model(layout, "snapshot_table").text
    for name, result in results.items():
        row = re.search(rf'<tr data-strategy="{name}">(.*?)</tr>', table).group(1)
        assert f"<td>{format_roi(result.roi)}</td>" in row
        assert f"<td>{format_money(result.true_incremental_revenue)}</td>" in row
    state = _model(layout, "snapshot_state").data
    assert state["strategy"] == list(results)
    assert state["incremental_revenue"] == [r.incremental_revenue for r in results.values()]


def test_the_slider_callback_reads_one_table_per_strategy(analysis, layout):
    slider = _model(layout, "budget_slider")
    assert isinstance(slider, Slider) and slider.value == BUDGET
    (callback,) = slider.js_property_callbacks["change:value"]
    assert isinstance(callback, CustomJS)
    sources = callback.args["sources"]
    assert [source.name for source in sources] == [f"curve_{name}" for name in analysis.strategies]
    assert all(isinstance(source, ColumnDataSource) for source in sources)
    config = json.loads(callback.args["config"])
    assert config["strategies"] == list(analysis.strategies)
    assert config["scale"] == analysis.scale and config["cost_per_contact"] == COST
    # the markers it moves: the efficiency curve's budget marker (at the uplift share) and the frontier's
    assert callback.args["curve_span"] is _model(layout, "snapshot_curve_marker")
    assert callback.args["curve_span"].location == analysis.at_budget(BUDGET, COST)["uplift"].share_targeted
    assert callback.args["frontier_span"] is _model(layout, "snapshot_frontier_marker")
    assert callback.args["frontier_span"].location == BUDGET


def test_divs_never_read_dollars_as_tex(layout):
    divs = list(layout.select({"type": Div}))
    assert divs and all(div.disable_math for div in divs)


def test_a_real_file_without_truth_has_no_truth_column(real_like_analysis):
    layout = snapshot.snapshot_layout(real_like_analysis, BUDGET, COST)
    table = _model(layout, "snapshot_table").text
    assert "True value" not in table and 'data-strategy="oracle"' not in table
    assert "truth" not in _model(layout, "curve_uplift").data


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
    with pytest.raises(DataError, match=rf"{re.escape(str(target))}: cannot write the snapshot \(.+\)\. Check"):
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


def test_the_default_campaign_tables_are_exact_and_small(default_campaign_page):
    analysis, _ = default_campaign_page
    budgets = snapshot.budget_slider(analysis, 100_000.0, COST).positions()
    _check_tables_reproduce_at_budget(analysis, COST, budgets, exact=True)
    for name in analysis.strategies:
        assert analysis.paths[name].contacts.size > 20_000  # resampled, not shipped whole
        assert snapshot.curve_table(analysis, name, budgets, COST)["depth"].size <= budgets.size + 1


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

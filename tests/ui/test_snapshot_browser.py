"""The snapshot in a real browser, opened from file:// with every request recorded: it asks no host for
anything, logs no error, and its budget slider (driven by keyboard, mouse and the model) shows exactly the
texts Python's markup gives at the budget it lands on, and moves the markers there."""

from __future__ import annotations

import numpy as np
import pytest

from uplift_studio.app import markup, snapshot, snapshot_slider
from uplift_studio.core.analysis import AnalysisSettings, run_analysis
from uplift_studio.core.data import ColumnMap, from_frame
from uplift_studio.core.formats import format_money
from uplift_studio.core.settings import ModelSettings
from uplift_studio.core.simulate import simulate_campaign

pytestmark = pytest.mark.ui

COST = 2.0
BUDGET = 2_500.0
LIGHT = AnalysisSettings(model=ModelSettings(n_estimators=20, folds=3, n_jobs=2))

# what the page shows, read from the rendered DOM (Bokeh draws each Div inside a shadow root): every
# data-field's text, which KPI cards are hidden, and where the two budget markers are
READ_VIEW = """() => {
  const view = {fields: {}, hidden: {}};
  const walk = (root) => {
    root.querySelectorAll("[data-field]").forEach((e) => { view.fields[e.dataset.field] = e.textContent; });
    root.querySelectorAll("[data-kpi]").forEach((e) => { view.hidden[e.dataset.kpi] = e.hidden; });
    root.querySelectorAll("*").forEach((e) => { if (e.shadowRoot) walk(e.shadowRoot); });
  };
  walk(document);
  return view;
}"""
MARKERS = """() => ["snapshot_curve_marker", "snapshot_frontier_marker"].map(
  (name) => Bokeh.documents[0].get_model_by_name(name).location)"""
SLIDER_VALUE = "() => Bokeh.documents[0].get_model_by_name('budget_slider').value"
SET_BUDGET = "(budget) => { Bokeh.documents[0].get_model_by_name('budget_slider').value = budget; }"
# true once the callback ran for the budget (the frontier marker sits there) and the DOM shows the expected
# texts (BokehJS compiles a CustomJS before its first run)
SHOWS = f"""([expected, budget]) => {{
  const view = ({READ_VIEW})();
  return ({MARKERS})()[1] === budget && Object.entries(expected).every(([key, text]) => view.fields[key] === text);
}}"""


def expected_view(analysis, budget: float, cost: float | None) -> dict:
    """What an analyst should read at ``budget``: the app's markup fields and hidden cards there."""
    view = analysis.view(budget, cost)
    return {"fields": markup.fields(view), "hidden": {card.key: card.hidden for card in markup.cards(view)}}


def wait_for_view(page, analysis, budget: float, cost: float | None, timeout: float = 10_000) -> dict:
    """Wait until the page shows the texts of ``budget``, then return what it shows (the comparison in the
    caller reports any difference)."""
    try:
        page.wait_for_function(SHOWS, arg=[markup.fields(analysis.view(budget, cost)), budget], timeout=timeout)
    except Exception:  # the caller's assertion shows what the page says instead
        pass
    return page.evaluate(READ_VIEW)


@pytest.fixture(scope="module")
def experiment():
    return simulate_campaign(6_000, seed=5)


@pytest.fixture(scope="module")
def analysis(experiment):
    return run_analysis(experiment, LIGHT, use_cache=False)


@pytest.fixture(scope="module")
def per_user_cost_analysis(experiment):
    rng = np.random.default_rng(3)
    frame = experiment.frame.with_columns(contact_cost=rng.uniform(0.5, 3.5, experiment.n_users))
    costed = from_frame(frame, ColumnMap(cost="contact_cost"), source="per-user cost campaign")
    return run_analysis(costed, LIGHT, use_cache=False)


def open_snapshot(page, analysis, budget, cost, path):
    snapshot.write_snapshot(analysis, path, budget, cost)
    page.goto(path.as_uri())
    page.wait_for_function("() => window.Bokeh !== undefined && Bokeh.documents.length === 1")
    page.wait_for_function(f"() => ({READ_VIEW})().fields.sentence !== undefined")
    return page


def assert_quiet(log, path) -> None:
    """No console error, no request but the file itself; and the console listener really records."""
    assert log.errors() == []
    assert log.external_requests() == []
    assert log.requests == [path.as_uri()]
    assert log.failed_requests == []


def assert_listener_records(page, log) -> None:
    page.evaluate("() => console.error('probe: the listener records')")
    page.wait_for_function("() => true")
    assert log.errors() == ["probe: the listener records"]


def test_the_slider_moves_the_figures_and_markers_offline(logged_page, analysis, tmp_path, artifacts_dir):
    page, log = logged_page
    path = tmp_path / "snapshot.html"
    open_snapshot(page, analysis, BUDGET, COST, path)
    assert page.evaluate(READ_VIEW) == expected_view(analysis, BUDGET, COST)
    start_markers = page.evaluate(MARKERS)
    assert start_markers == [analysis.at_budget(BUDGET, COST)["uplift"].share_targeted, BUDGET]
    positions = snapshot_slider.budget_slider(analysis, BUDGET, COST).positions()

    # the keyboard: focus the slider's handle, three steps right and a page up
    handle = page.locator(".noUi-handle").first
    handle.focus()
    for key in ("ArrowRight", "ArrowRight", "ArrowRight", "PageUp"):
        handle.press(key)
    page.wait_for_function(f"() => ({SLIDER_VALUE})() > {BUDGET + 60}")
    budget = page.evaluate(SLIDER_VALUE)
    assert budget in positions
    expected = expected_view(analysis, budget, COST)
    assert expected["fields"]["spend.value"] != format_money(BUDGET)
    assert wait_for_view(page, analysis, budget, COST) == expected

    # the mouse: a click at four fifths of the track
    track = page.locator(".noUi-target").first
    box = track.bounding_box()
    page.mouse.click(box["x"] + 0.8 * box["width"], box["y"] + box["height"] / 2)
    page.wait_for_function(f"() => ({SLIDER_VALUE})() > {budget + 1_000}")
    clicked = page.evaluate(SLIDER_VALUE)
    assert clicked in positions
    assert wait_for_view(page, analysis, clicked, COST) == expected_view(analysis, clicked, COST)

    # the markers followed: the efficiency curve's at the uplift share, the frontier's at the budget
    markers = page.evaluate(MARKERS)
    assert markers == [analysis.at_budget(clicked, COST)["uplift"].share_targeted, clicked]
    assert markers[0] > start_markers[0] and markers[1] > start_markers[1]

    page.screenshot(path=str(artifacts_dir / "snapshot.png"), full_page=True)
    assert_quiet(log, path)
    assert_listener_records(page, log)


def _sweep(page, analysis, budgets, cost) -> None:
    """Set the slider to each budget and compare the whole page's texts, cards and markers with Python's."""
    for budget in budgets:
        page.evaluate(SET_BUDGET, float(budget))
        assert wait_for_view(page, analysis, float(budget), cost) == expected_view(analysis, float(budget), cost)
        share = analysis.at_budget(float(budget), cost)["uplift"].share_targeted
        assert page.evaluate(MARKERS) == [share, float(budget)], budget


def _checked_positions(positions: np.ndarray) -> np.ndarray:
    """The first and last positions, the two before the last, and every 37th in between."""
    return np.unique(np.concatenate([positions[:1], positions[::37], positions[-3:]]))


def test_slider_positions_show_the_python_texts(logged_page, analysis, tmp_path):
    """Uniform cost: at the first, the last and positions between, the page shows markup.fields exactly."""
    page, log = logged_page
    path = tmp_path / "snapshot.html"
    open_snapshot(page, analysis, BUDGET, COST, path)
    positions = snapshot_slider.budget_slider(analysis, BUDGET, COST).positions()
    # the last position contacts everyone: the sentence says so, the page must too
    assert analysis.view(float(positions[-1]), COST).contacted_everyone
    _sweep(page, analysis, _checked_positions(positions)[::-1], COST)
    assert_quiet(log, path)


def test_per_user_cost_positions_show_the_python_texts(logged_page, per_user_cost_analysis, tmp_path):
    """Per-user costs: contacts go down the score-per-cost ranking; the page shows Python's texts."""
    page, log = logged_page
    analysis = per_user_cost_analysis
    path = tmp_path / "snapshot.html"
    open_snapshot(page, analysis, 1_500.0, None, path)
    positions = snapshot_slider.budget_slider(analysis, 1_500.0, None).positions()
    _sweep(page, analysis, _checked_positions(positions)[::-1], None)
    assert_quiet(log, path)


# every plot canvas of the page, through Bokeh's shadow roots
CANVASES = """() => {
  const out = [];
  const walk = (root) => {
    root.querySelectorAll("*").forEach((e) => {
      if (e.matches("div.bk-Canvas")) {
        const r = e.getBoundingClientRect();
        out.push({left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width});
      }
      if (e.shadowRoot) walk(e.shadowRoot);
    });
  };
  walk(document);
  return out;
}"""


def _rows_of_plots(page, count: int) -> list[int]:
    """How many canvases share each horizontal band, top to bottom (once all ``count`` are laid out)."""
    page.wait_for_function(f"() => ({CANVASES})().filter((c) => c.width > 0).length >= {count}")
    canvases = sorted(page.evaluate(CANVASES), key=lambda canvas: canvas["top"])
    bands: list[list[dict]] = []
    for canvas in canvases:
        if bands and canvas["top"] < bands[-1][0]["bottom"]:
            bands[-1].append(canvas)
        else:
            bands.append([canvas])
    assert all(canvas["right"] <= page.viewport_size["width"] for canvas in canvases)
    return [len(band) for band in bands]


def test_pairs_of_plots_stack_in_a_laptop_window_and_stand_side_by_side_in_a_wide_one(logged_page, analysis, tmp_path):
    """Two plots a row at half of a 1,100 px window left the frontier's frame a third of its width (its legend
    and twin axis outside) and cut long titles; such a pair now stacks, and still pairs up where there is room."""
    page, log = logged_page
    page.set_viewport_size({"width": 1100, "height": 900})
    open_snapshot(page, analysis, BUDGET, COST, tmp_path / "snapshot.html")
    # efficiency, frontier, deciles, persuadability, calibration: one a row
    assert _rows_of_plots(page, 5) == [1, 1, 1, 1, 1]
    page.set_viewport_size({"width": 1700, "height": 900})
    page.wait_for_function(f"() => ({CANVASES})()[0].right < 900")
    assert _rows_of_plots(page, 5) == [2, 2, 1]
    # a phone's width: still one a row, each shrunk to fit (a basis of 600 px, not a minimum)
    page.set_viewport_size({"width": 420, "height": 900})
    page.wait_for_function(f"() => ({CANVASES})().every((c) => c.right <= 420)")
    assert _rows_of_plots(page, 5) == [1, 1, 1, 1, 1]
    assert log.errors() == []

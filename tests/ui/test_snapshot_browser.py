"""The snapshot in a real browser, opened from file:// with every request recorded: it asks no host for
anything, logs no error, and its budget slider (driven by keyboard and mouse) shows what
Analysis.at_budget gives at the budget it lands on."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

from uplift_studio.app import snapshot
from uplift_studio.core.analysis import AnalysisSettings, run_analysis
from uplift_studio.core.data import ColumnMap, from_frame
from uplift_studio.core.formats import format_money, format_roi, format_share
from uplift_studio.core.report import executive_sentence
from uplift_studio.core.settings import ModelSettings
from uplift_studio.core.simulate import simulate_campaign
from uplift_studio.core.strategies import STRATEGY_LABELS

pytestmark = pytest.mark.ui

COST = 2.0
BUDGET = 2_500.0
LIGHT = AnalysisSettings(model=ModelSettings(n_estimators=20, folds=3, n_jobs=2))

# what the page shows, read from the rendered DOM (Bokeh draws each Div inside a shadow root)
READ_VIEW = """() => {
  const found = [];
  const walk = (root) => {
    root.querySelectorAll("[data-kpi], p.sentence, tr[data-strategy]").forEach((e) => found.push(e));
    root.querySelectorAll("*").forEach((e) => { if (e.shadowRoot) walk(e.shadowRoot); });
  };
  walk(document);
  const view = {kpi: {}, sentence: null, rows: {}};
  for (const e of found) {
    if (e.dataset.kpi) view.kpi[e.dataset.kpi] = e.textContent;
    else if (e.matches("p.sentence")) view.sentence = e.textContent;
    else view.rows[e.dataset.strategy] = Array.from(e.children, (c) => c.textContent);
  }
  return view;
}"""
SLIDER_VALUE = "() => Bokeh.documents[0].get_model_by_name('budget_slider').value"
# the models the slider's callback writes, read once it has run for this budget: BokehJS runs a CustomJS
# asynchronously (it compiles the code first), so the models are polled rather than read at once
SET_BUDGET = """async (budget) => {
  const doc = Bokeh.documents[0];
  const model = (name) => doc.get_model_by_name(name);
  model("budget_slider").value = budget;
  for (let frame = 0; model("snapshot_state").data.budget[0] !== budget; frame++) {
    if (frame > 600) throw new Error("the slider callback did not run for " + budget);
    await new Promise((resolve) => requestAnimationFrame(resolve));
  }
  const state = model("snapshot_state").data;
  const columns = {};
  for (const key of Object.keys(state)) columns[key] = Array.from(state[key]);
  return {kpis: model("snapshot_kpis").text, sentence: model("snapshot_sentence").text,
          table: model("snapshot_table").text, state: columns};
}"""


def expected_view(analysis, budget: float, cost: float | None) -> dict:
    """What an analyst should read at ``budget``: at_budget's figures in the app's formats."""
    results = analysis.at_budget(budget, cost)
    uplift = results["uplift"]
    rows = {}
    for name, result in results.items():
        rows[name] = [
            STRATEGY_LABELS[name],
            f"{result.contacts:,}",
            format_money(result.spend),
            format_money(result.incremental_revenue),
            f"{format_money(result.ci_low)} to {format_money(result.ci_high)}",
            format_roi(result.roi),
            format_money(result.net),
        ] + ([format_money(result.true_incremental_revenue)] if analysis.has_truth else [])
    return {
        "kpi": {
            "incremental_revenue": format_money(uplift.incremental_revenue),
            "interval": f"{format_money(uplift.ci_low)} to {format_money(uplift.ci_high)}",
            "roi": format_roi(uplift.roi),
            "contacts": f"{uplift.contacts:,}",
            "spend": format_money(uplift.spend),
            "net": format_money(uplift.net),
            "lift": format_share(analysis.view(budget, cost).lift_over_probability, signed=True),
        },
        "sentence": executive_sentence(analysis, budget, cost),
        "rows": rows,
    }


def read_view(page) -> dict:
    return page.evaluate(READ_VIEW)


def wait_for_view(page, expected: dict, timeout: float = 10_000) -> dict:
    """Wait until the page shows ``expected`` (its Divs re-render after the callback), then return it."""
    try:
        page.wait_for_function(
            "([read, sentence]) => (new Function('return ' + read))()().sentence === sentence",
            arg=[READ_VIEW, expected["sentence"]],
            timeout=timeout,
        )
    except Exception:  # the comparison below shows what the page says instead
        pass
    return read_view(page)


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


def open_snapshot(page, log, analysis, budget, cost, path):
    snapshot.write_snapshot(analysis, path, budget, cost)
    page.goto(path.as_uri())
    page.wait_for_function("() => window.Bokeh !== undefined && Bokeh.documents.length === 1")
    page.wait_for_function(f"() => ({READ_VIEW})().sentence !== null")
    return page


def test_the_slider_moves_the_figures_offline(logged_page, analysis, tmp_path, artifacts_dir):
    page, log = logged_page
    path = tmp_path / "snapshot.html"
    open_snapshot(page, log, analysis, BUDGET, COST, path)
    assert read_view(page) == expected_view(analysis, BUDGET, COST)
    positions = snapshot.budget_slider(analysis, BUDGET, COST).positions()

    # the keyboard: focus the slider's handle, three steps right and a page up
    handle = page.locator(".noUi-handle").first
    handle.focus()
    for key in ("ArrowRight", "ArrowRight", "ArrowRight", "PageUp"):
        handle.press(key)
    page.wait_for_function(f"() => ({SLIDER_VALUE})() > {BUDGET + 60}")
    budget = page.evaluate(SLIDER_VALUE)
    assert budget in positions
    expected = expected_view(analysis, budget, COST)
    assert expected["kpi"]["spend"] != format_money(BUDGET)
    assert wait_for_view(page, expected) == expected

    # the mouse: a click at four fifths of the track
    track = page.locator(".noUi-target").first
    box = track.bounding_box()
    page.mouse.click(box["x"] + 0.8 * box["width"], box["y"] + box["height"] / 2)
    page.wait_for_function(f"() => ({SLIDER_VALUE})() > {budget + 1_000}")
    clicked = page.evaluate(SLIDER_VALUE)
    assert clicked in positions
    expected = expected_view(analysis, clicked, COST)
    assert wait_for_view(page, expected) == expected

    # the markers follow: the efficiency curve's at the uplift share, the frontier's at the budget
    markers = page.evaluate(
        """() => ["snapshot_curve_marker", "snapshot_frontier_marker"].map(
          (name) => Bokeh.documents[0].get_model_by_name(name).location)"""
    )
    assert markers == [analysis.at_budget(clicked, COST)["uplift"].share_targeted, clicked]

    # back to the exported budget: the page's markup is the one Python wrote
    restored = page.evaluate(SET_BUDGET, BUDGET)
    assert restored["kpis"] == snapshot.kpi_markup(analysis, BUDGET, COST)
    assert restored["table"] == snapshot.strategy_markup(analysis, BUDGET, COST)
    assert restored["sentence"] == snapshot.sentence_markup(analysis, BUDGET, COST)
    assert wait_for_view(page, expected_view(analysis, BUDGET, COST)) == expected_view(analysis, BUDGET, COST)

    page.screenshot(path=str(artifacts_dir / "snapshot.png"), full_page=True)
    assert log.external_requests() == []
    assert log.requests == [path.as_uri()]
    assert log.failed_requests == []
    assert log.errors() == []


def _sweep(page, analysis, budgets, cost, exact: bool):
    for budget in budgets:
        shown = page.evaluate(SET_BUDGET, float(budget))
        results = analysis.at_budget(float(budget), cost)
        state = shown["state"]
        assert state["strategy"] == list(results)
        for index, (name, result) in enumerate(results.items()):
            assert state["contacts"][index] == result.contacts, (budget, name)
            assert bool(state["contacted_everyone"][index]) == result.contacted_everyone
            for key in ("spend", "depth", "incremental_revenue", "ci_low", "ci_high", "roi", "net"):
                expected = getattr(result, key)
                if exact:
                    assert state[key][index] == expected, (budget, name, key)
                else:
                    assert state[key][index] == pytest.approx(expected, rel=1e-9, abs=1e-6), (budget, name, key)
            if analysis.has_truth:
                assert state["true_incremental_revenue"][index] == pytest.approx(
                    result.true_incremental_revenue, rel=1e-12, abs=1e-9
                )
        assert shown["kpis"] == snapshot.kpi_markup(analysis, float(budget), cost), budget
        assert shown["table"] == snapshot.strategy_markup(analysis, float(budget), cost), budget
        sentence = html.unescape(re.sub(r"<[^>]+>", "", shown["sentence"]))
        assert sentence == executive_sentence(analysis, float(budget), cost), budget


def test_every_slider_position_matches_at_budget(logged_page, analysis, tmp_path):
    """Uniform cost: the browser's numbers are at_budget's, to the bit, at every ninth position and the ends."""
    page, log = logged_page
    open_snapshot(page, log, analysis, BUDGET, COST, tmp_path / "snapshot.html")
    positions = snapshot.budget_slider(analysis, BUDGET, COST).positions()
    # spends of $10,500 and $11,500 are exact ties in thousands: Python rounds them half to even ($10k and
    # $12k) where JavaScript's toFixed would round both up
    ties = np.array([10_500.0, 11_500.0])
    assert set(ties) <= set(positions)
    assert [format_money(spend) for spend in ties] == ["$10k", "$12k"]
    _sweep(page, analysis, np.unique(np.concatenate([positions[::9], positions[-2:], ties])), COST, exact=True)
    assert log.errors() == [] and log.external_requests() == []


def test_per_user_costs_match_at_budget(logged_page, per_user_cost_analysis, tmp_path):
    """Per-user costs: contacts go down the score-per-cost ranking until the spend would pass the budget."""
    page, log = logged_page
    analysis = per_user_cost_analysis
    open_snapshot(page, log, analysis, 1_500.0, None, tmp_path / "snapshot.html")
    positions = snapshot.budget_slider(analysis, 1_500.0, None).positions()
    _sweep(page, analysis, np.unique(np.concatenate([positions[::9], positions[-2:]])), None, exact=False)
    assert log.errors() == [] and log.external_requests() == []

"""The dashboard without a browser: build it, change the settings with ``param.update``, and check what the
page would show (KPI cards, the budget marker's Bokeh model) and what did *not* happen (no refit, no sort,
no redraw of the curves)."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest
from bokeh.document import Document
from bokeh.models import ColumnDataSource, GlyphRenderer, Span, VBar, Whisker

import uplift_studio.core.analysis as core_analysis
import uplift_studio.core.curve as core_curve
from tests.helpers import Counter
from uplift_studio.app import jobs as jobs_module
from uplift_studio.app import plots
from uplift_studio.app.dashboard import Dashboard
from uplift_studio.app.plots_comparison import INTERVAL_REACH
from uplift_studio.app.server import build_dashboard
from uplift_studio.app.state import DataSource, ModelChoice
from uplift_studio.core.contacts import CONTACT_COLUMNS
from uplift_studio.core.formats import format_money, format_roi, format_share
from uplift_studio.core.report import executive_sentence
from uplift_studio.core.strategies import STRATEGY_LABELS

ROOT = Path(__file__).resolve().parents[2]
COST = 2.0


def _render(dashboard: Dashboard):
    """The main area as Bokeh models in a document, as a browser session would have it."""
    document = Document()
    root = dashboard.main.get_root(document)
    document.add_root(root)
    return root


def _marker(dashboard: Dashboard, root) -> Span:
    """The Span drawn by the efficiency view: the budget marker, as rendered in this document."""
    spans = [model for model in root.references() if isinstance(model, Span)]
    marker = [span for span in dashboard.budget_refs.spans if span in spans]
    assert len(marker) == 1
    return marker[0]


def _card_value(dashboard: Dashboard, key: str) -> str:
    html = dashboard.cards_pane.object
    return html.split(f'id="kpi-{key}" data-field="{key}.value">', 1)[1].split("<", 1)[0]


@pytest.fixture
def counters(monkeypatch):
    """Count every expensive step a budget change must not take."""
    found = {}
    targets = [
        (core_analysis, "cross_fit_selected"),
        (core_analysis, "build_curve"),
        (jobs_module, "run_analysis"),
        (core_curve, "targeting_order"),
        (np, "argsort"),
        (np, "sort"),
        (np, "lexsort"),
        (np, "unique"),
        (plots, "efficiency_curve"),
        (plots, "decile_dominance"),
        (plots, "budget_frontier"),
        (plots, "persuadability_quadrants"),
    ]
    for module, name in targets:
        counter = Counter(getattr(module, name))
        monkeypatch.setattr(module, name, counter)
        found[f"{module.__name__}.{name}"] = counter
    return found


def test_builds_with_numbers_and_sentence(analysis):
    dashboard = build_dashboard(analysis, budget=3_000.0, cost_per_contact=COST)
    figures = plots.kpis(analysis, 3_000.0, COST)
    assert _card_value(dashboard, "roi") == format_roi(figures["roi"])
    assert _card_value(dashboard, "incremental_revenue") == format_money(figures["incremental_revenue"])
    assert _card_value(dashboard, "contacts") == "1,500"
    assert _card_value(dashboard, "oracle") == format_share(figures["share_of_oracle"])
    assert 'data-kpi="oracle" hidden' not in dashboard.cards_pane.object
    assert executive_sentence(analysis, 3_000.0, COST).split(",")[0] in dashboard.sentence_pane.object
    assert "Uplift model" in dashboard.table_pane.object
    assert dashboard.agreement_pane.visible


def test_budget_change_updates_numbers_and_marker_without_refit_sort_or_redraw(analysis, counters):
    dashboard = build_dashboard(analysis, budget=2_000.0, cost_per_contact=COST)
    root = _render(dashboard)
    marker = _marker(dashboard, root)
    curve_data = {id(source): dict(source.data) for source in root.references() if isinstance(source, ColumnDataSource)}
    assert marker.location == pytest.approx(1_000 / analysis.population)
    for counter in counters.values():
        counter.calls = 0
    before = _card_value(dashboard, "roi")

    for budget in (4_000.0, 5_000.0, 6_000.0):
        dashboard.param.update(budget=budget)
        assert marker.location == pytest.approx(budget / COST / analysis.population)
        figures = plots.kpis(analysis, budget, COST)
        assert _card_value(dashboard, "roi") == format_roi(figures["roi"])
        assert _card_value(dashboard, "contacts") == f"{int(budget / COST):,}"
    assert _card_value(dashboard, "roi") != before
    assert {name: counter.calls for name, counter in counters.items() if counter.calls} == {}
    # the curves' data were not recomputed or re-sent: the very same arrays are still in their sources
    curves = [s for s in root.references() if isinstance(s, ColumnDataSource) and "share_targeted" in s.data]
    assert len(curves) >= len(analysis.strategies)
    for source in curves:
        assert source.data["share_targeted"] is curve_data[id(source)]["share_targeted"]


def _comparison_figure(dashboard: Dashboard, root):
    figures = [figure for figure in dashboard.budget_refs.figures if figure in root.references()]
    assert len(figures) == 1
    return figures[0]


def _comparison_roi(dashboard: Dashboard, root) -> np.ndarray:
    """The bar heights the comparison view has sent to the page."""
    figure = _comparison_figure(dashboard, root)
    bars = [r for r in figure.renderers if isinstance(r, GlyphRenderer) and isinstance(r.glyph, VBar)]
    assert len(bars) == 1
    return np.asarray(bars[0].data_source.data[bars[0].glyph.top])


def test_comparison_follows_every_budget_tick_in_place_without_a_redraw(analysis):
    dashboard = build_dashboard(analysis, budget=2_000.0, cost_per_contact=COST)
    root = _render(dashboard)
    figure = _comparison_figure(dashboard, root)
    element = dashboard.comparison_pane.object
    np.testing.assert_allclose(_comparison_roi(dashboard, root), plots.strategy_table(analysis, 2_000.0, COST)["roi"])
    y_range = (figure.y_range.start, figure.y_range.end)
    for budget in (4_000.0, 600.0, 9_000.0):
        dashboard.budget_slider.value = budget  # a tick of a drag, as the browser sends it
        table = plots.strategy_table(analysis, budget, COST)
        np.testing.assert_allclose(_comparison_roi(dashboard, root), table["roi"])
        whisker = next(iter(figure.select({"type": Whisker})))
        np.testing.assert_allclose(whisker.source.data["lower"], table["roi_low"])
        np.testing.assert_allclose(whisker.source.data["upper"], table["roi_high"])
        assert format_money(budget) in figure.title.text
        # the same chart, patched: no new element, no new figure, and a fixed ROI axis that holds the bars
        assert dashboard.comparison_pane.object is element
        assert _comparison_figure(dashboard, root) is figure
        assert (figure.y_range.start, figure.y_range.end) == y_range
        inside = y_range[0] <= table["roi_low"].min() and table["roi_high"].max() <= y_range[1]
        if budget >= INTERVAL_REACH * analysis.max_budget(COST):
            assert inside  # the axis holds every interval of a budget that reaches a tenth of the campaign
        # below that the intervals of a few dozen users may run past the axis, and the title says so
        assert ("cut at axis" in figure.title.text) == (not inside)


def test_strategies_and_cost_redraw_only_their_views(analysis, counters):
    dashboard = build_dashboard(analysis, budget=2_000.0, cost_per_contact=COST)
    for counter in counters.values():
        counter.calls = 0
    dashboard.strategies = ["uplift", "probability"]
    assert counters["uplift_studio.app.plots.efficiency_curve"].calls == 1
    labels = {element.label for element in dashboard.efficiency_pane.object[()] if element.label}
    assert STRATEGY_LABELS["oracle"] not in labels
    dashboard.cost_per_contact = 4.0
    assert counters["uplift_studio.app.plots.budget_frontier"].calls == 2
    assert counters["uplift_studio.app.plots.persuadability_quadrants"].calls == 0
    assert _card_value(dashboard, "contacts") == "500"
    assert counters["uplift_studio.core.analysis.cross_fit_selected"].calls == 0


def test_zero_budget_reads_as_no_contacts(analysis):
    dashboard = build_dashboard(analysis, budget=0.0, cost_per_contact=COST)
    assert _card_value(dashboard, "contacts") == "0"
    assert _card_value(dashboard, "roi") == "n/a"
    assert dashboard.last_error == ""


def test_an_upload_is_read_not_validated_against_defaults_and_checked_in_the_apps_words(analysis):
    dashboard = build_dashboard(analysis, budget=3_000.0, cost_per_contact=COST)
    before = dashboard.cards_pane.object
    csv = b"group,bought,spend,age\n1,0,0,30\n0,1,20,41\n1,1,5,23\n0,0,0,50\n"
    dashboard.upload.value = {"campaign.csv": csv}
    # read, not validated: no error about a 'treatment' column the file was never written with
    assert dashboard.last_error == ""
    assert dashboard.data_step.outline.names == ["group", "bought", "spend", "age"]
    assert dashboard.data.param.treatment_column.objects == ["group", "bought", "spend", "age"]
    assert "campaign.csv" in dashboard.data_step.preview_pane.object
    # the guess fills the form from the file's own names; the analyst can change any role
    assert (dashboard.data.treatment_column, dashboard.data.conversion_column) == ("group", "bought")
    dashboard.data.conversion_column = "age"
    dashboard.data_step.param.trigger("check")
    message = dashboard.last_error
    assert message.startswith("campaign.csv: column 'age' (conversion)")
    assert "“Conversion column”" in message and "--" not in message and "/tmp" not in message
    assert dashboard.analysis is analysis and dashboard.cards_pane.object == before
    dashboard.last_error = ""
    dashboard.data.conversion_column = "bought"
    dashboard.data_step.param.trigger("check")
    assert dashboard.last_error == ""
    assert "4 users" in dashboard.data_step.checked_pane.object


def test_an_unreadable_upload_changes_nothing(analysis):
    dashboard = build_dashboard(analysis, budget=3_000.0, cost_per_contact=COST)
    source, form = dashboard.data.source, dashboard.data.treatment_column
    dashboard.upload.value = {"twice.csv": b"a,a,b\n1,2,3\n"}
    assert dashboard.last_error.startswith("twice.csv: column name(s) 'a' appear more than once")
    assert (dashboard.data.source, dashboard.data.treatment_column) == (source, form)
    assert dashboard.data.file_bytes is None and dashboard.data_step.outline is None


def test_an_empty_upload_says_so(analysis):
    dashboard = build_dashboard(analysis, budget=3_000.0, cost_per_contact=COST)
    dashboard.upload.value = {"empty.csv": ""}  # a text file arrives decoded
    assert "empty.csv: the file is empty" in dashboard.last_error


def test_a_valid_upload_becomes_the_data_source(analysis):
    dashboard = build_dashboard(analysis, budget=3_000.0, cost_per_contact=COST)
    rows = "".join(f"{i},{i % 2},{int(i % 3 == 0)},{(i % 3 == 0) * 10},{i % 7}\n" for i in range(40))
    dashboard.upload.value = {"good.csv": "user_id,treatment,converted,revenue,visits\n" + rows}
    assert dashboard.last_error == "" and dashboard.data.source == "file"


def test_unreadable_file_and_missing_upload_are_reported(analysis):
    dashboard = build_dashboard(analysis, budget=3_000.0, cost_per_contact=COST)
    dashboard.upload.value = {"campaign.xlsx": b"PK\x03\x04"}
    assert "unknown file type" in dashboard.last_error
    fresh = build_dashboard(analysis, data=DataSource(source="file"))
    fresh.param.trigger("fit")
    assert "no file uploaded yet" in fresh.last_error
    assert fresh.analysis is analysis


def test_contact_list_follows_the_budget_in_ranking_order(analysis):
    dashboard = build_dashboard(analysis, budget=3_001.0, cost_per_contact=COST)
    contacts = dashboard.contact_list()
    assert contacts.height == 1_500
    assert contacts["rank"].to_list() == list(range(1, 1_501))
    assert tuple(contacts.columns) == CONTACT_COLUMNS
    scores = contacts["score"].to_numpy()
    assert np.all(np.diff(scores) <= 0)
    assert contacts["cumulative_spend"][-1] == pytest.approx(3_000.0)
    assert contacts["user_id"].n_unique() == 1_500
    # the top users are the ones with the highest out-of-sample uplift score
    all_scores = analysis.scores.expected_incremental_revenue[analysis.scores.evaluation]
    assert scores[0] == pytest.approx(all_scores.max())
    text = dashboard.contact_file().getvalue()
    assert text.splitlines()[0] == ",".join(CONTACT_COLUMNS)
    assert len(text.splitlines()) == 1_501


def test_fit_is_shared_by_sessions_and_reports_progress(app_cache_dir, monkeypatch):
    runs = Counter(jobs_module.run_analysis)
    monkeypatch.setattr(jobs_module, "run_analysis", runs)
    data = {"users": 3_000, "seed": 21}
    model = {"n_estimators": 10, "folds": 2}
    first = Dashboard(data=DataSource(**data), model=ModelChoice(**model), budget=2_000.0)
    assert first.analysis is None
    job = first.start_fit(wait=True)
    assert first.analysis is not None and first.analysis.n_users == 3_000
    assert (job.done, job.total) == (2, 2)
    assert _card_value(first, "contacts") == "1,000"
    # another session on the same data and settings shows the same analysis at once, without a fit
    second = Dashboard(data=DataSource(**data), model=ModelChoice(**model), budget=2_000.0)
    assert second.analysis is first.analysis
    assert runs.calls == 1
    # other settings are another analysis
    third = Dashboard(data=DataSource(**data), model=ModelChoice(n_estimators=12, folds=2))
    assert third.analysis is None


def test_importing_launch_builds_the_page_and_fits_nothing(app_cache_dir, monkeypatch):
    runs = Counter(jobs_module.run_analysis)
    monkeypatch.setattr(jobs_module, "run_analysis", runs)
    namespace = runpy.run_path(str(ROOT / "launch.py"))
    assert runs.calls == 0
    assert "build_dashboard" in namespace


def test_strategy_table_html_has_every_strategy(analysis):
    dashboard = build_dashboard(analysis, budget=3_000.0, cost_per_contact=COST)
    html = dashboard.table_pane.object
    for name in analysis.strategies:
        assert STRATEGY_LABELS[name] in html
    assert "Truth" in html


def test_real_data_hides_the_truth(real_like_analysis):
    dashboard = build_dashboard(real_like_analysis, budget=3_000.0, cost_per_contact=COST)
    assert 'data-kpi="oracle" hidden' in dashboard.cards_pane.object
    assert not dashboard.agreement_pane.visible
    assert "Truth" not in dashboard.table_pane.object
    assert dashboard.param.strategies.objects == ["random", "probability", "uplift"]


def test_contact_list_needs_results():
    dashboard = Dashboard(data=DataSource(users=2_000, seed=99))
    assert dashboard.contact_file() is None
    assert "press Fit models" in dashboard.last_error


def test_progress_from_the_worker_reaches_the_bar(analysis):
    dashboard = build_dashboard(analysis)
    dashboard.progress.max = 1
    dashboard.show_progress(3, 5)  # a larger total arrives with a value above the old maximum
    assert (dashboard.progress.value, dashboard.progress.max) == (3, 5)
    assert "fold 3 of 5" in dashboard.status_pane.object


def test_snapshot_download_calls_the_snapshot_module(analysis, monkeypatch):
    snapshot = pytest.importorskip("uplift_studio.app.snapshot")
    calls = []

    def fake_snapshot(analysis_, budget, cost_per_contact, **options):
        calls.append((analysis_, budget, cost_per_contact))
        return "<html>snapshot</html>"

    monkeypatch.setattr(snapshot, "snapshot_html", fake_snapshot)
    dashboard = build_dashboard(analysis, budget=3_000.0, cost_per_contact=COST)
    assert dashboard.downloads[1].filename == "uplift_snapshot.html"
    assert dashboard.snapshot_file().getvalue() == "<html>snapshot</html>"
    assert calls == [(analysis, 3_000.0, COST)]


def test_the_tree_grid_widens_only_the_automatic_choice():
    assert ModelChoice(learner="auto", tree_grid=True).settings().model.tree_grid is True
    # ticked with another learner it changes nothing, so it makes no second fit or cache entry of the same model
    assert ModelChoice(learner="x", tree_grid=True).settings() == ModelChoice(learner="x").settings()
    import panel as pn

    # and the form greys the box out unless the learner is the automatic choice
    choice = ModelChoice()
    box = pn.Param(choice)._widgets["tree_grid"]
    assert box.disabled
    choice.learner = "auto"
    assert not box.disabled

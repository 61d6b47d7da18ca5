"""The app opened on an analysis file (``serve --analysis``): the numbers at once, no data, no fit, and the data
line saying where the results came from."""

from __future__ import annotations

import html
import urllib.request

import pytest

from tests.helpers import Counter
from uplift_studio.app import jobs as jobs_module
from uplift_studio.app.server import build_dashboard, opened_from_file, serve
from uplift_studio.core.analysis_file import read_analysis, write_analysis
from uplift_studio.core.formats import format_money

COST = 2.0


@pytest.fixture(scope="module")
def opened(analysis, tmp_path_factory):
    """The app conftest's small analysis, written to a file and read back as ``serve --analysis`` does."""
    path = tmp_path_factory.mktemp("opened") / "run.analysis"
    write_analysis(analysis, path)
    return read_analysis(path), path


@pytest.fixture
def no_fit(monkeypatch):
    """A fresh process's memory, and a counter on the one expensive step."""
    monkeypatch.setattr(jobs_module, "_JOBS", type(jobs_module._JOBS)())
    counter = Counter(jobs_module.run_analysis)
    monkeypatch.setattr(jobs_module, "run_analysis", counter)
    return counter


def _card_value(dashboard, key: str) -> str:
    html = dashboard.cards_pane.object
    return html.split(f'id="kpi-{key}" data-field="{key}.value">', 1)[1].split("<", 1)[0]


def test_the_dashboard_opens_an_analysis_file_without_data_or_a_fit(opened, no_fit):
    analysis, path = opened
    shown = opened_from_file(analysis, path)
    provided = jobs_module.provide_finished(shown, shown.source)  # what serve(analysis=...) sets up
    dashboard = build_dashboard(shown, experiment=provided, settings=shown.settings, budget=3_000.0)
    expected = analysis.at_budget(3_000.0, COST)["uplift"]
    assert _card_value(dashboard, "incremental_revenue") == format_money(expected.incremental_revenue)
    assert dashboard.current.uplift.incremental_revenue == expected.incremental_revenue
    assert "analysis read from run.analysis" in dashboard.source_pane.object
    assert dashboard.data.source == "provided"
    dashboard.param.update(budget=5_000.0)  # a budget tick reads the file's analysis
    assert dashboard.current.uplift == analysis.at_budget(5_000.0, COST)["uplift"]
    # "Fit models" on the file's data and settings finds them finished; the contact list needs no data
    dashboard.start_fit(wait=True)
    assert no_fit.calls == 0 and dashboard.last_error == ""
    assert dashboard.analysis is shown
    assert dashboard.contact_list().height == analysis.at_budget(5_000.0, COST)["uplift"].contacts
    # what needs the users' features says what to do, and keeps the results
    dashboard.explanation.param.trigger("explain")
    assert "opened without their data" in dashboard.explanation.last_error
    dashboard.model.n_estimators += 1  # other settings: a refit, which needs the data
    dashboard.start_fit(wait=True)
    assert "opened without their data" in dashboard.last_error and "serve --data FILE" in dashboard.last_error
    assert no_fit.calls == 0 and dashboard.analysis is shown


def test_serve_analysis_puts_the_numbers_in_the_first_page(opened, no_fit):
    import uuid

    import panel as pn
    from panel.tests.util import wait_until

    analysis, path = opened
    server_id = uuid.uuid4().hex
    thread = serve(
        analysis=analysis,
        analysis_file=path,
        budget=3_000.0,
        cost_per_contact=COST,
        port=0,
        address="127.0.0.1",
        threaded=True,
        server_id=server_id,
    )
    try:
        wait_until(lambda: server_id in pn.state._servers, timeout=30_000)
        server = pn.state._servers[server_id][0]
        urllib.request.urlopen(f"http://127.0.0.1:{server.port}/", timeout=60).read()
        (session,) = server._tornado.get_sessions("/")
        # Panel's HTML panes hold their markup escaped: read it as the browser would
        texts = [getattr(model, "text", None) for model in session.document.models]
        texts = [html.unescape(text) for text in texts if isinstance(text, str)]
    finally:
        thread.stop()
    revenue = format_money(analysis.at_budget(3_000.0, COST)["uplift"].incremental_revenue)
    assert any(f'id="kpi-incremental_revenue" data-field="incremental_revenue.value">{revenue}<' in t for t in texts)
    assert any("analysis read from run.analysis" in text for text in texts)
    assert no_fit.calls == 0


def test_serve_takes_data_or_an_analysis_not_both(opened, small_experiment):
    with pytest.raises(ValueError, match="not both"):
        serve(small_experiment, analysis=opened[0], threaded=True, port=0)


def test_a_per_user_cost_contact_list_without_the_data_says_what_to_do(small_experiment, tmp_path, no_fit):
    import numpy as np

    from tests.app.conftest import SMALL_MODEL
    from uplift_studio.core.analysis import AnalysisSettings, run_analysis
    from uplift_studio.core.data import ColumnMap, from_frame

    costs = np.random.default_rng(5).uniform(0.5, 5.0, small_experiment.n_users)
    frame = small_experiment.frame.with_columns(cost=costs)
    costed = from_frame(frame, ColumnMap(cost="cost"), source="costed", revenue_per_conversion=None)
    path = tmp_path / "costed.analysis"
    write_analysis(run_analysis(costed, AnalysisSettings(model=SMALL_MODEL)), path)
    shown = opened_from_file(read_analysis(path), path)
    provided = jobs_module.provide_finished(shown, shown.source)
    dashboard = build_dashboard(shown, experiment=provided, settings=shown.settings, budget=3_000.0)
    assert dashboard.contact_file() is None  # the download fails with a notice, not a traceback
    assert "own contact costs" in dashboard.last_error and "serve --data FILE" in dashboard.last_error

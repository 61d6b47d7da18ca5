"""A session Bokeh creates from a websocket (its page's session expired before the browser connected, as
under load) loads its style sheets from this server, like a session created with its page."""

from __future__ import annotations

from bokeh.client import pull_session
from bokeh.models import ImportedStyleSheet

from tests.app.conftest import SMALL_MODEL
from tests.helpers import serve_in_thread
from uplift_studio.core.analysis import AnalysisSettings


def test_a_session_made_by_a_websocket_loads_no_style_sheet_from_the_internet(app_cache_dir, small_experiment):
    server, stop = serve_in_thread(small_experiment, AnalysisSettings(model=SMALL_MODEL), budget=3_000.0)
    try:
        # pull_session opens a session by websocket alone: no page was rendered for it
        with pull_session(url=f"http://127.0.0.1:{server.port}/") as session:
            urls = {
                model.url
                for root in session.document.roots
                for model in root.references()
                if isinstance(model, ImportedStyleSheet)
            }
    finally:
        stop()
    assert urls, "the document holds no style sheet at all"
    assert [url for url in urls if "://" in url] == []
    assert any("static/extensions/panel/" in url for url in urls)

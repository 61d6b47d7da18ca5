"""A second launch on the same data reads the disk cache and sends the numbers in the very first page."""

from __future__ import annotations

import urllib.request

from tests.helpers import serve_in_thread
from uplift_studio.app import jobs as jobs_module
from uplift_studio.core.analysis import AnalysisSettings, is_cached, run_analysis
from uplift_studio.core.settings import ModelSettings
from uplift_studio.core.simulate import simulate_campaign


def test_warm_disk_cache_puts_the_headline_in_the_first_page(monkeypatch):
    campaign = simulate_campaign(4_000, seed=17)
    settings = AnalysisSettings(model=ModelSettings(n_estimators=15, folds=2, n_jobs=1))
    run_analysis(campaign, settings)  # an earlier launch filled the disk cache
    assert is_cached(campaign, settings)
    monkeypatch.setattr(jobs_module, "_JOBS", type(jobs_module._JOBS)())  # a fresh process's memory
    server, stop = serve_in_thread(campaign, settings, budget=1_000.0)
    try:
        # The GET creates the session; the document it builds is what the browser pulls first on connecting.
        urllib.request.urlopen(f"http://127.0.0.1:{server.port}/", timeout=60).read()
        (session,) = server._tornado.get_sessions("/")
        texts = [model.text for model in session.document.models if isinstance(getattr(model, "text", None), str)]
    finally:
        stop()
    # the executive sentence is in the session's first document, not in an update that follows a fit
    assert any("Contacting the 500 customers" in text for text in texts)
    assert not any("Fit models</b> to analyse" in text or "Fit models&lt;/b&gt; to analyse" in text for text in texts)

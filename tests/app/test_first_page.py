"""A session's first page is built without HoloViews and without the sidebar's data and model settings; both
follow once the page has loaded (see app/deferred.py, panes.ViewSlot and panes.complete_on_load)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import urllib.request

import holoviews as hv
import panel as pn

from tests.helpers import serve_in_thread
from uplift_studio.app import jobs as jobs_module
from uplift_studio.app.panes import ViewSlot
from uplift_studio.core.analysis import AnalysisSettings, run_analysis
from uplift_studio.core.settings import ModelSettings
from uplift_studio.core.simulate import simulate_campaign

FRESH_PROCESS = textwrap.dedent(
    """
    import sys
    import panel as pn
    from uplift_studio.app.server import build_dashboard
    from uplift_studio.core.analysis import AnalysisSettings, run_analysis
    from uplift_studio.core.settings import ModelSettings
    from uplift_studio.core.simulate import simulate_campaign

    assert "holoviews" not in sys.modules, "the app's import pulled in HoloViews"
    assert "uplift_studio.app.plots" not in sys.modules
    settings = AnalysisSettings(model=ModelSettings(n_estimators=10, folds=2, n_jobs=1))
    analysis = run_analysis(simulate_campaign(2_000, seed=3), settings, use_cache=False)
    # Panel's extension runs first, as in a served session, and HoloViews is imported by the views' drawing
    dashboard = build_dashboard(analysis)
    assert "holoviews" in sys.modules
    assert dashboard.last_error == "", dashboard.last_error
    assert dashboard.comparison_pane.object is not None and dashboard.efficiency_pane.object is not None
    print("drawn")
    """
)


def test_the_app_imports_holoviews_only_to_draw_and_then_draws_every_view():
    # a fresh interpreter: this test process has long imported HoloViews, which hid a missing option builder
    # (hv.opts.Bars failed in a real server when HoloViews came after Panel's extension)
    result = subprocess.run([sys.executable, "-c", FRESH_PROCESS], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("drawn")


def test_a_view_slot_makes_its_pane_with_the_first_view():
    slot = ViewSlot(sizing_mode="stretch_width", min_width=380)
    row = slot.__panel__()
    slot.object = None  # clearing an empty slot makes nothing
    assert row.objects == [] and slot.object is None
    slot.visible = False
    assert not row.visible and not slot.visible
    view = hv.Curve([(0, 1), (1, 2)])
    slot.object = view
    (pane,) = row.objects
    assert isinstance(pane, pn.pane.HoloViews) and pane.object is view and pane.min_width == 380
    slot.object = None  # a drawn slot is cleared through its pane
    assert pane.object is None and row.objects == [pane]


def test_the_first_page_holds_the_numbers_and_economics_but_no_plot_and_no_data_settings(monkeypatch):
    campaign = simulate_campaign(4_000, seed=19)
    settings = AnalysisSettings(model=ModelSettings(n_estimators=15, folds=2, n_jobs=1))
    run_analysis(campaign, settings)  # a warm disk cache: the numbers are in the first page
    monkeypatch.setattr(jobs_module, "_JOBS", type(jobs_module._JOBS)())
    server, stop = serve_in_thread(campaign, settings, budget=1_000.0)
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{server.port}/", timeout=60).read()
        (session,) = server._tornado.get_sessions("/")
        kinds = {type(model).__name__ for model in session.document.models}
        texts = [model.text for model in session.document.models if isinstance(getattr(model, "text", None), str)]
        labels = {getattr(model, "title", None) for model in session.document.models}
    finally:
        stop()
    assert any("Contacting the 500 customers" in text for text in texts)
    assert any("scored out of sample" in text for text in texts)  # the data line comes with the numbers
    assert "Budget ($)" in labels and "Cost per contact ($)" in labels  # the economics are in it
    # no plot and no upload, column or model setting: they follow once the page has loaded
    assert "Figure" not in kinds and "FileDropper" not in kinds and "Seed" not in labels

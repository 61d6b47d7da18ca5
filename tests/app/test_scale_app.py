"""The app on a streaming (or Dask) engine's analysis: the budget views read its bin-table paths; the views that
need each user's scores are left out, and the contact list says where to make it."""

from __future__ import annotations

import pytest

from uplift_studio.app import jobs as jobs_module
from uplift_studio.app.server import build_dashboard, opened_from_file
from uplift_studio.core.analysis_file import read_analysis, write_analysis
from uplift_studio.core.batches import FrameSource
from uplift_studio.core.data import ColumnMap
from uplift_studio.core.engine import EngineSettings
from uplift_studio.core.errors import DataError
from uplift_studio.core.formats import format_money
from uplift_studio.core.settings import ModelSettings
from uplift_studio.core.simulate import simulate_campaign
from uplift_studio.core.streaming import plan_for, run_streaming

pytestmark = pytest.mark.scale
COST = 2.0


@pytest.fixture(scope="module")
def streamed(tmp_path_factory):
    source = FrameSource(simulate_campaign(4_000, seed=8).frame)
    result = run_streaming(
        source,
        plan_for(source, ColumnMap()),
        ModelSettings(n_estimators=10, folds=3, n_jobs=1),
        EngineSettings(sample_size=2_000, batch_size=2_000),
    )
    path = tmp_path_factory.mktemp("scale_app") / "streamed.analysis"
    write_analysis(result, path)
    return read_analysis(path), path


def test_the_app_opens_a_bin_table_analysis(streamed, monkeypatch):
    monkeypatch.setattr(jobs_module, "_JOBS", type(jobs_module._JOBS)())
    result, path = streamed
    shown = opened_from_file(result, path)
    provided = jobs_module.provide_finished(shown, shown.source)
    dashboard = build_dashboard(shown, experiment=provided, settings=shown.settings, budget=2_000.0)
    expected = result.at_budget(2_000.0, COST)["uplift"]
    assert dashboard.current.uplift == expected
    assert format_money(expected.incremental_revenue) in dashboard.cards_pane.object
    dashboard.param.update(budget=3_000.0)
    assert dashboard.current.uplift == result.at_budget(3_000.0, COST)["uplift"]
    dashboard._draw_views()
    assert not dashboard.quadrants_pane.visible and not dashboard.calibration_pane.visible
    assert dashboard.efficiency_pane.object is not None and dashboard.deciles_pane.object is not None
    assert "streamed.analysis" in dashboard.source_pane.object
    assert "come with the local engine" in dashboard.source_pane.object  # says what is left out, and why
    with pytest.raises(DataError, match="targets --data FILE"):
        dashboard.contact_list()

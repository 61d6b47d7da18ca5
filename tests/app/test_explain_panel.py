"""The app's explanation view: built on request, then following the released budget."""

from __future__ import annotations

import param

from uplift_studio.app.server import build_dashboard


def test_the_explanation_follows_the_released_budget(analysis, small_experiment):
    dashboard = build_dashboard(analysis, experiment=small_experiment, budget=3_000.0, cost_per_contact=2.0)
    view = dashboard.explanation
    assert view.analysis is analysis and "Press" in view.text.object
    view.param.trigger("explain")
    assert view.last_error == ""
    assert "A rule a person can apply" in view.text.object and "$3,000 budget" in view.text.object
    assert view.drivers.object is not None and view.check.object is not None
    with param.edit_constant(dashboard.budget_slider):
        dashboard.budget_slider.value_throttled = 6_000.0  # what the browser sends on release
    assert view.budget == 6_000.0 and "$6,000 budget" in view.text.object


def test_explaining_before_any_results_says_so(small_experiment):
    from uplift_studio.app.explain_panel import ExplanationView

    view = ExplanationView()
    view.param.trigger("explain")
    assert "Fit models first" in view.last_error

"""The explanation's views: the drivers' bars, each driver's check, and the words of profiles and rule."""

from __future__ import annotations

import dataclasses

import holoviews as hv
import numpy as np
import pytest

from uplift_studio.app import explain_views
from uplift_studio.core.crossfit import fit_final
from uplift_studio.core.explain import explain


@pytest.fixture(scope="module")
def explanation(analysis, small_experiment):
    learner = fit_final(small_experiment, analysis.settings.model)
    return explain(analysis, small_experiment, 3_000.0, 2.0, learner)


def test_drivers_chart_holds_the_ranking(explanation):
    bars = explain_views.drivers_chart(explanation)
    assert isinstance(bars, hv.Bars)
    shown = list(bars.dimension_values("feature"))[::-1]
    assert shown == explanation.ranking["feature"].head(len(shown)).to_list()
    np.testing.assert_allclose(
        bars.dimension_values("importance")[::-1], explanation.ranking["importance"].head(len(shown)).to_numpy()
    )


def test_driver_check_draws_observed_and_predicted(explanation):
    driver = explanation.drivers[0]
    overlay = explain_views.driver_check(driver)
    observed, predicted = [element for element in overlay if isinstance(element, hv.Scatter)]
    np.testing.assert_allclose(observed.dimension_values("uplift"), [b.observed_uplift for b in driver.bins])
    np.testing.assert_allclose(predicted.dimension_values("uplift"), [b.predicted_uplift for b in driver.bins])


def test_explanation_html_states_profiles_rule_and_values(explanation):
    page = explain_views.explanation_html(explanation)
    assert explanation.profiles[0].sentence.split(" (")[0] in page
    assert page.count("users)</li>") == 4
    hostile = dataclasses.replace(
        explanation.binned, names=("<img src=x onerror=alert(1)>",) * len(explanation.binned.names)
    )
    page = explain_views.explanation_html(dataclasses.replace(explanation, binned=hostile))
    assert "<img" not in page and "&lt;img" in page


def test_the_snapshot_carries_the_explanation_section(analysis, explanation):
    from uplift_studio.app import snapshot

    page = snapshot.snapshot_html(analysis, 3_000.0, 2.0, explanation=explanation)
    assert "Who the persuadables are" in page and "A rule a person can apply" in page
    assert "Who the persuadables are" not in snapshot.snapshot_html(analysis, 3_000.0, 2.0)

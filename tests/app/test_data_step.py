"""The data step, the readout and the budget range without a browser: what an analyst with their own file sees
before and after the fit."""

from __future__ import annotations

import polars as pl
import pytest

from tests.app.conftest import SMALL_MODEL
from uplift_studio.app.budget_controls import SLIDER_STEPS, nice_step
from uplift_studio.app.server import build_dashboard
from uplift_studio.core.analysis import AnalysisSettings
from uplift_studio.core.examples import example
from uplift_studio.core.formats import format_money
from uplift_studio.core.mapping import labels, suggest

COST = 2.0


@pytest.fixture(scope="module")
def hillstrom_frame() -> pl.DataFrame:
    return pl.read_csv(example("hillstrom").path.read_bytes(), infer_schema_length=None)


def test_the_guess_reads_hillstrom_from_its_own_names_and_labels(hillstrom_frame):
    guess = suggest(hillstrom_frame)
    assert (guess.treatment, guess.conversion, guess.revenue, guess.id) == ("segment", "conversion", "spend", None)
    assert guess.control_value == "No E-Mail" and guess.treated_value in {"Womens E-Mail", "Mens E-Mail"}
    assert guess.exclude == ("visit",)  # an outcome measured after the e-mail is offered as "not a feature"
    assert labels(hillstrom_frame, "segment") == ("Womens E-Mail", "Mens E-Mail", "No E-Mail")  # by frequency
    assert labels(hillstrom_frame, "history") == ()  # a number with thousands of values is no arm


def test_canonical_names_win_over_lookalikes():
    frame = pl.DataFrame(
        {"user_id": [1, 2, 3, 4], "group": [0, 1, 0, 1], "treatment": [1, 0, 1, 0], "converted": [0, 1, 0, 0]}
    )
    assert suggest(frame).treatment == "treatment"
    assert suggest(frame).id == "user_id"


@pytest.mark.parametrize(
    ("amount", "step"), [(21.35, 50.0), (60.0, 100.0), (0.004, 0.01), (1_500.0, 2_000.0), (100.0, 100.0)]
)
def test_nice_steps_are_one_two_or_five_times_a_power_of_ten(amount, step):
    assert nice_step(amount) == step


def test_the_slider_spans_the_cost_of_contacting_everyone(analysis):
    dashboard = build_dashboard(analysis, budget=3_000.0, cost_per_contact=COST)
    full = analysis.population * COST
    assert dashboard.budget_slider.end == full
    assert full / SLIDER_STEPS <= dashboard.budget_slider.step < 2.5 * full / SLIDER_STEPS
    dashboard.cost_per_contact = 0.1  # the range follows the cost
    assert dashboard.budget_slider.end == pytest.approx(analysis.population * 0.1, abs=0.005)


def test_a_budget_beyond_the_range_is_clamped_with_a_notice(analysis, monkeypatch):
    dashboard = build_dashboard(analysis, budget=3_000.0, cost_per_contact=COST)
    said = []
    monkeypatch.setattr(dashboard, "notify_info", said.append)
    dashboard.budget = 10 * analysis.population * COST
    assert dashboard.budget == analysis.population * COST
    assert said and "set to " + format_money(analysis.population * COST) in said[0]
    assert "contacts all 6,000 users" in dashboard.economics_note.object


def test_a_losing_budget_is_said_and_the_break_even_budget_offered(analysis):
    dashboard = build_dashboard(analysis, budget=3_000.0, cost_per_contact=COST)
    dashboard.cost_per_contact = 20.0  # every contact now costs more than it brings
    dashboard.budget = 50_000.0
    note = dashboard.economics_note.object
    assert "loses money" in note and dashboard.current.uplift.net < 0
    break_even = analysis.break_even_budget("uplift", 20.0)
    if break_even > 0:
        assert format_money(break_even) in note and dashboard.break_even_button.visible
        dashboard.break_even_button.clicks += 1
        assert dashboard.budget == break_even
    else:
        assert "No budget makes money" in note and not dashboard.break_even_button.visible


def test_the_readout_shows_each_arm_the_effects_and_the_ranking_scores(analysis, small_experiment):
    dashboard = build_dashboard(analysis, experiment=small_experiment, budget=3_000.0, cost_per_contact=COST)
    dashboard._apply(analysis, small_experiment)
    html = dashboard.readout_pane.object
    treated = small_experiment.converted[small_experiment.treatment == 1].mean()
    control = small_experiment.converted[small_experiment.treatment == 0].mean()
    assert f'<span class="value">{treated:.4%}</span>' in html and f'<span class="value">{control:.4%}</span>' in html
    assert "p-value" in html and "Sample ratio" in html and "Uplift model" in html
    qini = analysis.metrics["uplift"]
    assert f"{qini['qini_coefficient']:+.4f}" in html and f"{qini['qini_ci_low']:+.4f}" in html


def test_hillstrom_through_the_data_step_fits_and_reads_out(app_cache_dir):
    dashboard = build_dashboard(
        settings=AnalysisSettings(model=SMALL_MODEL), autofit=False, budget=2_000.0, cost_per_contact=0.1
    )
    dashboard.use_example("hillstrom")
    assert dashboard.last_error == "" and dashboard.data.source == "file"
    dashboard.data_step.param.trigger("check")
    assert dashboard.last_error == ""
    assert "42,693 users" in dashboard.data_step.checked_pane.object
    assert "Press <b>Fit models</b>" in dashboard.data_step.checked_pane.object
    dashboard.start_fit(wait=True)
    assert dashboard.last_error == "" and dashboard.analysis.n_users == 42_693
    # the summary no longer asks for the fit it has had
    checked = dashboard.data_step.checked_pane.object
    assert "42,693 users" in checked and "Fit models" not in checked and "models are fitted" in checked
    assert dashboard.budget_slider.end == pytest.approx(4_269.30, abs=0.005)
    html = dashboard.readout_pane.object
    assert "0.8837%" in html and "0.5726%" in html and "Womens E-Mail" in html
    assert "oracle" not in dashboard.param.strategies.objects
    contacts = dashboard.contact_list()
    assert contacts.height == dashboard.current.uplift.contacts == 20_000
    assert contacts["user_id"].max() <= 64_000


def test_hostile_names_reach_the_preview_escaped():
    dashboard = build_dashboard(autofit=False)
    hostile = '<img src=x onerror="window.__pwned=1">'
    csv = f'user_id,"arm{hostile}",converted\n1,a,0\n2,b,1\n'.encode()
    dashboard.upload.value = {f"{hostile}.csv": csv}
    assert dashboard.last_error == ""
    preview = dashboard.data_step.preview_pane.object
    assert "<img" not in preview and "&lt;img src=x" in preview

"""The app and the snapshot with several offers (issue 12, item 6), without a browser: the offers view reads
the analysis at each budget (KPIs and mix equal to ``at_budget`` / ``mix_at_budget``, no refit), the data
step's "Several offers" fits an offer analysis in the shared worker, hostile labels stay text, and the
snapshot's embedded slider states hold the mix the analysis gives."""

from __future__ import annotations

import html
import io
import re

import markupsafe
import numpy as np
import pytest

from uplift_studio.app.offers_snapshot import offer_slider_states, offer_snapshot_layout, write_offer_snapshot
from uplift_studio.app.offers_state import budget_top
from uplift_studio.app.offers_view import OffersView
from uplift_studio.core import offers_models
from uplift_studio.core.formats import format_count, format_money
from uplift_studio.core.offers_analysis import run_offer_analysis
from uplift_studio.core.settings import ModelSettings
from uplift_studio.core.simulate_offers import simulate_offer_campaign, simulated_offers

TINY = ModelSettings(n_estimators=8, folds=2, n_jobs=2)
BUDGETS = (300.0, 900.0)


@pytest.fixture(scope="module")
def offer_analysis():
    return run_offer_analysis(simulated_offers(2_000, seed=4), TINY)


@pytest.fixture
def count_fits(monkeypatch):
    calls = []
    original = offers_models.cross_fit_offers

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr("uplift_studio.core.offers_analysis.cross_fit_offers", counted)
    return calls


def _card(markup: str, key: str) -> str:
    found = re.search(rf'id="offer-kpi-{key}" data-field="offers\.{key}\.value">([^<]*)<', markup)
    assert found, f"no {key} card"
    return html.unescape(found.group(1))


def _mix(markup: str, offers) -> dict[str, str]:
    return {
        offer: html.unescape(re.search(rf'data-field="offers\.mix\.{i}\.count">([^<]*)<', markup).group(1))
        for i, offer in enumerate(offers)
    }


def test_the_view_shows_the_analysis_at_each_budget_without_a_refit(offer_analysis, count_fits):
    view = OffersView(analysis=offer_analysis, budget=BUDGETS[0])
    mixes = []
    for budget in BUDGETS:
        view.budget = budget
        expected = offer_analysis.at_budget(budget)["allocation"]
        cards = view.cards_pane.object
        assert _card(cards, "incremental_revenue") == format_money(expected.incremental_revenue)
        assert _card(cards, "spend") == format_money(expected.spend)
        assert f"95% interval {format_money(expected.ci_low)} to {format_money(expected.ci_high)}" in cards
        difference = offer_analysis.difference_vs_best_offer(budget)
        assert view.current.difference_estimate == pytest.approx(difference.estimate)
        assert view.current.best_offer == difference.versus
        mix = offer_analysis.mix_at_budget(budget)
        assert view.current.mix == mix
        assert _mix(view.mix_pane.object, offer_analysis.offers) == {o: format_count(n) for o, n in mix.items()}
        mixes.append(mix)
    assert mixes[0] != mixes[1], "a larger budget must send more offers"
    assert count_fits == [], "a budget change refitted the models"
    # the marker is a Span moved in place, not a redrawn plot
    assert view.curve_pane.object is not None


def test_the_curve_has_the_allocation_each_offer_and_the_random_offer(offer_analysis):
    from uplift_studio.app.plots_offers import offer_curves

    overlay = offer_curves(offer_analysis)
    labels = [element.label for element in overlay]
    assert labels[1:-1] == [
        "Allocation (who gets which)",
        *(f"{offer} alone" for offer in offer_analysis.offers),
        "Random offer",
    ]
    allocation = overlay.get(1)  # after the band; the zero line is last
    spend = allocation.dimension_values(0)
    assert spend[0] == 0 and np.all(np.diff(spend) > 0) and spend.max() <= budget_top(offer_analysis) + 0.01


def test_several_offers_in_the_data_step_fit_an_offer_analysis_and_follow_the_budget(app_cache_dir, count_fits):
    from uplift_studio.app.server import build_dashboard
    from uplift_studio.core.analysis import AnalysisSettings

    frame, _ = simulate_offer_campaign(1_500, 9)
    hostile = '<img src=x onerror="alert(1)">'
    frame = frame.with_columns(frame["offer"].replace("Letter", hostile))
    content = io.BytesIO()
    frame.write_csv(content)
    dashboard = build_dashboard(settings=AnalysisSettings(model=TINY), budget=400.0, autofit=False)
    dashboard.data_step.load(content.getvalue(), "offers.csv")
    dashboard.data.source = "file"
    dashboard.data.param.update(treatment_column="offer", control_value="No offer")
    offers = dashboard.offers
    assert set(offers.choice.offers) == {"E-mail", "Discount", hostile}, "every non-control label by default"
    assert html.escape(hostile) in offers.offers_widget.options, "the MultiChoice shows the label as text"
    offers.choice.several = True
    offers.set_costs({"E-mail": 0.1, hostile: 0.6, "Discount": 0.5}, {"Discount": 10.0})
    assert len(offers.costs.objects) == 3
    dashboard.start_fit(wait=True)
    assert dashboard.last_error == ""
    analysis = offers.analysis
    assert analysis is not None and len(count_fits) == 1
    assert not dashboard.results.visible and offers.view_panel.visible
    assert dashboard.budget_slider.end == pytest.approx(budget_top(analysis))
    rendered = offers.view.mix_pane.object + offers.view.table_pane.object + offers.view.source_pane.object
    assert hostile not in rendered
    assert str(markupsafe.escape(hostile)) in rendered, "the label is shown, as text"
    for budget in BUDGETS:
        dashboard.budget = budget
        assert offers.view.current.mix == analysis.mix_at_budget(budget)
    assert len(count_fits) == 1, "a budget change refitted the models"
    # unticked: one offer against control again, and the offers view steps aside
    offers.choice.several = False
    dashboard.data.treated_value = "E-mail"
    dashboard.start_fit(wait=True)
    assert dashboard.last_error == "" and dashboard.analysis is not None
    assert dashboard.results.visible and not offers.view_panel.visible and dashboard.cost_input.visible


def test_an_offer_experiment_given_to_the_app_opens_on_its_offer_analysis(app_cache_dir, count_fits):
    """``serve --data FILE --arms ...`` hands the app a finished OfferExperiment (no upload, no form): the
    session fits it in the shared worker and opens on the offers view, which follows the budget."""
    from uplift_studio.app.jobs import Provided
    from uplift_studio.app.server import build_dashboard
    from uplift_studio.core.analysis import AnalysisSettings

    experiment = simulated_offers(1_500, 5, contact_cost={"E-mail": 0.1, "Letter": 0.7, "Discount": 0.4})
    dashboard = build_dashboard(experiment=Provided(experiment), settings=AnalysisSettings(model=TINY), budget=300.0)
    dashboard.start_fit(wait=True)
    assert dashboard.last_error == ""
    analysis = dashboard.offers.analysis
    assert analysis is not None and analysis.offers == experiment.offers and len(count_fits) == 1
    assert dashboard.analysis is None and not dashboard.results.visible and dashboard.offers.view_panel.visible
    for budget in BUDGETS:
        dashboard.budget = budget
        expected = analysis.at_budget(budget)["allocation"]
        assert _card(dashboard.offers.view.cards_pane.object, "spend") == format_money(expected.spend)
    # another session of the same process reads the same finished analysis
    again = build_dashboard(experiment=Provided(experiment), settings=AnalysisSettings(model=TINY), budget=300.0)
    again.start_fit(wait=True)
    assert again.offers.analysis is not None and len(count_fits) == 1


def test_the_snapshot_embeds_the_mix_at_each_slider_position(offer_analysis, tmp_path):
    states = offer_slider_states(offer_analysis, np.array(BUDGETS))
    for position, budget in enumerate(BUDGETS):
        mix = offer_analysis.mix_at_budget(budget)
        fields = states.fields(position)
        for index, (offer, count) in enumerate(mix.items()):
            assert fields[f"offers.mix.{index}.count"] == format_count(count), offer
        total = sum(mix.values())
        first = next(iter(mix.values()))
        assert states.columns["bar:offers.mix.0"][position] == pytest.approx(100 * first / total, abs=0.01)
        expected = offer_analysis.at_budget(budget)["allocation"]
        assert fields["offers.incremental_revenue.value"] == format_money(expected.incremental_revenue)

    path = write_offer_snapshot(offer_analysis, tmp_path / "offers.html", BUDGETS[0])
    page = path.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]*\bsrc=", page) and not re.search(r"<link\b", page), "it loads nothing"
    # the states the page's slider reads, from the snapshot's own models: every position's mix
    layout = offer_snapshot_layout(offer_analysis, BUDGETS[0])
    (callback,) = layout.select_one({"name": "budget_slider"}).js_property_callbacks["change:value"]
    positions, texts = callback.args["positions"].data, callback.args["texts"].data["text"]
    assert {"snapshot_offer_kpis", "snapshot_offer_mix", "snapshot_offer_table"} <= {
        div.name for div in callback.args["divs"]
    }
    budgets = np.asarray(positions["budget"])
    for budget in BUDGETS:
        row = int(np.argmin(np.abs(budgets - budget)))
        assert budgets[row] == budget, "the slider reaches the budget"
        for index, count in enumerate(offer_analysis.mix_at_budget(budget).values()):
            assert texts[int(positions[f"text:offers.mix.{index}.count"][row])] == format_count(count)
        assert positions["marker:snapshot_offer_marker"][row] == budget


def test_the_view_downloads_the_contact_list_and_the_snapshot(offer_analysis):
    from uplift_studio.core.offers_analysis import allocation_targets

    view = OffersView(analysis=offer_analysis, budget=BUDGETS[0])
    listed = view.contact_list()
    scores = offer_analysis.scores
    rows = scores.evaluation
    expected = allocation_targets(
        scores.user_id[rows], scores.eir[rows], scores.cost[rows], offer_analysis.offers, BUDGETS[0]
    )
    assert listed.equals(expected)
    assert listed["cumulative_spend"].max() <= BUDGETS[0]
    assert "snapshot_offer_mix" in view.snapshot_file().getvalue()

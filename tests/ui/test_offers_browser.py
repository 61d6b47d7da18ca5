"""Several offers in a real browser (issue 12): Hillstrom's bundled example with both e-mails at their own
costs, fitted from the data step, and the mix of offers following the budget."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.helpers import serve_in_thread
from tests.ui import driver
from uplift_studio.core.analysis import AnalysisSettings
from uplift_studio.core.formats import format_count, format_money
from uplift_studio.core.settings import ModelSettings
from uplift_studio.core.simulate import simulate_campaign

pytestmark = pytest.mark.ui

SETTINGS = AnalysisSettings(model=ModelSettings(n_estimators=20, folds=3, n_jobs=2))
OFFERS = ("Mens E-Mail", "Womens E-Mail")
MONEY = re.compile(r"^-?\$[\d,.]+[kM]?$")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    with driver.private_cache(tmp_path_factory.mktemp("offers_cache")):
        server, stop = serve_in_thread(simulate_campaign(6_000, seed=8), SETTINGS, budget=3_000.0)
        try:
            yield f"http://127.0.0.1:{server.port}/"
        finally:
            stop()


def _mix(page) -> dict[str, str]:
    rows = page.locator(".offer-mix-row")
    return {
        rows.nth(i).locator(".offer-mix-label").inner_text(): rows.nth(i).locator(".offer-mix-count").inner_text()
        for i in range(rows.count())
    }


def _cli_analysis():
    from uplift_studio.cli import build_parser
    from uplift_studio.cli_offers import offer_experiment_from_args
    from uplift_studio.core.offers_analysis import run_offer_analysis

    costs = "Mens E-Mail=0.10,Womens E-Mail=0.12"
    args = build_parser().parse_args(["report", "--data", "example:hillstrom", "--arm-cost", costs])
    return run_offer_analysis(offer_experiment_from_args(args), SETTINGS.model)


def _set_budget(page, budget: float) -> None:
    field = driver.budget_input(page)
    field.fill(f"{budget:g}")
    field.press("Enter")
    # the spend card names the budget it was computed for: the server's answer, not the typed text
    expect(page.locator("[data-field='offers.spend.detail']")).to_have_text(
        f"of a ${budget:,.0f} budget", timeout=driver.ANSWER_TIMEOUT_MS
    )


def test_hillstrom_with_both_e_mails_fits_and_the_mix_follows_the_budget(app_url, logged_page, artifacts_dir):
    page, log = logged_page
    driver.open_app(page, app_url)
    page.get_by_role("button", name="Or try a real experiment: Hillstrom's e-mails").click()
    driver.toast(page, "success", "64,000 rows read")
    page.locator(".field-several_offers input[type=checkbox]").check()
    chosen = page.locator(".field-offers .choices__list--multiple .choices__item")
    expect(chosen).to_have_count(2)
    for offer in OFFERS:
        # "Womens E-Mail" holds "mens E-Mail": matched from the start of the item's text
        expect(chosen.filter(has_text=re.compile(rf"^{re.escape(offer)}"))).to_have_count(1)
    for offer, cost in zip(OFFERS, (0.10, 0.12), strict=True):
        field = page.get_by_role("textbox", name=f"{offer}: cost per contact ($)", exact=True)
        field.fill(f"{cost:g}")
        field.press("Enter")
    # the costs as the server holds them: a fit pressed before they arrive would use the old ones
    expect(page.locator(".offer-costs-summary")).to_contain_text("Mens E-Mail $0.10; Womens E-Mail $0.12")
    driver.press_fit(page)
    expect(page.locator(".offers-source").first).to_contain_text("hillstrom.csv.gz", timeout=driver.FIT_TIMEOUT_MS)
    expect(page.locator("#offer-kpi-roi")).to_have_text(driver.ROI, timeout=driver.FIT_TIMEOUT_MS)
    for offer, cost in zip(OFFERS, ("$0.10", "$0.12"), strict=True):
        expect(page.locator(".offers-source").first).to_contain_text(f"{offer} {cost} a contact")
    # the single-offer results stepped aside: no second set of KPI cards on screen
    expect(page.locator("#kpi-roi")).to_be_hidden()

    _set_budget(page, 1_000)
    first = _mix(page)
    assert set(first) == set(OFFERS)
    expect(page.locator("#offer-kpi-incremental_revenue")).to_have_text(MONEY)
    driver.screenshots(page, artifacts_dir, "offers_hillstrom_1000")

    _set_budget(page, 4_000)
    second = _mix(page)
    # the same numbers as the command line's analysis of the same file, offers and costs
    analysis = _cli_analysis()
    expected = analysis.at_budget(4_000.0)["allocation"]
    expect(page.locator("#offer-kpi-incremental_revenue")).to_have_text(format_money(expected.incremental_revenue))
    assert second == {offer: format_count(count) for offer, count in analysis.mix_at_budget(4_000.0).items()}
    assert second != first, "the mix of offers did not follow the budget"
    total = sum(int(count.replace(",", "")) for count in second.values())
    expect(page.locator("#offer-kpi-contacts")).to_have_text(f"{total:,}")
    expect(page.locator(".offer-mix-title")).to_contain_text("at $4,000")
    driver.screenshots(page, artifacts_dir, "offers_hillstrom_4000")
    assert log.errors() == [], log.errors()
    assert log.external_requests() == []

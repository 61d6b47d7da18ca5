"""The data step in a real browser: a file uploaded, its roles picked from its own columns, checked, fitted
and read back (the A/B readout, the budget range, the contact list); bad files answered in the app's words
with the numbers on screen kept; hostile names rendered as text; and the app's numbers equal to the CLI's
and the snapshot's."""

from __future__ import annotations

import gzip
import io
import json
import re

import polars as pl
import pytest
from playwright.sync_api import expect

from tests.helpers import serve_in_thread
from tests.ui import driver
from uplift_studio.core.analysis import AnalysisSettings
from uplift_studio.core.contacts import ID
from uplift_studio.core.examples import example
from uplift_studio.core.settings import ModelSettings
from uplift_studio.core.simulate import simulate_campaign

pytestmark = pytest.mark.ui

SETTINGS = AnalysisSettings(model=ModelSettings(n_estimators=20, folds=3, n_jobs=2))
ARMS = ("Womens E-Mail", "No E-Mail")
HILLSTROM_COST = 0.10


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """The default simulated campaign (6,000 users, $3,000 at $2 a contact), with a cache of its own."""
    with driver.private_cache(tmp_path_factory.mktemp("data_step_cache")):
        server, stop = serve_in_thread(simulate_campaign(6_000, seed=8), SETTINGS, budget=3_000.0)
        try:
            yield f"http://127.0.0.1:{server.port}/"
        finally:
            stop()


@pytest.fixture
def page(browser, request):
    """A 1440x900 page that accepts downloads, with its console errors recorded."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    context.set_default_timeout(driver.ANSWER_TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.console_errors = errors
    yield page
    context.close()


def _no_cli_words_nor_paths(text: str) -> None:
    assert "--" not in text, f"a command-line flag in the app's notice: {text!r}"
    assert "/tmp" not in text and "uplift_upload_" not in text, f"a server path in the app's notice: {text!r}"


# --------------------------------------------------------------------------------------------------------
# Hillstrom, uploaded and mapped by hand


def _hillstrom() -> tuple[bytes, pl.DataFrame]:
    content = example("hillstrom").path.read_bytes()
    frame = pl.read_csv(io.BytesIO(gzip.decompress(content)), infer_schema_length=None).with_row_index("row", offset=1)
    return content, frame


def _download(page, button: str) -> bytes:
    with page.expect_download(timeout=driver.FIT_TIMEOUT_MS) as download:
        page.get_by_role("button", name=button).click()
    return download.value.path().read_bytes()


def test_hillstrom_uploaded_and_mapped_from_the_dropdowns(app_url, page, artifacts_dir):
    content, frame = _hillstrom()
    arms = frame.filter(pl.col("segment").is_in(ARMS))
    assert arms.height == 42_693
    driver.open_app(page, app_url)
    driver.upload(page, "hillstrom.csv.gz", content, "application/gzip")
    driver.toast(page, "success", "hillstrom.csv.gz: 64,000 rows and 12 columns read")
    expect(page.locator(".preview-table th").first).to_contain_text("recency")

    driver.pick(page, "treatment_column", "segment")
    driver.pick(page, "treated_value", "Womens E-Mail")
    driver.pick(page, "control_value", "No E-Mail")
    driver.pick(page, "conversion_column", "conversion")
    driver.pick(page, "revenue_column", "spend")
    driver.pick(page, "id_column", "(none: number the rows)")
    # visit happens after the e-mail: it must not be a feature (the guess puts it there; it must stay)
    excluded = page.locator(".field-exclude_columns .choices__list--multiple .choices__item")
    expect(excluded).to_have_count(1)
    expect(excluded.first).to_contain_text("visit")
    driver.press_check(page)
    checked = driver.toast(page, "success", "ready")
    features = len(frame.columns) - len(["row", "segment", "conversion", "spend", "visit"])
    treated_users = arms.filter(pl.col("segment") == ARMS[0]).height
    expect(checked).to_contain_text(
        f"hillstrom.csv.gz: 42,693 users ({treated_users:,} contacted, {features} features) ready"
    )
    expect(page.locator(".checked")).to_contain_text("42,693")

    driver.set_number(page, ".cost-input", HILLSTROM_COST)
    driver.press_fit(page)
    driver.wait_for_fit(page, "hillstrom.csv.gz")

    # the fit is over: nothing on screen is marked stale any more
    expect(page.locator("#kpi-roi")).to_be_visible()
    assert driver.seen_opacity(page.locator("#kpi-roi")) == 1.0, "the new results are still faded as stale"
    treated, control = (arms.filter(pl.col("segment") == arm)["conversion"].mean() for arm in ARMS)
    expect(page.locator(".readout .rate-treated .value")).to_have_text(f"{treated:.4%}")
    expect(page.locator(".readout .rate-control .value")).to_have_text(f"{control:.4%}")
    assert (f"{treated:.4%}", f"{control:.4%}") == ("0.8837%", "0.5726%")

    # the slider ends at the cost of contacting every one of the 42,693 users at $0.10, to the cent
    handle = driver.slider_handle(page)
    expect(handle).to_have_attribute("aria-valuemax", re.compile(r"^4269\.3(0*)$"), timeout=driver.ANSWER_TIMEOUT_MS)
    assert float(handle.get_attribute("aria-valuemax")) == round(arms.height * HILLSTROM_COST, 2) == 4_269.30

    contacts = pl.read_csv(io.BytesIO(_download(page, "Download contact list")))
    shown = int(page.locator("#kpi-contacts").inner_text().replace(",", ""))
    assert contacts.height == shown > 0
    ids = contacts[ID].to_list()
    assert len(set(ids)) == len(ids)
    # users are numbered by their row in the file: every contact is a row of one of the two arms
    assert set(ids) <= set(arms["row"].to_list())
    assert page.console_errors == []
    driver.screenshots(page, artifacts_dir, "app_hillstrom")


@pytest.mark.parametrize("way", ["upload", "example button"])
def test_the_guess_on_screen_is_the_mapping_checked(app_url, page, way):
    """What the dropdowns show after a file is read is what "Check the data" uses: the guess (or the
    example's own map) picks segment, the two e-mail arms, conversion and spend, and Check agrees."""
    content, _ = _hillstrom()
    driver.open_app(page, app_url)
    if way == "upload":
        driver.upload(page, "hillstrom.csv.gz", content, "application/gzip")
    else:
        page.get_by_role("button", name="Or try a real experiment: Hillstrom's e-mails").click()
    driver.toast(page, "success", "hillstrom.csv.gz: 64,000 rows")
    shown = {field: driver.select(page, field) for field in driver.FIELDS}
    for field, value in [
        ("treatment_column", "segment"),
        ("treated_value", "Womens E-Mail"),
        ("control_value", "No E-Mail"),
        ("conversion_column", "conversion"),
        ("revenue_column", "spend"),
    ]:
        expect(shown[field]).to_have_value(value)
    driver.dismiss_toasts(page)
    driver.press_check(page)
    notice = page.locator(".notyf__toast")
    expect(notice).to_have_count(1, timeout=driver.ANSWER_TIMEOUT_MS)
    expect(notice).to_contain_text("hillstrom.csv.gz: 42,693 users")
    assert page.console_errors == []


def test_the_default_campaign_screenshots(app_url, page, artifacts_dir):
    driver.open_app(page, app_url)
    expect(page.get_by_text("Models fitted")).to_have_count(1, timeout=driver.FIT_TIMEOUT_MS)
    driver.screenshots(page, artifacts_dir, "app_simulated")
    assert page.console_errors == []


# --------------------------------------------------------------------------------------------------------
# files the app cannot use


def _text_conversion_csv() -> bytes:
    rows = "".join(
        f"{i},{i % 2},{'bought' if i % 3 == 0 else 'no thanks'},{(i % 3 == 0) * 10},{20 + i % 30}\n" for i in range(40)
    )
    return ("user_id,treatment,converted,revenue,age\n" + rows).encode()


def test_bad_files_are_answered_in_the_apps_words_and_keep_the_numbers(app_url, page):
    driver.open_app(page, app_url)
    before = driver.kpis(page)

    def answered(kind: str, *parts: str) -> str:
        notice = driver.toast(page, kind, parts[0])
        for part in parts[1:]:
            expect(notice).to_contain_text(part)
        text = notice.inner_text()
        _no_cli_words_nor_paths(text)
        assert driver.kpis(page) == before, f"the numbers on screen changed after: {text!r}"
        driver.dismiss_toasts(page)
        return text

    duplicate = b"user_id,treatment,converted,converted,revenue\n1,1,0,0,0\n2,0,1,1,20\n"
    driver.upload(page, "twice.csv", duplicate)
    answered("error", "twice.csv", "'converted' appear more than once", "rename or drop one")

    driver.upload(page, "plain.csv.gz", b"user_id,treatment,converted,revenue\n1,1,0,0\n", "application/gzip")
    answered("error", "plain.csv.gz", "not gzip-compressed", "Rename it to .csv")

    driver.upload(page, "words.csv", _text_conversion_csv())
    answered("success", "words.csv: 40 rows and 5 columns read")
    driver.pick(page, "conversion_column", "converted")
    driver.press_check(page)
    answered("error", "words.csv", "column 'converted'", "'bought'", "“Conversion column”")

    driver.upload(page, "nothing.csv", b"")
    answered("error", "nothing.csv", "the file is empty")
    assert page.console_errors == []


# --------------------------------------------------------------------------------------------------------
# hostile names, columns and labels


HOSTILE = '<img src=x onerror="window.__pwned=1">'
INJECTED = "img[src=x], svg[onload], script[data-pwn]"


def _hostile_file() -> bytes:
    """An experiment whose column names and treatment labels carry script payloads."""
    header = f'user_id,"arm{HOSTILE}",converted,revenue,"<svg onload=window.__pwned=2>"'
    rows = [f'{i},"{HOSTILE if i % 2 else "ctl"}",{int(i % 3 == 0)},{(i % 3 == 0) * 10},{i % 5}' for i in range(60)]
    return ("\n".join([header, *rows]) + "\n").encode()


def _assert_inert(page) -> None:
    assert page.evaluate("window.__pwned") is None
    assert page.locator(INJECTED).count() == 0


@pytest.mark.parametrize(
    ("name", "content", "shown"),
    [
        (f"{HOSTILE}.csv", b"group,converted,revenue\n1,0,0\n1,1,20\n", "onerror"),
        (f"{HOSTILE}.csv", _text_conversion_csv(), "onerror"),
        ("hostile.csv", _hostile_file(), "hostile.csv"),
    ],
    ids=["hostile file name, one arm", "hostile file name, text conversion", "hostile columns and labels"],
)
def test_hostile_uploads_stay_text_after_upload_and_check(app_url, page, name, content, shown):
    driver.open_app(page, app_url)
    driver.upload(page, name, content)
    driver.toast(page, "success", shown)
    expect(page.locator(".preview")).to_be_visible(timeout=driver.ANSWER_TIMEOUT_MS)
    _assert_inert(page)
    if "arm" in content.decode().split("\n", 1)[0]:
        # the hostile column is offered by name, as text, in the dropdowns and the preview's header
        expect(driver.select(page, "treatment_column").locator("option", has_text="onerror")).to_have_count(1)
        expect(page.locator(".preview-table th", has_text="arm<img")).to_have_count(1)
        driver.pick(page, "treatment_column", f"arm{HOSTILE}")
        expect(driver.select(page, "treated_value").locator("option", has_text="onerror")).to_have_count(1)
        # the label as the file holds it: inside a quoted CSV field the payload's own (undoubled) quotes are dropped
        driver.pick(page, "treated_value", HOSTILE.replace('"', ""))
        driver.pick(page, "control_value", "ctl")
    driver.dismiss_toasts(page)
    driver.press_check(page)
    expect(page.locator(".notyf__toast")).to_have_count(1, timeout=driver.ANSWER_TIMEOUT_MS)
    _no_cli_words_nor_paths(page.locator(".notyf__toast").inner_text())
    _assert_inert(page)
    assert page.console_errors == []


# --------------------------------------------------------------------------------------------------------
# one data set, three readers: the app, the CLI and the snapshot

CLI_BUDGETS = (800.0, 2_500.0, 4_600.0)
READ_SNAPSHOT = """() => {
  const fields = {};
  const walk = (root) => {
    root.querySelectorAll("[data-field]").forEach((e) => { fields[e.dataset.field] = e.textContent; });
    root.querySelectorAll("*").forEach((e) => { if (e.shadowRoot) walk(e.shadowRoot); });
  };
  walk(document);
  return fields;
}"""


def _cli_report(data, budget: float, folder) -> dict:
    from uplift_studio.cli import main

    out = folder / f"report_{budget:.0f}.json"
    model = ["--folds", "3", "--n-estimators", "20", "--no-cache"]
    assert main(["report", "--data", str(data), "--budget", str(budget), "--cost-per-contact", "2", *model,
                 "--json", str(out)]) == 0  # fmt: skip
    return json.loads(out.read_text())


def test_the_app_the_cli_and_the_snapshot_agree_at_three_budgets(app_url, page, browser, tmp_path):
    from uplift_studio.core.formats import format_count, format_money, format_roi

    data = tmp_path / "small_campaign.csv"
    simulate_campaign(3_000, seed=4).frame.write_csv(data)
    driver.open_app(page, app_url)
    driver.upload(page, data.name, data.read_bytes())
    driver.toast(page, "success", f"{data.name}: 3,000 rows")
    driver.press_check(page)
    driver.toast(page, "success", "3,000 users")
    driver.press_fit(page)
    driver.wait_for_fit(page, data.name)
    viewer = browser.new_page()
    try:
        for budget in CLI_BUDGETS:
            driver.set_budget(page, budget)
            app = driver.kpis(page)
            report = _cli_report(data, budget, tmp_path)
            uplift = report["strategies"]["uplift"]
            cli = {
                "incremental_revenue": format_money(uplift["incremental_revenue"]),
                "roi": format_roi(uplift["roi"]),
                "contacts": format_count(report["contacts"]),
                "spend": format_money(report["spend"]),
                "net": format_money(uplift["net"]),
            }
            assert app == cli, budget
            snapshot = tmp_path / f"snapshot_{budget:.0f}.html"
            snapshot.write_bytes(_download(page, "Download snapshot"))
            viewer.goto(snapshot.as_uri())
            viewer.wait_for_function(
                f"() => ({READ_SNAPSHOT})()['spend.detail'] !== undefined", timeout=driver.ANSWER_TIMEOUT_MS
            )
            fields = viewer.evaluate(READ_SNAPSHOT)
            assert {key: fields[f"{key}.value"] for key in driver.KPI_KEYS} == app, budget
    finally:
        viewer.close()
    assert page.console_errors == []

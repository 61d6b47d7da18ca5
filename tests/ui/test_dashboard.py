"""The analyst's app in a real browser: served in-process on a free port with a small simulated campaign,
driven with Playwright. Waits are conditions on the page, never sleeps."""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import expect

from tests.helpers import serve_in_thread
from uplift_studio.core.analysis import AnalysisSettings
from uplift_studio.core.settings import ModelSettings
from uplift_studio.core.simulate import simulate_campaign

pytestmark = pytest.mark.ui

ROI = re.compile(r"^-?\d+\.\d\dx$")
FIT_TIMEOUT_MS = 600_000  # the fit of the small campaign, with both cores busy elsewhere
ANSWER_TIMEOUT_MS = 60_000  # one round trip to the server (a read, a budget tick) under the same load


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    previous = os.environ.get("UPLIFT_STUDIO_CACHE")
    os.environ["UPLIFT_STUDIO_CACHE"] = str(tmp_path_factory.mktemp("ui_cache"))
    settings = AnalysisSettings(model=ModelSettings(n_estimators=20, folds=3, n_jobs=2))
    server, stop = serve_in_thread(simulate_campaign(6_000, seed=8), settings, budget=3_000.0)
    try:
        yield f"http://127.0.0.1:{server.port}/"
    finally:
        stop()
        if previous is None:
            os.environ.pop("UPLIFT_STUDIO_CACHE", None)
        else:
            os.environ["UPLIFT_STUDIO_CACHE"] = previous


def _open(page, url):
    """Load the app and wait until the ROI card shows a number (the shared fit may still be running)."""
    # building a session's page takes the server seconds, more with both cores busy
    page.goto(url, timeout=FIT_TIMEOUT_MS)
    roi = page.locator("#kpi-roi")
    expect(roi).to_have_text(ROI, timeout=FIT_TIMEOUT_MS)
    # the cards' text arrives before the page lays them out: read them once they are on screen
    expect(roi).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    return roi


def test_page_loads_with_numbers_offline_and_without_errors(app_url, logged_page, artifacts_dir):
    page, log = logged_page
    _open(page, app_url)
    page.wait_for_load_state("networkidle")
    assert re.match(r"^\$[\d,.]+[kM]?$", page.locator("#kpi-incremental_revenue").inner_text())
    assert page.locator("#kpi-contacts").inner_text() == "1,500"
    assert page.get_by_text("Contacting the 1,500 customers").count() == 1
    assert log.requests, "the page log recorded no request at all"
    assert log.external_requests() == []
    assert not [url for url in log.requests if "font" in url.lower() and "127.0.0.1" not in url]
    expect(page.get_by_text("Models fitted")).to_have_count(1)
    # the data form and the model settings, sent once the page had loaded (see panes.complete_on_load)
    expect(page.get_by_text("Treated share")).to_have_count(1)
    expect(page.get_by_text("Model settings")).to_have_count(1)
    assert log.errors() == []
    # the template scrolls inside its main area: a tall viewport puts the whole page in the picture
    page.set_viewport_size({"width": 1400, "height": 3300})
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(artifacts_dir / "dashboard.png"), full_page=True)


def test_moving_the_budget_slider_changes_the_roi(app_url, logged_page):
    page, log = logged_page
    roi = _open(page, app_url)
    before = roi.inner_text()
    handle = page.locator(".budget-slider .noUi-handle").first
    # 6,000 users at $2: the slider ends at what contacting all of them costs, in ~1/200 steps ($100)
    expect(handle).to_have_attribute("aria-valuemax", re.compile(r"^12000(\.0*)?$"))
    expect(handle).to_have_attribute("aria-valuenow", re.compile(r"^3000(\.0*)?$"))
    handle.focus()
    for value in (3_100, 3_200, 3_300, 3_400, 3_500):
        handle.press("ArrowRight")  # one step: $100 more
        # the browser moved the handle before the server is asked to follow it
        expect(handle).to_have_attribute("aria-valuenow", re.compile(rf"^{value}(\.0*)?$"), timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#kpi-contacts")).to_have_text("1,750", timeout=ANSWER_TIMEOUT_MS)
    expect(roi).not_to_have_text(before, timeout=ANSWER_TIMEOUT_MS)
    assert ROI.match(roi.inner_text())
    assert log.errors() == []


def test_an_unusable_upload_notifies_on_check_and_keeps_the_numbers(app_url, logged_page):
    """An upload is only read; the mapping is checked on "Check the data", and a file that cannot be
    analysed (its one 0/1 column puts every user in the treated arm) says so there, naming the file and
    the field, while the numbers on screen stay."""
    page, log = logged_page
    roi = _open(page, app_url)
    before = {key: page.locator(f"#kpi-{key}").inner_text() for key in ("roi", "incremental_revenue", "contacts")}
    page.locator("input[type=file]").set_input_files(
        files=[
            {"name": "no_treatment.csv", "mimeType": "text/csv", "buffer": b"group,converted,revenue\n1,0,0\n1,1,20\n"}
        ]
    )
    expect(page.locator(".notyf__toast--success")).to_contain_text(
        "no_treatment.csv: 2 rows", timeout=ANSWER_TIMEOUT_MS
    )
    assert {key: page.locator(f"#kpi-{key}").inner_text() for key in before} == before
    page.locator(".check-data button").click()
    notification = page.locator(".notyf__toast--error")
    expect(notification).to_contain_text("has only treated users", timeout=ANSWER_TIMEOUT_MS)
    expect(notification).to_contain_text("no_treatment.csv")
    expect(notification).to_contain_text("'group' (treatment)")
    assert "--" not in notification.inner_text()
    assert {key: page.locator(f"#kpi-{key}").inner_text() for key in before} == before
    assert roi.inner_text() == before["roi"]
    assert log.errors() == []


def _experiment_csv(users: int, padding: int = 0) -> bytes:
    """A valid experiment of ``users`` rows; ``padding`` characters of a text column make it as large as wanted."""
    note = "x" * padding
    rows = "".join(f"{i},{i % 2},{int(i % 3 == 0)},{(i % 3 == 0) * 10},{'abcde'[i % 5]}{note}\n" for i in range(users))
    return ("user_id,treatment,converted,revenue,note\n" + rows).encode()


def test_an_upload_over_the_limit_is_refused_before_it_is_sent(app_url, logged_page, artifacts_dir):
    settings = AnalysisSettings(model=ModelSettings(n_estimators=20, folds=3, n_jobs=2))
    server, stop = serve_in_thread(simulate_campaign(6_000, seed=8), settings, budget=3_000.0, upload_limit_mb=1)
    try:
        page, log = logged_page
        _open(page, f"http://127.0.0.1:{server.port}/")
        expect(page.get_by_text("up to 1 MB")).to_have_count(1)
        big = _experiment_csv(2_000, padding=1_000)  # a valid experiment of 2 MB: sent, it would be accepted
        page.locator("input[type=file]").set_input_files(
            files=[{"name": "big.csv", "mimeType": "text/csv", "buffer": big}]
        )
        expect(page.locator(".filepond--file-status-main")).to_have_text("File is too large", timeout=ANSWER_TIMEOUT_MS)
        page.screenshot(path=str(artifacts_dir / "upload_refused.png"))
        # uploads travel in order on the session's one connection: once a later small file is read, a big
        # one that had been sent would have been read before it
        small = _experiment_csv(40)
        page.locator("input[type=file]").set_input_files(
            files=[{"name": "small.csv", "mimeType": "text/csv", "buffer": small}]
        )
        expect(page.locator(".notyf__toast--success")).to_contain_text(
            "small.csv: 40 rows and 5 columns read", timeout=ANSWER_TIMEOUT_MS
        )
        assert page.get_by_text("big.csv:").count() == 0
        assert log.errors() == []
    finally:
        stop()


def test_closed_sessions_leave_no_dashboard_behind(app_url, browser):
    """A closed session's dashboard is freed: EditableFloatSlider's jslink, kept in a class-level registry whose
    entry held its own key alive, once kept every dashboard a server had ever built."""
    import gc
    import weakref

    from panel.tests.util import wait_until

    from uplift_studio.app.dashboard import Dashboard

    def dashboards() -> set[int]:  # ids of the dashboards alive now
        gc.collect()
        return {id(item) for item in gc.get_objects() if isinstance(item, Dashboard)}

    settings = AnalysisSettings(model=ModelSettings(n_estimators=20, folds=3, n_jobs=2))
    lifetime = {"check_unused_sessions_milliseconds": 200, "unused_session_lifetime_milliseconds": 200}
    server, stop = serve_in_thread(simulate_campaign(6_000, seed=8), settings, budget=3_000.0, **lifetime)
    try:
        known, opened = dashboards(), []
        for _ in range(2):
            page = browser.new_page()
            _open(page, f"http://127.0.0.1:{server.port}/")
            # the session's dashboard, found while its page is open
            new = [item for item in gc.get_objects() if isinstance(item, Dashboard) and id(item) not in known]
            opened += [weakref.ref(item) for item in new]
            known |= {id(item) for item in new}
            del new
            page.close()
        assert len(opened) >= 2

        def all_freed() -> bool:
            gc.collect()
            return all(ref() is None for ref in opened)

        # a full collection holds the interpreter lock a while: polled slowly, so the server thread can run
        try:
            wait_until(all_freed, timeout=120_000, interval=1_000)
        except TimeoutError as error:
            raise AssertionError(f"closed sessions' dashboards still held by: {_holders(opened)}") from error
    finally:
        stop()


def _holders(refs) -> list[str]:
    """What holds each surviving object: its referrers' types, two levels up (so a failure says where)."""
    import gc

    described = []
    for ref in refs:
        item = ref()
        if item is None:
            continue
        for holder in gc.get_referrers(item):
            if holder is refs:
                continue
            above = sorted({type(outer).__name__ for outer in gc.get_referrers(holder)} - {"list", "frame"})
            described.append(f"{type(holder).__name__} {str(holder)[:80]!r} (held by {', '.join(above[:6])})")
        del item
    return described


# every KPI card, table and plot canvas, through the shadow roots Bokeh and Panel draw into
_BOXES = """(selector) => {
  const out = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.matches(selector)) {
        const r = el.getBoundingClientRect();
        if (r.width > 0) out.push({left: r.left, right: r.right, top: r.top, bottom: r.bottom, text: el.className});
      }
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);
  return out;
}"""


def _views_drawn(page) -> None:
    canvases = page.locator("div.bk-Canvas")
    expect(canvases.first).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    # the six views are drawn one per turn after the numbers: wait until the last is there
    page.wait_for_function(f"() => ({_BOXES})('div.bk-Canvas').length >= 6", timeout=ANSWER_TIMEOUT_MS, polling=200)


def test_a_laptop_window_shows_every_card_table_and_chart_whole(app_url, logged_page):
    """The strategy comparison and its table sat side by side at a fixed 1,070 px, so under a 1,420 px window
    the page grew past it and its right edge (the table's last columns, the last cards) was cut off."""
    page, _ = logged_page
    page.set_viewport_size({"width": 1024, "height": 900})
    _open(page, app_url)
    _views_drawn(page)
    boxes = page.evaluate(_BOXES, ".kpi, table, div.bk-Canvas")
    assert len(boxes) >= 10
    cut = [box for box in boxes if box["right"] > 1024 + 0.5]
    assert cut == [], cut
    # with room for both, the chart and its table stand side by side again: a canvas level with the table
    page.set_viewport_size({"width": 1700, "height": 900})
    side_by_side = (
        "() => { const boxes = " + _BOXES + "; const [table] = boxes('table.strategies');"
        " return table !== undefined && boxes('div.bk-Canvas').some((canvas) => canvas.right <= table.left"
        " && canvas.top < table.bottom && table.top < canvas.bottom); }"
    )
    page.wait_for_function(side_by_side, timeout=ANSWER_TIMEOUT_MS, polling=200)

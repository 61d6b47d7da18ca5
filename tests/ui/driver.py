"""What the browser tests do to the app, in the analyst's steps: open it, upload a file, pick a column from a
dropdown, check, fit, set the cost or the budget, read the KPI cards. Every wait is a condition on the page
(or the server's answer to it) with a deadline generous enough for a loaded 2-core machine; none sleeps."""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

from playwright.sync_api import expect

ROI = re.compile(r"^-?\d+\.\d\dx$")
FIT_TIMEOUT_MS = 600_000  # a fit (Hillstrom's 42,693 users at most) with both cores busy elsewhere
ANSWER_TIMEOUT_MS = 60_000  # one round trip to the server: a read, a check, a budget tick, under load
KPI_KEYS = ("incremental_revenue", "roi", "contacts", "spend", "net")
FIELDS = (
    "treatment_column",
    "treated_value",
    "control_value",
    "conversion_column",
    "revenue_column",
    "id_column",
    "cost_column",
)


@contextlib.contextmanager
def private_cache(folder: Path):
    """Point the analysis cache at ``folder`` for a block (the module's server and the CLI read it)."""
    previous = os.environ.get("UPLIFT_STUDIO_CACHE")
    os.environ["UPLIFT_STUDIO_CACHE"] = str(folder)
    try:
        yield folder
    finally:
        if previous is None:
            os.environ.pop("UPLIFT_STUDIO_CACHE", None)
        else:
            os.environ["UPLIFT_STUDIO_CACHE"] = previous


def open_app(page, url: str):
    """Load the app and wait until the ROI card shows a number (the shared fit may still be running)."""
    # building a session's page takes the server seconds, more with both cores busy
    page.goto(url, timeout=FIT_TIMEOUT_MS)
    roi = page.locator("#kpi-roi")
    expect(roi).to_have_text(ROI, timeout=FIT_TIMEOUT_MS)
    # the cards' text arrives before the page lays them out: read them once they are on screen
    expect(roi).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    return roi


def kpis(page) -> dict[str, str]:
    return {key: page.locator(f"#kpi-{key}").inner_text() for key in KPI_KEYS}


def upload(page, name: str, content: bytes, mime: str = "text/csv") -> None:
    page.locator("input[type=file]").set_input_files(files=[{"name": name, "mimeType": mime, "buffer": content}])


def toast(page, kind: str, containing: str):
    """The newest notification of ``kind`` (success, error, info) that contains ``containing``."""
    notice = page.locator(f".notyf__toast--{kind}").filter(has_text=containing).last
    expect(notice).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    return notice


def dismiss_toasts(page) -> None:
    """Close every notification, so that the next one a test waits for is the next one the app sends."""
    page.evaluate("() => document.querySelectorAll('.notyf__toast').forEach((toast) => toast.remove())")


def select(page, field: str):
    return page.locator(f".field-{field} select")


def pick(page, field: str, label: str) -> None:
    """Choose ``label`` in the ``field`` dropdown, as an analyst does (the option must be offered)."""
    dropdown = select(page, field)
    expect(dropdown.locator("option", has_text=label).first).to_be_attached(timeout=ANSWER_TIMEOUT_MS)
    dropdown.select_option(label=label)


def press_check(page) -> None:
    page.locator(".check-data button").click()


def press_fit(page) -> None:
    page.get_by_role("button", name="Fit models").click()


def set_number(page, css: str, value: float) -> None:
    """Type a number into a FloatInput (the cost per contact, the budget) and send it."""
    field = page.locator(f"{css} input")
    field.fill(f"{value:g}")
    field.press("Enter")


def budget_input(page):
    return page.get_by_role("textbox", name="Budget ($)")


def set_budget(page, budget: float) -> None:
    field = budget_input(page)
    field.fill(f"{budget:g}")
    field.press("Enter")
    # the spend card names the budget it was computed for: the server's answer, not the typed text
    expect(page.locator("[data-field='spend.detail']")).to_have_text(
        re.compile(rf"of a \${budget:,.0f} budget"), timeout=ANSWER_TIMEOUT_MS
    )


def slider_handle(page):
    return page.locator(".budget-slider .noUi-handle").first


def wait_for_fit(page, source: str) -> None:
    """Wait until the fit of ``source`` is on screen: the banner gone and the readout naming the data."""
    expect(page.locator(".readout .source").first).to_contain_text(source, timeout=FIT_TIMEOUT_MS)
    expect(page.locator(".fit-banner")).to_be_hidden(timeout=FIT_TIMEOUT_MS)
    expect(page.locator("#kpi-roi")).to_have_text(ROI, timeout=FIT_TIMEOUT_MS)


# the opacity the eye sees: the product of the element's and every ancestor's, across shadow roots
OPACITY = """(element) => {
  let opacity = 1;
  for (let node = element; node; ) {
    if (node.nodeType === 1) opacity *= parseFloat(getComputedStyle(node).opacity);
    node = node.parentNode instanceof ShadowRoot ? node.parentNode.host : node.parentNode;
  }
  return opacity;
}"""


def seen_opacity(locator) -> float:
    return locator.evaluate(OPACITY)


def screenshots(page, folder: Path, name: str) -> None:
    """``name``.png at a 1440x900 viewport and ``name``_tall.png at 1440x3300: the template scrolls inside
    its main area, so only a tall viewport puts the whole page in one picture."""
    page.set_viewport_size({"width": 1440, "height": 900})
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    page.set_viewport_size({"width": 1440, "height": 3300})
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(folder / f"{name}_tall.png"), full_page=True)

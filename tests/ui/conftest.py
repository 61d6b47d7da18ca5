"""Real-browser fixtures: Debian's Chromium driven by Playwright, with every console message and request
recorded. Without /usr/bin/chromium the tests skip, except under CI where that is a broken set-up."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import expect

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
# Playwright waits 5 s for an expectation and 30 s for an action by default; with both cores busy one round
# trip to the server can take longer, so every wait that names no deadline gets a generous one
LOADED_MACHINE_TIMEOUT_MS = 60_000
expect.set_options(timeout=LOADED_MACHINE_TIMEOUT_MS)


@dataclass
class PageLog:
    """What the page said and asked for; tests assert on it."""

    console: list = field(default_factory=list)  # (type, text)
    page_errors: list = field(default_factory=list)
    requests: list = field(default_factory=list)  # URLs
    failed_requests: list = field(default_factory=list)

    def errors(self) -> list[str]:
        return [text for kind, text in self.console if kind == "error"] + self.page_errors

    def external_requests(self) -> list[str]:
        local = (
            "file://",
            "data:",
            "blob:",
            "about:",
            "http://127.0.0.1",
            "http://localhost",
            "ws://127.0.0.1",
            "ws://localhost",
        )
        return [url for url in self.requests if not url.startswith(local)]


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run must install Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def logged_page(browser):
    """A fresh page whose console messages, page errors and requests are recorded in a PageLog."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(LOADED_MACHINE_TIMEOUT_MS)
    page = context.new_page()
    log = PageLog()
    page.on("console", lambda message: log.console.append((message.type, message.text)))
    page.on("pageerror", lambda error: log.page_errors.append(str(error)))
    page.on("request", lambda request: log.requests.append(request.url))
    page.on("requestfailed", lambda request: log.failed_requests.append(request.url))
    yield page, log
    context.close()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS

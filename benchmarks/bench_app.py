"""The analyst's app: cold start, warm start and the server-side cost of a budget change.

    python benchmarks/bench_app.py [--users 150000] [--changes 60] [--warm 5] [--skip-starts]

1. Cold start: ``panel serve launch.py`` with an empty ``UPLIFT_STUDIO_CACHE``, timed from the process start
   until a browser (Debian Chromium via Playwright) shows a dollar figure in the ROI/revenue cards. The fit is
   then timed on its own in this process (simulation, then ``run_analysis`` without the cache) to break the
   cold start down. Goal: <= 12 s.
2. Warm start: the same command again on the now filled disk cache, the median of ``--warm`` launches. Goal:
   <= 2 s. Before them the package's bytecode is written (``compileall``), as a regular ``pip install`` and any
   first launch do; an environment with ``PYTHONDONTWRITEBYTECODE`` set (some containers) would otherwise
   compile every module from source at every launch. For scale, the same clock on a bare Panel page (a
   BootstrapTemplate holding one dollar figure, no data, no HoloViews): what any Panel app costs before its
   own work.
3. Budget change: the dashboard of the default campaign rendered into a Bokeh document (sidebar and main area,
   as a session has it), then ``dashboard.param.update(budget=...)`` timed end to end, including the HoloViews
   and Bokeh model updates; the median over many budgets. Goal: <= 50 ms. A slider drag tick (the slider's
   ``value`` moves, the comparison chart waits for the release) is timed separately.
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
MONEY = re.compile(r"^-?\$[\d,.]+[kM]?$")
VIEWS = 6  # efficiency, comparison, frontier, deciles, calibration, quadrants


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


BARE_PAGE = """
import panel as pn

pn.extension()
figure = pn.pane.HTML('<span id="kpi-incremental_revenue">$1,234</span>')
pn.template.BootstrapTemplate(title="bare", main=[figure]).servable()
"""


def time_launch(cache: Path, script: Path = ROOT / "launch.py", views: int = VIEWS, timeout: float = 900.0) -> dict:
    """Seconds from ``panel serve SCRIPT`` starting until the page answers, and until it shows numbers."""
    from playwright.sync_api import expect, sync_playwright

    port = free_port()
    env = {**os.environ, "UPLIFT_STUDIO_CACHE": str(cache)}
    command = [sys.executable, "-m", "panel", "serve", str(script), "--port", str(port), "--address", "127.0.0.1"]
    command += ["--allow-websocket-origin", f"127.0.0.1:{port}"]
    # The browser is started before the clock: what is timed is our server and page, not Chromium's start.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        page = browser.new_page()
        start = time.perf_counter()
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            url = f"http://127.0.0.1:{port}/{script.stem}"
            # Wait for the port to listen (a GET would build a whole session of its own), then load the page.
            while True:
                if server.poll() is not None:
                    raise RuntimeError(f"panel serve exited: {server.stderr.read().decode()[-2000:]}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            listening = time.perf_counter() - start
            page.goto(url)  # returns once the page's HTML has loaded: the session is built by then
            served = time.perf_counter() - start
            expect(page.locator("#kpi-incremental_revenue")).to_have_text(MONEY, timeout=timeout * 1000)
            numbers = time.perf_counter() - start
            roi = page.locator("#kpi-roi").inner_text() if views else ""
            # the six views are drawn after the numbers; poll until each has its canvas
            canvases = page.locator("div.bk-Canvas")
            while canvases.count() < views and time.perf_counter() - start < timeout:
                page.wait_for_timeout(50)
            plots = time.perf_counter() - start
        finally:
            server.terminate()
            server.wait(timeout=30)
            browser.close()
    return {"listening": listening, "page_served": served, "numbers_shown": numbers, "plots_drawn": plots, "roi": roi}


def time_fit(users: int) -> dict[str, float]:
    from uplift_studio.core.analysis import run_analysis
    from uplift_studio.core.simulate import simulate_campaign

    start = time.perf_counter()
    experiment = simulate_campaign(users)
    simulated = time.perf_counter() - start
    start = time.perf_counter()
    run_analysis(experiment, use_cache=False)
    return {"simulate": simulated, "fit_and_curves": time.perf_counter() - start}


def time_budget_changes(users: int, changes: int) -> dict[str, float]:
    import numpy as np
    import panel as pn
    from bokeh.document import Document

    from uplift_studio.app import plots
    from uplift_studio.app.server import build_dashboard
    from uplift_studio.core.analysis import run_analysis
    from uplift_studio.core.simulate import simulate_campaign

    analysis = run_analysis(simulate_campaign(users))
    dashboard = build_dashboard(analysis)
    document = Document()
    document.add_root(pn.Row(dashboard.sidebar, dashboard.main).get_root(document))
    budgets = np.random.default_rng(0).uniform(20_000, 280_000, changes).round(-3)

    def median_ms(change) -> float:
        for budget in budgets[:5]:  # warm-up: first renders of the dynamic layers
            change(float(budget))
        spent = []
        for budget in budgets:
            start = time.perf_counter()
            change(float(budget))
            spent.append(time.perf_counter() - start)
        return statistics.median(spent) * 1000

    update = median_ms(lambda budget: dashboard.param.update(budget=budget))
    drag = median_ms(lambda budget: setattr(dashboard.budget_slider, "value", budget))
    comparison = median_ms(
        lambda budget: dashboard.budget_refs.patch_comparison(
            plots.comparison_columns(analysis.view(budget, dashboard.cost_per_contact))
        )
    )
    return {
        "param_update_ms": update,
        "drag_tick_ms": drag,
        "comparison_ms": comparison,
        "models_in_document": len(document.models),
    }


BARE_SLIDER_APP = """
import panel as pn
slider = pn.widgets.FloatSlider(name="Budget", start=0, end=500_000, step=1_000, value=100_000, css_classes=["bare"])
text = pn.bind(lambda value: f"<span id='bare-value'>{value:,.0f}</span>", slider)
pn.Column(slider, pn.pane.Markdown(text)).servable()
"""


def _serve(script: Path, cache: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, "-m", "panel", "serve", str(script), "--port", str(port), "--address", "127.0.0.1"]
    command += ["--allow-websocket-origin", f"127.0.0.1:{port}"]
    env = {**os.environ, "UPLIFT_STUDIO_CACHE": str(cache)}
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, f"http://127.0.0.1:{port}/{script.stem}"
        except OSError:
            time.sleep(0.05)


def _press_latencies(page, handle: str, text: str, presses: int) -> list[float]:
    """Milliseconds from one arrow-key press on the slider handle to the watched text changing."""
    from playwright.sync_api import expect

    target = page.locator(handle).first
    target.focus()
    spent = []
    for _ in range(presses):
        before = page.locator(text).inner_text()
        start = time.perf_counter()
        target.press("ArrowRight")
        expect(page.locator(text)).not_to_have_text(before, timeout=60_000)
        spent.append((time.perf_counter() - start) * 1000)
        page.wait_for_timeout(300)  # let the page settle between presses (not a wait for a result)
    return spent


def time_browser_slider(cache: Path, presses: int = 12) -> dict[str, float]:
    """Median press-to-text latency in Chromium: the app's budget slider (to the contacts card) against a
    bare Panel slider bound to one Markdown pane, served the same way in the same run."""
    from playwright.sync_api import expect, sync_playwright

    bare_script = Path(tempfile.mkdtemp(prefix="uplift_bare_")) / "bare.py"
    bare_script.write_text(BARE_SLIDER_APP)
    results = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        for name, script, handle, text in (
            ("bare", bare_script, ".bare .noUi-handle", "#bare-value"),
            ("app", ROOT / "launch.py", ".budget-slider .noUi-handle", "#kpi-contacts"),
        ):
            server, url = _serve(script, cache)
            try:
                page = browser.new_page()
                page.goto(url)
                expect(page.locator(text)).to_have_text(re.compile(r"\d"), timeout=900_000)
                page.wait_for_load_state("networkidle")
                results[name] = statistics.median(_press_latencies(page, handle, text, presses))
                page.close()
            finally:
                server.terminate()
                server.wait(timeout=30)
        browser.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=150_000)
    parser.add_argument("--changes", type=int, default=60)
    parser.add_argument("--warm", type=int, default=5, help="warm launches (and bare Panel pages) timed, >= 1")
    parser.add_argument("--skip-starts", action="store_true", help="only the budget change")
    args = parser.parse_args()
    if args.warm < 1:
        parser.error("--warm must be at least 1")
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"uplift-studio app benchmark: {args.users:,} users, {cpus} cores, load {os.getloadavg()[0]:.1f}")

    with tempfile.TemporaryDirectory(prefix="uplift_bench_cache_") as folder:
        cache = Path(folder)
        os.environ["UPLIFT_STUDIO_CACHE"] = str(cache)
        if not args.skip_starts:
            if args.users != 150_000:
                print("(the starts always use launch.py's default campaign of 150,000 users)")
            cold = time_launch(cache)
            print(
                f"cold start (empty cache): server listening after {cold['listening']:.1f} s, page loaded after "
                f"{cold['page_served']:.1f} s, numbers shown after "
                f"{cold['numbers_shown']:.1f} s (goal <= 12 s), all views drawn after {cold['plots_drawn']:.1f} s; "
                f"ROI shown {cold['roi']}"
            )
            compileall.compile_dir(ROOT / "uplift_studio", quiet=1)
            compileall.compile_file(ROOT / "launch.py", quiet=1)
            launches = [time_launch(cache) for _ in range(args.warm)]
            timings = ("listening", "page_served", "numbers_shown", "plots_drawn")
            warm = {name: statistics.median(launch[name] for launch in launches) for name in timings}
            bare_script = cache / "bare_panel_page.py"
            bare_script.write_text(BARE_PAGE)
            bare = [time_launch(cache, bare_script, views=0)["numbers_shown"] for _ in range(args.warm)]
            numbers = sorted(launch["numbers_shown"] for launch in launches)
            bare_median = statistics.median(bare)
            print(
                f"warm start (disk cache), medians of {args.warm}: server listening after {warm['listening']:.2f} s, "
                f"page loaded after {warm['page_served']:.2f} s, numbers shown after {warm['numbers_shown']:.2f} s "
                f"(range {numbers[0]:.2f}-{numbers[-1]:.2f}; goal <= 2 s), all views drawn after "
                f"{warm['plots_drawn']:.1f} s; a bare Panel page shows its figure after {bare_median:.2f} s "
                f"(range {min(bare):.2f}-{max(bare):.2f}), ratio {warm['numbers_shown'] / bare_median:.2f}"
            )
            fit = time_fit(150_000)
            rest = cold["numbers_shown"] - fit["simulate"] - fit["fit_and_curves"]
            print(
                f"cold start breakdown: simulate {fit['simulate']:.1f} s + fit and curves "
                f"{fit['fit_and_curves']:.1f} s (run_analysis without cache, timed again here) + the rest "
                f"(imports, server, page, cache write) {rest:.1f} s"
            )
        slider = time_browser_slider(cache)
        print(
            f"slider in Chromium, one arrow press to the text changing, median of 12: app {slider['app']:.0f} ms, "
            f"bare Panel slider + Markdown {slider['bare']:.0f} ms, ratio {slider['app'] / slider['bare']:.2f} "
            "(goal <= 1.5)"
        )
        changes = time_budget_changes(args.users, args.changes)
        print(
            f"budget change at {args.users:,} users, median of {args.changes}: param.update(budget=...) "
            f"{changes['param_update_ms']:.1f} ms end to end (goal <= 50 ms), of which patching the strategy "
            f"comparison in place {changes['comparison_ms']:.1f} ms; a slider drag tick (numbers, sentence, table, "
            f"marker, comparison) {changes['drag_tick_ms']:.1f} ms; "
            f"{changes['models_in_document']} Bokeh models in the document"
        )


if __name__ == "__main__":
    main()

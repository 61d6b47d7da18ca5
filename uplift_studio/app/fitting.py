"""Fitting from a session: the expensive step runs in the shared worker (``jobs``), once per process per
data and settings, and the session follows its progress; a finished analysis is shown with ``_apply``."""

from __future__ import annotations

import functools
import html
import logging
import sys
from collections.abc import Callable, Hashable

import panel as pn
import param
from panel.io.state import set_curdoc

from uplift_studio.app.jobs import AnalysisJob, ExperimentFactory, analysis_job, finished_analysis
from uplift_studio.app.notify import catch_and_notify
from uplift_studio.app.state import DataSource
from uplift_studio.core.analysis import AnalysisSettings
from uplift_studio.core.data import Experiment
from uplift_studio.core.errors import DataError

log = logging.getLogger("uplift_studio.app.dashboard")


def in_session() -> bool:
    return pn.state.curdoc is not None and pn.state.curdoc.session_context is not None


class FitControls(param.Parameterized):
    """The fit button's state and the fit's life in a session (the dashboard provides the widgets)."""

    fit = param.Event(label="Fit models", doc="Fit the models on the chosen data and settings (the expensive step).")
    fitting = param.Boolean(default=False, precedence=-1, doc="A fit for this session is under way.")
    cancel = param.Event(label="Cancel fit", doc="Stop the fit under way at its next fold.")
    job = param.Parameter(default=None, precedence=-1, doc="The fit this session follows.")

    def _request(self) -> tuple[Hashable, ExperimentFactory, AnalysisSettings]:
        settings = self.model.settings(self._base_settings)
        offers = getattr(self, "offers", None)
        if offers is not None and offers.active:  # several offers: the data step's "Several offers" is ticked
            return offers.request(settings, self.revenue_per_conversion)
        if self.data.source == "provided" and self._provided is not None:
            return (self._provided.key, settings), self._provided.get, settings
        revenue_per_conversion = self.revenue_per_conversion
        data = self.data
        key = data.key(revenue_per_conversion)
        snapshot = {name: getattr(data, name) for name in data.param if name != "name"}

        def build() -> Experiment:
            # the form can change while the worker runs: build from the values at the time of the click
            return DataSource(**snapshot).experiment(revenue_per_conversion)

        return (key, settings), build, settings

    def _show_finished_if_any(self) -> None:
        try:
            key, _, _ = self._request()
        except DataError:
            return
        job = finished_analysis(key)
        if job is not None:
            self._show_result(job, defer_views=in_session())

    def _show_result(self, job: AnalysisJob, *, defer_views: bool = False) -> None:
        """A finished fit on screen: an offer analysis in the offers view, any other with ``_apply``."""
        result = job.future.result()
        # an offer analysis exists only once its module is imported: a warm start never imports it (scipy.stats)
        offers = sys.modules.get("uplift_studio.core.offers_analysis")
        if offers is not None and isinstance(result, offers.OfferAnalysis):
            self.offers.show(result)
        else:
            self._apply(result, job.experiment, defer_views=defer_views)

    def prefetch(self) -> AnalysisJob | None:
        """Start (or join) the fit of the current data and settings without waiting for it."""
        try:
            key, build, settings = self._request()
        except DataError:
            return None  # e.g. no file yet: "Fit models" will say so
        return analysis_job(key, build, settings)

    @param.depends("fit", watch=True)
    def _on_fit(self) -> None:
        self.start_fit()

    @catch_and_notify
    def start_fit(self, wait: bool | None = None) -> AnalysisJob | None:
        """Fit (or fetch) the analysis for the current data and settings.

        In a served session the fit runs in the worker thread and the page follows its progress; elsewhere
        (tests, scripts) or with ``wait=True`` it blocks until the analysis is shown.
        """
        key, build, settings = self._request()
        job = analysis_job(key, build, settings)
        doc = pn.state.curdoc
        served = doc is not None and doc.session_context is not None
        if wait is None:
            wait = not served
        if wait:
            job.future.exception()  # blocks until done
            self._finish(job)
            return job
        self.job = job
        self.fitting = True
        self.progress.active = True
        self._fit_label = self.data_label()
        self._set_progress(job.done, job.total)
        self.status_pane.object = "Preparing the data..."
        self._show_banner(job.done, job.total)
        token = job.subscribe(
            self.show_progress, functools.partial(self._schedule, doc, functools.partial(self._finish, job))
        )
        # a closed page must not stay referenced by a shared job (memory back to its warm level)
        if served:  # outside a session Panel would keep the callback for every later session
            doc.on_session_destroyed(lambda _context: job.unsubscribe(token))
        return job

    @param.depends("cancel", watch=True)
    def _on_cancel(self) -> None:
        if self.job is not None and not self.job.future.done():
            self.job.cancel()
            self.status_pane.object = "Cancelling at the end of the current fold..."

    def show_progress(self, done: int, total: int) -> None:
        # called from the worker thread; Panel forwards the change to the session's event loop
        self._set_progress(done, total)
        self.status_pane.object = f"Fitting models: fold {done} of {total} done"
        self._show_banner(done, total)

    def data_label(self) -> str:
        data = self.data
        if data.source == "file":
            return data.file_name or "the uploaded file"
        if data.source == "simulated":
            return f"the simulated campaign ({data.users:,} users, seed {data.seed})"
        source = self._provided.key[2] if self._provided is not None else None
        return source or "the data given at start-up"

    def _show_banner(self, done: int, total: int) -> None:
        """Where the eye is: which data is being fitted, how far, and that what is below is the old result."""
        label = html.escape(getattr(self, "_fit_label", "the data"))
        stale = ""
        if self.analysis is not None:
            stale = f" The results below are from <b>{html.escape(self.analysis.source)}</b> until it is done."
        self.fit_banner.object = (
            f'<div class="fit-banner"><b>Fitting the models on {label}</b>: {done} of {total} folds done.{stale}</div>'
        )
        self.fit_banner.visible = True
        self.results.styles = {"opacity": "0.5" if self.analysis is not None else "1"}

    def _hide_banner(self) -> None:
        self.fit_banner.visible = False
        self.results.styles = {"opacity": "1"}  # an emptied dict would leave the old opacity in the browser

    def _set_progress(self, done: int, total: int) -> None:
        # max first, on its own: the bar bounds its value by max only once a max change has been processed
        self.progress.max = max(total, done, 1)
        self.progress.value = min(done, self.progress.max)

    @staticmethod
    def _schedule(doc, callback: Callable[[], None]) -> None:
        def run() -> None:
            with set_curdoc(doc):
                callback()

        try:
            doc.add_next_tick_callback(run)
        except Exception:  # the session closed while the models were fitting
            log.debug("session gone before the fit finished", exc_info=True)

    @catch_and_notify
    def _finish(self, job: AnalysisJob, *, defer_views: bool = False) -> None:
        self.fitting = False
        self.progress.active = False
        error = job.future.exception()
        # a bar left full after a failure would read as a finished fit
        self.progress.value = 0 if error is not None else self.progress.max
        if error is not None:
            self._hide_banner()
            self.status_pane.object = "The fit did not finish; the previous results are kept."
            raise error
        try:
            self._show_result(job, defer_views=defer_views)
        finally:
            self._hide_banner()  # once the new views are drawn: until then the page shows the old ones

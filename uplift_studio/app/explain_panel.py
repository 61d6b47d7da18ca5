"""The app's explanation view: drivers, profiles and a targeting rule, following the budget.

The budget-independent groundwork (the final T-learner, TreeSHAP, segment profiles, pair tables) is built
once per analysis on request, in a worker thread; after that each released budget recomputes only the
contacted users' profile and the rule (about a second at 150,000 users), also in the worker, and the page
shows the newest result. Nothing here blocks a budget tick.
"""

from __future__ import annotations

import html
import threading
from concurrent.futures import ThreadPoolExecutor

import panel as pn
import param
from panel.io.state import set_curdoc

from uplift_studio.app.deferred import DeferredModule
from uplift_studio.app.notify import catch_and_notify
from uplift_studio.app.panes import ViewSlot
from uplift_studio.core.analysis import Analysis
from uplift_studio.core.data import Experiment
from uplift_studio.core.explain import Groundwork, explain_at, prepare_explanation
from uplift_studio.core.formats import format_money
from uplift_studio.core.scale_result import ScaleResult

explain_views = DeferredModule("uplift_studio.app.explain_views")  # HoloViews, once a chart is drawn
_WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="uplift-explain")


class ExplanationView(pn.viewable.Viewer):
    """Explain the targeting at the dashboard's budget (``budget``/``cost`` follow the dashboard's)."""

    explain = param.Event(label="Explain who is targeted", doc="Build the explanation (about 10 s at 150k users).")
    analysis = param.ClassSelector(class_=(Analysis, ScaleResult), default=None, allow_None=True, precedence=-1)
    experiment = param.ClassSelector(class_=Experiment, default=None, allow_None=True, precedence=-1)
    # references to the dashboard's released budget and cost: the view follows them without an observer
    budget = param.Number(default=100_000.0, allow_None=True, allow_refs=True, precedence=-1)
    cost_per_contact = param.Number(default=2.0, allow_None=True, allow_refs=True, precedence=-1)
    last_error = param.String(default="", precedence=-1)

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._ground: Groundwork | None = None
        self._latest = 0
        self._lock = threading.Lock()
        self.text = pn.pane.HTML("<p>Press <b>Explain who is targeted</b>.</p>", sizing_mode="stretch_width")
        self.drivers = ViewSlot(sizing_mode="stretch_width")
        self.check = ViewSlot(sizing_mode="stretch_width")
        self._layout = pn.Column(
            pn.widgets.Button.from_param(self.param.explain, color="light", width=260),
            self.text,
            pn.Row(self.drivers, self.check, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )

    def __panel__(self) -> pn.Column:
        return self._layout

    def notify_error(self, message: str) -> None:
        self.last_error = message
        if pn.state.notifications is not None:
            pn.state.notifications.error(html.escape(message), duration=12_000)

    @param.depends("analysis", watch=True)
    def _forget(self) -> None:
        self._ground = None
        self.text.object = "<p>Press <b>Explain who is targeted</b>.</p>"

    @param.depends("explain", watch=True)
    def _on_explain(self) -> None:
        self._run(build=True)

    @param.depends("budget", "cost_per_contact", watch=True)
    def _on_budget(self) -> None:
        if self._ground is not None:
            self._run(build=False)

    def _run(self, *, build: bool) -> None:
        if self.analysis is None:
            self.notify_error("no results to explain yet: press Fit models first.")
            return
        if self.experiment is None:  # e.g. `serve --analysis`: the results came without the users' features
            self.notify_error(
                "the explanation fits a model on the experiment's users, and these results were opened without "
                "their data: run `uplift-studio serve --data FILE` (or Fit models on data here) to explain them."
            )
            return
        with self._lock:
            self._latest += 1
            ticket = self._latest
        arguments = (self.analysis, self.experiment, max(float(self.budget), 0.01), self.cost_per_contact, ticket)
        if build:
            self.text.object = "<p>Explaining: fitting the final model and searching the rule...</p>"
        document = pn.state.curdoc
        if document is None or document.session_context is None:
            self._show(*self._compute(*arguments))
            return
        future = _WORKER.submit(self._compute, *arguments)

        def done(_) -> None:
            def show() -> None:
                with set_curdoc(document):
                    self._show(*future.result())

            document.add_next_tick_callback(show)

        future.add_done_callback(done)

    def _compute(self, analysis, experiment, budget, cost, ticket):
        from uplift_studio.core.crossfit import fit_final

        if self._ground is None:
            self._ground = prepare_explanation(analysis, experiment, fit_final(experiment, analysis.settings.model))
        cost = None if analysis.per_user_cost else cost
        return explain_at(self._ground, analysis, experiment, budget, cost), ticket

    @catch_and_notify
    def _show(self, explanation, ticket: int) -> None:
        if ticket != self._latest:
            return  # a newer budget's explanation is on its way
        self.text.object = f"<h4>At a {format_money(self.budget)} budget</h4>" + explain_views.explanation_html(
            explanation
        )
        self.drivers.object = explain_views.drivers_chart(explanation)
        self.check.object = explain_views.driver_check(explanation.drivers[0])

"""The analyst's app: a Panel template over the pure plots, wired to the ``param`` state.

Fitting is the one expensive step; it runs once per distinct (data, model settings) per process, in a
worker thread with visible progress, and is shared by every browser session (and cached on disk by
``run_analysis``). Everything else reads the frozen :class:`Analysis`: a budget change updates the KPI
cards, the sentence, the budget marker and the strategy comparison in place, and never redraws the curves.
"""

from __future__ import annotations

import functools
import html
import logging
from collections.abc import Callable

import panel as pn
import param
from panel.io.state import set_curdoc

from uplift_studio.app import markup, server_hygiene
from uplift_studio.app.bokeh_refs import BudgetRefs
from uplift_studio.app.budget_controls import BudgetControls
from uplift_studio.app.data_step import DataStep
from uplift_studio.app.deferred import DeferredModule
from uplift_studio.app.explain_panel import ExplanationView
from uplift_studio.app.files import FileControls
from uplift_studio.app.fitting import FitControls, in_session
from uplift_studio.app.jobs import ExperimentFactory, Provided
from uplift_studio.app.notify import catch_and_notify
from uplift_studio.app.offers_view import OffersMount
from uplift_studio.app.panes import TickHTML, ViewSlot
from uplift_studio.app.readout_view import readout_html
from uplift_studio.app.state import UPLOAD_LIMIT_MB, DataSource, ModelChoice
from uplift_studio.core.analysis import Analysis, AnalysisSettings
from uplift_studio.core.data import Experiment
from uplift_studio.core.formats import format_money
from uplift_studio.core.readout import ab_readout
from uplift_studio.core.scale_result import ScaleResult
from uplift_studio.core.strategies import STRATEGY_LABELS
from uplift_studio.core.view import BudgetView

log = logging.getLogger(__name__)
# imported once a session draws its views, after its first page (see deferred)
plots = DeferredModule("uplift_studio.app.plots")
plot_style = DeferredModule("uplift_studio.app.plot_style")
plots_calibration = DeferredModule("uplift_studio.app.plots_calibration")

TITLE = "Uplift Studio"
ECONOMICS_CSS = ".economics-note { font-size: 12px; color: #8a4b08; margin: 0; }"
BANNER_CSS = """
.fit-banner { background: #e8f1fb; border: 1px solid #9cc3ec; border-radius: 6px; padding: 8px 12px;
              font-size: 14px; color: #102a43; }
"""
VIEW_PAUSE_MS = 100
# the strategy table beside the comparison: up to 690 px, narrower (its text wrapping) in a narrow window
TABLE_BESIDE_CHART = {"sizing_mode": "stretch_width", "max_width": 690, "styles": {"flex": "1 1 560px"}}


# ---------------------------------------------------------------------------------------------------------
# The dashboard


def _or_empty(render: Callable[[BudgetView], str]) -> Callable[[BudgetView | None], str]:
    return lambda view: "" if view is None else render(view)


class Dashboard(BudgetControls, FitControls, FileControls, pn.viewable.Viewer):
    """Settings in the sidebar; KPIs, the sentence, the views and the downloads in the main area."""

    analysis = param.ClassSelector(
        class_=(Analysis, ScaleResult), default=None, allow_None=True, precedence=-1, doc="The results on screen."
    )
    current = param.ClassSelector(
        class_=BudgetView, default=None, allow_None=True, precedence=-1, doc="Every strategy at the current budget."
    )
    data = param.ClassSelector(class_=DataSource, instantiate=False, precedence=-1, doc="The data form's settings.")
    model = param.ClassSelector(class_=ModelChoice, instantiate=False, precedence=-1, doc="The model settings.")
    last_error = param.String(default="", precedence=-1, doc="The last error shown to the user.")
    upload_limit_mb = param.Integer(
        default=UPLOAD_LIMIT_MB, bounds=(1, None), constant=True, precedence=-1, doc="The largest upload, in MB."
    )

    def __init__(
        self,
        analysis: Analysis | None = None,
        *,
        experiment: Experiment | ExperimentFactory | Provided | None = None,
        settings: AnalysisSettings | None = None,
        data: DataSource | None = None,
        model: ModelChoice | None = None,
        **params,
    ) -> None:
        base_settings = settings or (analysis.settings if analysis is not None else AnalysisSettings())
        super().__init__(data=data or DataSource(), model=model or ModelChoice.from_settings(base_settings), **params)
        self._base_settings = base_settings
        if isinstance(experiment, Provided):
            self._provided: Provided | None = experiment
            experiment = None
        else:
            self._provided = Provided(experiment) if experiment is not None else None
        if self._provided is not None:
            self.data.param.source.objects = ["provided", "simulated", "file"]
            self.data.source = "provided"
        self._experiment: Experiment | None = experiment if isinstance(experiment, Experiment) else None
        self._template: pn.template.BootstrapTemplate | None = None
        self._build()
        if analysis is not None:
            self._apply(analysis, self._experiment, defer_views=in_session())
        else:
            self._show_finished_if_any()

    # -- building the page (once per session) -----------------------------------------------------------

    def _build(self) -> None:
        stylesheets = [markup.CSS]
        self.source_pane = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=stylesheets)
        # the numbers of the budget: bound to the one view computed per tick (see _refresh_view)
        self.sentence_pane = TickHTML(
            pn.bind(self._sentence_html, self.param.current, self.param.fitting),
            sizing_mode="stretch_width",
            stylesheets=stylesheets,
        )
        pane_style = {"sizing_mode": "stretch_width", "stylesheets": stylesheets}
        self.cards_pane = TickHTML(pn.bind(_or_empty(markup.kpi_html), self.param.current), **pane_style)
        self.table_pane = TickHTML(pn.bind(_or_empty(markup.strategy_table_html), self.param.current), **pane_style)
        self.agreement_pane = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=stylesheets, visible=False)
        self.efficiency_pane = ViewSlot(sizing_mode="stretch_width")
        self.comparison_pane = ViewSlot(sizing_mode="stretch_width", min_width=380)
        self.frontier_pane = ViewSlot(sizing_mode="stretch_width")
        self.deciles_pane = ViewSlot(sizing_mode="stretch_width")
        self.quadrants_pane = ViewSlot(sizing_mode="stretch_width")
        self.calibration_pane = ViewSlot(sizing_mode="stretch_width")
        # the marker and the comparison are drawn once per analysis, cost or strategy set; a budget tick moves
        # their Bokeh models, captured by render hooks, in place (see bokeh_refs)
        self._refs = BudgetRefs()

        self.progress = pn.indicators.Progress(value=0, max=1, active=False, sizing_mode="stretch_width", height=18)
        self.status_pane = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=stylesheets)
        # Panel's FileDropper, not FileInput: it refuses a file over the limit in the browser, before a byte is
        # sent, and sends the rest in chunks, where FileInput sends one message that Bokeh's limit ends the
        # session on. No type filter: browsers report no type for Parquet, and reading names a wrong file.
        self.upload = pn.widgets.FileDropper(
            multiple=False,
            max_file_size=f"{self.upload_limit_mb}MB",
            previews=[],
            layout="compact",
            sizing_mode="stretch_width",
        )
        self.upload.param.watch(self._on_upload, "value")
        self.example_button = pn.widgets.Button(
            label="Or try a real experiment: Hillstrom's e-mails", color="light", sizing_mode="stretch_width"
        )
        self.example_button.on_click(lambda _event: self.use_example("hillstrom"))
        self.data_step = DataStep(self.data)
        self.data_step.param.watch(lambda _event: self._on_check(), "check")
        self.downloads = self._download_row()

        # a slider and an input on the one parameter, not an EditableFloatSlider: its inner jslink sits in a
        # class-level registry whose entry holds its own key alive, and with it every closed session's dashboard
        self.budget_input = pn.widgets.FloatInput.from_param(
            self.param.budget, name="Budget ($)", format="0,0", end=None
        )
        self.budget_slider = pn.widgets.FloatSlider.from_param(
            self.param.budget, name="", show_value=False, sizing_mode="stretch_width", css_classes=["budget-slider"]
        )
        self.economics_note = TickHTML(
            pn.bind(self._economics_note_html, self.param.current),
            sizing_mode="stretch_width",
            stylesheets=[markup.CSS, ECONOMICS_CSS],
        )
        self.break_even_button = pn.widgets.Button(
            label="Use the break-even budget", visible=False, color="light", sizing_mode="stretch_width"
        )
        self.break_even_button.on_click(self._use_break_even)
        self.cost_input = pn.widgets.FloatInput.from_param(
            self.param.cost_per_contact, name="Cost per contact ($)", css_classes=["cost-input"]
        )
        self.strategies_widget = pn.widgets.CheckBoxGroup.from_param(self.param.strategies, inline=False)
        economics = pn.Column(
            self.budget_input,
            self.budget_slider,
            self.economics_note,
            self.break_even_button,
            self.cost_input,
            pn.widgets.FloatInput.from_param(self.param.revenue_per_conversion, name="Value per conversion ($)"),
            self.strategies_widget,
            sizing_mode="stretch_width",
        )
        data_form = pn.Param(
            self.data,
            parameters=["source", "users", "treated_share", "seed"],
            widgets={
                "source": pn.widgets.RadioButtonGroup,
                "users": {"type": pn.widgets.IntInput, "step": 10_000},
                "treated_share": pn.widgets.FloatInput,
                "seed": pn.widgets.IntInput,
            },
            show_name=False,
            sizing_mode="stretch_width",
        )
        model_form = pn.Param(
            self.model, show_name=False, sizing_mode="stretch_width", widgets={"seed": pn.widgets.IntInput}
        )
        self.fit_button = pn.widgets.Button.from_param(self.param.fit, color="primary", sizing_mode="stretch_width")
        self.sidebar = pn.Column(
            "### Economics",
            economics,
            "### Data",
            pn.pane.HTML(
                f"<small>Upload an experiment (CSV or Parquet, up to {self.upload_limit_mb} MB), "
                "then map its columns:</small>"
            ),
            self.upload,
            self.example_button,
            data_form,
            self.data_step,
            pn.Card(model_form, title="Model settings", collapsed=True, sizing_mode="stretch_width"),
            self.fit_button,
            pn.widgets.Button.from_param(
                self.param.cancel, color="light", visible=self.param.fitting, sizing_mode="stretch_width"
            ),
            self.progress,
            self.status_pane,
            sizing_mode="stretch_width",
        )
        released = self.budget_slider.param.value_throttled
        self.explanation = ExplanationView(budget=released, cost_per_contact=self.param.cost_per_contact)
        self.fit_banner = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=[BANNER_CSS], visible=False)
        self.readout_pane = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=stylesheets)
        data_card = pn.Card(
            self.data_step.preview_pane,
            self.data_step.checked_pane,
            title="Your data",
            sizing_mode="stretch_width",
            visible=self.data_step.param.outline.rx.is_not(None),
        )
        self.results = pn.Column(
            self.source_pane,
            self.sentence_pane,
            self.cards_pane,
            self.downloads,
            pn.Card(self.readout_pane, title="The experiment: A/B readout", sizing_mode="stretch_width"),
            # each view in its own row: Bokeh aligns the frames of plots that share a column, and the
            # frontier's outside legend would then squeeze every other plot's frame to its width
            pn.Row(self.efficiency_pane, sizing_mode="stretch_width"),
            # side by side where there is room, else the table below the chart (never past the window's edge)
            pn.FlexBox(
                pn.Row(self.comparison_pane, sizing_mode="stretch_width", styles={"flex": "1 1 380px"}),
                pn.Column("#### Strategies at this budget", self.table_pane, **TABLE_BESIDE_CHART),
                flex_wrap="wrap",
                sizing_mode="stretch_width",
            ),
            pn.Row(self.frontier_pane, sizing_mode="stretch_width"),
            pn.Row(self.deciles_pane, sizing_mode="stretch_width"),
            pn.Row(self.calibration_pane, sizing_mode="stretch_width"),
            pn.Row(self.quadrants_pane, sizing_mode="stretch_width"),
            self.agreement_pane,
            pn.Card(self.explanation, title="Who the persuadables are", sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
        self.main = pn.Column(self.fit_banner, data_card, self.results, sizing_mode="stretch_width")
        self.offers = OffersMount(self)  # several offers (issue 12): its controls, view and fit

    def __panel__(self) -> pn.template.BootstrapTemplate:
        # Bootstrap, not Fast or Material: their designs fetch Google Fonts, and the app must run offline
        if self._template is None:
            self._template = pn.template.BootstrapTemplate(
                title=TITLE, sidebar=[self.sidebar], main=[self.main], sidebar_width=340
            )
        return self._template

    @property
    def budget_refs(self) -> BudgetRefs:
        """The Bokeh models a budget tick moves (the marker's Spans, the comparison's sources), read-only."""
        return self._refs

    # -- reading the analysis (cheap) ---------------------------------------------------------------------

    def _cost(self) -> float | None:
        """None when the data has per-user costs: the analysis then ranks by score per unit of cost."""
        if self.analysis is not None and self.analysis.per_user_cost:
            return None
        return self.cost_per_contact

    def _budget(self) -> float:
        # a $0 budget buys no contact; the core wants a positive amount, and a cent buys none either
        return max(float(self.budget), 0.01)

    @param.depends("budget", "cost_per_contact", "analysis", watch=True)
    @catch_and_notify
    def _refresh_view(self) -> None:
        """The one read of a budget tick: every strategy's results, computed once, that the cards, the table,
        the sentence, the marker and the comparison all show."""
        view = None if self.analysis is None else self.analysis.view(self._budget(), self._cost())
        # held, so that the browser gets the tick's cards, table, sentence, marker and bars as one message
        # and lays the page out once, not once per changed model
        with pn.io.hold():
            self.current = view

    @param.depends("current", watch=True)
    @catch_and_notify
    def _move_budget_layers(self) -> None:
        """The marker and the comparison's bars move in place; nothing is redrawn, refitted or re-sorted."""
        if self.current is None:
            return
        self._refs.move_marker(self.current.uplift.share_targeted)
        self._refs.move_frontier_marker(self.current.budget)
        if self._refs.has_comparison:  # a new session's first numbers come before its views are drawn
            self._refs.patch_comparison(plots.comparison_columns(self.current))

    @staticmethod
    def _sentence_html(view: BudgetView | None, fitting: bool) -> str:
        if view is None:
            if fitting:
                return '<p class="sentence">Fitting the models: the results appear here when the fit is done.</p>'
            return '<p class="sentence">Press <b>Fit models</b> to analyse the experiment.</p>'
        return markup.sentence_html(view)

    @param.depends("cost_per_contact", "strategies", watch=True)
    @catch_and_notify
    def _draw_comparison(self) -> None:
        # a new cost changes the comparison's ROI axis, so it is drawn anew
        if self.analysis is None:
            return
        element = plots.strategy_comparison(self.analysis, self._budget(), self._cost(), fixed_axis=True)
        self.comparison_pane.object = self._refs.comparison(element)

    def _show_readout(self, analysis: Analysis, experiment: Experiment | None) -> None:
        if experiment is None:
            self.readout_pane.object = "<p>The experiment's data is not loaded with these results.</p>"
            return
        data = self.data
        if data.source == "file":
            share, labels = data.expected_treated_share, (data.treated_value or "1", data.control_value or "0")
        else:
            share, labels = data.treated_share if data.source == "simulated" else 0.5, ("contacted", "not contacted")
        self.readout_pane.object = readout_html(ab_readout(experiment, share), analysis, labels)

    # -- drawing (only when the analysis, the strategies or the cost change) -----------------------------

    @param.depends("analysis", "strategies", watch=True)
    @catch_and_notify
    def _draw_strategy_views(self) -> None:
        if self.analysis is None:
            return
        self._draw_efficiency()
        self._draw_deciles()
        self._draw_frontier()

    def _draw_efficiency(self) -> None:
        marker = self._refs.marker(plots.budget_marker(self.analysis, self._budget(), self._cost()))
        curve = plots.efficiency_curve(self.analysis, self.strategies or None)
        self.efficiency_pane.object = plot_style.compose(curve, marker)

    def _draw_deciles(self) -> None:
        self.deciles_pane.object = plots.decile_dominance(self.analysis, self.strategies or None)

    @param.depends("cost_per_contact", watch=True)
    @catch_and_notify
    def _draw_frontier(self) -> None:
        if self.analysis is None:
            return
        marker = self._refs.frontier_marker(plots.frontier_marker(self._budget()))
        frontier = plots.budget_frontier(self.analysis, self._cost(), self.strategies or None)
        self.frontier_pane.object = plot_style.compose(frontier, marker)

    def _draw_quadrants(self) -> None:
        self.quadrants_pane.visible = self.calibration_pane.visible = self.analysis.per_user_views
        if self.analysis.per_user_views:  # bin tables hold no user's two probabilities nor scores to calibrate
            self.quadrants_pane.object = plots.persuadability_quadrants(self.analysis)
            self.calibration_pane.object = plots_calibration.calibration_view(self.analysis)

    def _draw_notes(self) -> None:
        analysis = self.analysis
        agreement = plots.segment_agreement_table(analysis)
        self.agreement_pane.visible = agreement is not None
        if agreement is not None:
            self.agreement_pane.object = markup.agreement_html(agreement)

    def _view_steps(self) -> list[Callable[[], None]]:
        views = (self._draw_efficiency, self._draw_comparison, self._draw_frontier, self._draw_deciles)
        return [*views, self._draw_quadrants, self._draw_notes]

    def _draw_views(self) -> None:
        # one message for the six views: the browser lays the page out once, not once per view
        with pn.io.hold():
            for draw in self._view_steps():
                draw()

    def _draw_views_one_by_one(self) -> None:
        """The views of a new session, each in its own turn of the session's event loop.

        Drawn in one callback, the views held back the session's first budget change until all were done
        (measured: 4-5 s). Each view schedules the next when it is done: a budget change waits for one view."""
        document = pn.state.curdoc
        steps = self._view_steps()
        if document is None or document.session_context is None:
            for step in steps:
                step()
            return
        steps.append(server_hygiene.session_settled)  # served pages only: scripts and tests keep a plain gc

        def run(remaining: list[Callable[[], None]]) -> None:
            session = document.session_context.session
            if session is not None and (session.destroyed or session.connection_count == 0):
                return  # the browser has left: drawing on would only write to a closed connection
            with set_curdoc(document):
                remaining[0]()
            if len(remaining) > 1:
                # a pause, not a next tick: Panel hands the browser's events to the session a moment after
                # they arrive, and a next tick would always come before them
                document.add_timeout_callback(functools.partial(run, remaining[1:]), VIEW_PAUSE_MS)

        document.add_next_tick_callback(functools.partial(run, steps))

    def _apply(self, analysis: Analysis, experiment: Experiment | None, *, defer_views: bool = False) -> None:
        """Show a new analysis: the one place that redraws the curves.

        ``defer_views`` (a session being created) puts the numbers in the first page and draws the views once
        the page has loaded: the browser shows the headline without waiting for six plots' models."""
        new_data = self.analysis is not None and self.analysis.fingerprint != analysis.fingerprint
        self._experiment = experiment
        self.explanation.param.update(analysis=analysis, experiment=experiment)
        self.cost_input.disabled = analysis.per_user_cost
        available = [name for name in STRATEGY_LABELS if name in analysis.paths]
        with param.parameterized.discard_events(self):
            self.analysis = analysis
            self.param.strategies.objects = available
            self.strategies = [name for name in (self.strategies or available) if name in available] or available
        # the discarded events did not reach the check boxes: without this, real data kept offering the oracle
        self.strategies_widget.param.update(options=available, value=list(self.strategies))
        self._set_budget_range()
        # the headline first: in a session each step is sent as it happens, and the plots take seconds
        self._refresh_view()
        self.source_pane.object = markup.source_html(analysis)  # the data line, with the numbers
        self._show_readout(analysis, experiment)
        self.data_step.show_fitted(experiment)
        if new_data and self._break_even > 0:
            self.notify_info(
                f"New data: net revenue is largest at a budget of {format_money(self._break_even)} "
                f"(the whole campaign costs {format_money(analysis.max_budget(self._cost()))}). "
                "Use the break-even budget button to apply it."
            )
        if defer_views:
            pn.state.onload(self._draw_views_one_by_one)
        else:
            self._draw_views()
        self.status_pane.object = (
            f"Models fitted ({analysis.settings.model.folds}-fold cross-fitting, {html.escape(analysis.created)})."
        )

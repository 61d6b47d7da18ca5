"""The app with several offers (issue 12): "Several offers" in the data step, a contact (and redemption) cost
per offer in the sidebar, and after the fit the allocation's KPI cards, its curve against each offer alone and
the random offer, the mix of offers at the budget and the strategy table.

:class:`OffersView` is the main area; it reads the finished :class:`OfferAnalysis` at each budget (one
:func:`offer_view`: binary searches and array reads, no refit and no sort) and moves the curve's marker in
place. :class:`OffersMount` puts the controls and the view into a dashboard and hands its fit the offers.
"""

from __future__ import annotations

import dataclasses
import html
import io
from typing import TYPE_CHECKING

import panel as pn
import param

from uplift_studio.app import markup, offers_markup
from uplift_studio.app.budget_controls import SLIDER_STEPS, nice_step
from uplift_studio.app.deferred import DeferredModule
from uplift_studio.app.notify import catch_and_notify
from uplift_studio.app.offers_state import (
    DEFAULT_OFFER_COST,
    OfferChoice,
    OfferView,
    budget_top,
    file_key,
    offer_experiment,
    offer_view,
)
from uplift_studio.app.panes import TickHTML, ViewSlot
from uplift_studio.app.state import DataSource, table_from_bytes
from uplift_studio.core.errors import DataError
from uplift_studio.core.formats import format_money

if TYPE_CHECKING:
    from uplift_studio.core.offers_analysis import OfferAnalysis

STYLESHEETS = [markup.CSS, offers_markup.CSS]
# HoloViews, once an offers analysis is drawn (see deferred)
plot_style = DeferredModule("uplift_studio.app.plot_style")
plots_offers = DeferredModule("uplift_studio.app.plots_offers")


class OffersView(pn.viewable.Viewer):
    """The offers' main area: cards, mix, curve and table of one analysis, following ``budget``."""

    analysis = param.Parameter(default=None, doc="The offers' results (an OfferAnalysis).")
    budget = param.Number(default=1_000.0, bounds=(0.0, None), doc="The campaign budget, in the revenue's currency.")
    current = param.ClassSelector(
        class_=OfferView, default=None, allow_None=True, precedence=-1, doc="Every strategy at the current budget."
    )

    def __init__(self, **params) -> None:
        super().__init__(**params)
        style = {"sizing_mode": "stretch_width", "stylesheets": STYLESHEETS}
        self.source_pane = pn.pane.HTML("", **style)
        self.cards_pane = TickHTML("", **style)
        self.mix_pane = TickHTML("", **style)
        self.table_pane = TickHTML("", **style)
        self.curve_pane = ViewSlot(sizing_mode="stretch_width")
        self._spans: list = []
        downloads = pn.Row(
            pn.widgets.FileDownload(
                callback=self.contact_file, filename="offer_contacts.csv", label="Download contact list", width=230
            ),
            pn.widgets.FileDownload(
                callback=self.snapshot_file, filename="offers_snapshot.html", label="Download snapshot", width=230
            ),
        )
        self.layout = pn.Column(
            self.source_pane,
            self.cards_pane,
            downloads,
            pn.Row(self.mix_pane, sizing_mode="stretch_width", styles={"margin": "8px 0"}),
            pn.Row(self.curve_pane, sizing_mode="stretch_width"),
            "#### Strategies at this budget",
            self.table_pane,
            sizing_mode="stretch_width",
            css_classes=["offers-view"],
        )
        self._draw()

    def __panel__(self) -> pn.viewable.Viewable:
        return self.layout

    def contact_list(self):
        """Who gets which offer under the budget, in the order the allocation settles them (the core's list)."""
        from uplift_studio.core.offers_analysis import allocation_targets

        if self.analysis is None:
            raise DataError("no results yet: press Fit models first.")
        scores = self.analysis.scores
        rows = scores.evaluation
        budget = max(float(self.budget), 0.01)
        return allocation_targets(
            scores.user_id[rows], scores.eir[rows], scores.cost[rows], self.analysis.offers, budget
        )

    def contact_file(self) -> io.StringIO:
        buffer = io.StringIO()
        self.contact_list().write_csv(buffer)
        buffer.seek(0)
        return buffer

    def snapshot_file(self) -> io.StringIO:
        from uplift_studio.app.offers_snapshot import offer_snapshot_html

        if self.analysis is None:
            raise DataError("no results yet: press Fit models first.")
        return io.StringIO(offer_snapshot_html(self.analysis, max(float(self.budget), 0.01)))

    def _keep_span(self, plot, element) -> None:
        span = plot.handles["glyph"]
        span.level = "overlay"
        if span not in self._spans:
            self._spans.append(span)

    @param.depends("analysis", watch=True)
    def _draw(self) -> None:
        """A new analysis: the one place the curve is drawn."""
        if self.analysis is None:
            return
        self._spans.clear()
        self.source_pane.object = offers_markup.source_html(self.analysis)
        marker = plots_offers.offer_marker(self.budget).opts(hooks=[self._keep_span], backend="bokeh")
        self.curve_pane.object = plot_style.compose(plots_offers.offer_curves(self.analysis), marker)
        self._refresh()

    @param.depends("budget", watch=True)
    def _refresh(self) -> None:
        """A budget tick: one read of the analysis, the texts replaced and the marker moved in place."""
        if self.analysis is None:
            return
        view = offer_view(self.analysis, self.budget)
        with pn.io.hold():
            self.current = view
            self.cards_pane.object = offers_markup.kpi_html(view)
            self.mix_pane.object = offers_markup.mix_html(view)
            self.table_pane.object = offers_markup.table_html(view)
            for span in self._spans:
                span.location = view.budget


class OffersMount(param.Parameterized):
    """The offers' controls and view inside a dashboard (its data step, sidebar, main area and budget)."""

    analysis = param.Parameter(default=None, precedence=-1, doc="The offers' results (an OfferAnalysis).")

    def __init__(self, dashboard, **params) -> None:
        super().__init__(**params)
        self._dashboard = dashboard
        self.choice = OfferChoice()
        self.several_box = pn.widgets.Checkbox.from_param(
            self.choice.param.several, sizing_mode="stretch_width", css_classes=["field-several_offers"]
        )
        self.offers_widget = pn.widgets.MultiChoice.from_param(
            self.choice.param.offers, label="Offers", sizing_mode="stretch_width", css_classes=["field-offers"]
        )
        self.costs = pn.Column(sizing_mode="stretch_width", css_classes=["offer-costs"])
        # what the next fit will use, as the server holds it (a typed cost counts once it shows here)
        self.costs_summary = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["offer-costs-summary"])
        self.costs_card = pn.Column(
            "### Offer costs",
            pn.pane.HTML("<small>Per offer: what a contact costs, and what a redemption (a conversion) adds.</small>"),
            self.costs,
            self.costs_summary,
            sizing_mode="stretch_width",
            visible=False,
        )
        self.view = OffersView(budget=dashboard.budget)
        self.view_panel = pn.Column(self.view, sizing_mode="stretch_width", visible=False)
        step = dashboard.data_step
        form = step.form
        form.insert(_position(form, step.widgets["control_value"]) + 1, self.offers_widget)
        form.insert(_position(form, step.widgets["treatment_column"]), self.several_box)
        dashboard.sidebar.insert(_position(dashboard.sidebar, step.form) + 1, self.costs_card)
        dashboard.main.append(self.view_panel)
        data = dashboard.data
        data.param.watch(self._offer_labels, ["treatment_column", "control_value"])
        step.param.watch(self._offer_labels, "outline")
        self.choice.param.watch(self._on_several, "several")
        self.choice.param.watch(self._cost_inputs, "offers")
        dashboard.param.watch(self._on_budget, "budget")
        # "current", not "analysis": the dashboard sets a new analysis with its events discarded
        dashboard.param.watch(self._on_single_analysis, "current")

    @property
    def active(self) -> bool:
        """The next fit is an offer analysis: "Several offers" ticked on an uploaded file."""
        return self.choice.several and self._dashboard.data.source == "file"

    # -- the data step and the costs -------------------------------------------------------------------

    def _offer_labels(self, *_events) -> None:
        """The offers to pick from: the treatment column's labels other than the control (all, by default)."""
        dashboard = self._dashboard
        outline = dashboard.data_step.outline
        labels = () if outline is None else outline.labels.get(dashboard.data.treatment_column, ())
        offers = sorted(label for label in labels if label != dashboard.data.control_value)
        # Bokeh's MultiChoice (Choices.js, allowHTML) renders its labels as HTML: a label is shown as text
        self.choice.param.offers.objects = {html.escape(label): label for label in offers}
        self.choice.offers = offers
        self.offers_widget.param.update(options={html.escape(label): label for label in offers}, value=offers)

    def _on_several(self, *_events) -> None:
        several = self.choice.several
        self.costs_card.visible = several
        widgets = self._dashboard.data_step.widgets
        # one treated label and its designed share belong to the two-arm analysis
        widgets["treated_value"].visible = widgets["expected_treated_share"].visible = not several
        self._cost_inputs()

    def _cost_inputs(self, *_events) -> None:
        """A contact and a redemption cost input per chosen offer (kept when an offer stays chosen)."""
        rows = []
        for index, offer in enumerate(self.choice.offers):
            contact = pn.widgets.FloatInput(
                label=f"{offer}: cost per contact ($)",
                value=float(self.choice.contact_cost.get(offer, DEFAULT_OFFER_COST)),
                start=0.0,
                step=0.01,
                format="0.00[0]",
                sizing_mode="stretch_width",
                css_classes=[f"offer-cost-{index}"],
            )
            redemption = pn.widgets.FloatInput(
                label=f"{offer}: cost per redemption ($)",
                value=float(self.choice.redemption_cost.get(offer, 0.0)),
                start=0.0,
                step=0.5,
                format="0.00[0]",
                sizing_mode="stretch_width",
                css_classes=[f"offer-redemption-{index}"],
            )
            contact.param.watch(lambda event, offer=offer: self._set_cost("contact_cost", offer, event.new), "value")
            redemption.param.watch(
                lambda event, offer=offer: self._set_cost("redemption_cost", offer, event.new), "value"
            )
            rows.append(pn.Column(contact, redemption, sizing_mode="stretch_width", margin=(0, 0, 6, 0)))
        self.costs.objects = rows
        self._show_costs()

    def _set_cost(self, name: str, offer: str, value: float | None) -> None:
        setattr(self.choice, name, {**getattr(self.choice, name), offer: value if value is not None else 0.0})
        self._show_costs()

    def _show_costs(self) -> None:
        contact, redemption = self.choice.costs()
        parts = [
            f"{offer} {format_money(cost)}" + (f" + {format_money(redemption[offer])}" if offer in redemption else "")
            for offer, cost in contact.items()
        ]
        text = "The fit will use: " + "; ".join(parts) + "." if parts else ""
        self.costs_summary.object = f"<small>{html.escape(text)}</small>"

    def set_costs(self, contact: dict[str, float], redemption: dict[str, float] | None = None) -> None:
        """Set the offers' costs as the analyst would type them (scripts and tests)."""
        self.choice.param.update(contact_cost=dict(contact), redemption_cost=dict(redemption or {}))
        self._cost_inputs()

    # -- the fit ---------------------------------------------------------------------------------------

    def request(self, settings, revenue_per_conversion: float | None):
        """The fit's (key, factory, settings) for the dashboard's worker, from the values at the time of the click."""
        data = self._dashboard.data
        if not data.file_bytes:
            raise DataError("no file uploaded yet: upload a CSV or Parquet experiment with several offers first.")
        choice_key = self.choice.key()
        columns = data.column_map()
        key = file_key(data.file_bytes, data.file_name, columns, choice_key, revenue_per_conversion)
        snapshot = {name: getattr(data, name) for name in data.param if name != "name"}

        def build():
            source = DataSource(**snapshot)
            raw, notes = table_from_bytes(source.file_bytes, source.file_name)
            experiment = offer_experiment(raw, columns, choice_key, source.file_name, revenue_per_conversion)
            return dataclasses.replace(experiment, notes=notes + experiment.notes) if notes else experiment

        # an experiment of several offers needs the control label only: the form's treated label is not read
        offer_experiment_check(choice_key)
        return (key, settings), build, settings

    def show(self, analysis: OfferAnalysis) -> None:
        """A finished offer analysis in the main area, the single-offer results and their controls set aside."""
        dashboard = self._dashboard
        self.analysis = analysis
        dashboard.analysis = None  # the budget slider is the offers' now (no clamp to the other analysis)
        top = budget_top(analysis)
        step = nice_step(top / SLIDER_STEPS)
        dashboard.param.budget.softbounds = (0.0, top)
        dashboard.param.budget.step = step
        dashboard.budget_slider.param.update(start=0.0, end=top, step=step)
        dashboard.budget_input.step = step
        for widget in (dashboard.cost_input, dashboard.strategies_widget, dashboard.break_even_button):
            widget.visible = False
        dashboard.results.visible = False
        if dashboard.budget > top:
            self._clamp(top)
        self.view.param.update(analysis=analysis, budget=dashboard._budget())
        self.view_panel.visible = True
        dashboard.status_pane.object = (
            f"Offer models fitted ({analysis.settings.folds}-fold cross-fitting, {len(analysis.offers)} offers)."
        )

    def _clamp(self, top: float) -> None:
        typed = self._dashboard.budget
        self._dashboard.budget = top
        self._dashboard.notify_info(
            f"A budget of {format_money(typed)} is more than giving every customer an offer costs: set to "
            f"{format_money(top)}."
        )

    @catch_and_notify
    def _on_budget(self, event) -> None:
        if self.analysis is None or not self.view_panel.visible:
            return
        top = budget_top(self.analysis)
        if event.new > top:
            self._clamp(top)
            return
        self.view.budget = self._dashboard._budget()

    def _on_single_analysis(self, event) -> None:
        """A two-arm analysis on screen again: the offers view steps aside."""
        if event.new is None:
            return
        dashboard = self._dashboard
        self.view_panel.visible = False
        dashboard.results.visible = True
        dashboard.cost_input.visible = dashboard.strategies_widget.visible = True

    def notify_error(self, message: str) -> None:
        self._dashboard.notify_error(message)


def _position(column: pn.Column, item) -> int:
    """Where ``item`` (or the Viewer that renders as it) sits in ``column``."""
    for index, obj in enumerate(column.objects):
        if obj is item or getattr(obj, "_panel", None) is item or getattr(obj, "form", None) is item:
            return index
    raise LookupError(f"{item!r} is not in the column")


def offer_experiment_check(choice_key: tuple) -> None:
    """Refuse at once (not in the worker) a choice that cannot make an offer analysis."""
    _, offers, contact, _ = choice_key
    if len(offers) < 2:
        raise DataError(
            "“Several offers” needs two or more offers: pick them in “Offers”, or untick “Several offers” to compare "
            "one treated label with the control."
        )
    free = [offer for offer, cost in contact if not cost > 0]
    if free:
        raise DataError(
            f"the cost per contact of {', '.join(map(repr, free))} must be more than $0: enter it under Offer costs."
        )

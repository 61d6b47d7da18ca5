"""The budget fitted to the data: the slider spans what contacting the whole campaign costs, a typed budget
beyond it is clamped with a notice, and the page says when a budget contacts everyone or loses money and
offers the break-even budget."""

from __future__ import annotations

import html
import math

import param

from uplift_studio.app.notify import catch_and_notify
from uplift_studio.app.state import Economics
from uplift_studio.core.formats import format_count, format_money
from uplift_studio.core.view import BudgetView

SLIDER_STEPS = 200


def nice_step(amount: float) -> float:
    """A round step near ``amount``: 1, 2 or 5 times a power of ten (cents at least)."""
    if not amount > 0:
        return 0.01
    power = 10.0 ** math.floor(math.log10(amount))
    for factor in (1.0, 2.0, 5.0, 10.0):
        if amount <= factor * power * 1.0000001:
            return max(round(factor * power, 2), 0.01)
    return round(10 * power, 2)


class BudgetControls(Economics):
    """Budget range, clamp, break-even and the economics note (the dashboard provides the widgets)."""

    def _budget_top(self) -> float | None:
        """The slider's end: the cost of contacting the whole campaign (to the cent; the last step is short)."""
        if self.analysis is None:
            return None
        return math.ceil(self.analysis.max_budget(self._cost()) * 100 - 1e-6) / 100

    def _set_budget_range(self) -> None:
        top = self._budget_top()
        if top is None:
            return
        step = nice_step(top / SLIDER_STEPS)
        self.param.budget.softbounds = (0.0, top)
        self.param.budget.step = step
        self.budget_slider.param.update(start=0.0, end=top, step=step)
        self.budget_input.step = step
        self._break_even = self.analysis.break_even_budget("uplift", self._cost())
        self.break_even_button.param.update(
            label=f"Use the break-even budget ({format_money(self._break_even)})", visible=self._break_even > 0
        )
        self._clamp_budget()

    @param.depends("cost_per_contact", watch=True)
    @catch_and_notify
    def _on_cost(self) -> None:
        self._set_budget_range()

    @param.depends("budget", watch=True)
    @catch_and_notify
    def _clamp_budget(self) -> None:
        top = self._budget_top()
        if top is None or self.budget <= top:
            return
        typed = self.budget
        self.budget = top
        self.notify_info(
            f"A budget of {format_money(typed)} is more than contacting all {format_count(self.analysis.population)} "
            f"users costs: set to {format_money(top)}."
        )

    def _use_break_even(self, _event=None) -> None:
        if getattr(self, "_break_even", 0.0) > 0:
            self.budget = float(self._break_even)

    def _economics_note_html(self, view: BudgetView | None) -> str:
        """What a careful analyst would want said about this budget: everyone contacted, or money lost."""
        if view is None:
            return ""
        uplift, lines = view.uplift, []
        break_even = getattr(self, "_break_even", 0.0)
        if view.contacted_everyone:
            lines.append(
                f"This budget contacts all {format_count(view.population)} users, so every strategy does the same."
            )
        if uplift.contacts and uplift.net < 0:
            lines.append(f"At this budget the campaign loses money: net {format_money(uplift.net)}.")
        if lines and break_even > 0:
            lines.append(f"Net revenue is largest at the break-even budget, {format_money(break_even)}.")
        elif lines:
            lines.append("No budget makes money at this cost per contact.")
        if not lines:
            return ""
        return '<p class="economics-note">' + " ".join(html.escape(line) for line in lines) + "</p>"

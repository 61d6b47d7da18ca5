"""The snapshot's budget slider: the budgets it can take and what the page shows at each of them.

The slider has at most a few hundred positions, so every one is computed here, at export time, by the
same code the app runs: :meth:`Analysis.view` gives the results, :func:`markup.fields` their texts. The
page embeds them as column arrays (one row per position; each text column holds indices into one list of
distinct texts, since most texts repeat across positions) and the slider's JavaScript only looks up the
position and copies the stored texts, card visibility and marker locations into the page. It formats no
number and does no budget arithmetic, so the browser shows exactly what Python wrote.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from bokeh.models import ColumnDataSource, CustomJS, Div, Slider, Span

from uplift_studio.app import markup
from uplift_studio.core.analysis import Analysis
from uplift_studio.core.errors import DataError

SLIDER_POSITIONS = 400
"""Target number of budget slider positions; the nice step chosen gives between half and all of them."""
TEXT = "text:"
"""Column prefix of a ``data-field`` text (indices into the distinct texts)."""
HIDDEN = "hidden:"
"""Column prefix of a KPI card's visibility (``data-kpi`` key): True where the card is hidden."""
MARKER = "marker:"
"""Column prefix of a marker Span's location (the Span's name)."""
BAR = "bar:"
"""Column prefix of a ``data-bar`` element's width, in percent (the offers' mix)."""
CURVE_MARKER = "snapshot_curve_marker"
FRONTIER_MARKER = "snapshot_frontier_marker"

_NICE_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)
_SLIDER_JS = Path(__file__).with_name("snapshot_slider.js").read_text(encoding="utf-8")


def check_budget(budget: float) -> None:
    if isinstance(budget, bool) or not isinstance(budget, numbers.Real) or not math.isfinite(budget) or budget <= 0:
        raise DataError(
            f"budget must be a finite amount > 0; got {budget!r}. Enter the campaign's budget in the same "
            "currency as the costs."
        )


@dataclass(frozen=True)
class BudgetSlider:
    """The positions the budget slider can take: ``start + i * step`` up to ``end``, and ``value``."""

    start: float
    end: float
    step: float
    value: float

    def positions(self) -> np.ndarray:
        """Every budget the slider can reach, and the initial one (which may sit between positions)."""
        count = int(round((self.end - self.start) / self.step)) + 1
        reachable = self.start + self.step * np.arange(count, dtype=np.float64)
        return np.unique(np.append(reachable, self.value))


def budget_slider(analysis: Analysis, budget: float, cost_per_contact: float | None) -> BudgetSlider:
    """A slider from one step up to the cost of contacting everyone, in a round step.

    The step is the smallest of 1, 2, 2.5, 5 x 10^k giving at most :data:`SLIDER_POSITIONS` positions, and
    never below the cost of one contact (a position that buys nobody shows nothing). Whole-dollar steps
    keep every position an exact float in Python and in the browser.
    """
    check_budget(budget)
    smallest = None if analysis.per_user_cost else cost_per_contact
    return slider_range(analysis.max_budget(cost_per_contact), budget, smallest)


def slider_range(top: float, budget: float, smallest_step: float | None = None) -> BudgetSlider:
    """The slider of :func:`budget_slider` up to ``top`` (and at least ``budget``), its step no smaller
    than ``smallest_step``."""
    check_budget(budget)
    top = max(float(top), float(budget))
    raw = top / SLIDER_POSITIONS
    if smallest_step is not None:
        raw = max(raw, float(smallest_step))
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in _NICE_STEPS if m * magnitude >= raw)
    step = float(max(1.0, math.ceil(step)))
    # a budget below one step starts the slider at itself, so the chosen budget is always on it
    start = min(step, float(budget))
    end = start + math.ceil((top - start) / step) * step
    return BudgetSlider(start=start, end=end, step=step, value=float(budget))


@dataclass(frozen=True)
class SliderStates:
    """What the page shows at every slider position, as the page embeds it.

    ``columns`` has one row per position: ``budget``, ``text:<field>`` (an index into ``texts``),
    ``hidden:<card>`` and ``marker:<span name>``.
    """

    columns: dict[str, np.ndarray]
    texts: list[str]

    def fields(self, position: int) -> dict[str, str]:
        """The ``data-field`` texts at one position, as :func:`markup.fields` gives them."""
        return {
            key[len(TEXT) :]: self.texts[int(column[position])]
            for key, column in self.columns.items()
            if key.startswith(TEXT)
        }


def slider_states(analysis: Analysis, budgets: np.ndarray, cost_per_contact: float | None) -> SliderStates:
    """The texts, hidden cards and marker locations at each of ``budgets``, from :meth:`Analysis.view`."""
    texts: dict[str, int] = {}
    rows: list[dict[str, str]] = []
    hidden: dict[str, list[bool]] = {}
    shares = []
    for budget in budgets:
        view = analysis.view(float(budget), cost_per_contact)
        fields = markup.fields(view)
        if rows and fields.keys() != rows[0].keys():
            raise RuntimeError(f"the markup's fields change with the budget (at {budget}): the page cannot follow")
        rows.append(fields)
        for text in fields.values():
            texts.setdefault(text, len(texts))
        for card in markup.cards(view):
            hidden.setdefault(card.key, []).append(card.hidden)
        shares.append(view.uplift.share_targeted)
    columns: dict[str, np.ndarray] = {"budget": np.asarray(budgets, dtype=np.float64)}
    index_type = np.int16 if len(texts) < 2**15 else np.int32
    for key in rows[0]:
        columns[TEXT + key] = np.array([texts[row[key]] for row in rows], dtype=index_type)
    for key, flags in hidden.items():
        columns[HIDDEN + key] = np.array(flags, dtype=bool)
    columns[MARKER + CURVE_MARKER] = np.array(shares, dtype=np.float64)
    columns[MARKER + FRONTIER_MARKER] = columns["budget"]
    return SliderStates(columns=columns, texts=list(texts))


def slider_widget(
    analysis: Analysis,
    budget: float,
    cost_per_contact: float | None,
    divs: list[Div],
    spans: list[Span],
) -> Slider:
    """The Bokeh budget slider whose CustomJS fills ``divs``' ``data-field`` elements and moves ``spans``
    (named :data:`CURVE_MARKER` / :data:`FRONTIER_MARKER`) from the precomputed :func:`slider_states`."""
    slider_range = budget_slider(analysis, budget, cost_per_contact)
    states = slider_states(analysis, slider_range.positions(), cost_per_contact)
    return states_slider(slider_range, states, divs, spans)


def states_slider(slider_range: BudgetSlider, states: SliderStates, divs: list[Div], spans: list[Span]) -> Slider:
    """The Bokeh slider over ``slider_range`` whose CustomJS copies ``states`` into ``divs`` and ``spans``."""
    slider = Slider(
        start=slider_range.start,
        end=slider_range.end,
        step=slider_range.step,
        value=slider_range.value,
        title="Budget",
        format="$0,0",
        name="budget_slider",
        sizing_mode="stretch_width",
    )
    positions = ColumnDataSource(data=states.columns, name="snapshot_positions")
    texts = ColumnDataSource(data={"text": states.texts}, name="snapshot_texts")
    callback = CustomJS(
        args={"slider": slider, "positions": positions, "texts": texts, "divs": divs, "spans": spans},
        code=_SLIDER_JS,
    )
    slider.js_on_change("value", callback)
    return slider

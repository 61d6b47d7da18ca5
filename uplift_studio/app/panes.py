"""Panes of the dashboard: the HTML a budget tick changes (the KPI cards, the strategy table, the sentence)
and the places of its HoloViews views."""

from __future__ import annotations

import panel as pn


class TickHTML(pn.pane.HTML):
    """An HTML pane whose updates send its text alone.

    Panel's HTML pane sends every property on an update, and rebuilds its style sheet list each time (its
    loading CSS and the configured CSS files, resolved against the session's address). Measured with
    ``benchmarks/bench_sessions.py``: a session's first budget change re-sent the sentence's style sheets,
    which the browser fetched and applied again (that change took 2.4 s, later ones 0.18 s), and with
    sessions opening at once their addresses pointed at cdn.holoviz.org, a request an offline app must never
    make. The style sheets are set when the pane is rendered; only the text follows the budget."""

    def _update(self, ref: str, model) -> None:
        model.update(**self._process_param_change({"object": self.object}))


class ViewSlot:
    """The place of one HoloViews view: an empty row until a view is first drawn into it.

    A HoloViews pane imports HoloViews when it is made (0.3 s with its Bokeh plotting), and a new session's
    views are drawn only after its first page is sent; a slot makes its pane, and so imports HoloViews, when
    the first view arrives, so that the first page of a warm start waits for neither. ``object`` reads and
    sets the pane's and ``visible`` the slot's, as on a pane."""

    def __init__(self, **params) -> None:
        self._params = params
        layout = {name: params[name] for name in ("sizing_mode", "min_width") if name in params}
        self._row = pn.Row(**layout, margin=0)
        self._pane: pn.pane.HoloViews | None = None

    def __panel__(self) -> pn.Row:
        return self._row

    @property
    def object(self):
        return None if self._pane is None else self._pane.object

    @object.setter
    def object(self, value) -> None:
        if self._pane is not None:
            self._pane.object = value
        elif value is not None:  # made with its first view: one update, not an empty pane and then its view
            self._pane = pn.pane.HoloViews(value, **self._params)
            self._row.objects = [self._pane]

    @property
    def visible(self) -> bool:
        return self._row.visible

    @visible.setter
    def visible(self, value: bool) -> None:
        self._row.visible = value


def complete_on_load(layout: pn.layout.ListLike, keep: int) -> None:
    """Send a served session's ``layout`` with its first ``keep`` objects, and the rest once the page has
    loaded.

    A page's first HTML is built in the request, widget by widget (each a few Bokeh models with their
    defaults and style sheets): the sidebar's data and model settings were two thirds of a warm start's
    first page and none of its numbers."""
    rest = layout.objects[keep:]
    if not rest:
        return
    layout.objects = layout.objects[:keep]
    pn.state.onload(lambda: layout.extend(rest))

"""The HTML pane of the texts a budget tick changes (the KPI cards, the strategy table, the sentence)."""

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

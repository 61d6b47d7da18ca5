"""References to the few Bokeh models a budget tick changes, captured once by HoloViews render hooks.

A HoloViews refresh (a DynamicMap's included) freezes the Bokeh document and walks every model of the page
when it thaws, tens of milliseconds on the dashboard; setting a Span's location or a data source's columns
sends one small patch and walks nothing. So each dashboard hooks the marker and the comparison's glyphs
when they are rendered and keeps the models the hooks hand it: nothing searches the document for them.
"""

from __future__ import annotations

import holoviews as hv


class BudgetRefs:
    """The budget marker's Spans and the strategy comparison's data sources of one dashboard."""

    def __init__(self) -> None:
        self.spans: list = []
        self.bars: list = []
        self.whiskers: list = []
        self.truth: list = []
        self.figures: list = []

    # -- hooks (HoloViews calls them with the element's plot when it renders) ---------------------------

    def marker_hook(self, plot, element) -> None:
        span = plot.handles["glyph"]
        # on Bokeh's overlay layer, a moved marker repaints that layer alone, not the curves beneath it
        span.level = "overlay"
        if span not in self.spans:
            self.spans.append(span)

    def _keep(self, bucket: list, model) -> None:
        if model not in bucket:
            bucket.append(model)

    def bars_hook(self, plot, element) -> None:
        self._keep(self.bars, plot.handles["source"])
        self._keep(self.figures, plot.handles["plot"])

    def whiskers_hook(self, plot, element) -> None:
        self._keep(self.whiskers, plot.handles["glyph"].source)

    def truth_hook(self, plot, element) -> None:
        self._keep(self.truth, plot.handles["source"])

    # -- what a dashboard draws, hooked ------------------------------------------------------------------

    def marker(self, marker: hv.VLine) -> hv.VLine:
        self.spans.clear()
        return marker.opts(hooks=[self.marker_hook], backend="bokeh")

    def comparison(self, overlay: hv.Overlay) -> hv.Overlay:
        for bucket in (self.bars, self.whiskers, self.truth, self.figures):
            bucket.clear()
        return overlay.opts(
            hv.opts.Bars(hooks=[self.bars_hook]),
            hv.opts.ErrorBars(hooks=[self.whiskers_hook]),
            hv.opts.Scatter(hooks=[self.truth_hook]),
            backend="bokeh",
        )

    # -- a budget tick ----------------------------------------------------------------------------------

    def move_marker(self, location: float) -> None:
        for span in self.spans:
            span.location = location

    def patch_comparison(self, columns: dict) -> None:
        for source in self.bars:
            source.data.update(
                roi=columns["roi"], incremental_revenue=columns["incremental_revenue"], contacts=columns["contacts"]
            )
        for source in self.whiskers:
            source.data.update(lower=columns["roi_low"], upper=columns["roi_high"])
        for source in self.truth:
            source.data.update(true_roi=columns["true_roi"])
        for figure in self.figures:
            if figure.title is not None:
                figure.title.text = columns["title"]

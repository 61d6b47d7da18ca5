"""References to the few Bokeh models a budget tick changes, captured once by HoloViews render hooks.

A HoloViews refresh (a DynamicMap's included) freezes the Bokeh document and walks every model of the page
when it thaws, tens of milliseconds on the dashboard; setting a Span's location or a data source's columns
sends one small patch and walks nothing. So each dashboard hooks the marker and the comparison's glyphs
when they are rendered and keeps the models the hooks hand it: nothing searches the document for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from uplift_studio.app.deferred import DeferredModule

if TYPE_CHECKING:
    import holoviews as hv

plots_comparison = DeferredModule("uplift_studio.app.plots_comparison")  # HoloViews, once views are drawn


class BudgetRefs:
    """The budget markers' Spans (efficiency curve and budget frontier) and the strategy comparison's data
    sources of one dashboard."""

    def __init__(self) -> None:
        self.spans: list = []
        self.frontier_spans: list = []
        self.bars: list = []
        self.whiskers: list = []
        self.truth: list = []
        self.figures: list = []

    # -- hooks (HoloViews calls them with the element's plot when it renders) ---------------------------

    def marker_hook(self, plot, element) -> None:
        self._keep_span(self.spans, plot.handles["glyph"])

    def frontier_marker_hook(self, plot, element) -> None:
        self._keep_span(self.frontier_spans, plot.handles["glyph"])

    def _keep_span(self, bucket: list, span) -> None:
        # on Bokeh's overlay layer, a moved marker repaints that layer alone, not the curves beneath it
        span.level = "overlay"
        self._keep(bucket, span)

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

    def frontier_marker(self, marker: hv.VLine) -> hv.VLine:
        """The budget frontier's marker (``plots.frontier_marker``), hooked like :meth:`marker`."""
        self.frontier_spans.clear()
        return marker.opts(hooks=[self.frontier_marker_hook], backend="bokeh")

    def comparison(self, overlay: hv.Overlay) -> hv.Overlay:
        import holoviews as hv

        for bucket in (self.bars, self.whiskers, self.truth, self.figures):
            bucket.clear()
        return overlay.opts(
            hv.opts.Bars(hooks=[self.bars_hook]),
            hv.opts.ErrorBars(hooks=[self.whiskers_hook]),
            hv.opts.Scatter(hooks=[self.truth_hook]),
            backend="bokeh",
        )

    @property
    def has_comparison(self) -> bool:
        """Whether a drawn comparison has handed over its bars (nothing to patch before)."""
        return bool(self.bars or self.whiskers or self.truth or self.figures)

    # -- a budget tick ----------------------------------------------------------------------------------

    def move_marker(self, location: float) -> None:
        for span in self.spans:
            span.location = location

    def move_frontier_marker(self, budget: float) -> None:
        for span in self.frontier_spans:
            span.location = budget

    def patch_comparison(self, columns: dict) -> None:
        # A new analysis can reach ``current`` before its chart is redrawn (seen under load: four bars of the
        # simulated campaign still on screen, three strategies of the uploaded file); a source of another
        # length is left to that redraw, since a partial update of its columns is refused by Bokeh.
        size = len(columns["strategy"])

        def fits(source) -> bool:
            return all(len(values) == size for values in source.data.values())

        for source in filter(fits, self.bars):
            source.data.update({name: columns[name] for name in plots_comparison.BAR_COLUMNS})
        for source in filter(fits, self.whiskers):
            source.data.update(lower=columns["roi_low"], upper=columns["roi_high"])
        for source in filter(fits, self.truth):
            source.data.update(true_roi=columns["true_roi"])
        values = plots_comparison.comparison_values(columns)
        for figure in self.figures:
            axis = figure.y_range
            if figure.title is not None and getattr(axis, "start", None) is not None:
                # the fixed axis holds most budgets' values; the title says when this one's run past it
                clipped = bool(((values < axis.start) | (values > axis.end)).any())
                figure.title.text = columns["title_clipped" if clipped else "title"]

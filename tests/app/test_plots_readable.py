"""Views that read well: axes fitted to the data, every decile labelled, notes that say why, markers that
move in place, segment labels off the dense cells and inside the frame (issue 10, items 5b and 6)."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import polars as pl
import pytest
from bokeh.models import FixedTicker, Span, Title

from uplift_studio.app import plots
from uplift_studio.app.bokeh_refs import BudgetRefs
from uplift_studio.app.plot_style import compose
from uplift_studio.app.plots_comparison import comparison_values
from uplift_studio.app.plots_segments import capture_note, frame_px, place_labels, segment_label, wrapped
from uplift_studio.core.segments import SEGMENTS, persuadable_evidence

hv.extension("bokeh")

COST = 2.0


def _subtitles(figure) -> str:
    return "\n".join(item.text for item in figure.above if isinstance(item, Title) and item is not figure.title)


def _values_at(analysis, budget: float, cost: float) -> np.ndarray:
    return comparison_values(plots.strategy_comparison_columns(analysis, budget, cost))


# --------------------------------------------------------------------------------------------------------
# ROI by strategy


def test_comparison_axis_fits_this_budgets_values_with_zero_and_break_even(analysis):
    budget = 3_000.0
    values = _values_at(analysis, budget, COST)
    overlay = plots.strategy_comparison(analysis, budget, COST)
    low, high = hv.Store.lookup_options("bokeh", overlay, "plot").kwargs["ylim"]
    data_low, data_high = min(0.0, values.min()), max(1.0, values.max())
    assert low < data_low and high > data_high
    # a margin, not a constant range: at most 10% of the span on either side
    assert (data_low - low) <= 0.1 * (data_high - data_low) and (high - data_high) <= 0.1 * (data_high - data_low)
    lines = [e for e in overlay if isinstance(e, hv.HLine)]
    assert len(lines) == 1 and lines[0].data == 1.0  # break-even: revenue equals spend


def test_fixed_comparison_axis_comes_from_the_analysis_over_budgets(analysis):
    low, high = plots.comparison_roi_range(analysis, COST)
    top = analysis.max_budget(COST)
    held = [_values_at(analysis, budget, COST) for budget in np.linspace(0.1 * top, top, 12)]
    held = np.concatenate(held)
    assert low < min(0.0, held.min()) and high > max(1.0, held.max())
    assert high - low <= 1.2 * (max(1.0, held.max()) - min(0.0, held.min()))
    # a dearer contact divides every ROI: the axis follows the analysis, not constants
    dear_low, dear_high = plots.comparison_roi_range(analysis, 4 * COST)
    assert dear_high < high and (dear_low, dear_high) != (low, high)


def test_comparison_titles_are_short_and_say_when_values_run_past_the_fixed_axis(analysis):
    for budget in (3_000.0, 1_234_567.0):
        columns = plots.strategy_comparison_columns(analysis, budget, COST)
        assert len(columns["title"]) <= 44 and len(columns["title_clipped"]) <= 44
    refs = BudgetRefs()
    figure = hv.render(refs.comparison(plots.strategy_comparison(analysis, 3_000.0, COST, fixed_axis=True)))
    assert refs.figures == [figure]
    assert figure.title.text == plots.strategy_comparison_columns(analysis, 3_000.0, COST)["title"]
    tiny = analysis.max_budget(COST) / 100
    columns = plots.strategy_comparison_columns(analysis, tiny, COST)
    refs.patch_comparison(columns)
    values = comparison_values(columns)
    clipped = (values < figure.y_range.start).any() or (values > figure.y_range.end).any()
    assert clipped, "a 1% budget's intervals were expected beyond the fixed axis on 6,000 users"
    assert figure.title.text == columns["title_clipped"]
    (source,) = refs.bars
    np.testing.assert_allclose(source.data["roi_high"], columns["roi_high"])  # the hover's interval follows
    refs.patch_comparison(plots.strategy_comparison_columns(analysis, 3_000.0, COST))
    assert "cut at axis" not in figure.title.text


# --------------------------------------------------------------------------------------------------------
# the budget frontier's marker


def test_frontier_marker_moves_in_place_like_the_curves_marker(analysis):
    marker = plots.frontier_marker(2_000.0)
    assert isinstance(marker, hv.VLine) and marker.data == 2_000.0
    style = hv.Store.lookup_options("bokeh", marker, "style").kwargs
    assert style == hv.Store.lookup_options("bokeh", plots.marker_at(0.3), "style").kwargs
    refs = BudgetRefs()
    figure = hv.render(compose(plots.budget_frontier(analysis, COST), refs.frontier_marker(marker)))
    (span,) = refs.frontier_spans
    assert span in figure.select({"type": Span}) and span.location == 2_000.0 and span.level == "overlay"
    assert refs.spans == []  # the efficiency curve's marker is its own
    refs.move_frontier_marker(5_000.0)
    assert span.location == 5_000.0
    break_even = analysis.break_even_budget("uplift", COST)
    others = [s for s in figure.select({"type": Span}) if s is not span]
    assert [s.location for s in others] == [pytest.approx(break_even)]
    assert others[0].line_color != span.line_color  # the break-even line does not look like the budget


# --------------------------------------------------------------------------------------------------------
# deciles


def test_decile_axis_labels_each_decile_one_to_ten(analysis):
    figure = hv.render(plots.decile_dominance(analysis))
    ticker = figure.xaxis[0].ticker
    assert isinstance(ticker, FixedTicker) and list(ticker.ticks) == list(range(1, 11))
    assert (figure.x_range.start, figure.x_range.end) == (0.5, 10.5)
    assert capture_note(plots.decile_frame(analysis)) in " ".join(_subtitles(figure).split("\n"))


def test_capture_note_says_why_capture_passes_one_hundred_percent():
    under = pl.DataFrame({"cumulative_capture": [0.5, 0.9, 1.0]})
    over = pl.DataFrame({"cumulative_capture": [0.6, 1.4, 1.0]})
    assert "100%" not in capture_note(under)
    assert "passes 100%" in capture_note(over) and "negative" in capture_note(over)


# --------------------------------------------------------------------------------------------------------
# persuadability


def test_segment_labels_sit_inside_the_frame_off_the_dense_cells(analysis):
    grid = analysis.density
    top = float(grid.x_edges[-1])
    rows = {row["segment"]: row for row in analysis.segments.iter_rows(named=True)}
    texts = {s: segment_label(rows[s]) for s in SEGMENTS}
    places = place_labels(analysis, texts, frame_px(6))
    mid = (grid.x_edges[:-1] + grid.x_edges[1:]) / 2
    boxes = [places[s].box for s in SEGMENTS]
    for x0, y0, x1, y1 in boxes:
        assert 0 < x0 < x1 < top and 0 < y0 < y1 < top
        covered = grid.counts[np.ix_((mid >= y0) & (mid <= y1), (mid >= x0) & (mid <= x1))].sum()
        assert covered <= 0.03 * grid.total, "a label covers the densest cells"
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], "labels overlap"
    # the persuadables' label sits in their own region, above the upper diagonal
    x0, y0, x1, _ = places["persuadable"].box
    assert y0 - x1 > analysis.thresholds.delta


def test_quadrants_explain_the_boundaries_and_warn_only_when_the_data_disagree(analysis):
    note, warning = plots.persuadability_notes(analysis)
    assert f"{analysis.thresholds.sure_thing_p_control:.1%}" in note and "out of sample" in note
    assert (warning is None) == persuadable_evidence(analysis.segments).supported
    figure = hv.render(plots.persuadability_quadrants(analysis))
    shown = _subtitles(figure)
    for line in wrapped(note) + (wrapped(warning) if warning else []):
        assert line in shown
    assert all(len(line) <= 105 for line in shown.split("\n"))  # Bokeh titles never wrap

"""The pure plots: element types and the data they draw, checked against the Analysis they read."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import polars as pl
import pytest

from uplift_studio.app import plots
from uplift_studio.core.formats import format_money, format_roi
from uplift_studio.core.segments import SEGMENTS
from uplift_studio.core.stats import Z95
from uplift_studio.core.strategies import STRATEGY_LABELS
from uplift_studio.core.view import format_signed_money

hv.extension("bokeh")

COST = 2.0


def _by_label(overlay: hv.Overlay, element_type: type, label: str):
    found = [element for element in overlay if isinstance(element, element_type) and element.label == label]
    assert len(found) == 1, f"expected one {element_type.__name__} labelled {label!r}, got {len(found)}"
    return found[0]


def _column(element, name: str) -> np.ndarray:
    return np.asarray(element.dimension_values(name), dtype=np.float64)


# --------------------------------------------------------------------------------------------------------
# downsampling


def test_downsample_keeps_everything_when_small():
    x = np.arange(50)
    assert np.array_equal(plots.downsample_indices(x, np.sin(x), max_points=100), np.arange(50))


def test_downsample_bounds_points_and_keeps_ends_extremes_and_tie_segments():
    rng = np.random.default_rng(0)
    # 100,000 boundaries with one large tie group: k jumps from 40,000 to 70,000 in one step
    k = np.concatenate([np.arange(0, 40_001), np.arange(70_000, 130_000)])
    y = np.cumsum(rng.normal(size=k.size))
    index = plots.downsample_indices(k, y, max_points=2_000)
    assert index.size <= 2_000
    assert np.all(np.diff(index) > 0)
    assert index[0] == 0 and index[-1] == k.size - 1
    assert np.argmax(y) in index and np.argmin(y) in index
    # both ends of the tie group's straight segment survive, so it is drawn exactly
    jump = int(np.flatnonzero(np.diff(k) > 1)[0])
    assert jump in index and jump + 1 in index


# --------------------------------------------------------------------------------------------------------
# efficiency curve and marker


def test_efficiency_curve_draws_each_strategy_from_the_curve(analysis):
    overlay = plots.efficiency_curve(analysis)
    assert isinstance(overlay, hv.Overlay)
    total = analysis.paths["uplift"].value[-1] * analysis.scale
    for name in analysis.strategies:
        element = _by_label(overlay, hv.Curve, STRATEGY_LABELS[name])
        x, y = _column(element, "share_targeted"), _column(element, "incremental_revenue")
        assert len(x) <= plots.MAX_CURVE_POINTS
        assert x[0] == 0.0 and y[0] == 0.0
        assert x[-1] == pytest.approx(1.0)
        # every strategy ends at the total observed effect, projected to the campaign
        assert y[-1] == pytest.approx(total)
        # the drawn points are points of the strategy's curve
        path = analysis.paths[name]
        expected = np.interp(x * path.n, path.contacts, path.value) * analysis.scale
        np.testing.assert_allclose(y, expected, rtol=1e-9, atol=1e-6)
    diagonal = _by_label(overlay, hv.Curve, "Random (expected)")
    assert list(_column(diagonal, "share_targeted")) == [0.0, 1.0]
    assert _column(diagonal, "incremental_revenue")[-1] == pytest.approx(total)


def test_efficiency_band_is_the_uplift_interval(analysis):
    overlay = plots.efficiency_curve(analysis, strategies=["uplift", "probability"])
    band = _by_label(overlay, hv.Area, "Uplift 95% interval")
    uplift = _by_label(overlay, hv.Curve, STRATEGY_LABELS["uplift"])
    low, high = _column(band, "ci_low"), _column(band, "ci_high")
    y = _column(uplift, "incremental_revenue")
    np.testing.assert_allclose((low + high) / 2, y, rtol=1e-9, atol=1e-6)
    path = analysis.paths["uplift"]
    share = _column(band, "share_targeted")
    se = np.interp(share * path.n, path.contacts, path.se) * analysis.scale
    np.testing.assert_allclose((high - low) / 2, Z95 * se, rtol=1e-9, atol=1e-6)
    labels = {element.label for element in overlay if isinstance(element, hv.Curve)}
    assert STRATEGY_LABELS["oracle"] not in labels  # only the chosen strategies are drawn


def test_budget_marker_moves_with_the_budget(analysis):
    population = analysis.population
    small = plots.budget_marker(analysis, 1_000.0, COST)
    large = plots.budget_marker(analysis, 6_000.0, COST)
    assert isinstance(small, hv.VLine)
    assert small.data == pytest.approx(500 / population)
    assert large.data == pytest.approx(3_000 / population)
    assert plots.budget_marker(analysis, 10 * COST * population, COST).data == pytest.approx(1.0)


# --------------------------------------------------------------------------------------------------------
# deciles


def test_decile_bars_are_the_observed_effect_per_decile(analysis):
    overlay = plots.decile_dominance(analysis)
    bars = [e for e in overlay if isinstance(e, hv.Bars)]
    errors = [e for e in overlay if isinstance(e, hv.ErrorBars)]
    assert len(bars) == 1 and len(errors) == 1
    strategy = bars[0].dimension_values("strategy")
    revenue = _column(bars[0], "incremental_revenue")
    for name in analysis.strategies:
        table = analysis.deciles[name]
        mine = revenue[strategy == name]
        np.testing.assert_allclose(mine, (table["uplift"] * table["users"]).to_numpy() * analysis.scale)
    low, high = _column(errors[0], "error_low"), _column(errors[0], "error_high")
    expected = np.concatenate(
        [(analysis.deciles[n]["uplift_se"] * analysis.deciles[n]["users"]).to_numpy() for n in analysis.strategies]
    )
    np.testing.assert_allclose(low, Z95 * expected * analysis.scale)
    np.testing.assert_allclose(high, low)
    capture = _by_label(overlay, hv.Curve, STRATEGY_LABELS["uplift"])
    assert _column(capture, "cumulative_capture")[-1] == pytest.approx(1.0)


def test_decile_bars_of_one_decile_do_not_overlap(analysis):
    frame = plots.decile_frame(analysis, ["probability", "uplift"])
    first = frame.filter(pl.col("decile") == 1).sort("position")["position"].to_numpy()
    assert first.size == 2 and 0.6 <= first[0] < first[1] <= 1.4


# --------------------------------------------------------------------------------------------------------
# persuadability


def test_quadrants_draw_a_density_not_users(analysis):
    overlay = plots.persuadability_quadrants(analysis)
    mesh = [e for e in overlay if isinstance(e, hv.QuadMesh)]
    assert len(mesh) == 1
    counts = np.nan_to_num(mesh[0].dimension_values("users", flat=False))
    assert counts.sum() == analysis.n_evaluation
    assert counts.size == analysis.density.counts.size  # a fixed grid, whatever the number of users

    path = [e for e in overlay if isinstance(e, hv.Path)][0]
    delta = analysis.thresholds.delta
    upper, lower, sure = path.split()
    np.testing.assert_allclose(
        upper.dimension_values("p_treated") - upper.dimension_values("p_control"), [delta, delta]
    )
    np.testing.assert_allclose(
        lower.dimension_values("p_treated") - lower.dimension_values("p_control"), [-delta, -delta]
    )
    assert set(sure.dimension_values("p_control")) == {analysis.thresholds.sure_thing_p_control}

    labels = [e for e in overlay if isinstance(e, hv.Labels)]
    texts = {label.dimension_values("segment")[0]: label.dimension_values("text")[0] for label in labels}
    assert set(texts) == set(SEGMENTS)
    for row in analysis.segments.iter_rows(named=True):
        text = texts[row["segment"]]
        assert f"{row['users']:,} users" in text
        # the observed effect per user and its 95% interval, as the segment table has them
        assert f"observed {format_signed_money(row['uplift'])} per user" in text
        assert f"95% interval {format_signed_money(row['ci_low'])} to {format_signed_money(row['ci_high'])}" in text


def test_segment_agreement_table(analysis, real_like_analysis):
    table = plots.segment_agreement_table(analysis)
    assert table["true segment"].to_list() == list(SEGMENTS)
    assert table["users"].sum() == analysis.n_evaluation
    assert table.select(pl.sum_horizontal(list(SEGMENTS)) == pl.col("users")).to_series().all()
    diagonal = [table.row(i, named=True)[s] for i, s in enumerate(SEGMENTS)]
    assert table["agree"].to_list() == diagonal
    assert plots.segment_agreement_table(real_like_analysis) is None


# --------------------------------------------------------------------------------------------------------
# frontier and strategies at one budget


def test_frontier_matches_the_budget_reads(analysis):
    overlay = plots.budget_frontier(analysis, COST)
    revenue = _by_label(overlay, hv.Curve, STRATEGY_LABELS["uplift"])
    roi = _by_label(overlay, hv.Curve, STRATEGY_LABELS["uplift"] + " ROI")
    budgets = _column(revenue, "budget")
    assert budgets[-1] == pytest.approx(analysis.max_budget(COST))
    for index in (0, len(budgets) // 3, len(budgets) - 1):
        result = analysis.at_budget(budgets[index], COST)["uplift"]
        assert _column(revenue, "incremental_revenue")[index] == pytest.approx(result.incremental_revenue)
        assert _column(roi, "roi")[index] == pytest.approx(result.roi)
    marker = [e for e in overlay if isinstance(e, hv.VLine)]
    assert len(marker) == 1 and marker[0].data == pytest.approx(analysis.break_even_budget("uplift", COST))


def test_strategy_table_and_comparison(analysis):
    budget = 3_000.0
    table = plots.strategy_table(analysis, budget, COST)
    results = analysis.at_budget(budget, COST)
    assert table["strategy"].to_list() == list(results)
    for row in table.iter_rows(named=True):
        result = results[row["strategy"]]
        assert row["contacts"] == result.contacts == 1_500
        assert row["spend"] == pytest.approx(3_000.0)
        assert row["roi"] == pytest.approx(result.incremental_revenue / 3_000.0)
        assert row["roi_low"] <= row["roi"] <= row["roi_high"]
        assert row["true_incremental_revenue"] == pytest.approx(result.true_incremental_revenue)

    overlay = plots.strategy_comparison(analysis, budget, COST)
    bars = [e for e in overlay if isinstance(e, hv.Bars)][0]
    np.testing.assert_allclose(_column(bars, "roi"), table["roi"].to_numpy())
    truth = _by_label(overlay, hv.Scatter, "True ROI")
    np.testing.assert_allclose(_column(truth, "true_roi"), (table["true_incremental_revenue"] / 3_000.0).to_numpy())


def test_no_truth_marker_on_real_data(real_like_analysis):
    overlay = plots.strategy_comparison(real_like_analysis, 3_000.0, COST)
    assert not any(isinstance(e, hv.Scatter) for e in overlay)
    assert plots.strategy_table(real_like_analysis, 3_000.0, COST)["true_incremental_revenue"].null_count() == 3


def test_kpis_follow_the_budget(analysis, real_like_analysis):
    first, second = plots.kpis(analysis, 2_000.0, COST), plots.kpis(analysis, 5_000.0, COST)
    results = analysis.at_budget(2_000.0, COST)
    uplift = results["uplift"]
    assert first["contacts"] == uplift.contacts == 1_000
    assert first["spend"] == pytest.approx(2_000.0)
    assert first["incremental_revenue"] == pytest.approx(uplift.incremental_revenue)
    assert (first["ci_low"], first["ci_high"]) == pytest.approx((uplift.ci_low, uplift.ci_high))
    assert first["roi"] == pytest.approx(uplift.roi)
    assert first["roi_low"] * 2_000.0 == pytest.approx(uplift.ci_low)
    assert first["net"] == pytest.approx(uplift.incremental_revenue - 2_000.0)
    view = analysis.view(2_000.0, COST)
    assert first["lift_over_probability"] == view.lift_over_probability
    versus = first["uplift_minus_probability"]
    assert versus["estimate"] == pytest.approx(uplift.incremental_revenue - results["probability"].incremental_revenue)
    assert versus["ci_low"] < versus["estimate"] < versus["ci_high"]
    assert first["share_of_oracle"] == view.share_of_oracle
    assert second["contacts"] == 2_500 and second["roi"] != first["roi"]
    assert plots.kpis(real_like_analysis, 2_000.0, COST)["share_of_oracle"] is None


# --------------------------------------------------------------------------------------------------------
# every view renders with Bokeh


@pytest.mark.parametrize(
    "build",
    [
        lambda a: plots.efficiency_curve(a) * plots.budget_marker(a, 2_000.0, COST),
        plots.decile_dominance,
        plots.persuadability_quadrants,
        lambda a: plots.budget_frontier(a, COST),
        lambda a: plots.strategy_comparison(a, 2_000.0, COST),
    ],
    ids=["efficiency", "deciles", "quadrants", "frontier", "comparison"],
)
def test_views_render_with_titles(analysis, build):
    figure = hv.render(build(analysis), backend="bokeh")
    assert figure.title.text  # the overlay's options survive composition with the marker


def test_money_formatting():
    assert format_money(684_123.0) == "$684k"
    assert format_money(1_234_567.0) == "$1.23M"
    assert format_money(-3_210.0) == "-$3,210"
    assert format_money(float("nan")) == "n/a"
    assert format_roi(6.84) == "6.84x"

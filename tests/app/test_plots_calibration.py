"""The calibration view: it draws the analysis's own deciles and slope, and renders with Bokeh."""

from __future__ import annotations

import dataclasses

import holoviews as hv
import numpy as np
import polars as pl
from bokeh.models import Title

from uplift_studio.app.plots_calibration import calibration_frame, calibration_view

hv.extension("bokeh")


def _element(view: hv.Overlay, element_type: type) -> hv.Element:
    found = [element for element in view if isinstance(element, element_type)]
    assert len(found) == 1
    return found[0]


def test_the_points_are_the_deciles_predicted_and_observed_uplift(analysis):
    view = calibration_view(analysis)
    deciles = analysis.calibration.deciles
    points = _element(view, hv.Scatter)
    assert np.allclose(points.dimension_values("predicted"), deciles["predicted"].to_numpy())
    assert np.allclose(points.dimension_values("observed"), deciles["observed"].to_numpy())
    assert np.asarray(points.dimension_values("decile")).tolist() == list(range(1, 11))
    errors = _element(view, hv.ErrorBars)
    assert np.allclose(
        errors.dimension_values("observed") + errors.dimension_values("error_high"), deciles["observed_ci_high"]
    )
    assert np.allclose(
        errors.dimension_values("observed") - errors.dimension_values("error_low"), deciles["observed_ci_low"]
    )


def test_the_diagonal_spans_every_point_and_interval(analysis):
    diagonal = _element(calibration_view(analysis), hv.Curve)
    x, y = diagonal.dimension_values("predicted"), diagonal.dimension_values("observed")
    assert np.array_equal(x, y)
    deciles = analysis.calibration.deciles
    assert x.min() <= min(deciles["predicted"].min(), deciles["observed_ci_low"].min(), 0.0)
    assert x.max() >= max(deciles["predicted"].max(), deciles["observed_ci_high"].max())


def test_the_subtitle_gives_the_slope_with_its_interval(analysis):
    figure = hv.render(calibration_view(analysis), backend="bokeh")
    text = " ".join(item.text for item in figure.above if isinstance(item, Title))
    blp = analysis.calibration.blp
    low, high = blp.slope_ci
    assert f"{blp.slope:.2f} [{low:.2f}," in text and f"{high:.2f}]" in text


def test_a_decile_without_an_observed_uplift_is_left_out(analysis):
    deciles = analysis.calibration.deciles.with_columns(
        pl.when(pl.col("decile") == 4).then(None).otherwise(pl.col("observed")).alias("observed")
    )
    changed = dataclasses.replace(analysis, calibration=dataclasses.replace(analysis.calibration, deciles=deciles))
    assert calibration_frame(changed)["decile"].to_list() == [1, 2, 3, 5, 6, 7, 8, 9, 10]
    assert len(_element(calibration_view(changed), hv.Scatter)) == 9

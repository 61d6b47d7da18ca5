"""The calibration view: is the uplift score right in dollars? A pure function of the :class:`Analysis`.

Per score decile, the mean predicted incremental revenue per contact (x) against the observed one, treated
minus control mean revenue of the decile's held-out users (y), with its 95% interval; the diagonal is a
calibrated score, and the subtitle gives the best linear predictor's slope with its interval
(:mod:`uplift_studio.core.calibration`). Nothing in it depends on the budget, so it never redraws on a tick.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import polars as pl

from uplift_studio.app.plot_style import MONEY_FORMAT, STRATEGY_COLORS, axis_formats, overlay, subtitles
from uplift_studio.core.analysis import Analysis
from uplift_studio.core.calibration import format_calibration

PREDICTED = hv.Dimension("predicted", label="Predicted incremental revenue per contact", unit="$")
OBSERVED = hv.Dimension("observed", label="Observed incremental revenue per contact", unit="$")
NOTE_WIDTH = 95


def calibration_frame(analysis: Analysis) -> pl.DataFrame:
    """The deciles as plotted: those with both arms present (an empty arm has no observed uplift)."""
    return analysis.calibration.deciles.drop_nulls(["observed", "observed_ci_low", "observed_ci_high"])


def _wrapped(text: str) -> list[str]:
    import textwrap

    return textwrap.wrap(text, NOTE_WIDTH)


def calibration_view(analysis: Analysis) -> hv.Overlay:
    """Predicted against observed incremental revenue per contact by score decile, with 95% intervals, the
    diagonal of a calibrated score, and the BLP slope in the subtitle."""
    frame = calibration_frame(analysis)
    values = np.concatenate(
        [frame[name].to_numpy() for name in ("predicted", "observed_ci_low", "observed_ci_high")] + [np.zeros(1)]
    )
    low, high = float(values.min()), float(values.max())
    diagonal = hv.Curve(
        pl.DataFrame({"predicted": [low, high], "observed": [low, high]}), PREDICTED, OBSERVED, label="Calibrated"
    ).opts(backend="bokeh", color="#444444", line_dash="dashed", line_width=1.5)
    errors = hv.ErrorBars(
        frame.select(
            "predicted",
            "observed",
            (pl.col("observed") - pl.col("observed_ci_low")).alias("error_low"),
            (pl.col("observed_ci_high") - pl.col("observed")).alias("error_high"),
        ),
        PREDICTED,
        [OBSERVED, "error_low", "error_high"],
    ).opts(backend="bokeh", color="#333333", line_width=1)
    points = hv.Scatter(
        frame.select("predicted", "observed", "decile", "users"),
        PREDICTED,
        [OBSERVED, hv.Dimension("decile", label="Score decile (1 = highest)"), hv.Dimension("users", label="Users")],
        label="Score decile (held-out users)",
    ).opts(backend="bokeh", color=STRATEGY_COLORS["uplift"], size=9, tools=["hover"])
    return overlay(
        [diagonal, errors, points],
        hooks=[
            axis_formats(MONEY_FORMAT, MONEY_FORMAT),
            subtitles(*_wrapped(format_calibration(analysis.calibration))),
        ],
        title="Predicted against observed uplift per score decile (95% intervals)",
        legend_position="top_left",
        responsive=True,
        height=360,
    )

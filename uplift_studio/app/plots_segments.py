"""Segment views: decile dominance per strategy and the persuadability quadrants (pure HoloViews)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import holoviews as hv
import numpy as np
import polars as pl

from uplift_studio.app.plot_style import (
    MONEY_FORMAT,
    REVENUE,
    SEGMENT_COLORS,
    SHARE_FORMAT,
    STRATEGY_COLORS,
    axis_formats,
    chosen,
    columns_of,
    overlay,
)
from uplift_studio.core.analysis import Analysis
from uplift_studio.core.segments import SEGMENTS
from uplift_studio.core.strategies import STRATEGY_LABELS

# ---------------------------------------------------------------------------------------------------------
# Deciles


def decile_frame(analysis: Analysis, strategies: Sequence[str] | None = None) -> pl.DataFrame:
    """Observed incremental revenue per score decile and strategy, projected to the campaign, with its
    95% interval (``uplift * users * P / n +- 1.96 * se * users * P / n``) and the cumulative capture."""
    names = chosen(analysis, strategies)
    width = 0.8 / max(len(names), 1)
    frames = []
    for position, name in enumerate(names):
        table = analysis.deciles[name]
        scale = pl.col("users") * analysis.scale
        frames.append(
            table.select(
                decile=pl.col("bin"),
                strategy=pl.lit(name),
                # bars of one decile sit side by side around the decile's integer position
                position=pl.col("bin") - 0.4 + width * (position + 0.5),
                incremental_revenue=pl.col("uplift") * scale,
                ci_low=pl.col("uplift_ci_low") * scale,
                ci_high=pl.col("uplift_ci_high") * scale,
                cumulative_capture=pl.col("cumulative_capture"),
            )
        )
    return pl.concat(frames) if frames else pl.DataFrame()


def decile_dominance(analysis: Analysis, strategies: Sequence[str] | None = None) -> hv.Overlay:
    """Incremental revenue per score decile, bars grouped by strategy with 95% error bars, and each
    strategy's cumulative capture (share of the total observed effect reached by decile d) on the right axis.

    A good ranking puts its revenue in the first deciles and its negative effects (sleeping dogs) last.
    """
    frame = decile_frame(analysis, strategies)
    names = chosen(analysis, strategies)
    width = 0.8 / max(len(names), 1)
    position = hv.Dimension("position", label="Score decile (1 = highest score)")
    # Bokeh cannot dodge error bars inside nested categorical bars, so bars sit at numeric positions
    bars = hv.Bars(
        columns_of(frame.select("position", "incremental_revenue", "strategy", "decile")),
        position,
        [REVENUE, "strategy", "decile"],
    ).opts(
        backend="bokeh",
        color=hv.dim("strategy").categorize(STRATEGY_COLORS, default="#000000"),
        bar_width=width * 0.95,
        line_alpha=0,
        tools=["hover"],
    )
    errors = hv.ErrorBars(
        frame.select(
            "position",
            "incremental_revenue",
            (pl.col("incremental_revenue") - pl.col("ci_low")).alias("error_low"),
            (pl.col("ci_high") - pl.col("incremental_revenue")).alias("error_high"),
        ),
        position,
        [REVENUE, "error_low", "error_high"],
    ).opts(backend="bokeh", line_width=1, color="#333333")
    capture_dim = hv.Dimension("cumulative_capture", label="Cumulative capture of the total effect")
    captures = [
        hv.Curve(
            frame.filter(pl.col("strategy") == name).select("decile", "cumulative_capture"),
            hv.Dimension("decile", label=position.label),
            capture_dim,
            label=f"{STRATEGY_LABELS.get(name, name)}",
        ).opts(
            backend="bokeh",
            color=STRATEGY_COLORS.get(name, "#000000"),
            line_dash="dotted",
            line_width=1.5,
            tools=["hover"],
        )
        for name in names
    ]
    return overlay(
        [bars, errors, *captures],
        overlay_only={"multi_y": True},
        hooks=[axis_formats("0", MONEY_FORMAT, SHARE_FORMAT)],
        title="Decile dominance: incremental revenue per score decile (dotted: cumulative capture)",
        xticks=[(d, str(d)) for d in range(1, 11)],
        legend_position="top_right",
        responsive=True,
        height=360,
        show_grid=True,
    )


# ---------------------------------------------------------------------------------------------------------
# Persuadability quadrants


def _segment_label(row: dict) -> str:
    name = row["segment"].capitalize() + "s"
    users = f"{row['users'] * 1:,} users"
    if row["uplift"] is None or not math.isfinite(row["uplift"]):
        return f"{name}\n{users}"
    share = row["share_of_incremental"]
    share_text = "" if share is None else f"\n{share:.0%} of incremental revenue"
    uplift = row["uplift"]
    return f"{name}\n{users}\nuplift {'-' if uplift < 0 else '+'}${abs(uplift):.2f} per user{share_text}"


def persuadability_quadrants(analysis: Analysis) -> hv.Overlay:
    """Users on the (P(buy | not contacted), P(buy | contacted)) plane as a density (never one glyph per
    user), the segment boundaries ``p_treated = p_control +- delta`` and ``p_control = t`` (within the
    band), and each predicted segment's users, observed uplift and share of the incremental revenue."""
    grid = analysis.density
    counts = grid.counts.astype(np.float64)
    counts[counts == 0] = np.nan  # empty cells stay transparent rather than the darkest colour
    x_dim = hv.Dimension("p_control", label="P(buy | not contacted)")
    y_dim = hv.Dimension("p_treated", label="P(buy | contacted)")
    density = hv.QuadMesh((grid.x_edges, grid.y_edges, counts), [x_dim, y_dim], hv.Dimension("users")).opts(
        backend="bokeh", cmap="Blues", logz=True, colorbar=True, tools=["hover"], clabel="users per cell"
    )
    top = float(max(grid.x_edges[-1], grid.y_edges[-1]))
    delta, sure = analysis.thresholds.delta, analysis.thresholds.sure_thing_p_control
    boundaries = hv.Path(
        [
            {"p_control": [0.0, top - delta], "p_treated": [delta, top]},
            {"p_control": [delta, top], "p_treated": [0.0, top - delta]},
            {"p_control": [sure, sure], "p_treated": [sure - delta, sure + delta]},
        ],
        [x_dim, y_dim],
    ).opts(backend="bokeh", color="#222222", line_width=1.5, line_dash="dashed")

    anchors = {
        "persuadable": (0.22 * top, 0.78 * top),
        "sleeping dog": (0.78 * top, 0.22 * top),
        "sure thing": ((sure + top) / 2, (sure + top) / 2),
        "lost cause": (min(sure / 2, 0.2 * top), min(sure / 2, 0.2 * top)),
    }
    rows = {row["segment"]: row for row in analysis.segments.iter_rows(named=True)}
    labels = hv.Labels(
        pl.DataFrame(
            {
                "p_control": [anchors[s][0] for s in SEGMENTS],
                "p_treated": [anchors[s][1] for s in SEGMENTS],
                "text": [_segment_label(rows[s]) for s in SEGMENTS],
                "segment": list(SEGMENTS),
            }
        ),
        [x_dim, y_dim],
        ["text", "segment"],
    ).opts(
        backend="bokeh",
        text_font_size="9pt",
        text_color=hv.dim("segment").categorize(SEGMENT_COLORS),
        text_font_style="bold",
        background_fill_color="white",
        background_fill_alpha=0.8,
    )
    title = "Persuadability: P(buy) without vs with contact"
    agreement = segment_agreement_table(analysis)
    if agreement is not None:
        overall = agreement["agree"].sum() / agreement["users"].sum()
        title += f" (agrees with the true segment for {overall:.0%})"
    return overlay(
        [density, boundaries, labels], title=title, responsive=True, height=460, xlim=(0, top), ylim=(0, top)
    )


def segment_agreement_table(analysis: Analysis) -> pl.DataFrame | None:
    """Predicted against true segments (simulated data only; None otherwise): one row per true segment
    with the users in each predicted segment, the row total and the share predicted correctly."""
    table = analysis.segment_agreement
    if table is None:
        return None
    present = [s for s in SEGMENTS if s in table.columns]
    ordered = pl.DataFrame({"true": list(SEGMENTS)}).join(table, on="true", how="left").fill_null(0)
    ordered = ordered.with_columns([pl.lit(0, dtype=pl.UInt32).alias(s) for s in SEGMENTS if s not in present])
    ordered = ordered.select(
        pl.col("true").alias("true segment"), *[pl.col(s).cast(pl.Int64) for s in SEGMENTS]
    ).with_columns(users=pl.sum_horizontal(list(SEGMENTS)))
    agree = pl.coalesce([pl.when(pl.col("true segment") == s).then(pl.col(s)) for s in SEGMENTS])
    return ordered.with_columns(agree=agree).with_columns(
        agreement=pl.when(pl.col("users") > 0).then(pl.col("agree") / pl.col("users"))
    )

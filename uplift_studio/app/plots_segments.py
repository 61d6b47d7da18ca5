"""Segment views: decile dominance per strategy and the persuadability quadrants (pure HoloViews)."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from typing import NamedTuple

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
    integer_ticks,
    overlay,
    subtitles,
)
from uplift_studio.core.analysis import Analysis
from uplift_studio.core.segments import SEGMENTS, classify, persuadable_evidence
from uplift_studio.core.strategies import STRATEGY_LABELS
from uplift_studio.core.view import format_signed_money

# ---------------------------------------------------------------------------------------------------------
# Deciles

DECILES = tuple(range(1, 11))
SHARE_FORMAT_FINE = "0.[0]%"
WARNING_COLOR = "#b2182b"
NOTE_WIDTH = 105  # characters of 8.5 pt text in the snapshot's half-width view at 1440 px
QUADRANTS_HEIGHT = 600


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


def capture_note(frame: pl.DataFrame) -> str:
    """What the dotted capture curves mean, and why they pass 100% when they do: the deciles after the
    peak have negative incremental revenue, so the top deciles earn more than the whole list."""
    text = "Dotted (right axis): cumulative capture, the share of the total observed effect reached by decile d."
    if frame.is_empty() or frame["cumulative_capture"].max() <= 1.0:
        return text
    return (
        f"{text} It passes 100% where the later deciles' incremental revenue is negative: "
        "they give part of the effect back."
    )


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
    # the label is what the hover shows: it says why a value may pass 100%
    capture_dim = hv.Dimension("cumulative_capture", label="Cumulative capture (over 100%: later deciles lose)")
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
        hooks=[
            axis_formats("0", MONEY_FORMAT, SHARE_FORMAT),
            integer_ticks(DECILES),
            subtitles(*wrapped(capture_note(frame))),
        ],
        title="Incremental revenue per score decile (95% intervals)",
        xlim=(0.5, 10.5),
        legend_position="bottom",
        legend_cols=4,
        responsive=True,
        height=380,
        show_grid=True,
    )


# ---------------------------------------------------------------------------------------------------------
# Persuadability quadrants

SEGMENT_NAMES = {
    "persuadable": ("Persuadables", "the contact raises predicted P(buy)"),
    "sure thing": ("Sure things", "high predicted P(buy) either way"),
    "lost cause": ("Lost causes", "low predicted P(buy) either way"),
    "sleeping dog": ("Sleeping dogs", "the contact lowers predicted P(buy)"),
}
# how much of the plane a label covers, estimated on the safe side: 8 pt bold text's advance and line
# height, the narrowest frame (the snapshot's half width at 1440 px), the pixels of the figure's height
# outside the frame besides the subtitles (title, x axis, padding) and a subtitle line's height
CHAR_PX, LINE_PX, FRAME_WIDTH_PX, FRAME_CHROME_PX, SUBTITLE_LINE_PX = 6.3, 14.0, 480.0, 100.0, 14.0
LABEL_FONT = "8pt"


def segment_label(row: dict) -> str:
    """A segment's label: its name, what its predicted probabilities say, its users and its observed effect
    per user (treated minus control revenue of its users scored out of sample) with the 95% interval."""
    name, meaning = SEGMENT_NAMES[row["segment"]]
    users = f"{row['users']:,} users"
    uplift = row["uplift"]
    if uplift is None or not math.isfinite(uplift) or row["ci_low"] is None or not math.isfinite(row["ci_low"]):
        return f"{name}: {meaning}\n{users}, too few in one arm for an observed effect"
    return (
        f"{name}: {meaning}\n{users}, observed {format_signed_money(uplift)} per user\n"
        f"(95% interval {format_signed_money(row['ci_low'])} to {format_signed_money(row['ci_high'])})"
    )


def frame_px(subtitle_lines: int) -> tuple[float, float]:
    """The quadrant view's plotting frame in pixels at its narrowest (the snapshot's half width at 1440 px):
    the figure less its axes, colour bar and toolbar, and less its title and subtitle lines in height."""
    return FRAME_WIDTH_PX, QUADRANTS_HEIGHT - FRAME_CHROME_PX - subtitle_lines * SUBTITLE_LINE_PX


def label_box(text: str, top: float, frame: tuple[float, float]) -> tuple[float, float]:
    """The (width, height) a label covers on the plane, in probability units, in a ``frame`` of pixels."""
    lines = text.split("\n")
    return (
        max(len(line) for line in lines) * CHAR_PX / frame[0] * top,
        len(lines) * LINE_PX / frame[1] * top,
    )


class LabelPlace(NamedTuple):
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 on the plane
    centre: tuple[float, float]  # the segment's users' centre, where a leader line from the box points


def place_labels(analysis: Analysis, texts: dict[str, str], frame: tuple[float, float]) -> dict[str, LabelPlace]:
    """Each segment's label box inside the frame, chosen from a grid of candidates: the one covering the
    fewest users (the dense cells stay visible), then lying in its own segment's region (never in
    another's, where it would name the wrong users), then nearest its users; boxes do not overlap. The
    wide regions choose first: the narrow bands (sure things, lost causes) hold no label box anyway."""
    grid = analysis.density
    top = float(max(grid.x_edges[-1], grid.y_edges[-1]))
    x_mid, y_mid = (grid.x_edges[:-1] + grid.x_edges[1:]) / 2, (grid.y_edges[:-1] + grid.y_edges[1:]) / 2
    cx, cy = np.meshgrid(x_mid, y_mid)  # counts' rows follow y
    codes = classify(cx.ravel(), cy.ravel(), analysis.thresholds).reshape(cx.shape)
    counts = grid.counts.astype(np.float64)
    total = max(counts.sum(), 1.0)
    pad = 0.01 * top
    placed: dict[str, LabelPlace] = {}
    for segment in ("persuadable", "sleeping dog", "sure thing", "lost cause"):
        code = SEGMENTS.index(segment)
        width, height = label_box(texts[segment], top, frame)
        inside = codes == code
        weights = counts * inside if (counts * inside).sum() > 0 else inside.astype(np.float64)
        centre = (float((cx * weights).sum() / weights.sum()), float((cy * weights).sum() / weights.sum()))
        best, best_cost = (pad, pad, pad + width, pad + height), math.inf
        for x0 in np.linspace(pad, max(top - width - pad, pad), 13):
            for y0 in np.linspace(pad, max(top - height - pad, pad), 13):
                box = (x0, y0, x0 + width, y0 + height)
                if any(_overlap(box, other.box) for other in placed.values()):
                    continue
                cells = np.ix_((y_mid >= box[1]) & (y_mid <= box[3]), (x_mid >= box[0]) & (x_mid <= box[2]))
                elsewhere = float((codes[cells] != code).mean()) if codes[cells].size else 1.0
                gap = math.hypot(
                    max(box[0] - centre[0], 0, centre[0] - box[2]), max(box[1] - centre[1], 0, centre[1] - box[3])
                )
                # a box wholly in other segments' regions (where it would name the wrong users) costs as much as
                # covering 4% of the users, or as sitting twice the frame's width from its own
                cost = 50.0 * counts[cells].sum() / total + 2.0 * elsewhere + gap / top
                if cost < best_cost:
                    best, best_cost = box, cost
        placed[segment] = LabelPlace(best, centre)
    return {segment: placed[segment] for segment in SEGMENTS}


def _leader(place: LabelPlace) -> tuple[float, float, float, float] | None:
    """A line from the label box's nearest point to its segment's centre, when the centre is outside it."""
    (x0, y0, x1, y1), (x, y) = place
    near = (min(max(x, x0), x1), min(max(y, y0), y1))
    return None if near == (x, y) else (near[0], near[1], x, y)


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def persuadability_notes(analysis: Analysis) -> tuple[str, str | None]:
    """The view's note on what the boundaries and effects are, and a warning when the observed effects do
    not back the segments (see :func:`uplift_studio.core.segments.persuadable_evidence`), else None."""
    delta, sure = analysis.thresholds.delta, analysis.thresholds.sure_thing_p_control
    note = (
        f"Dashed diagonals: the contact raises (persuadables, above) or lowers (sleeping dogs, below) predicted "
        f"P(buy) by over {delta * 100:.2g} percentage points. Between them, P(buy | not contacted) = {sure:.1%} "
        "splits sure things (right) from lost causes (left); the thresholds are a tenth and 1.5x the control "
        "group's conversion rate. Observed effect: revenue per user, contacted minus not contacted, of the "
        "segment's users scored out of sample."
    )
    evidence = persuadable_evidence(analysis.segments)
    if evidence.higher:
        note += f" {_names(evidence.higher).capitalize()} show a higher observed effect than the persuadables, "
        note += "within sampling error."
    if evidence.supported:
        return note, None
    if np.isnan(evidence.difference_low):
        reason = "there are not enough persuadables in both arms to observe their effect"
    else:
        money = format_signed_money
        reason = (
            f"the persuadables' observed effect ({money(evidence.persuadable_uplift)} per user) is not above the "
            f"other users' ({money(evidence.rest_uplift)}) beyond the 95% interval of the difference "
            f"({money(evidence.difference_low)} to {money(evidence.difference_high)})"
        )
        if evidence.above:
            reason += f", and {_names(evidence.above)} show a higher effect beyond it"
    warning = f"The data do not support these segments: {reason}. Read them as the model's predictions only."
    return note, warning


def _names(segments: Sequence[str]) -> str:
    return " and ".join(SEGMENT_NAMES[s][0].lower() for s in segments)


def wrapped(text: str, width: int = NOTE_WIDTH) -> list[str]:
    """``text`` as lines that fit the view's narrowest width (a Bokeh title never wraps)."""
    return textwrap.wrap(text, width)


def persuadability_quadrants(analysis: Analysis) -> hv.Overlay:
    """Users on the (P(buy | not contacted), P(buy | contacted)) plane as a density (never one glyph per
    user), the segment boundaries ``p_treated = p_control +- delta`` and ``p_control = t`` (within the
    band), and each predicted segment's users and observed effect with its 95% interval, labelled where
    few users are; subtitles explain the boundaries and warn when the observed effects contradict them."""
    grid = analysis.density
    counts = grid.counts.astype(np.float64)
    counts[counts == 0] = np.nan  # empty cells stay transparent rather than the darkest colour
    x_dim = hv.Dimension("p_control", label="P(buy | not contacted), predicted")
    y_dim = hv.Dimension("p_treated", label="P(buy | contacted), predicted")
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

    rows = {row["segment"]: row for row in analysis.segments.iter_rows(named=True)}
    texts = {segment: segment_label(rows[segment]) for segment in SEGMENTS}
    note, warning = persuadability_notes(analysis)
    hooks = [axis_formats(SHARE_FORMAT_FINE, SHARE_FORMAT_FINE), subtitles(*wrapped(note))]
    lines = len(wrapped(note))
    if warning is not None:
        # added last, so Bokeh stacks it right under the title, above the note
        hooks.append(subtitles(*wrapped(warning), color=WARNING_COLOR))
        lines += len(wrapped(warning))
    places = place_labels(analysis, texts, frame_px(lines))
    labels, leaders = [], []
    for segment in SEGMENTS:
        x0, y0, x1, y1 = places[segment].box
        # aligned to the frame edge it is nearer, so a label wider than estimated grows inwards, not out
        right = (x0 + x1) / 2 > top / 2
        labels.append(
            hv.Labels(
                {"p_control": [x1 if right else x0], "p_treated": [y1], "text": [texts[segment]], "segment": [segment]},
                [x_dim, y_dim],
                ["text", "segment"],
            ).opts(
                backend="bokeh",
                text_font_size=LABEL_FONT,
                text_color=SEGMENT_COLORS[segment],
                text_font_style="bold",
                text_align="right" if right else "left",
                text_baseline="top",
                background_fill_color="white",
                background_fill_alpha=0.85,
            )
        )
        leader = _leader(places[segment])
        if leader is not None:
            leaders.append(
                hv.Segments([leader], [x_dim, y_dim, "p_control_end", "p_treated_end"]).opts(
                    backend="bokeh", color=SEGMENT_COLORS[segment], line_width=1.2, line_dash="dotted"
                )
            )
    title = "Persuadability: predicted P(buy) without and with the contact"
    agreement = segment_agreement_table(analysis)
    if agreement is not None:
        overall = agreement["agree"].sum() / agreement["users"].sum()
        title += f" ({overall:.0%} in their true segment)"
    return overlay(
        [density, boundaries, *leaders, *labels],
        title=title,
        hooks=hooks,
        responsive=True,
        height=QUADRANTS_HEIGHT,
        xlim=(0, top),
        ylim=(0, top),
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

"""Persuadability segments from the T-learner's two probabilities, their observed effects, and a density grid.

A user's predicted pair ``(P(buy | not contacted), P(buy | contacted))`` places them in one of four
segments, defined as the simulator defines the true ones (so the two can be compared)::

    sleeping dog  p_treated - p_control < -delta
    persuadable   p_treated - p_control > +delta
    sure thing    |p_treated - p_control| <= delta and p_control >= t
    lost cause    otherwise

On real data the thresholds scale with the experiment's control conversion rate ``r``: ``delta = r / 10``
and ``t = 1.5 r`` (on the default simulated campaign, r = 5.6% gives 0.0056 and 0.084, close to the
simulator's 0.005 and 0.08). Each segment's uplift is then *observed* from its treated and control users
(all scored out of sample), and :func:`persuadable_evidence` says whether those observations back the
labels: the segments are predictions, and on real data the observed effects may not order as named.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from uplift_studio.core.stats import Z95

SEGMENTS = ("persuadable", "sure thing", "lost cause", "sleeping dog")


@dataclass(frozen=True)
class SegmentThresholds:
    delta: float
    sure_thing_p_control: float

    @classmethod
    def from_control_rate(cls, control_conversion_rate: float) -> SegmentThresholds:
        return cls(delta=control_conversion_rate / 10.0, sure_thing_p_control=1.5 * control_conversion_rate)


def classify(p_control: np.ndarray, p_treated: np.ndarray, thresholds: SegmentThresholds) -> np.ndarray:
    """Segment codes (indices into ``SEGMENTS``) for each user."""
    uplift = p_treated - p_control
    return np.where(
        uplift < -thresholds.delta,
        3,
        np.where(uplift > thresholds.delta, 0, np.where(p_control >= thresholds.sure_thing_p_control, 1, 2)),
    ).astype(np.int8)


def arm_effects(frame: pl.DataFrame, group: str, treated: str, outcome: str) -> pl.DataFrame:
    """Per group: users, arm sizes, the observed uplift ``mean_T - mean_C`` and its standard error
    ``sqrt(var_T / n_T + var_C / n_C)`` (sample variances)."""
    arm = pl.col(treated) == 1
    return (
        frame.group_by(group)
        .agg(
            users=pl.len(),
            n_t=arm.sum(),
            n_c=(~arm).sum(),
            mean_t=pl.col(outcome).filter(arm).mean(),
            mean_c=pl.col(outcome).filter(~arm).mean(),
            var_t=pl.col(outcome).filter(arm).var(),
            var_c=pl.col(outcome).filter(~arm).var(),
        )
        .with_columns(uplift=pl.col("mean_t") - pl.col("mean_c"))
        .with_columns(se=(pl.col("var_t") / pl.col("n_t") + pl.col("var_c") / pl.col("n_c")).sqrt())
    )


def segment_table(
    codes: np.ndarray,
    treatment: np.ndarray,
    outcome: np.ndarray,
    *,
    population_scale: float = 1.0,
) -> pl.DataFrame:
    """Per segment: users, observed uplift (mean treated - mean control) with 95% interval, and its share
    of the observed incremental outcome (uplift * users, scaled to the campaign population)."""
    frame = pl.DataFrame({"code": codes, "treated": treatment.astype(np.int8), "outcome": outcome.astype(np.float64)})
    stats = arm_effects(frame, "code", "treated", "outcome").with_columns(
        incremental=pl.col("uplift") * pl.col("users") * population_scale
    )
    every = pl.DataFrame({"code": np.arange(len(SEGMENTS), dtype=np.int8), "segment": list(SEGMENTS)})
    table = every.join(stats, on="code", how="left").with_columns(pl.col("users").fill_null(0))
    total = table["incremental"].fill_null(0).sum()
    return table.with_columns(
        ci_low=pl.col("uplift") - Z95 * pl.col("se"),
        ci_high=pl.col("uplift") + Z95 * pl.col("se"),
        share_of_incremental=pl.col("incremental") / total if total != 0 else pl.lit(None, dtype=pl.Float64),
    ).select("segment", "users", "uplift", "ci_low", "ci_high", "incremental", "share_of_incremental")


@dataclass(frozen=True)
class PersuadableEvidence:
    """Whether the observed effects back the segment labels: the persuadables' effect against the rest's.

    ``rest_uplift`` is the other users' effect, post-stratified over their segments (the users-weighted
    mean of the segment effects, with ``rest_se = sqrt(sum w_s^2 se_s^2)``); ``supported`` when the
    persuadables' effect exceeds it beyond the 95% interval of the difference and no segment's effect is
    above the persuadables' beyond the 95% interval of that difference (``above``). ``higher`` names the
    segments with a higher observed effect that sampling error can explain."""

    persuadable_uplift: float
    rest_uplift: float
    difference_low: float  # 95% interval of persuadable_uplift - rest_uplift
    difference_high: float
    above: tuple[str, ...]
    higher: tuple[str, ...]

    @property
    def supported(self) -> bool:
        return self.difference_low > 0 and not self.above


def persuadable_evidence(table: pl.DataFrame) -> PersuadableEvidence:
    """:class:`PersuadableEvidence` from :func:`segment_table` (standard errors read back from its 95%
    intervals); a segment without users in both arms has no observed effect and takes no part. With no
    observed persuadable effect, nothing supports the labels (``difference_*`` NaN)."""
    effects: dict[str, tuple[float, float, int]] = {}
    for row in table.iter_rows(named=True):
        values = (row["uplift"], row["ci_low"], row["ci_high"])
        if all(v is not None and np.isfinite(v) for v in values):
            effects[row["segment"]] = (row["uplift"], (row["ci_high"] - row["ci_low"]) / (2 * Z95), row["users"])
    others = [name for name in SEGMENTS[1:] if name in effects]
    nan = float("nan")
    if "persuadable" not in effects:
        return PersuadableEvidence(nan, nan, nan, nan, (), tuple(others))
    uplift, se, _ = effects["persuadable"]
    if not others:
        return PersuadableEvidence(uplift, nan, nan, nan, (), ())
    weights = np.array([effects[name][2] for name in others], dtype=np.float64)
    weights /= weights.sum()
    rest = float(sum(w * effects[name][0] for w, name in zip(weights, others, strict=True)))
    rest_se = float(np.sqrt(sum((w * effects[name][1]) ** 2 for w, name in zip(weights, others, strict=True))))
    half = Z95 * float(np.hypot(se, rest_se))
    above = tuple(n for n in others if effects[n][0] - uplift - Z95 * np.hypot(se, effects[n][1]) > 0)
    higher = tuple(n for n in others if effects[n][0] > uplift and n not in above)
    return PersuadableEvidence(uplift, rest, uplift - rest - half, uplift - rest + half, above, higher)


def agreement(predicted: np.ndarray, true_segment: pl.Series) -> pl.DataFrame:
    """Confusion counts of predicted vs true segments (simulated data), one row per true segment."""
    frame = pl.DataFrame({"true": true_segment, "predicted": pl.Series(SEGMENTS).gather(predicted)})
    return (
        frame.group_by("true", "predicted")
        .len()
        .pivot(on="predicted", index="true", values="len")
        .fill_null(0)
        .sort("true")
    )


@dataclass(frozen=True, eq=False)
class DensityGrid:
    """Users counted on a regular grid of (p_control, p_treated): what the quadrant view draws, so that
    the page and the snapshot stay the same size at any number of users."""

    x_edges: np.ndarray
    y_edges: np.ndarray
    counts: np.ndarray  # shape (len(y_edges) - 1, len(x_edges) - 1), rows follow y

    @property
    def total(self) -> int:
        return int(self.counts.sum())


def density_grid(p_control: np.ndarray, p_treated: np.ndarray, bins: int = 60, quantile: float = 0.995) -> DensityGrid:
    """Count users on a ``bins`` x ``bins`` grid spanning both axes up to their ``quantile`` (a few extreme
    users would otherwise squeeze everyone into one corner); users beyond it land in the last bin."""
    upper = float(max(np.quantile(p_control, quantile), np.quantile(p_treated, quantile), 1e-6))
    edges = np.linspace(0.0, upper, bins + 1)
    counts, _, _ = np.histogram2d(np.clip(p_treated, 0, upper), np.clip(p_control, 0, upper), bins=[edges, edges])
    return DensityGrid(x_edges=edges, y_edges=edges, counts=counts.astype(np.int64))

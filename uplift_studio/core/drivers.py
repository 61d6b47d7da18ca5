"""Uplift drivers: which features the uplift model's effect depends on, and a check of each from the data.

For the T-learner the predicted effect on the log-odds (margin) scale is ``m_T(x) - m_C(x)``, the difference
of the two arms' classifier margins. XGBoost's TreeSHAP (``pred_contribs``) splits each margin exactly into
per-feature contributions plus a bias, so the difference of the two arms' contributions is an exact additive
decomposition of the predicted uplift on that scale (Lundberg et al., "Consistent individualized feature
attribution for tree ensembles", 2018). We report the margin scale because it is the only one on which the
decomposition is exact: on the probability scale the arms' sigmoids do not split into per-feature terms.

The ranking is the mean absolute contribution over a fixed sample of users. Each top feature is then checked
against the experiment itself: per quantile bin, the observed treated-minus-control conversion rate on the
out-of-sample users with its 95% interval, beside the model's mean out-of-sample predicted uplift there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from uplift_studio.core.data import CONVERTED, TREATMENT, Experiment
from uplift_studio.core.features import encode
from uplift_studio.core.segments import arm_effects
from uplift_studio.core.stats import interval

CONTRIBUTION_SAMPLE = 20_000
"""Users whose contributions are computed: TreeSHAP costs about 35 us per user and model on 2 cores, and the
mean absolute contribution of 20,000 users is within a few percent of the full mean."""
DRIVER_BINS = 5
TOP_DRIVERS = 5


@dataclass(frozen=True)
class DriverBin:
    """One bin of a feature: its users, the observed uplift with its interval, and the model's mean uplift."""

    label: str
    users: int
    observed_uplift: float
    ci_low: float
    ci_high: float
    predicted_uplift: float


@dataclass(frozen=True)
class Driver:
    feature: str
    importance: float  # mean |contribution| to the uplift, on the learner's contribution scale
    bins: tuple[DriverBin, ...]


def uplift_contributions(learner, frame: pl.DataFrame) -> np.ndarray:
    """Per-user, per-feature contributions to the learner's uplift on its ``contribution_scale`` (columns:
    features, then the bias): the arms' margins for the T-learner, the effect models for X and DR."""
    import xgboost as xgb

    names = list(learner.feature_names_in_)
    matrix = encode(frame, names, learner.categories_)
    data = xgb.DMatrix(matrix, feature_names=names, feature_types=learner.feature_types_, enable_categorical=True)
    return learner.contributions(data)


def sample_rows(n: int, size: int, seed: int) -> np.ndarray:
    """A fixed, sorted sample of row indices (all rows when there are few)."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def importance(contributions: np.ndarray, names: list[str]) -> pl.DataFrame:
    """Features by mean absolute contribution, largest first (the bias column is left out)."""
    values = np.abs(contributions[:, : len(names)]).mean(axis=0)
    return pl.DataFrame({"feature": names, "importance": values}).sort("importance", descending=True)


def _bin_codes(column: pl.Series, bins: int) -> tuple[np.ndarray, list[str]]:
    """Bin codes (-1 for missing) and labels: quantile bins for numbers, the most common levels otherwise."""
    if column.dtype.is_numeric() or column.dtype == pl.Boolean:
        values = column.cast(pl.Float64).to_numpy()
        present = ~np.isnan(values)
        edges = np.unique(np.quantile(values[present], np.linspace(0, 1, bins + 1)))
        if edges.size < 2:
            return np.where(present, 0, -1), [f"{edges[0]:g}"]
        codes = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, edges.size - 2)
        labels = [f"{low:.3g} to {high:.3g}" for low, high in zip(edges[:-1], edges[1:], strict=True)]
        return np.where(present, codes, -1), labels
    text = column.cast(pl.String)
    levels = text.drop_nulls().value_counts(sort=True).head(bins)[text.name].to_list()
    codes = text.replace_strict(levels, list(range(len(levels))), default=-1, return_dtype=pl.Int64).fill_null(-1)
    return codes.to_numpy(), [str(level) for level in levels]


def binned_check(
    column: pl.Series, treatment: np.ndarray, converted: np.ndarray, predicted: np.ndarray, bins: int = DRIVER_BINS
) -> tuple[DriverBin, ...]:
    """Observed conversion uplift per bin of ``column`` (95% interval) beside the mean predicted uplift."""
    codes, labels = _bin_codes(column, bins)
    frame = pl.DataFrame({"bin": codes, "t": treatment.astype(np.int8), "y": converted.astype(np.float64)})
    frame = frame.with_columns(predicted=pl.Series(predicted)).filter(pl.col("bin") >= 0)
    model = frame.group_by("bin").agg(predicted=pl.col("predicted").mean())
    stats = arm_effects(frame, "bin", "t", "y").join(model, on="bin").sort("bin")
    out = []
    for row in stats.iter_rows(named=True):
        uplift = row["uplift"] if row["uplift"] is not None else float("nan")
        se = row["se"] if row["se"] is not None else float("nan")
        low, high = interval(uplift, se)
        out.append(DriverBin(labels[row["bin"]], int(row["users"]), uplift, low, high, float(row["predicted"])))
    return tuple(out)


def uplift_drivers(
    learner, experiment: Experiment, evaluation: np.ndarray, predicted_uplift: np.ndarray, *, seed: int = 0
) -> tuple[pl.DataFrame, tuple[Driver, ...]]:
    """The ranking of every feature and, for the top ones, the observed check on out-of-sample users.

    ``learner`` is a fitted T-learner; ``evaluation`` marks the users with out-of-sample scores and
    ``predicted_uplift`` is their out-of-sample ``p_treated - p_control`` (one value per evaluation user).
    """
    names = list(learner.feature_names_in_)
    rows = sample_rows(experiment.n_users, CONTRIBUTION_SAMPLE, seed)
    ranking = importance(uplift_contributions(learner, experiment.frame[rows]), names)
    held_out = experiment.frame.filter(pl.Series(evaluation))
    treatment, converted = held_out[TREATMENT].to_numpy(), held_out[CONVERTED].to_numpy()
    drivers = tuple(
        Driver(
            feature=row["feature"],
            importance=float(row["importance"]),
            bins=binned_check(held_out[row["feature"]], treatment, converted, predicted_uplift),
        )
        for row in ranking.head(TOP_DRIVERS).iter_rows(named=True)
    )
    return ranking, drivers

"""``run_analysis(experiment, settings) -> Analysis``: the one expensive step, and the cheap reads after it.

Everything that costs time (cross-fitted scores, one sort per strategy, cumulative sums, deciles,
segments, coefficients) happens here, once. The result is frozen and shared by every browser session;
a budget change is :meth:`Analysis.at_budget`: a binary search and a few array reads per strategy.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import polars as pl

from uplift_studio import __version__
from uplift_studio.core.budget import DEFAULT_COST_PER_CONTACT, BudgetReads
from uplift_studio.core.cache import cache_key, cached, has_entry
from uplift_studio.core.calibration import Calibration, calibrate
from uplift_studio.core.crossfit import Scores
from uplift_studio.core.curve import Curve, build_curve, targeting_order
from uplift_studio.core.data import COST, Experiment
from uplift_studio.core.errors import DataError
from uplift_studio.core.metrics import coefficient_intervals, decile_table, perfect_curves
from uplift_studio.core.paired import PairedDifference, Rankings, comparisons, paired_difference, rank_users
from uplift_studio.core.path import SpendPath, curve_path
from uplift_studio.core.segments import (
    DensityGrid,
    SegmentThresholds,
    agreement,
    classify,
    density_grid,
    segment_table,
)
from uplift_studio.core.selection import Selection, cross_fit_selected
from uplift_studio.core.settings import ModelSettings
from uplift_studio.core.view import BudgetView

DEFAULT_BUDGET = 100_000.0
Progress = Callable[[int, int], None]


def versions() -> dict[str, str]:
    out = {"uplift_studio": __version__}
    for name, dist in (
        ("xgboost", "xgboost-cpu"),
        ("polars", "polars"),
        ("numpy", "numpy"),
        ("scikit-learn", "scikit-learn"),
    ):
        try:
            out[name] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[name] = importlib.metadata.version(name) if name == "xgboost" else "unknown"
    return out


@dataclass(frozen=True)
class AnalysisSettings:
    """What decides an analysis (hashable: it keys the cache). Budget and cost per contact do not: they
    are read at slider speed from the finished analysis."""

    model: ModelSettings = field(default_factory=ModelSettings)
    population: int | None = None  # campaign size; default: the experiment's number of users

    def as_dict(self) -> dict:
        return {"model": self.model.as_dict(), "population": self.population}


@dataclass(frozen=True, eq=False)
class Analysis(BudgetReads):
    """Everything the app and the reports read; frozen numpy arrays and polars frames."""

    source: str
    fingerprint: str
    n_users: int
    n_evaluation: int
    treated_share: float
    population: int
    settings: AnalysisSettings
    scores: Scores
    paths: dict[str, SpendPath]
    deciles: dict[str, pl.DataFrame]
    # per strategy: qini_coefficient and auuc, each with its _se, _ci_low and _ci_high
    metrics: dict[str, dict[str, float]]
    rankings: Rankings
    # the uplift score's predicted against observed incremental revenue per decile, and its BLP slope
    calibration: Calibration
    segments: pl.DataFrame
    segment_agreement: pl.DataFrame | None
    density: DensityGrid
    thresholds: SegmentThresholds
    per_user_cost: bool
    notes: tuple[str, ...]
    versions: dict[str, str]
    created: str
    # with learner "auto": the candidate each fold chose on its training part, and every candidate's Qini
    selection: Selection | None = None

    # each user's scores are here: every view of the app and the snapshot can be drawn (not so for the bin
    # tables of the streaming and Dask engines, uplift_studio.core.scale_result)
    per_user_views = True

    @property
    def has_truth(self) -> bool:
        return next(iter(self.paths.values())).truth is not None

    def view(self, budget: float, cost_per_contact: float | None = DEFAULT_COST_PER_CONTACT) -> BudgetView:
        """Everything shown at ``budget``: each strategy's result, the comparisons and the sentence."""
        results = self.at_budget(budget, cost_per_contact)
        return BudgetView(
            budget=float(budget),
            cost_per_contact=self._cost(cost_per_contact),
            population=self.population,
            results=results,
            # only the comparison every page shows: a slider tick (and each of the snapshot's 400 positions)
            # pays for one paired read; other pairs are a call to paired_difference away
            comparisons=comparisons(self.rankings, self.paths, results, self.scale, others=("probability",)),
        )

    def paired_difference(
        self, first: str, second: str, budget: float, cost_per_contact: float | None = DEFAULT_COST_PER_CONTACT
    ) -> PairedDifference:
        """``first`` minus ``second`` in projected incremental revenue at ``budget``, paired on the same
        held-out users (:mod:`uplift_studio.core.paired`)."""
        results = self.at_budget(budget, cost_per_contact)
        return paired_difference(self.rankings, self.paths, results, first, second, self.scale)

    def comparisons(
        self, budget: float, cost_per_contact: float | None = DEFAULT_COST_PER_CONTACT, against: str = "uplift"
    ) -> dict[str, PairedDifference]:
        """``against`` minus every other strategy at ``budget``, by the other strategy's name."""
        return comparisons(self.rankings, self.paths, self.at_budget(budget, cost_per_contact), self.scale, against)

    def scored_users(self, experiment: Experiment | None = None) -> pl.DataFrame:
        """The evaluation users' out-of-sample scores, with their own contact cost when the data has one
        (taken from ``experiment``, which must then be the one fitted): what
        :func:`uplift_studio.core.contacts.contact_list` ranks."""
        frame = self.scores.to_frame()
        if self.per_user_cost:
            if experiment is None or experiment.fingerprint != self.fingerprint:
                raise DataError("the per-user costs of these results are not loaded; fit the models again.")
            frame = frame.with_columns(experiment.frame.get_column(COST))
        return frame.filter(pl.col("evaluation"))


def _truth_at_steps(k: np.ndarray, order: np.ndarray, true_value: np.ndarray) -> np.ndarray:
    cumulative = np.concatenate([[0.0], np.cumsum(true_value[order])])
    return cumulative[k]


def _coefficients(
    curves: dict[str, Curve], revenue: np.ndarray, treatment: np.ndarray, seed: int
) -> dict[str, dict[str, float]]:
    """Each strategy's Qini coefficient and AUUC with 95% intervals; one generator from the model seed, used
    in strategy order, so the same settings give the same intervals."""
    perfect = perfect_curves(revenue, treatment)
    rng = np.random.default_rng(seed)
    return {name: coefficient_intervals(curve, perfect, rng=rng) for name, curve in curves.items()}


def _analyse(experiment: Experiment, settings: AnalysisSettings, progress: Progress | None) -> Analysis:
    scores, selection = cross_fit_selected(experiment, settings.model, progress)
    mask = scores.evaluation
    n_eval = int(mask.sum())
    treatment = experiment.treatment[mask]
    revenue = experiment.revenue[mask].astype(np.float64)
    converted = experiment.converted[mask]
    cost = experiment.column(COST)[mask] if experiment.has_cost else None
    population = settings.population or experiment.n_users
    if population <= 0:
        raise DataError(f"the campaign population must be a positive number of users, got {population}.")
    true_value = None
    if experiment.truth is not None:
        true_value = experiment.truth["true_incremental_revenue"].to_numpy()[mask]

    paths: dict[str, SpendPath] = {}
    deciles, orders, metric_curves = {}, {}, {}
    for name, score in scores.strategies().items():
        score = score[mask]
        if name == "random" and cost is not None:
            # per-user costs rank by score per unit of cost; random must stay random, not "cheapest first"
            score = score * cost
        curve = build_curve(revenue, score, treatment, conversions=converted, cost=cost)
        # the one sort the budget reads rely on: paired comparisons gather each strategy's contacts by it
        orders[name] = targeting_order(score, cost)
        truth = None
        if true_value is not None:
            truth = _truth_at_steps(curve.k, orders[name], true_value)
        paths[name] = curve_path(name, curve, truth)
        deciles[name] = decile_table(curve)
        # the coefficients rank by the score alone, also with per-user costs (scikit-uplift's definition)
        metric_curves[name] = curve if cost is None else build_curve(revenue, score, treatment)
    metrics = _coefficients(metric_curves, revenue, treatment, settings.model.seed)
    del metric_curves
    treated_share = float(experiment.treatment.mean())
    order_value = scores.order_value[mask]
    # the outcome models of the pseudo-outcome are the learner's own held-out predictions; the experiment's
    # treated share is the known propensity (a stratified split keeps it in the evaluation part)
    calibration = calibrate(
        revenue,
        scores.expected_incremental_revenue[mask],
        treatment,
        scores.p_treated[mask] * order_value,
        scores.p_control[mask] * order_value,
        treated_share,
    )

    control_rate = float(converted[treatment == 0].mean())
    thresholds = SegmentThresholds.from_control_rate(control_rate)
    p_control, p_treated = scores.p_control[mask], scores.p_treated[mask]
    codes = classify(p_control, p_treated, thresholds)
    segments = segment_table(codes, treatment, revenue, population_scale=population / n_eval)
    segment_agreement = None
    if experiment.truth is not None:
        segment_agreement = agreement(codes, experiment.truth["segment"].filter(pl.Series(mask)))

    return Analysis(
        source=experiment.source,
        fingerprint=experiment.fingerprint,
        n_users=experiment.n_users,
        n_evaluation=n_eval,
        treated_share=treated_share,
        population=int(population),
        settings=settings,
        scores=scores,
        paths=paths,
        deciles=deciles,
        metrics=metrics,
        rankings=rank_users(revenue, treatment, orders),
        calibration=calibration,
        segments=segments,
        segment_agreement=segment_agreement,
        density=density_grid(p_control, p_treated),
        thresholds=thresholds,
        per_user_cost=cost is not None,
        notes=experiment.notes,
        versions=versions(),
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        selection=selection,
    )


def run_analysis(
    experiment: Experiment,
    settings: AnalysisSettings = AnalysisSettings(),  # noqa: B008 - frozen, so a shared default is safe
    *,
    progress: Progress | None = None,
    use_cache: bool = True,
) -> Analysis:
    """Fit, score out of sample, and precompute every strategy's curve; cached on disk by content hash."""
    analysis = cached(
        analysis_key(experiment, settings),
        lambda: _analyse(experiment, settings, progress),
        expect=_expected(experiment),
        enabled=use_cache,
    )
    # the key leaves the thread count out (the numbers do not depend on it): report the settings asked for
    return analysis if analysis.settings == settings else replace(analysis, settings=settings)


def _expected(experiment: Experiment) -> dict[str, str]:
    """What a cached entry must have been computed from: this data, from this source."""
    return {"kind": "analysis", "fingerprint": experiment.fingerprint, "source": experiment.source}


def analysis_key(experiment: Experiment, settings: AnalysisSettings) -> str:
    """The disk-cache key of an analysis: the data's content hash, its source and features, the settings but
    the thread count, and the library versions (the code's own version is checked in each entry's header)."""
    return cache_key(
        "analysis",
        versions(),
        experiment.fingerprint,
        experiment.source,
        experiment.features,
        settings.model.cache_dict(),
        settings.population,
    )


def is_cached(experiment: Experiment, settings: AnalysisSettings = AnalysisSettings()) -> bool:  # noqa: B008
    """Whether :func:`run_analysis` would read this analysis from the disk cache (a fraction of a second)."""
    return has_entry(analysis_key(experiment, settings), _expected(experiment))


def settings_dict(analysis: Analysis) -> dict:
    return {**asdict(analysis.settings), "model": analysis.settings.model.as_dict()}

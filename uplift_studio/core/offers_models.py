r"""Per-offer models for a multi-offer experiment: one conversion classifier per arm, control included, and one
order-value model, cross-fitted on the same folds for every arm (issue 12).

For a user ``x`` and offer ``k``, as the T-learner does for one offer (:mod:`uplift_studio.core.tlearner`)::

    p_k(x) = P(buy | offer k, x)             p_0(x) = P(buy | no offer, x)
    eir_k(x)  = (p_k(x) - p_0(x)) * v(x)     expected incremental revenue of offer k
    cost_k(x) = contact_k + redemption_k * p_k(x)   expected cost: the redemption is paid on conversion

``v(x) = E[revenue | converted, x]`` is one XGBoost regressor of ``log1p(revenue)`` on the converters of
every arm, mapped back with Duan's smearing factor (an offer changes whether a customer buys, not the
basket). The trees are the small-tree defaults of :class:`uplift_studio.core.settings.ModelSettings`.
Folds are stratified on arm x conversion, so every fold holds every arm's buyers and non-buyers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

import numpy as np
import polars as pl

from uplift_studio.core.errors import DataError
from uplift_studio.core.features import as_frame, category_levels, encode
from uplift_studio.core.offers import OfferExperiment
from uplift_studio.core.settings import ModelSettings

Progress = Callable[[int, int], None]


@dataclass(frozen=True, eq=False)
class OfferScores:
    """Out-of-sample per-arm conversion probabilities ``p`` ((n, K + 1), control first) and order values, and
    the expected incremental revenue and cost of each offer ((n, K)); NaN outside ``evaluation``."""

    user_id: np.ndarray
    fold: np.ndarray
    evaluation: np.ndarray
    p: np.ndarray
    order_value: np.ndarray
    eir: np.ndarray
    cost: np.ndarray

    def __post_init__(self) -> None:
        for spec in fields(self):
            getattr(self, spec.name).flags.writeable = False

    def to_frame(self, offers: tuple[str, ...]) -> pl.DataFrame:
        """One row per user: ``eir__<offer>``, ``cost__<offer>`` and ``p__<offer>`` per offer (labels as given)."""
        columns = {"user_id": self.user_id, "fold": self.fold, "evaluation": self.evaluation}
        columns["p_control"] = self.p[:, 0]
        columns["order_value"] = self.order_value
        for index, offer in enumerate(offers):
            columns[f"eir__{offer}"] = self.eir[:, index]
            columns[f"cost__{offer}"] = self.cost[:, index]
            columns[f"p__{offer}"] = self.p[:, index + 1]
        return pl.DataFrame(columns)


def expected_effects(
    p: np.ndarray, order_value: np.ndarray, contact_cost: np.ndarray, redemption_cost: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``eir_k = (p_k - p_0) v`` and ``cost_k = contact_k + redemption_k p_k`` from per-arm probabilities."""
    eir = (p[:, 1:] - p[:, :1]) * order_value[:, None]
    return eir, contact_cost[None, :] + redemption_cost[None, :] * p[:, 1:]


@dataclass(frozen=True, eq=False)
class OfferModel:
    """Fitted per-arm classifiers (control first) and the order-value model, to score any customers."""

    classifiers: tuple
    order_value_model: object
    smearing: float
    features: tuple[str, ...]
    categories: dict[str, tuple[str, ...]]

    def predict_matrix(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = np.column_stack([model.predict_proba(matrix)[:, 1].astype(np.float64) for model in self.classifiers])
        value = np.exp(self.order_value_model.predict(matrix).astype(np.float64)) * self.smearing - 1.0
        return p, value

    def predict(self, frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Per-arm conversion probabilities and order values of new customers (the training features)."""
        return self.predict_matrix(encode(as_frame(frame), list(self.features), self.categories))


def _fit(
    matrix: np.ndarray,
    rows: np.ndarray,
    arm: np.ndarray,
    converted: np.ndarray,
    revenue: np.ndarray,
    n_arms: int,
    settings: ModelSettings,
    seed: int,
    features: tuple[str, ...],
    categories: dict[str, tuple[str, ...]],
    labels: tuple[str, ...],
) -> OfferModel:
    from sklearn.base import clone

    from uplift_studio.core.tlearner import boosters

    classifier, regressor = boosters(settings.xgboost_params())
    types = ["c" if categories.get(name) else "q" for name in features]
    seeds = np.random.default_rng(seed).integers(np.iinfo(np.int32).max, size=n_arms + 1)

    def fitted(template, index: int, subset: np.ndarray, target: np.ndarray):
        model = clone(template).set_params(random_state=int(seeds[index]), feature_types=types)
        return model.fit(np.take(matrix, subset, axis=0), target)

    classifiers = []
    for index in range(n_arms):
        subset = rows[arm[rows] == index]
        buyers = int(converted[subset].sum())
        if buyers == 0 or buyers == subset.size:
            raise DataError(
                f"the {labels[index]!r} arm of the training data has {buyers} conversions out of {subset.size} "
                "users; each arm's model needs both buyers and non-buyers (use more data or fewer folds)."
            )
        classifiers.append(fitted(classifier, index, subset, converted[subset]))
    buyers = rows[converted[rows] == 1]
    log_value = np.log1p(revenue[buyers])
    value_model = fitted(regressor, n_arms, buyers, log_value)
    residuals = log_value - value_model.predict(np.take(matrix, buyers, axis=0)).astype(np.float64)
    # Duan (1983): E[exp(log1p value)] = exp(prediction) * mean(exp(residual)), without assuming normal errors
    return OfferModel(tuple(classifiers), value_model, float(np.mean(np.exp(residuals))), features, categories)


def _inputs(experiment: OfferExperiment):
    frame = experiment.frame
    features = tuple(experiment.features)
    categories = category_levels(frame.select(features))
    matrix = encode(frame, features, categories)
    return matrix, features, categories


def cross_fit_offers(
    experiment: OfferExperiment,
    settings: ModelSettings = ModelSettings(),  # noqa: B008 - frozen, so a shared default is safe
    progress: Progress | None = None,
) -> OfferScores:
    """Out-of-sample ``p``, order value, ``eir`` and ``cost`` for every user: K-fold cross-fitting (or one
    held-out split) stratified on arm x conversion, the same folds for every arm."""
    from sklearn.model_selection import StratifiedKFold, train_test_split

    arm = experiment.arm.astype(np.int64)
    converted = experiment.converted.astype(np.int64)
    revenue = experiment.revenue
    n, n_arms = arm.size, experiment.n_offers + 1
    labels = (experiment.control, *experiment.offers)
    strata = arm * 2 + converted
    counts = np.bincount(strata, minlength=2 * n_arms)
    needed = settings.folds if settings.holdout is None else 2
    if counts.min() < needed:
        short = ", ".join(
            f"{labels[i // 2]!r} {'buyers' if i % 2 else 'non-buyers'}: {counts[i]}"
            for i in range(2 * n_arms)
            if counts[i] < needed
        )
        raise DataError(
            f"{experiment.source}: too few users to split the data ({short}); each arm needs at least {needed} "
            "buyers and as many non-buyers (use fewer folds, or more data)."
        )
    rows = np.arange(n)
    if settings.holdout is not None:
        train, test = train_test_split(
            rows, test_size=settings.holdout, stratify=strata, random_state=settings.seed, shuffle=True
        )
        splits = [(np.sort(train), np.sort(test))]
    else:
        splits = list(StratifiedKFold(settings.folds, shuffle=True, random_state=settings.seed).split(rows, strata))
    matrix, features, categories = _inputs(experiment)
    seeds = np.random.default_rng(settings.seed).integers(np.iinfo(np.int32).max, size=len(splits))
    fold = np.full(n, -1, dtype=np.int8)
    p = np.full((n, n_arms), np.nan)
    order_value = np.full(n, np.nan)
    for index, (train, test) in enumerate(splits):
        model = _fit(
            matrix, train, arm, converted, revenue, n_arms, settings, int(seeds[index]), features, categories, labels
        )
        p[test], order_value[test] = model.predict_matrix(np.take(matrix, test, axis=0))
        fold[test] = index
        if progress is not None:
            progress(index + 1, len(splits))
    eir, cost = expected_effects(p, order_value, experiment.contact_cost, experiment.redemption_cost)
    return OfferScores(experiment.user_id.copy(), fold, fold >= 0, p, order_value, eir, cost)


def fit_final_offers(
    experiment: OfferExperiment,
    settings: ModelSettings = ModelSettings(),  # noqa: B008 - frozen, so a shared default is safe
) -> OfferModel:
    """The per-arm models fitted on every user, to score new customers."""
    matrix, features, categories = _inputs(experiment)
    arm = experiment.arm.astype(np.int64)
    labels = (experiment.control, *experiment.offers)
    return _fit(
        matrix,
        np.arange(arm.size),
        arm,
        experiment.converted.astype(np.int64),
        experiment.revenue,
        experiment.n_offers + 1,
        settings,
        settings.seed,
        features,
        categories,
        labels,
    )

r"""Cross-fitting: every user gets an out-of-sample score from a model that never saw them.

K-fold cross-fitting stratified on arm x outcome (default 5), or one held-out split; :func:`fit_final`
fits on all users to score new customers. The estimator is :class:`uplift_studio.core.tlearner.TLearner`
(imported when a fit starts: scikit-learn and XGBoost cost about a second to import, and a cached analysis
never needs them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import polars as pl

from uplift_studio.core.data import CONVERTED, ID, REVENUE, TREATMENT, Experiment
from uplift_studio.core.errors import DataError
from uplift_studio.core.features import binary_labels, category_levels, checked_revenue, encode
from uplift_studio.core.settings import LEARNERS, ModelSettings

if TYPE_CHECKING:
    from uplift_studio.core.tlearner import TLearner

Progress = Callable[[int, int], None]
OUTPUTS = ("p_treated", "p_control", "uplift", "order_value", "expected_incremental_revenue")


def make_learner(settings: ModelSettings, random_state: int | None = None) -> TLearner:
    """An unfitted learner of ``settings.learner`` (T, X or DR) with ``settings``' trees (``random_state``
    defaults to ``settings.seed``)."""
    from uplift_studio.core.metalearners import DRLearner, XLearner
    from uplift_studio.core.tlearner import TLearner, boosters

    if settings.learner not in LEARNERS:
        raise DataError(f"{settings.learner_name} is a choice among learners, not one; choose it first")
    kind = {"t": TLearner, "x": XLearner, "dr": DRLearner}[settings.learner]
    classifier, regressor = boosters(settings.xgboost_params())
    return kind(
        classifier=classifier,
        regressor=regressor,
        value_model=settings.value_model,
        random_state=settings.seed if random_state is None else random_state,
    )


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class Scores:
    """Every strategy's score per user, aligned with ``experiment.frame`` rows.

    Only users with ``evaluation`` True have out-of-sample scores; the others (the training part of a
    held-out split) have NaN and ``fold == -1``. Arrays are read-only so one result can be shared.
    """

    user_id: np.ndarray
    fold: np.ndarray
    evaluation: np.ndarray
    p_treated: np.ndarray
    p_control: np.ndarray
    uplift: np.ndarray
    order_value: np.ndarray
    expected_incremental_revenue: np.ndarray
    random: np.ndarray
    oracle: np.ndarray | None

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if value is not None:
                _read_only(value)

    def strategies(self) -> dict[str, np.ndarray]:
        """Strategy name -> score (higher = contact first): random, probability, uplift, oracle if known."""
        scores = {
            "random": self.random,
            "probability": self.p_treated,
            "uplift": self.expected_incremental_revenue,
        }
        if self.oracle is not None:
            scores["oracle"] = self.oracle
        return scores

    def to_frame(self) -> pl.DataFrame:
        columns = {
            ID: self.user_id,
            "fold": self.fold,
            "evaluation": self.evaluation,
            "p_treated": self.p_treated,
            "p_control": self.p_control,
            "uplift": self.uplift,
            "order_value": self.order_value,
            "expected_incremental_revenue": self.expected_incremental_revenue,
            "probability": self.p_treated,
            "random": self.random,
        }
        if self.oracle is not None:
            columns["oracle"] = self.oracle
        return pl.DataFrame(columns)


def _outcomes(experiment: Experiment) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    frame = experiment.frame
    missing = [name for name in (TREATMENT, CONVERTED) if name not in frame.columns]
    if missing:
        raise DataError(f"the experiment lacks column(s) {', '.join(map(repr, missing))}")
    treatment = frame[TREATMENT].to_numpy()
    converted = frame[CONVERTED].to_numpy()
    if REVENUE in frame.columns:
        revenue = frame[REVENUE].cast(pl.Float64).to_numpy()
    else:
        revenue = converted.astype(np.float64)
    return treatment, converted, revenue


def _oracle(experiment: Experiment) -> np.ndarray | None:
    truth = getattr(experiment, "truth", None)
    if truth is None or "true_incremental_revenue" not in truth.columns:
        return None
    frame = experiment.frame
    if truth.height == frame.height and (
        ID not in truth.columns or ID not in frame.columns or truth[ID].equals(frame[ID])
    ):
        return truth["true_incremental_revenue"].cast(pl.Float64).to_numpy().copy()
    if ID not in truth.columns or ID not in frame.columns:
        raise DataError("the truth is not aligned with the experiment and has no user_id to join on")
    joined = frame.select(ID).join(truth.select(ID, "true_incremental_revenue"), on=ID, how="left")
    return joined["true_incremental_revenue"].cast(pl.Float64).to_numpy().copy()


def _splits(strata: np.ndarray, settings: ModelSettings) -> list[tuple[np.ndarray, np.ndarray]]:
    counts = np.bincount(strata, minlength=4)
    needed = settings.folds if settings.holdout is None else 2
    if counts.min() < needed:
        labels = ("control non-buyers", "control buyers", "treated non-buyers", "treated buyers")
        short = ", ".join(f"{labels[i]}: {counts[i]}" for i in range(4) if counts[i] < needed)
        raise DataError(
            f"too few users to split the data ({short}); each arm needs at least {needed} buyers and "
            f"{needed} non-buyers" + (" (use fewer folds or more data)" if settings.holdout is None else "")
        )
    from sklearn.model_selection import StratifiedKFold, train_test_split

    rows = np.arange(strata.shape[0])
    if settings.holdout is not None:
        train, test = train_test_split(
            rows, test_size=settings.holdout, stratify=strata, random_state=settings.seed, shuffle=True
        )
        return [(np.sort(train), np.sort(test))]
    folds = StratifiedKFold(n_splits=settings.folds, shuffle=True, random_state=settings.seed)
    return list(folds.split(rows, strata))


class Design(NamedTuple):
    """What every fold of a cross-fit shares: the encoded experiment, its outcomes, the folds and the seeds."""

    matrix: np.ndarray
    features: list[str]
    categories: dict[str, tuple[str, ...]]
    arm: np.ndarray
    bought: np.ndarray
    revenue: np.ndarray
    splits: list[tuple[np.ndarray, np.ndarray]]
    learner_seeds: np.ndarray
    random_seed: np.random.SeedSequence

    @property
    def strata(self) -> np.ndarray:
        return self.arm.astype(np.int64) * 2 + self.bought


def design(experiment: Experiment, settings: ModelSettings) -> Design:
    """Encode and check the experiment once, and draw its folds and per-fold learner seeds."""
    frame = experiment.frame
    features = list(experiment.features)
    treatment, converted, revenue = _outcomes(experiment)
    n = frame.height
    arm = binary_labels(treatment, "treatment", n)
    bought = binary_labels(converted, "converted", n)
    revenue = checked_revenue(revenue, bought)
    # One encoding of the whole experiment: every fold codes each categorical level alike, and the
    # per-fold cost is a row slice.
    categories = category_levels(frame.select(features))
    matrix = encode(frame, features, categories)
    splits = _splits(arm.astype(np.int64) * 2 + bought, settings)
    random_seed, learner_seed = np.random.SeedSequence(settings.seed).spawn(2)
    learner_seeds = np.random.default_rng(learner_seed).integers(np.iinfo(np.int32).max, size=len(splits))
    return Design(matrix, features, categories, arm, bought, revenue, splits, learner_seeds, random_seed)


def fold_outputs(n: int) -> dict[str, np.ndarray]:
    """The per-user model outputs of a cross-fit, NaN until a fold scores them."""
    return {name: np.full(n, np.nan) for name in OUTPUTS}


def fit_and_score(fitted: Design, settings: ModelSettings, index: int, outputs: dict[str, np.ndarray]) -> None:
    """Fit ``settings``' learner on fold ``index``'s training part and write its held-out predictions."""
    train, test = fitted.splits[index]
    learner = make_learner(settings, random_state=int(fitted.learner_seeds[index]))
    learner.fit_matrix(
        fitted.matrix, train, fitted.features, fitted.categories, fitted.bought, fitted.arm, fitted.revenue
    )
    prediction = learner.predict_matrix(np.take(fitted.matrix, test, axis=0))
    for name, values in outputs.items():
        values[test] = getattr(prediction, name)


def cross_fit(
    experiment: Experiment,
    settings: ModelSettings = ModelSettings(),  # noqa: B008 - frozen, so a shared default is safe
    progress: Progress | None = None,
) -> Scores:
    """Out-of-sample scores for every user and strategy: K-fold cross-fitting, or one held-out split.

    Folds are stratified on ``treatment * 2 + converted`` and shuffled with ``settings.seed``; each user is
    scored by the model fitted on the other folds. Categorical levels come from the whole experiment, so
    every fold codes them alike. ``progress(done, total)`` is called after each fold. The automatic
    choice (``settings.learner == "auto"``) is :func:`uplift_studio.core.selection.cross_fit_selected`.
    """
    fitted = design(experiment, settings)
    outputs = fold_outputs(experiment.frame.height)
    for index in range(len(fitted.splits)):
        fit_and_score(fitted, settings, index, outputs)
        if progress is not None:
            progress(index + 1, len(fitted.splits))
    return assemble_scores(experiment, fitted, outputs)


def assemble_scores(experiment: Experiment, fitted: Design, outputs: dict[str, np.ndarray]) -> Scores:
    """The per-user :class:`Scores` from each fold's out-of-sample outputs (every learner and the selection)."""
    n = experiment.frame.height
    fold = np.full(n, -1, dtype=np.int8)
    for index, (_, test) in enumerate(fitted.splits):
        fold[test] = index
    evaluation = fold >= 0
    random = np.random.default_rng(fitted.random_seed).random(n)
    random[~evaluation] = np.nan
    oracle = _oracle(experiment)
    if oracle is not None:
        oracle[~evaluation] = np.nan
    frame = experiment.frame
    user_id = frame[ID].to_numpy().copy() if ID in frame.columns else np.arange(1, n + 1)
    return Scores(user_id=user_id, fold=fold, evaluation=evaluation, random=random, oracle=oracle, **outputs)


def fit_final(
    experiment: Experiment,
    settings: ModelSettings = ModelSettings(),  # noqa: B008 - frozen, so a shared default is safe
    progress: Progress | None = None,
) -> TLearner:
    """A :class:`TLearner` fitted on all users, to score new customers with :meth:`TLearner.score_frame`."""
    treatment, converted, revenue = _outcomes(experiment)
    frame = experiment.frame
    for name in experiment.features:
        if name not in frame.columns:
            raise DataError(f"the experiment lacks its feature column {name!r}")
    learner = make_learner(settings).fit(frame.select(experiment.features), converted, treatment, revenue)
    if progress is not None:
        progress(1, 1)
    return learner

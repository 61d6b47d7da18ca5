r"""T-learner on XGBoost, its baselines, and cross-fitting that gives every user an out-of-sample score.

The T-learner (Künzel, Sekhon, Bickel and Yu, "Metalearners for estimating heterogeneous treatment
effects using machine learning", PNAS 2019) fits one conversion model per arm::

    p_treated(x) = P(buy | contacted, x)        p_control(x) = P(buy | not contacted, x)
    uplift(x)    = p_treated(x) - p_control(x)

and the expected incremental revenue of contacting a user is the uplift times the expected order value
of a converter, ``v(x) = E[revenue | converted, x]`` (``value_model="order_value"``), or, alternatively,
the difference of two revenue models, ``E[revenue | contacted, x] - E[revenue | not contacted, x]``
(``value_model="revenue"``). See :class:`TLearner` for the measured comparison behind the default.

Every score used for evaluation comes from a model that never saw the user (:func:`cross_fit`): K-fold
cross-fitting stratified on arm x outcome, or a single held-out split. :func:`fit_final` fits on all users
to score new customers.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from uplift_studio.core.data import CONVERTED, ID, REVENUE, TREATMENT, Experiment
from uplift_studio.core.errors import DataError

if TYPE_CHECKING:
    from xgboost import XGBClassifier, XGBRegressor

    from uplift_studio.core.tlearner import TLearner

VALUE_MODELS = ("order_value", "revenue")

Progress = Callable[[int, int], None]

# The estimator lives in tlearner.py (scikit-learn and XGBoost load only when a model is fitted); these
# names stay importable from here.
_FROM_TLEARNER = ("TLearner", "Prediction", "_category_levels", "_encode", "_binary", "_revenue")


def __getattr__(name: str) -> Any:
    if name in _FROM_TLEARNER:
        from uplift_studio.core import tlearner

        return getattr(tlearner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def available_threads() -> int:
    """CPU cores this process may run on (the affinity mask, which containers and ``taskset`` narrow)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@dataclass(frozen=True)
class ModelSettings:
    """Everything that decides the scores; small and hashable, so it can key a cache.

    Tree defaults, measured on a tuning campaign (150,000 simulated users, seed 11, so not the default
    campaign the tests and the report use), by the Spearman correlation of the 5-fold out-of-fold score
    with the true incremental revenue: at learning rate 0.05 and depth 3, 50 rounds 0.802, **75 rounds
    0.811**, 100 rounds 0.809, 150 rounds 0.797, 300 rounds 0.767; at 75 rounds depth 4 gives 0.795, and
    depth 5 (100 rounds) 0.768; depth 2 (100 rounds) 0.814, a tie we do not take, since real data can have
    interactions the simulator lacks. Early stopping on an inner 20% split stops each arm's classifier
    later (100 to 150 rounds by log loss, seeds 7 and 11): the uplift is a difference of two fits and
    needs more smoothing than either fit alone, so a fixed, measured count beats early stopping here and
    keeps all rows for fitting. Subsampling rows and columns (0.8) added 0.011; ``min_child_weight`` from
    1 to 20 and ``reg_lambda`` 1 or 10 moved it by 0.002 or less. Larger campaigns support more rounds.
    """

    n_estimators: int = 75
    learning_rate: float = 0.05
    max_depth: int = 3
    min_child_weight: float = 5.0
    subsample: float = 0.8
    colsample: float = 0.8
    reg_lambda: float = 1.0
    max_bin: int = 256
    folds: int = 5
    holdout: float | None = None
    seed: int = 7
    n_jobs: int | None = None
    value_model: str = "order_value"

    def __post_init__(self) -> None:
        problems = []
        if not (isinstance(self.n_estimators, int) and self.n_estimators >= 1):
            problems.append(f"n_estimators must be a positive integer, got {self.n_estimators!r}")
        if not 0.0 < self.learning_rate <= 1.0:
            problems.append(f"learning_rate must be in (0, 1], got {self.learning_rate!r}")
        if not (isinstance(self.max_depth, int) and self.max_depth >= 1):
            problems.append(f"max_depth must be a positive integer, got {self.max_depth!r}")
        if self.min_child_weight < 0:
            problems.append(f"min_child_weight must be >= 0, got {self.min_child_weight!r}")
        for name in ("subsample", "colsample"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                problems.append(f"{name} must be in (0, 1], got {value!r}")
        if not (isinstance(self.max_bin, int) and self.max_bin >= 2):
            problems.append(f"max_bin must be an integer >= 2, got {self.max_bin!r}")
        if not (isinstance(self.seed, int) and 0 <= self.seed < 2**32):
            problems.append(f"seed must be an integer from 0 to 2**32 - 1, got {self.seed!r}")
        if not (isinstance(self.folds, int) and self.folds >= 2):
            problems.append(f"folds must be an integer >= 2, got {self.folds!r}")
        if self.holdout is not None and not 0.0 < self.holdout < 1.0:
            problems.append(f"holdout must be a share strictly between 0 and 1 (or None), got {self.holdout!r}")
        if self.n_jobs is not None and not (isinstance(self.n_jobs, int) and self.n_jobs >= 1):
            problems.append(f"n_jobs must be a positive integer or None (all cores), got {self.n_jobs!r}")
        if self.value_model not in VALUE_MODELS:
            problems.append(f"value_model must be one of {', '.join(VALUE_MODELS)}, got {self.value_model!r}")
        if problems:
            raise DataError("invalid model settings: " + "; ".join(problems))

    @property
    def threads(self) -> int:
        return self.n_jobs if self.n_jobs is not None else available_threads()

    def xgboost_params(self) -> dict[str, Any]:
        """Keyword arguments shared by every XGBoost model of the learner."""
        return {
            "n_estimators": self.n_estimators,
            "learning_rate": self.learning_rate,
            "max_depth": self.max_depth,
            "min_child_weight": self.min_child_weight,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample,
            "reg_lambda": self.reg_lambda,
            "max_bin": self.max_bin,
            "tree_method": "hist",
            # One multithreaded model at a time uses every core; folds run one after another, so threads
            # never exceed cores. Other processes can still crowd the cores, and libgomp's threads then spin
            # at every barrier: on 2 cores under a load of 5 a 40,000-user cross-fit took 13-21 s instead of
            # 1 s. OMP_WAIT_POLICY=PASSIVE (set before sklearn is first imported) cut that to 2-3 s but
            # doubled the time on idle cores, so that choice is left to the deployment.
            "n_jobs": self.threads,
            "enable_categorical": True,
        }

    def classifier(self) -> XGBClassifier:
        from xgboost import XGBClassifier

        return XGBClassifier(objective="binary:logistic", **self.xgboost_params())

    def regressor(self) -> XGBRegressor:
        from xgboost import XGBRegressor

        return XGBRegressor(objective="reg:squarederror", **self.xgboost_params())

    def learner(self, random_state: int | np.random.RandomState | None = None) -> TLearner:
        """An unfitted :class:`TLearner` with these settings (``random_state`` defaults to ``seed``)."""
        from uplift_studio.core.tlearner import TLearner

        return TLearner(
            classifier=self.classifier(),
            regressor=self.regressor(),
            value_model=self.value_model,
            random_state=self.seed if random_state is None else random_state,
        )

    def as_dict(self) -> dict[str, Any]:
        """The settings for a report, with the thread count actually used next to the requested one."""
        settings = asdict(self)
        settings["learner"] = "t_learner_xgboost"
        settings["threads"] = self.threads
        return settings


# --- cross-fitting --------------------------------------------------------------------------------------


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


def cross_fit(
    experiment: Experiment,
    settings: ModelSettings = ModelSettings(),
    progress: Progress | None = None,
) -> Scores:
    """Out-of-sample scores for every user and strategy: K-fold cross-fitting, or one held-out split.

    Folds are stratified on ``treatment * 2 + converted`` and shuffled with ``settings.seed``; each user is
    scored by the model fitted on the other folds. Categorical levels come from the whole experiment, so
    every fold codes them alike. ``progress(done, total)`` is called after each fold.
    """
    from uplift_studio.core.tlearner import _binary, _category_levels, _encode, _revenue

    frame = experiment.frame
    features = list(experiment.features)
    treatment, converted, revenue = _outcomes(experiment)
    n = frame.height
    arm = _binary(treatment, "treatment", n)
    bought = _binary(converted, "converted", n)
    spend = _revenue(revenue, bought)
    # One encoding of the whole experiment: every fold codes each categorical level alike, and the
    # per-fold cost is a row slice.
    categories = _category_levels(frame.select(features))
    matrix = _encode(frame, features, categories)
    splits = _splits(arm.astype(np.int64) * 2 + bought, settings)

    random_seed, learner_seed = np.random.SeedSequence(settings.seed).spawn(2)
    learner_seeds = np.random.default_rng(learner_seed).integers(np.iinfo(np.int32).max, size=len(splits))

    fold = np.full(n, -1, dtype=np.int8)
    outputs = {
        name: np.full(n, np.nan)
        for name in ("p_treated", "p_control", "uplift", "order_value", "expected_incremental_revenue")
    }
    for index, (train, test) in enumerate(splits):
        learner = settings.learner(random_state=int(learner_seeds[index]))
        learner._fit_encoded(matrix, train, features, categories, bought, arm, spend)
        prediction = learner._predict_encoded(np.take(matrix, test, axis=0))
        for name, values in outputs.items():
            values[test] = getattr(prediction, name)
        fold[test] = index
        if progress is not None:
            progress(index + 1, len(splits))

    evaluation = fold >= 0
    random = np.random.default_rng(random_seed).random(n)
    random[~evaluation] = np.nan
    oracle = _oracle(experiment)
    if oracle is not None:
        oracle[~evaluation] = np.nan
    user_id = frame[ID].to_numpy().copy() if ID in frame.columns else np.arange(1, n + 1)
    return Scores(user_id=user_id, fold=fold, evaluation=evaluation, random=random, oracle=oracle, **outputs)


def fit_final(
    experiment: Experiment,
    settings: ModelSettings = ModelSettings(),
    progress: Progress | None = None,
) -> TLearner:
    """A :class:`TLearner` fitted on all users, to score new customers with :meth:`TLearner.score_frame`."""
    treatment, converted, revenue = _outcomes(experiment)
    frame = experiment.frame
    for name in experiment.features:
        if name not in frame.columns:
            raise DataError(f"the experiment lacks its feature column {name!r}")
    learner = settings.learner().fit(frame.select(experiment.features), converted, treatment, revenue)
    if progress is not None:
        progress(1, 1)
    return learner

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
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import polars as pl
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.utils.validation import check_is_fitted, check_random_state
from xgboost import XGBClassifier, XGBRegressor

from uplift_studio.core.data import CONVERTED, ID, REVENUE, TREATMENT, Experiment
from uplift_studio.core.errors import DataError

VALUE_MODELS = ("order_value", "revenue")

Progress = Callable[[int, int], None]


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
        return XGBClassifier(objective="binary:logistic", **self.xgboost_params())

    def regressor(self) -> XGBRegressor:
        return XGBRegressor(objective="reg:squarederror", **self.xgboost_params())

    def learner(self, random_state: int | np.random.RandomState | None = None) -> TLearner:
        """An unfitted :class:`TLearner` with these settings (``random_state`` defaults to ``seed``)."""
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


# --- features -------------------------------------------------------------------------------------------


def _is_categorical(dtype: pl.DataType) -> bool:
    return dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum))


def _is_numeric(dtype: pl.DataType) -> bool:
    return dtype.is_numeric() or dtype == pl.Boolean or dtype == pl.Null


def _as_frame(X: pl.DataFrame | np.ndarray) -> pl.DataFrame:
    if isinstance(X, pl.DataFrame):
        return X
    if isinstance(X, pl.LazyFrame):
        return X.collect()
    array = np.asarray(X)
    if array.ndim != 2:
        raise DataError(f"features must be a 2-D table, got an array of shape {array.shape}")
    return pl.DataFrame(array, schema=[f"x{i}" for i in range(array.shape[1])], orient="row")


def _category_levels(frame: pl.DataFrame) -> dict[str, tuple[str, ...]]:
    """Levels of each categorical column: an Enum's declared categories, else the sorted observed values.

    Sorting makes the codes independent of row order, so the same data always gives the same model.
    """
    levels = {}
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.Enum):
            levels[name] = tuple(dtype.categories.to_list())
        elif _is_categorical(dtype):
            levels[name] = tuple(frame[name].cast(pl.String).drop_nulls().unique().sort().to_list())
        elif not _is_numeric(dtype):
            raise DataError(
                f"feature column {name!r} has type {dtype}, which the models cannot use; "
                "convert it to a number or a category (string), or leave it out of the features"
            )
    return levels


def _encode(frame: pl.DataFrame, names: Sequence[str], categories: dict[str, tuple[str, ...]]) -> np.ndarray:
    """The float32 matrix XGBoost trains on: numbers as they are, categories as level codes, NaN = missing.

    A level outside the fitted ones becomes missing and takes the default branch each tree learned for
    missing values.
    """
    missing = [name for name in names if name not in frame.columns]
    if missing:
        listed = ", ".join(repr(name) for name in missing)
        raise DataError(
            f"the data lacks feature column(s) {listed} that the model was trained on; "
            "add them (null values are allowed) or refit the model without them"
        )
    columns = []
    for name in names:
        dtype = frame.schema[name]
        if name in categories:
            column = pl.col(name) if _is_categorical(dtype) else pl.col(name).cast(pl.String)
            # The Enum's physical value is the level's position; a non-strict cast turns other values null.
            columns.append(column.cast(pl.Enum(list(categories[name])), strict=False).to_physical().cast(pl.Float32))
        elif _is_numeric(dtype):
            columns.append(pl.col(name).cast(pl.Float32))
        else:
            raise DataError(
                f"feature column {name!r} has type {dtype} but the model was trained on numbers; "
                "supply it as numbers (null for unknown)"
            )
    # C order: XGBoost reads rows; a Fortran-ordered matrix would be copied inside every fit.
    matrix = frame.select(columns).to_numpy(order="c")
    infinite = np.isinf(matrix).any(axis=0)
    if infinite.any():
        bad = ", ".join(repr(name) for name, flag in zip(names, infinite, strict=True) if flag)
        raise DataError(f"feature column(s) {bad} hold infinite values; replace them with null or a number")
    return matrix


def _binary(values: Any, name: str, n: int) -> np.ndarray:
    array = np.asarray(values)
    if array.shape != (n,):
        raise DataError(f"{name} must have one value per user ({n}), got shape {array.shape}")
    if array.dtype.kind == "f" and np.isnan(array).any():
        raise DataError(f"{name} has missing values; it must be 0 or 1 for every user")
    if not np.isin(array, (0, 1)).all():
        raise DataError(f"{name} must be 0 or 1, found {sorted(set(np.unique(array).tolist()) - {0, 1})[:5]}")
    return array.astype(np.int8)


def _revenue(values: Any, converted: np.ndarray) -> np.ndarray:
    if values is None:
        return converted.astype(np.float64)
    spend = np.asarray(values, dtype=np.float64)
    if spend.shape != converted.shape:
        raise DataError(f"revenue must have one value per user ({converted.shape[0]}), got shape {spend.shape}")
    if not np.isfinite(spend).all() or (spend < 0).any():
        raise DataError("revenue must be a finite number >= 0 for every user")
    return spend


# --- the learner ----------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Prediction:
    """Per-user model outputs, float64 arrays of one length."""

    p_treated: np.ndarray
    p_control: np.ndarray
    uplift: np.ndarray
    order_value: np.ndarray
    expected_incremental_revenue: np.ndarray


class TLearner(BaseEstimator):
    """Two XGBoost classifiers, one per arm, and a value model: expected incremental revenue per contact.

    ``predict(X) = (p_treated(x) - p_control(x)) * order_value(x)`` with the default
    ``value_model="order_value"``: ``order_value(x)`` is an XGBoost regressor of ``log1p(revenue)`` fitted on
    the converters of both arms (the contact changes whether a customer buys, not the basket), mapped
    back with Duan's smearing factor so it estimates the mean, not the geometric mean. With
    ``value_model="revenue"`` the score is instead the difference of two regressors of revenue (zeros
    included), one per arm.

    The default is measured: the Spearman correlation of the 5-fold out-of-fold score with the true
    incremental revenue of the default simulated campaign (150,000 users, seed 7) is 0.811 with the order
    value model and 0.740 with the revenue T-learner (seed 3: 0.783 against 0.711). The value model sees
    the basket only where it exists, on converters, while each revenue regressor must learn the rare
    conversion and the basket at once from a target that is 94% zeros, and their difference adds both
    models' noise. It is also cheaper: 3 fits per fold against 5 (the revenue mode still fits the value
    model, for the order value column).

    ``classifier`` and ``regressor`` are unfitted XGBoost estimators, cloned in ``fit`` (``None`` means
    ``ModelSettings()``'s). ``random_state`` seeds every model: an int gives identical scores bit for bit
    (also across thread counts: 1 and 2 threads agree, a test checks).
    """

    def __init__(
        self,
        classifier: XGBClassifier | None = None,
        regressor: XGBRegressor | None = None,
        value_model: str = "order_value",
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.classifier = classifier
        self.regressor = regressor
        self.value_model = value_model
        self.random_state = random_state

    def fit(
        self,
        X: pl.DataFrame | np.ndarray,
        y: Any,
        treatment: Any,
        revenue: Any = None,
    ) -> TLearner:
        """Fit on features ``X`` (Polars, or a numeric array), conversions ``y`` (0/1), ``treatment`` (0/1)
        and ``revenue`` (>= 0).

        Categorical levels are those of ``X`` (an Enum column's declared categories, else the values seen);
        without ``revenue`` each conversion counts as 1, so the score is the uplift in conversions.
        """
        frame = _as_frame(X)
        categories = _category_levels(frame)
        matrix = _encode(frame, frame.columns, categories)
        n = frame.height
        converted = _binary(y, "converted", n)
        arm = _binary(treatment, "treatment", n)
        spend = _revenue(revenue, converted)
        return self._fit_encoded(matrix, np.arange(n), frame.columns, categories, converted, arm, spend)

    def _fit_encoded(
        self,
        matrix: np.ndarray,
        rows: np.ndarray,
        names: Sequence[str],
        categories: dict[str, tuple[str, ...]],
        converted: np.ndarray,
        arm: np.ndarray,
        spend: np.ndarray,
    ) -> TLearner:
        # Cross-fitting encodes and validates the whole experiment once, then fits each fold on ``rows`` of
        # it: each arm's rows are gathered out of the full matrix once, with no intermediate fold copy.
        if self.value_model not in VALUE_MODELS:
            raise DataError(f"value_model must be one of {', '.join(VALUE_MODELS)}, got {self.value_model!r}")
        arm_of_row = arm[rows]
        treated, control = rows[arm_of_row == 1], rows[arm_of_row == 0]
        for label, group in (("treated", treated), ("control", control)):
            buyers = int(converted[group].sum())
            if buyers == 0 or buyers == group.shape[0]:
                raise DataError(
                    f"the {label} group of the training data has {buyers} conversions out of "
                    f"{group.shape[0]} users; a T-learner needs both buyers and non-buyers in each arm"
                )

        settings = ModelSettings()
        classifier = self.classifier if self.classifier is not None else settings.classifier()
        regressor = self.regressor if self.regressor is not None else settings.regressor()
        rng = check_random_state(self.random_state)
        seeds = rng.randint(np.iinfo(np.int32).max, size=5)

        self.feature_names_in_ = np.asarray(list(names), dtype=object)
        self.n_features_in_ = len(names)
        self.categories_ = {name: levels for name, levels in categories.items() if name in set(names)}
        # A categorical column without a single level is all missing: XGBoost needs no category for it.
        self.feature_types_ = ["c" if self.categories_.get(name) else "q" for name in names]

        def fitted(template: BaseEstimator, seed: int, features: np.ndarray, target: np.ndarray) -> Any:
            model = clone(template).set_params(
                random_state=int(seed), enable_categorical=True, feature_types=self.feature_types_
            )
            return model.fit(features, target)

        treated_features = np.take(matrix, treated, axis=0)
        control_features = np.take(matrix, control, axis=0)
        self.treated_classifier_ = fitted(classifier, seeds[0], treated_features, converted[treated])
        self.control_classifier_ = fitted(classifier, seeds[1], control_features, converted[control])

        buyers = rows[converted[rows] == 1]
        buyer_features = np.take(matrix, buyers, axis=0)
        log_value = np.log1p(spend[buyers])
        self.order_value_model_ = fitted(regressor, seeds[2], buyer_features, log_value)
        residuals = log_value - self.order_value_model_.predict(buyer_features).astype(np.float64)
        # Duan (1983), the smearing estimate: E[exp(log1p value)] = exp(prediction) * mean(exp(residual)),
        # without assuming normal errors; the order value is that minus 1.
        self.smearing_ = float(np.mean(np.exp(residuals)))

        if self.value_model == "revenue":
            self.treated_regressor_ = fitted(regressor, seeds[3], treated_features, spend[treated])
            self.control_regressor_ = fitted(regressor, seeds[4], control_features, spend[control])
        return self

    def _matrix(self, X: pl.DataFrame | np.ndarray) -> np.ndarray:
        check_is_fitted(self, "treated_classifier_")
        frame = _as_frame(X)
        return _encode(frame, list(self.feature_names_in_), self.categories_)

    def predict_components(self, X: pl.DataFrame | np.ndarray) -> Prediction:
        """Both arms' conversion probabilities, the uplift, the order value and the incremental revenue."""
        return self._predict_encoded(self._matrix(X))

    def _predict_encoded(self, matrix: np.ndarray) -> Prediction:
        p_treated = self.treated_classifier_.predict_proba(matrix)[:, 1].astype(np.float64)
        p_control = self.control_classifier_.predict_proba(matrix)[:, 1].astype(np.float64)
        uplift = p_treated - p_control
        order_value = np.exp(self.order_value_model_.predict(matrix).astype(np.float64)) * self.smearing_ - 1.0
        if self.value_model == "revenue":
            treated_revenue = self.treated_regressor_.predict(matrix).astype(np.float64)
            incremental = treated_revenue - self.control_regressor_.predict(matrix).astype(np.float64)
        else:
            incremental = uplift * order_value
        return Prediction(p_treated, p_control, uplift, order_value, incremental)

    def predict(self, X: pl.DataFrame | np.ndarray) -> np.ndarray:
        """Expected incremental revenue of contacting each user."""
        return self.predict_components(X).expected_incremental_revenue

    def predict_uplift(self, X: pl.DataFrame | np.ndarray) -> np.ndarray:
        """``P(buy | contacted, x) - P(buy | not contacted, x)``."""
        return self.predict_components(X).uplift

    def score_frame(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Score new customers: a frame with the training feature columns (any order, extra columns kept out).

        Returns the id column when present, then ``p_treated, p_control, uplift, order_value,
        expected_incremental_revenue`` and ``probability`` (= ``p_treated``), one row per input row.
        """
        prediction = self.predict_components(frame)
        scores = pl.DataFrame(
            {
                "p_treated": prediction.p_treated,
                "p_control": prediction.p_control,
                "uplift": prediction.uplift,
                "order_value": prediction.order_value,
                "expected_incremental_revenue": prediction.expected_incremental_revenue,
                "probability": prediction.p_treated,
            }
        )
        if ID in frame.columns:
            scores = scores.insert_column(0, frame[ID])
        return scores


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

"""Model settings: a small, hashable record of everything that decides the scores (a leaf module).

It holds numbers only; the estimators that use them live in :mod:`uplift_studio.core.tlearner`, and
cross-fitting in :mod:`uplift_studio.core.crossfit`.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

from uplift_studio.core.errors import DataError

VALUE_MODELS = ("order_value", "revenue")
LEARNERS = ("t", "x", "dr")
# "auto" is no estimator: it chooses one of LEARNERS (and a target and a tree size) per training part, by
# nested cross-fitting (uplift_studio.core.selection); a saved model always names the learner chosen
LEARNER_CHOICES = (*LEARNERS, "auto")
LEARNER_NAMES = {"t": "T-learner", "x": "X-learner", "dr": "DR-learner", "auto": "automatic choice (nested)"}


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
    learner: str = "t"
    tree_grid: bool = False  # auto only: also try one level shallower and one deeper (see selection)

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
        if self.learner not in LEARNER_CHOICES:
            problems.append(f"learner must be one of {', '.join(LEARNER_CHOICES)}, got {self.learner!r}")
        if not isinstance(self.tree_grid, bool):
            problems.append(f"tree_grid must be True or False, got {self.tree_grid!r}")
        if problems:
            raise DataError("invalid model settings: " + "; ".join(problems))

    @property
    def learner_name(self) -> str:
        return LEARNER_NAMES[self.learner]

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

    def cache_dict(self) -> dict[str, Any]:
        """What decides the numbers: every setting but the thread count (scores are identical for any)."""
        settings = asdict(self)
        settings.pop("n_jobs")
        return settings

    def as_dict(self) -> dict[str, Any]:
        """The settings for a report, with the thread count actually used next to the requested one."""
        settings = asdict(self)
        settings["learner"] = "auto_nested_selection" if self.learner == "auto" else f"{self.learner}_learner_xgboost"
        settings["threads"] = self.threads
        return settings


def default_xgboost_params() -> dict[str, Any]:
    """The trees of the default :class:`ModelSettings`, for estimators built without settings."""
    return ModelSettings().xgboost_params()

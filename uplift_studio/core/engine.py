"""The analysis of an experiment too large for memory, as three passes of one per-batch reducer.

1. *Sketch*: per arm x conversion stratum, count the users and keep the smallest hash draws
   (:mod:`uplift_studio.core.sampling`), which fixes a stratified training sample of the stated size.
2. *Sample*: gather the sampled users; cross-fit the learner on them with folds from the id hash
   (:mod:`uplift_studio.core.userhash`) and place each strategy's 1,024 quantile bin edges on their
   out-of-fold scores.
3. *Evaluate*: score every user with the model of their fold (a model that never saw that fold: the score is
   out of sample whether or not the user was sampled) and add their outcomes into per-bin tables
   (:mod:`uplift_studio.core.binstats`).

Each pass is a function of one batch whose results merge by addition, so the streaming engine folds them
over a file's batches and the Dask engine over a cluster's partitions, with identical results: nothing
depends on batch boundaries, partitions or row order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import polars as pl

from uplift_studio.core import userhash
from uplift_studio.core.batches import BatchPlan, canonical
from uplift_studio.core.binstats import DEFAULT_BINS, BinTable, accumulate, outcome_keys, quantile_edges
from uplift_studio.core.data import CONVERTED, COST, ID, REVENUE, TREATMENT
from uplift_studio.core.errors import DataError
from uplift_studio.core.sampling import SampleSketch, in_sample, stratum
from uplift_studio.core.settings import LEARNERS, ModelSettings

STRATEGIES = ("random", "probability", "uplift")
OUTCOME = "outcome"  # the table keyed by the outcome itself: the Qini and AUUC normalisers
_HASH = "__user_hash"
DEFAULT_SAMPLE = 2_000_000
DEFAULT_BATCH = 1_000_000


@dataclass(frozen=True)
class EngineSettings:
    """How a large experiment is cut: the training sample's size, the rows per batch and the score bins."""

    sample_size: int = DEFAULT_SAMPLE
    batch_size: int = DEFAULT_BATCH
    n_bins: int = DEFAULT_BINS

    def __post_init__(self) -> None:
        for name in ("sample_size", "batch_size", "n_bins"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise DataError(f"--{name.replace('_', '-')} must be a whole number >= 1, got {value!r}.")


def hashed(batch: pl.DataFrame) -> np.ndarray:
    return userhash.hash_ids(batch.get_column(ID))


# --- pass 1 and 2: the sample --------------------------------------------------------------------------------


def sketch_of(raw: pl.DataFrame, plan: BatchPlan, capacity: int) -> SampleSketch:
    batch = canonical(raw, plan)
    draws = userhash.uniform(hashed(batch), userhash.SALT_SAMPLE)
    return SampleSketch.of(draws, stratum(batch[TREATMENT].to_numpy(), batch[CONVERTED].to_numpy()), capacity)


def sample_of(raw: pl.DataFrame, plan: BatchPlan, limits: np.ndarray) -> pl.DataFrame:
    batch = canonical(raw, plan)
    hashes = hashed(batch)
    draws = userhash.uniform(hashes, userhash.SALT_SAMPLE)
    keep = in_sample(draws, stratum(batch[TREATMENT].to_numpy(), batch[CONVERTED].to_numpy()), limits)
    return batch.with_columns(pl.Series(_HASH, hashes)).filter(pl.Series(keep))


def ordered_sample(parts: Iterable[pl.DataFrame]) -> pl.DataFrame:
    """The sample in hash order: the models see the same rows in the same order from any engine."""
    return pl.concat(list(parts), how="vertical").sort(_HASH, maintain_order=True)


# --- the models ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SampleModel:
    """One learner per hash fold, fitted on the sample without that fold, and the bin edges of every table."""

    learners: tuple
    features: tuple[str, ...]
    edges: dict[str, np.ndarray]
    per_user_cost: bool
    sample_users: int

    @property
    def n_folds(self) -> int:
        return len(self.learners)

    def keys(self, batch: pl.DataFrame, hashes: np.ndarray) -> dict[str, np.ndarray]:
        """Every strategy's ranking key per user, each from the model of the user's fold."""
        fold = userhash.folds(hashes, self.n_folds)
        probability, uplift = np.empty(batch.height), np.empty(batch.height)
        features = batch.select(self.features)
        for index, learner in enumerate(self.learners):
            rows = np.flatnonzero(fold == index)
            if rows.size:
                prediction = learner.predict_components(features[rows])
                probability[rows] = prediction.p_treated
                uplift[rows] = prediction.expected_incremental_revenue
        keys = {"random": userhash.uniform(hashes, userhash.SALT_RANDOM), "probability": probability, "uplift": uplift}
        if self.per_user_cost:
            cost = batch[COST].to_numpy()
            keys["probability"], keys["uplift"] = probability / cost, uplift / cost
        return keys


def _check_learner(settings: ModelSettings) -> None:
    if settings.learner not in LEARNERS:
        raise DataError(
            f"the streaming and Dask engines fit one learner on the sample; choose --learner {' or '.join(LEARNERS)}"
            f" (not {settings.learner_name})."
        )


def fit_sample(
    sample: pl.DataFrame,
    plan: BatchPlan,
    settings: ModelSettings,
    engine: EngineSettings,
    make: Callable | None = None,
) -> SampleModel:
    """Cross-fit on the sample (folds by id hash) and place the bin edges on its out-of-fold keys.

    ``make(settings, random_state)`` builds one unfitted learner (default: XGBoost in this process; the Dask
    engine's ``--distributed-fit`` passes learners whose trees train with XGBoost's Dask interface).
    """
    from uplift_studio.core.crossfit import make_learner

    make = make or make_learner
    _check_learner(settings)
    if settings.holdout is not None:
        raise DataError("the streaming and Dask engines cross-fit on the sample; use --folds, not --holdout.")
    hashes = sample[_HASH].to_numpy()
    fold = userhash.folds(hashes, settings.folds)
    features = sample.select(plan.features)
    outcomes = sample[CONVERTED].to_numpy(), sample[TREATMENT].to_numpy(), sample[REVENUE].to_numpy()
    learners = []
    for index in range(settings.folds):
        train = np.flatnonzero(fold != index)
        learner = make(settings, random_state=settings.seed + index)
        learner.fit(features[train], *(values[train] for values in outcomes))
        learners.append(learner)
    model = SampleModel(tuple(learners), plan.features, {}, plan.per_user_cost, sample.height)
    keys = model.keys(sample, hashes)
    edges = {name: quantile_edges(keys[name], engine.n_bins) for name in STRATEGIES}
    revenue = outcomes[2]
    edges[OUTCOME] = np.concatenate([[0.0], quantile_edges(revenue[revenue > 0], engine.n_bins)])
    return SampleModel(tuple(learners), plan.features, edges, plan.per_user_cost, sample.height)


# --- pass 3: the tables -------------------------------------------------------------------------------------


def tables_of(raw: pl.DataFrame, plan: BatchPlan, model: SampleModel) -> dict[str, BinTable]:
    """One batch's bin table per strategy, and the outcome table."""
    batch = canonical(raw, plan)
    keys = model.keys(batch, hashed(batch))
    keys[OUTCOME] = outcome_keys(batch[REVENUE].to_numpy())
    outcomes = batch[TREATMENT].to_numpy(), batch[CONVERTED].to_numpy(), batch[REVENUE].to_numpy()
    cost = batch[COST].to_numpy() if model.per_user_cost else None
    return {name: accumulate(key, model.edges[name], *outcomes, cost=cost) for name, key in keys.items()}


def merged(first: dict[str, BinTable], second: dict[str, BinTable]) -> dict[str, BinTable]:
    return {name: first[name] + second[name] for name in first}

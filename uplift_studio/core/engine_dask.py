"""The Dask engine: the same three passes (:mod:`uplift_studio.core.engine`) over a cluster's partitions.

Each partition is a range of the file's rows, read by the worker that runs it (the file must be readable
at the same path by every worker: a shared disk or mount). The sketch and the bin tables are reduced
across workers with ``dask.bag``'s tree fold; only the sample travels to the client, where the learners are
fitted, or, with ``distributed_fit``, trained across the workers by XGBoost's own Dask interface. Without a
scheduler address the engine starts a ``LocalCluster`` on 127.0.0.1 and stops it afterwards.
"""

from __future__ import annotations

import logging
import operator
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from functools import partial
from multiprocessing import resource_tracker
from pathlib import Path

import numpy as np
from xgboost import XGBClassifier, XGBRegressor

from uplift_studio.core.batches import BatchPlan
from uplift_studio.core.engine import (
    EngineSettings,
    fit_sample,
    merged,
    ordered_sample,
    sample_of,
    sketch_of,
    tables_of,
)
from uplift_studio.core.errors import DataError
from uplift_studio.core.native_stderr import filtered_stderr
from uplift_studio.core.scale_result import ScaleResult
from uplift_studio.core.settings import ModelSettings
from uplift_studio.core.streaming import Say, Source, result_of

LOCAL_WORKERS = 2


@contextmanager
def dask_client(scheduler: str | None = None, workers: int = LOCAL_WORKERS) -> Iterator:
    """A client of the cluster at ``scheduler`` (tcp://HOST:PORT), or of a LocalCluster on 127.0.0.1."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise DataError(
            "the Dask engine needs dask[distributed]; reinstall the package with its dependencies."
        ) from exc
    if scheduler is not None:
        if not scheduler.startswith(("tcp://", "tls://")):
            raise DataError(f"--scheduler must be an address such as tcp://10.0.0.5:8786, got {scheduler!r}.")
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise DataError(
                f"cannot reach the Dask scheduler at {scheduler} ({exc}). Start one (`dask scheduler`) and its "
                "workers, or leave out --scheduler to run a local cluster."
            ) from exc
        with client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            host="127.0.0.1",
            # the scheduler's HTTP server (dashboard, /health) on a free port of this machine only: the default
            # :8787 would clash with another run and listen on every interface
            dashboard_address="127.0.0.1:0",
            # workers log a heartbeat error when the cluster stops under them; our messages say what happens
            silence_logs=logging.CRITICAL,
            processes=True,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def partition_ranges(n_rows: int, partitions: int) -> list[tuple[int, int]]:
    """``partitions`` contiguous row ranges covering ``n_rows`` (none empty)."""
    if partitions < 1:
        raise DataError(f"--partitions must be a whole number >= 1, got {partitions!r}.")
    cuts = np.linspace(0, n_rows, min(partitions, max(n_rows, 1)) + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(cuts[:-1], cuts[1:], strict=True) if b > a]


def _sketch(source: Source, plan: BatchPlan, capacity: int, rows: tuple[int, int]):
    return sketch_of(source.rows(plan.needed(), *rows), plan, capacity)


def _sample(source: Source, plan: BatchPlan, limits: np.ndarray, rows: tuple[int, int]):
    return sample_of(source.rows(plan.needed(), *rows), plan, limits)


def _tables(source: Source, plan: BatchPlan, model, rows: tuple[int, int]):
    return tables_of(source.rows(plan.needed(), *rows), plan, model)


def run_dask(
    source: Source,
    plan: BatchPlan,
    settings: ModelSettings = ModelSettings(),  # noqa: B008 - frozen
    engine: EngineSettings = EngineSettings(),  # noqa: B008 - frozen
    *,
    scheduler: str | None = None,
    partitions: int | None = None,
    distributed_fit: bool = False,
    population: int | None = None,
    say: Say | None = None,
) -> ScaleResult:
    """The analysis with every pass over the data run on a Dask cluster."""
    import dask.bag as db

    say = say or (lambda message: None)
    # the local cluster's workers inherit this process's stderr when they start: filtered from before then
    quiet = nullcontext()
    if distributed_fit and scheduler is None and os.name == "posix":
        # multiprocessing's resource tracker, a helper process that outlives the cluster, must keep the real
        # stderr: holding the pipe, it would keep the filter waiting until this process ends
        resource_tracker.ensure_running()
        quiet = filtered_stderr()
    with quiet, dask_client(scheduler) as client:
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        ranges = partition_ranges(source.n_rows(), partitions or 2 * workers)
        bag = db.from_sequence(ranges, npartitions=len(ranges))
        say(f"pass 1 of 3: the strata and the sample, over {len(ranges)} partitions on {workers} workers")
        sketch = (
            bag.map(partial(_sketch, source, plan.outcomes_only(), engine.sample_size)).fold(operator.add).compute()
        )
        limits = sketch.thresholds(engine.sample_size)
        sample = ordered_sample(bag.map(partial(_sample, source, plan, limits)).compute())
        where = "across the workers" if distributed_fit else "on the client"
        say(f"pass 2 of 3: fitting {settings.folds} folds on a sample of {sample.height:,} users {where}")
        make = dask_trained_learner if distributed_fit else None
        model = fit_sample(sample, plan, settings, engine, make=make)
        sample_users = sample.height
        del sample
        say("pass 3 of 3: scoring and tabulating every partition")
        tables = bag.map(partial(_tables, source, plan, model)).fold(merged).compute()
    return result_of(
        tables,
        plan,
        settings,
        engine,
        name="dask",
        sample_users=sample_users,
        population=population,
        partitions=len(ranges),
        workers=workers,
        distributed_fit=distributed_fit,
    )


# --- XGBoost's Dask interface for the trees of a learner ------------------------------------------------------


def _train_on_cluster(estimator, dask_class, plain_class, X: np.ndarray, y: np.ndarray):
    """Fit ``estimator``'s parameters with ``dask_class`` on the current cluster and return a plain XGBoost
    model holding the trained trees, which predicts in any process like a locally fitted one."""
    import dask.array as da
    from distributed import get_client

    client = get_client()
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    rows = max(1, -(-X.shape[0] // workers))
    params = estimator.get_params()
    model = dask_class(**params)
    model.client = client
    model.fit(da.from_array(X, chunks=(rows, X.shape[1])), da.from_array(y, chunks=(rows,)))
    trained = plain_class(**params)
    with tempfile.TemporaryDirectory() as folder:
        saved = Path(folder) / "model.json"
        model.save_model(saved)
        trained.load_model(saved)
    return trained


class DaskTrainedClassifier(XGBClassifier):
    """An XGBoost classifier whose ``fit`` trains on the current Dask cluster (``xgboost.dask``)."""

    def fit(self, X, y, **kwargs):
        from xgboost import dask as dxgb

        return _train_on_cluster(self, dxgb.DaskXGBClassifier, XGBClassifier, X, y)


class DaskTrainedRegressor(XGBRegressor):
    """An XGBoost regressor whose ``fit`` trains on the current Dask cluster (``xgboost.dask``)."""

    def fit(self, X, y, **kwargs):
        from xgboost import dask as dxgb

        return _train_on_cluster(self, dxgb.DaskXGBRegressor, XGBRegressor, X, y)


def dask_trained_learner(settings: ModelSettings, random_state: int):
    """A learner of ``settings`` whose XGBoost models train with ``xgboost.dask`` on the current client."""
    from uplift_studio.core.crossfit import make_learner

    learner = make_learner(settings, random_state=random_state)
    learner.classifier = DaskTrainedClassifier(**learner.classifier.get_params())
    learner.regressor = DaskTrainedRegressor(**learner.regressor.get_params())
    return learner

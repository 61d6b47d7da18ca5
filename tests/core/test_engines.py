"""The streaming and Dask engines: the same bin statistics from any engine, partitioning or row order, and
curves within sampling noise of the exact curve of the same scores. Small data; the Dask cluster is a
LocalCluster on 127.0.0.1."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from uplift_studio.core.batches import FileSource, FrameSource, canonical
from uplift_studio.core.binstats import binned_curve
from uplift_studio.core.curve import build_curve
from uplift_studio.core.data import CONVERTED, REVENUE, TREATMENT, ColumnMap
from uplift_studio.core.engine import EngineSettings, fit_sample, hashed, ordered_sample, sample_of, sketch_of
from uplift_studio.core.errors import DataError
from uplift_studio.core.settings import ModelSettings
from uplift_studio.core.simulate import simulate_campaign
from uplift_studio.core.simulate_chunks import campaign_chunks, write_campaign
from uplift_studio.core.streaming import plan_for, run_streaming

pytestmark = pytest.mark.scale

MODEL = ModelSettings(n_estimators=10, n_jobs=1)
ENGINE = EngineSettings(sample_size=2_500, batch_size=1_000)


@pytest.fixture(scope="module")
def campaign() -> pl.DataFrame:
    return simulate_campaign(5_000, seed=3).frame


@pytest.fixture(scope="module")
def files(campaign, tmp_path_factory):
    folder = tmp_path_factory.mktemp("engines")
    parquet, shuffled_csv = folder / "campaign.parquet", folder / "shuffled.csv"
    campaign.write_parquet(parquet, row_group_size=700)
    campaign.sample(fraction=1.0, shuffle=True, seed=11).write_csv(shuffled_csv)
    return parquet, shuffled_csv


@pytest.fixture(scope="module")
def reference(campaign):
    source = FrameSource(campaign)
    plan = plan_for(source, ColumnMap())
    return plan, run_streaming(source, plan, MODEL, ENGINE)


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address="127.0.0.1:0", processes=True
    ) as local:
        yield local.scheduler_address


def _same(first, second) -> bool:
    return set(first.tables) == set(second.tables) and all(
        first.tables[k].equals(second.tables[k]) for k in first.tables
    )


def test_streaming_ignores_batches_files_and_row_order(reference, files):
    plan, expected = reference
    parquet, shuffled_csv = files
    for path, batch in ((parquet, 650), (shuffled_csv, 4_000)):
        result = run_streaming(FileSource(path), plan, MODEL, EngineSettings(sample_size=2_500, batch_size=batch))
        assert _same(result, expected), path.name
    assert expected.n_users == 5_000 and expected.sample_users == 2_500


def test_dask_gives_the_same_statistics_on_1_3_and_7_partitions(reference, files, cluster):
    from uplift_studio.core.engine_dask import run_dask

    plan, expected = reference
    for partitions in (1, 3, 7):
        result = run_dask(FileSource(files[0]), plan, MODEL, ENGINE, scheduler=cluster, partitions=partitions)
        assert _same(result, expected), partitions
        assert result.settings.partitions == partitions


def test_the_binned_curve_is_the_exact_curve_of_the_same_scores(reference, campaign):
    plan, result = reference
    frame = canonical(campaign, plan)
    sketch = sketch_of(campaign, plan, ENGINE.sample_size)
    sample = ordered_sample([sample_of(campaign, plan, sketch.thresholds(ENGINE.sample_size))])
    model = fit_sample(sample, plan, MODEL, ENGINE)
    score = model.keys(frame, hashed(frame))["uplift"]
    revenue, treatment = frame[REVENUE].to_numpy(), frame[TREATMENT].to_numpy()
    exact = build_curve(revenue, score, treatment, conversions=frame[CONVERTED].to_numpy())
    binned = binned_curve(result.tables["uplift"])
    at_edges = np.searchsorted(exact.k, binned.k)
    assert np.array_equal(exact.k[at_edges], binned.k)
    assert np.max(np.abs(exact.uplift_points()[at_edges] - binned.uplift_points())) < 1e-3
    se = exact.se_points()
    gap = np.abs(exact.uplift_points() - np.interp(exact.k, binned.k, binned.uplift_points()))
    gap = gap / np.where(se > 0, se, np.inf)
    # a Brownian bridge between edges: see tests/core/test_binstats.py for why the 99th percentile
    assert np.quantile(gap, 0.99) < 0.2


def test_every_score_is_out_of_sample(reference, campaign):
    """A fold's model never trained on that fold: refitting without the fold's users changes nothing."""
    plan, _ = reference
    sketch = sketch_of(campaign, plan, ENGINE.sample_size)
    sample = ordered_sample([sample_of(campaign, plan, sketch.thresholds(ENGINE.sample_size))])
    model = fit_sample(sample, plan, MODEL, ENGINE)
    from uplift_studio.core import userhash

    fold = userhash.folds(hashed(sample), MODEL.folds)
    without = ordered_sample([sample.filter(pl.Series(fold != 0))])
    refitted = fit_sample(without, plan, MODEL, ENGINE)
    # fold 0's learner saw only the other folds' rows, which `without` keeps in the same order
    frame = canonical(campaign, plan).head(300)
    first = model.learners[0].predict_components(frame.select(plan.features)).expected_incremental_revenue
    again = refitted.learners[0].predict_components(frame.select(plan.features)).expected_incremental_revenue
    assert np.array_equal(first, again)


def test_distributed_fit_trains_with_xgboost_dask(reference, files, cluster):
    from uplift_studio.core.engine_dask import run_dask

    plan, expected = reference
    result = run_dask(FileSource(files[0]), plan, MODEL, ENGINE, scheduler=cluster, partitions=3, distributed_fit=True)
    assert result.n_users == expected.n_users and result.settings.distributed_fit is True
    # the same users in the random ranking (no model), other trees for the model's rankings
    assert result.tables["random"].equals(expected.tables["random"])
    assert np.isfinite(result.metrics["uplift"]["qini_coefficient"])


def test_the_engines_need_an_id_column_and_one_learner(campaign):
    source = FrameSource(campaign.drop("user_id"))
    with pytest.raises(DataError, match="need one: name it with --id"):
        plan_for(source, ColumnMap())
    source = FrameSource(campaign)
    plan = plan_for(source, ColumnMap())
    with pytest.raises(DataError, match="choose --learner t or x or dr"):
        run_streaming(source, plan, ModelSettings(learner="auto"), ENGINE)
    with pytest.raises(DataError, match="not --holdout"):
        run_streaming(source, plan, ModelSettings(holdout=0.3), ENGINE)


def test_an_unreachable_scheduler_is_a_clear_error(reference, files):
    from uplift_studio.core.engine_dask import run_dask

    plan, _ = reference
    with pytest.raises(DataError, match="must be an address"):
        run_dask(FileSource(files[0]), plan, MODEL, ENGINE, scheduler="10.0.0.5:8786")


def test_a_large_campaign_is_written_in_chunks(tmp_path):
    # one chunk is the in-memory simulation itself
    ((frame, truth),) = campaign_chunks(900, 0.5, 7, chunk=1_000)
    assert frame.equals(simulate_campaign(900, 0.5, 7).frame)
    write_campaign(tmp_path / "big.parquet", 2_500, 0.5, 7, truth=tmp_path / "truth.csv", chunk=1_000)
    written = pl.read_parquet(tmp_path / "big.parquet")
    truth = pl.read_csv(tmp_path / "truth.csv")
    assert written["user_id"].to_list() == list(range(1, 2_501))
    assert truth["user_id"].to_list() == list(range(1, 2_501))
    chunks = list(campaign_chunks(2_500, 0.5, 7, chunk=1_000))
    assert written.equals(pl.concat([part for part, _ in chunks]))
    # chunks are independent draws, not copies of one another
    assert not np.array_equal(chunks[0][0]["revenue"].to_numpy()[:500], chunks[1][0]["revenue"].to_numpy()[:500])

"""Shared fits: a cancelled fit stops at a fold boundary, and a cached analysis never waits for a fit."""

from __future__ import annotations

import pytest

from uplift_studio.app import jobs
from uplift_studio.core.analysis import AnalysisSettings, run_analysis
from uplift_studio.core.settings import ModelSettings
from uplift_studio.core.simulate import simulate_campaign

SLOW = AnalysisSettings(model=ModelSettings(n_estimators=150, folds=10, n_jobs=1))
QUICK = AnalysisSettings(model=ModelSettings(n_estimators=10, folds=2, n_jobs=1))


def test_a_cancelled_fit_stops_and_says_so(app_cache_dir):
    job = jobs.analysis_job(("cancel", 1), lambda: simulate_campaign(30_000, seed=31), SLOW)
    job.cancel()
    with pytest.raises(jobs.FitCancelled, match="cancelled"):
        job.future.result(timeout=120)
    assert job.done < SLOW.model.folds  # it stopped before the last fold


def test_a_cached_analysis_is_read_while_another_fit_runs(app_cache_dir):
    small = simulate_campaign(3_000, seed=32)
    run_analysis(small, QUICK)  # in the disk cache now
    running = jobs.analysis_job(("busy", 1), lambda: simulate_campaign(40_000, seed=33), SLOW)
    cached = jobs.analysis_job(("cached", 1), lambda: small, QUICK)
    assert cached.future.result(timeout=60).fingerprint == small.fingerprint
    assert not running.future.done()  # the read did not wait for the fit
    running.cancel()
    with pytest.raises(jobs.FitCancelled):
        running.future.result(timeout=120)


def test_a_finished_or_left_job_keeps_no_session_alive():
    """A job stays in memory for later sessions; the callbacks of the sessions that waited on it must not."""
    import gc
    import weakref

    class Session:  # stands for a dashboard and its document
        def on_progress(self, done, total):
            pass

        def on_done(self):
            self.finished = True

    job = jobs.AnalysisJob(("memory", 1))
    stays, leaves = Session(), Session()
    job.subscribe(stays.on_progress, stays.on_done)
    token = job.subscribe(leaves.on_progress, leaves.on_done)
    job.unsubscribe(token)  # its page closed while the fit ran
    left = weakref.ref(leaves)
    del leaves, token
    gc.collect()
    assert left() is None
    job.future.set_result(None)
    assert stays.finished
    finished = weakref.ref(stays)
    del stays
    gc.collect()
    assert finished() is None  # the finished job no longer refers to it
    late = Session()
    job.subscribe(late.on_progress, late.on_done)  # a job already done calls back at once, keeps nothing
    assert late.finished

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

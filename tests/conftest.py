"""Shared fixtures: small simulated campaigns (fast), and the real data sets when they are present."""

from __future__ import annotations

import pytest

from uplift_studio.core.simulate import simulate_campaign


@pytest.fixture(scope="session", autouse=True)
def _session_cache(tmp_path_factory):
    """One disk cache for the whole run, away from the user's: the full-size default analysis is fitted
    once and shared by the end-to-end report, the snapshot and the app tests."""
    import os

    previous = os.environ.get("UPLIFT_STUDIO_CACHE")
    os.environ["UPLIFT_STUDIO_CACHE"] = str(tmp_path_factory.mktemp("uplift_cache"))
    yield
    if previous is None:
        os.environ.pop("UPLIFT_STUDIO_CACHE", None)
    else:
        os.environ["UPLIFT_STUDIO_CACHE"] = previous


@pytest.fixture(scope="session")
def default_analysis():
    """The default campaign (150,000 users, seed 7) with the default models: the one full-size fit."""
    from uplift_studio.core.analysis import run_analysis

    return run_analysis(simulate_campaign())


@pytest.fixture(scope="session")
def small_campaign():
    return simulate_campaign(n_users=4_000, seed=11)

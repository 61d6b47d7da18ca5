"""Small analyses for the app tests: a 6,000-user simulated campaign with a light model, cached in a
temporary folder so the tests neither read nor write the user's own cache."""

from __future__ import annotations

import dataclasses
import os

import pytest

from uplift_studio.core.analysis import AnalysisSettings, run_analysis
from uplift_studio.core.settings import ModelSettings
from uplift_studio.core.simulate import simulate_campaign

SMALL_MODEL = ModelSettings(n_estimators=20, folds=3, n_jobs=2)


@pytest.fixture(scope="session")
def app_cache_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("uplift_cache")
    previous = os.environ.get("UPLIFT_STUDIO_CACHE")
    os.environ["UPLIFT_STUDIO_CACHE"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("UPLIFT_STUDIO_CACHE", None)
    else:
        os.environ["UPLIFT_STUDIO_CACHE"] = previous


@pytest.fixture(scope="session")
def small_experiment():
    return simulate_campaign(6_000, seed=5)


@pytest.fixture(scope="session")
def analysis(app_cache_dir, small_experiment):
    return run_analysis(small_experiment, AnalysisSettings(model=SMALL_MODEL))


@pytest.fixture(scope="session")
def real_like_analysis(analysis):
    """The same analysis as if it came from a real file: no ground truth, no oracle."""
    paths = {name: dataclasses.replace(path, truth=None) for name, path in analysis.paths.items() if name != "oracle"}
    return dataclasses.replace(
        analysis,
        paths=paths,
        deciles={name: analysis.deciles[name] for name in paths},
        segment_agreement=None,
    )

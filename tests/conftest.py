"""Shared fixtures: small simulated campaigns (fast), and the real data sets when they are present."""

from __future__ import annotations

from pathlib import Path

import pytest

from uplift_studio.core.simulate import simulate_campaign

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


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


def hillstrom_columns(**overrides):
    """The Hillstrom mapping of the README's first real-data example: women's e-mail against no e-mail."""
    from uplift_studio.core.data import ColumnMap

    mapping = {
        "treatment": "segment",
        "treated_value": "Womens E-Mail",
        "control_value": "No E-Mail",
        "conversion": "conversion",
        "revenue": "spend",
    }
    return ColumnMap(**{**mapping, **overrides})


def serve_in_thread(experiment, settings, *, budget: float, cost_per_contact: float = 2.0):
    """The app served by ``serve`` on a free port in this process: returns (server, stop)."""
    import uuid

    import panel as pn
    from panel.tests.util import wait_until

    from uplift_studio.app.dashboard import serve

    server_id = uuid.uuid4().hex
    thread = serve(
        experiment,
        settings=settings,
        budget=budget,
        cost_per_contact=cost_per_contact,
        port=0,
        address="127.0.0.1",
        threaded=True,
        show=False,
        server_id=server_id,
    )
    try:
        wait_until(lambda: server_id in pn.state._servers, timeout=30_000)
    except BaseException:
        thread.stop()
        raise
    return pn.state._servers[server_id][0], thread.stop


def shared_file(name: str) -> Path:
    """A file of ../shared/data, or a clean skip when this machine does not have it."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} is not on this machine")
    return path

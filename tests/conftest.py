"""Shared fixtures: small simulated campaigns (fast), and the real data sets when they are present."""

from __future__ import annotations

from pathlib import Path

import pytest

from uplift_studio.core.simulate import simulate_campaign

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def small_campaign():
    return simulate_campaign(n_users=4_000, seed=11)


def shared_file(name: str) -> Path:
    """A file of ../shared/data, or a clean skip when this machine does not have it."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} is not on this machine")
    return path

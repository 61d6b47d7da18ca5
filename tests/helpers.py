"""Helpers the tests import (fixtures live in the conftest files)."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


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


def serve_in_thread(experiment, settings, *, budget: float, cost_per_contact: float = 2.0, **options):
    """The app served by ``serve`` on a free port in this process (``options``: more of ``serve``'s
    arguments): returns (server, stop)."""
    import uuid

    import panel as pn
    from panel.tests.util import wait_until

    from uplift_studio.app.server import serve

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
        **options,
    )
    try:
        wait_until(lambda: server_id in pn.state._servers, timeout=30_000)
    except BaseException:
        thread.stop()
        raise
    return pn.state._servers[server_id][0], thread.stop


def shared_file(name: str) -> Path:
    """A file of ../shared/data (the package's own copy when it bundles one, byte for byte the same), or a
    clean skip when this machine does not have it."""
    from uplift_studio.core.examples import EXAMPLES

    bundled = {example.filename: Path(str(example.path)) for example in EXAMPLES.values()}
    if name in bundled and bundled[name].exists():
        return bundled[name]
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} is not on this machine")
    return path


class Counter:
    """Wraps a function and counts its calls."""

    def __init__(self, function):
        self.function, self.calls = function, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.function(*args, **kwargs)

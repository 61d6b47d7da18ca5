"""A disk cache for expensive results, keyed by the data's content hash and the settings.

Entries are pickles written by this package into the user's own cache folder (``UPLIFT_STUDIO_CACHE``, or
``~/.cache/uplift_studio``); the key includes the package and library versions, so an upgrade never reads
an old layout. A write goes to a temporary file first and is renamed, so a crash never leaves half a file.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def cache_dir() -> Path:
    configured = os.environ.get("UPLIFT_STUDIO_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "uplift_studio"


def cache_key(*parts: object) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(repr(part).encode())
        digest.update(b"\x00")
    return digest.hexdigest()[:24]


def has_entry(key: str) -> bool:
    return (cache_dir() / f"{key}.pkl").exists()


def cached(key: str, compute: Callable[[], T], *, enabled: bool = True) -> T:
    """The value stored under ``key``, or ``compute()`` stored there. A corrupt entry is recomputed."""
    if not enabled:
        return compute()
    path = cache_dir() / f"{key}.pkl"
    if path.exists():
        try:
            with path.open("rb") as handle:
                return pickle.load(handle)
        except Exception:  # a truncated or foreign file: recompute and overwrite it
            path.unlink(missing_ok=True)
    value = compute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".tmp") as handle:
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(handle.name, path)
    except OSError:
        pass  # a read-only or full disk costs a refit next time, never the result
    return value

"""A disk cache for expensive results that cannot lie and cannot run code.

Entries are :mod:`uplift_studio.core.store` files (JSON, ``.npy`` and Arrow members with their hashes; no
pickle) in the user's own cache folder (``UPLIFT_STUDIO_CACHE``, or ``~/.cache/uplift_studio``). Each entry's
header names its key, the data's fingerprint and the code's version (a hash of this package's own source
files, so any code change misses); an entry whose header does not match what the caller expects, that fails
its hashes or that is not a store at all is recomputed and replaced, never served. A folder that other users
can write is refused (an entry planted there would be trusted), and writes go to a temporary file renamed
into place; temporaries left by an interrupted write are removed after an hour.
"""

from __future__ import annotations

import functools
import hashlib
import os
import stat
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from uplift_studio.core import store

T = TypeVar("T")
_SUFFIX = ".uplift"
_STALE_SECONDS = 3600.0


def cache_dir() -> Path:
    configured = os.environ.get("UPLIFT_STUDIO_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "uplift_studio"


@functools.cache
def code_version() -> str:
    """SHA-256 of the package's source files and package data: a new build never reads an old entry."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.is_file() and path.suffix in {".py", ".js", ".html"}:
            digest.update(path.relative_to(package).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def cache_key(*parts: object) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(repr(part).encode())
        digest.update(b"\x00")
    return digest.hexdigest()[:24]


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def usable_dir() -> Path | None:
    """The cache folder if only this user can write it (created private if missing), else None with a note."""
    folder = cache_dir()
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.stat()
    except OSError as exc:
        _warn(f"cache folder {folder} is not usable ({exc.strerror}); results are not cached.")
        return None
    if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        _warn(
            f"cache folder {folder} can be written by other users, so its entries cannot be trusted; results are "
            f"not cached. Make it private (chmod 700 {folder}) or set UPLIFT_STUDIO_CACHE to a private folder."
        )
        return None
    return folder


def _entry(folder: Path, key: str) -> Path:
    return folder / f"{key}{_SUFFIX}"


def has_entry(key: str, expect: dict[str, str]) -> bool:
    """Whether a valid-looking entry for ``key`` is there (its header matches; hashes are checked on load)."""
    folder = usable_dir()
    if folder is None or not _entry(folder, key).exists():
        return False
    try:
        header = store.read_header(_entry(folder, key))
    except store.StoreError:
        return False
    return all(header.get(name) == value for name, value in _header(key, expect).items())


def _header(key: str, expect: dict[str, str]) -> dict[str, str]:
    return {**expect, "key": key, "code": code_version()}


def _remove_stale_temporaries(folder: Path) -> None:
    cutoff = time.time() - _STALE_SECONDS
    for leftover in folder.glob(f"*{_SUFFIX}.tmp"):
        try:
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()
        except OSError:
            pass  # another process may be finishing or removing it


def cached(key: str, compute: Callable[[], T], *, expect: dict[str, str], enabled: bool = True) -> T:
    """The value stored under ``key`` if its header matches ``expect`` and the code version, else
    ``compute()`` stored there."""
    folder = usable_dir() if enabled else None
    if folder is None:
        return compute()
    path, header = _entry(folder, key), _header(key, expect)
    if path.exists():
        try:
            return store.load(path, header)
        except store.StoreError as exc:
            _warn(f"{exc}; computing it again.")
    value = compute()
    _remove_stale_temporaries(folder)
    handle = tempfile.NamedTemporaryFile(dir=folder, delete=False, suffix=f"{_SUFFIX}.tmp")
    handle.close()
    try:
        store.dump(value, Path(handle.name), header)
        os.replace(handle.name, path)
    except (OSError, TypeError) as exc:
        Path(handle.name).unlink(missing_ok=True)
        _warn(f"results not cached ({exc}).")  # a full disk costs a refit next time, never the result
    return value

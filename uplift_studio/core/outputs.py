"""Files the product writes: checked before any work, written whole or not at all.

Every output goes to a temporary file in the target folder and is renamed over the target only once it is
complete, so a full disk, a size limit or an interrupt never leaves a truncated contact list that looks
valid, and a file the user already had stays as it was. Every failure is a :class:`DataError` naming the
file and the fix.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import polars as pl

from uplift_studio.core.errors import DataError

FRAME_TYPES = (".csv", ".parquet")
JSON_TYPES = (".json",)
HTML_TYPES = (".html", ".htm")
ANALYSIS_TYPES = (".analysis",)  # a finished analysis (core.analysis_file)


def check_output(path: Path, types: tuple[str, ...], flag: str) -> None:
    """Refuse an output path before any work: wrong type, missing or read-only folder, or a folder itself."""
    if not path.name.lower().endswith(types):
        raise DataError(f"{flag} {path}: unknown output type. End the name with {' or '.join(types)}.")
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise DataError(f"{flag} {path}: is a folder. Give a file name inside it (e.g. {path / ('out' + types[0])}).")
    if not folder.is_dir():
        raise DataError(f"{flag} {path}: the folder {folder} does not exist. Create it or choose another path.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DataError(f"{flag} {path}: the folder {folder} is not writable. Choose a folder you can write to.")


@contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """A temporary path in ``path``'s folder; renamed to ``path`` when the block ends without an error."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        handle = tempfile.NamedTemporaryFile(dir=folder, prefix=f".{path.name}.", suffix=".tmp", delete=False)
        handle.close()
    except OSError as exc:
        raise _unwritable(path, exc) from exc
    temporary = Path(handle.name)
    try:
        yield temporary
        # a temporary file is private (0600); the output gets the mode a plain write would have given it
        os.chmod(temporary, path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask())
        os.replace(temporary, path)
    except OSError as exc:
        raise _unwritable(path, exc) from exc
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"{path}: cannot write ({exc}). Check the free space and that the folder is writable.") from exc
    finally:
        temporary.unlink(missing_ok=True)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _unwritable(path: Path, exc: OSError) -> DataError:
    reason = exc.strerror or str(exc)
    return DataError(f"{path}: cannot write ({reason}). Check the free space and that the folder is writable.")


def write_frame(frame: pl.DataFrame, path: Path) -> None:
    """A frame as CSV or Parquet, by the file's suffix."""
    parquet = path.name.lower().endswith(".parquet")
    if not parquet and not path.name.lower().endswith(".csv"):
        raise DataError(f"{path}: unknown output type. End the name with .parquet or .csv.")
    with atomic_output(path) as temporary:
        if parquet:
            frame.write_parquet(temporary)
        else:
            frame.write_csv(temporary)


def finite_or_none(value):
    """JSON has no NaN or infinity: an undefined figure (ROI of no contact) is written as null."""
    if isinstance(value, dict):
        return {key: finite_or_none(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_none(item) for item in value]
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def write_json(payload: dict, path: Path) -> None:
    write_text(json.dumps(finite_or_none(payload), indent=2, allow_nan=False) + "\n", path)


def write_text(text: str, path: Path) -> None:
    with atomic_output(path) as temporary:
        # write and flush inside the block, so that a full disk fails here, before the rename
        with temporary.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())

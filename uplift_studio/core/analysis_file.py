"""A finished analysis in one file (``uplift-studio analyze --out run.analysis``), opened by ``serve`` and
``export`` without the data or a refit (design section 8, "Engines": small results travel).

The file is a :mod:`uplift_studio.core.store` archive (a JSON manifest, ``.npy`` and Arrow members with their
SHA-256; nothing is unpickled) whose header names its kind, the store format and the code version that wrote
it. Reading checks all three and every member's hash: a file that is not one, was altered or comes from
another version of the code is a :class:`DataError` naming the file and the fix.
"""

from __future__ import annotations

from pathlib import Path

from uplift_studio import __version__
from uplift_studio.core import store
from uplift_studio.core.analysis import Analysis
from uplift_studio.core.cache import code_version
from uplift_studio.core.errors import DataError
from uplift_studio.core.outputs import ANALYSIS_TYPES, atomic_output
from uplift_studio.core.scale_result import ScaleResult

# the in-memory engine's per-user analysis, or the streaming and Dask engines' bin-table analysis
Finished = Analysis | ScaleResult

KIND = "analysis-file"
_AGAIN = "Run `uplift-studio analyze [DATA OPTIONS] --out FILE.analysis` again to write it."


def _header() -> dict[str, str]:
    return {"kind": KIND, "store_format": str(store.FORMAT), "code": code_version(), "uplift_studio": __version__}


def write_analysis(analysis: Finished, path: Path) -> None:
    """Write ``analysis`` to ``path`` whole or not at all (a temporary file in its folder, then renamed)."""
    path = Path(path)
    if not path.name.lower().endswith(ANALYSIS_TYPES):
        raise DataError(f"{path}: an analysis file's name ends with {' or '.join(ANALYSIS_TYPES)}.")
    with atomic_output(path) as temporary:
        store.dump(analysis, temporary, _header())


def read_analysis(path: Path) -> Finished:
    """The analysis ``write_analysis`` wrote to ``path``, after checking its kind, code version and hashes."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"--analysis {path}: no such file. {_AGAIN}")
    try:
        header = store.read_header(path)
    except store.StoreError as exc:
        raise DataError(f"{path}: not an analysis file ({exc}). {_AGAIN}") from exc
    if header.get("kind") != KIND:
        kind = header.get("kind")
        raise DataError(f"{path}: not an analysis file (a results file of kind {kind!r}, not {KIND!r}). {_AGAIN}")
    if header.get("code") != code_version():
        writer = header.get("uplift_studio") or "another version"
        # the code version hashes the source: one release number can cover two builds (an edited install)
        build = "another build of" if writer == __version__ else "another version,"
        raise DataError(
            f"{path}: written by {build} uplift-studio {writer} (this is {__version__}, whose code differs), so "
            f"its numbers may not be what this code computes. {_AGAIN}"
        )
    try:
        analysis = store.load(path, _header())
    except store.StoreError as exc:
        raise DataError(f"{path}: the file was changed or damaged after it was written ({exc}). {_AGAIN}") from exc
    if not isinstance(analysis, Analysis | ScaleResult):
        raise DataError(f"{path}: not an analysis file (it holds a {type(analysis).__name__}). {_AGAIN}")
    return analysis

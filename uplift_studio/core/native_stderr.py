"""Keep one native library's chatter off the user's terminal, and everything else on it.

Every worker of a distributed XGBoost fit (``xgboost.dask``) logs a "Task [...] got rank N" line per model
when it joins the collective, about thirty a run. The collective logs from its own C++ threads, where
XGBoost's Python log callback (registered per thread) does not reach and its verbosity setting does not
apply, so the lines go straight to file descriptor 2 of the worker's process, which a local cluster's
workers inherit from this one. :func:`filtered_stderr` points that descriptor at a pipe for the duration
(processes started meanwhile inherit the pipe) and copies every line back to the real stderr except the
matches.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_DRAIN_SECONDS = 5.0
TRACKER_RANK = re.compile(r"\[\d\d:\d\d:\d\d\] Task \[xgboost\.dask-[^\]]*\]:\S+? got rank \d+")


class _LineFilter:
    """Drops every match of ``pattern`` from a byte stream of lines.

    Two threads of the tracker can write at once, so one line can hold two messages and the second one's
    newline then comes as an empty line of its own: an empty line that follows such a line is dropped too."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self._pattern = pattern
        self._pending = b""
        self._orphan_newlines = 0

    def feed(self, data: bytes) -> bytes:
        lines = (self._pending + data).split(b"\n")
        self._pending = lines.pop()
        return b"".join(self._line(line) for line in lines)

    def close(self) -> bytes:
        rest, self._pending = self._pending, b""
        return self._line(rest, newline=False) if rest else b""

    def _line(self, line: bytes, newline: bool = True) -> bytes:
        end = b"\n" if newline else b""
        text = line.decode("utf-8", "surrogateescape")
        kept, matches = self._pattern.subn("", text)
        if matches:
            self._orphan_newlines += matches - 1
            return (kept + "\n").encode("utf-8", "surrogateescape") if kept.strip() else b""
        if not text.strip() and self._orphan_newlines:
            self._orphan_newlines -= 1
            return b""
        return line + end


@contextmanager
def filtered_stderr(pattern: re.Pattern[str] = TRACKER_RANK) -> Iterator[None]:
    """File descriptor 2 without the lines ``pattern`` matches, while the block runs (this whole process)."""
    try:
        target = sys.__stderr__.fileno() if sys.__stderr__ is not None else 2
        saved = os.dup(target)
    except (OSError, ValueError):  # no real stderr (a GUI or a captured stream): nothing to filter
        yield
        return
    read_end, write_end = os.pipe()
    line_filter = _LineFilter(pattern)

    def copy() -> None:
        try:
            while chunk := os.read(read_end, 65536):
                os.write(saved, line_filter.feed(chunk))
            os.write(saved, line_filter.close())
        except OSError:  # the real stderr has gone (a closed terminal): nothing left to copy to
            pass

    for stream in (sys.stderr, sys.__stderr__):
        if stream is not None:
            stream.flush()
    os.dup2(write_end, target)
    os.close(write_end)
    copier = threading.Thread(target=copy, name="stderr-filter", daemon=True)
    copier.start()
    try:
        yield
    finally:
        for stream in (sys.stderr, sys.__stderr__):
            if stream is not None:
                stream.flush()
        os.dup2(saved, target)  # closes our write end of the pipe: the copier reads to its end and stops
        copier.join(timeout=_DRAIN_SECONDS)
        if not copier.is_alive():
            os.close(read_end)
            os.close(saved)
        # else a process started in the block (a restarted Dask worker) still holds the pipe: the copier goes on
        # copying its lines to the real stderr for as long as it lives, so the two descriptors stay open

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

import contextlib
import os
import re
import sys
import threading
from collections.abc import Iterator

_DRAIN_SECONDS = 5.0
TRACKER_RANK = re.compile(r"\[\d\d:\d\d:\d\d\] Task \[xgboost\.dask-[^\]]*\]:\S+? got rank \d+")
# fd 2 is one per process: a second filter started while one runs (another thread's fit) would restore the
# first one's pipe when it ends, so it leaves the running one in place instead
_ACTIVE = threading.Lock()


class _LineFilter:
    """Drops every match of ``pattern`` from a byte stream of lines.

    Two threads of the tracker can write at once, so one line can hold two messages and the second one's
    newline then comes as an empty line of its own: the empty line that directly follows such a line is
    dropped too."""

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
        end = "\n" if newline else ""
        text = line.decode("utf-8", "surrogateescape")
        kept, matches = self._pattern.subn("", text)
        if matches:
            self._orphan_newlines += matches - 1
            return (kept + end).encode("utf-8", "surrogateescape") if kept.strip() else b""
        if not text.strip() and self._orphan_newlines:
            self._orphan_newlines -= 1
            return b""
        self._orphan_newlines = 0  # an orphaned newline comes next or not at all: a later empty line is the user's
        return line + end.encode()


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]


def _flush_streams() -> None:
    for stream in (sys.stderr, sys.__stderr__):
        with contextlib.suppress(Exception):  # a closed or detached stream has nothing to flush
            if stream is not None:
                stream.flush()


@contextlib.contextmanager
def filtered_stderr(pattern: re.Pattern[str] = TRACKER_RANK) -> Iterator[None]:
    """File descriptor 2 without the lines ``pattern`` matches, while the block runs (this whole process).

    Not on Windows (no descriptor to share with the workers), nor while another filter runs."""
    if os.name != "posix" or not _ACTIVE.acquire(blocking=False):
        yield
        return
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 at all (a daemon started with its descriptors closed): nothing to filter
        _ACTIVE.release()
        yield
        return
    try:
        read_end, write_end = os.pipe()
    except OSError:
        os.close(saved)
        _ACTIVE.release()
        yield
        return
    line_filter = _LineFilter(pattern)

    def copy() -> None:
        writable = True
        try:
            # read to the end even once the real stderr fails (a closed pipe after `| head`): a reader that
            # stopped would leave every writer of fd 2, workers included, blocked on a full pipe
            while chunk := os.read(read_end, 65536):
                if writable:
                    try:
                        _write_all(saved, line_filter.feed(chunk))
                    except OSError:
                        writable = False
            if writable:
                with contextlib.suppress(OSError):
                    _write_all(saved, line_filter.close())
        finally:
            os.close(read_end)
            os.close(saved)

    _flush_streams()
    os.dup2(write_end, 2)
    os.close(write_end)
    copier = threading.Thread(target=copy, name="stderr-filter", daemon=True)
    copier.start()
    try:
        yield
    finally:
        try:
            _flush_streams()
        finally:
            # the saved descriptor is the copier's to close, but it is still open here: the copier closes it
            # only after the pipe's last write end, fd 2 among them, has gone
            os.dup2(saved, 2)
            _ACTIVE.release()
        # a process started in the block that outlives it (a restarted Dask worker) keeps the pipe open: the
        # copier then goes on copying its lines for as long as it lives, and this thread does not wait for it
        copier.join(timeout=_DRAIN_SECONDS)

"""What a long-running server does between sessions: hand closed sessions' memory back to the system, and
log a browser that closed its page mid-message as what it is, not as a crash.

Both are installed once per process, on the server's own event loop (:func:`install`); the allocator that
makes the memory returnable is chosen when the process starts (:func:`system_allocator_command`)."""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import os
import sys
import threading
import weakref

log = logging.getLogger(__name__)

# After the last of a burst of closing sessions: one release per delay, not one per session. The later one
# is for teardowns still running at the first: under load (20 pages closed at once, the server still drawing
# their views) the server's RSS stayed 28% above its warm level until later sessions' releases trimmed it.
RELEASE_DELAYS_S = (1.0, 15.0)
_installed: weakref.WeakSet = weakref.WeakSet()  # loops, not their ids: a closed loop's id is reused
_release_lock = threading.Lock()
_pending_releases: list[asyncio.TimerHandle] = []
SYSTEM_ALLOCATOR = {"PYTHONMALLOC": "malloc"}  # the environment of a server restarted on glibc's malloc


def install(loop: asyncio.AbstractEventLoop) -> None:
    """On ``loop`` (the server's): the closed-connection handler, once."""
    if loop in _installed:
        return
    _installed.add(loop)
    loop.set_exception_handler(_closed_connection_handler(loop.get_exception_handler()))
    logging.getLogger("tornado.application").addFilter(_assertion_of_a_closed_page)


def session_closed(session_context) -> None:  # noqa: ARG001 - the signature Bokeh requires
    """Schedule :func:`release_memory` for after this session is torn down.

    Bokeh and Panel run the session-destroyed callbacks *before* they drop the session's views and document,
    so a collection here would free nothing of this session (measured: RSS stayed at its peak after 20
    sessions had closed). The release waits for the loop to finish the teardown (see
    :data:`RELEASE_DELAYS_S`), and a burst of closing sessions shares its releases."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # not on an event loop (a test's document): nothing is being torn down around us
        release_memory()
        return
    with _release_lock:
        for handle in _pending_releases:
            handle.cancel()
        _pending_releases[:] = [loop.call_later(delay, _release) for delay in RELEASE_DELAYS_S]


def _release() -> None:
    release_memory()  # looked up when due, so that a test can stand in for it


def session_settled() -> None:
    """A session has drawn its page: every object alive now leaves the cyclic collector's sight.

    CPython's full collection scans every tracked object whenever the long-lived ones have grown by a quarter:
    with 20 sessions open (some 55,000 objects each) one took 0.8-4.3 s on 2 loaded cores, every session
    stalled meanwhile, and one such 2.1 s collection fell on all 20 sessions' first budget change (measured in
    bench_sessions with a gc callback; that round cost the server 3.5 s of CPU against 1.3 s for a later one).
    Frozen objects are not scanned; cycles among them that become garbage (a closed session's) wait for
    :func:`release_memory`, which runs after sessions close."""
    gc.freeze()


def release_memory() -> None:
    """Collect reference cycles, frozen ones included, then hand the freed heap back to the system; the open
    sessions' survivors are frozen again (see :func:`session_settled`).

    CPython frees into malloc's arenas, and glibc returns memory to the system only from the top of its
    heaps unless asked: without a trim a server's RSS stays at the peak of its busiest moment."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc (musl, for one): nothing to trim
            pass


def system_allocator_command(arguments: list[str], environ=None, platform: str | None = None) -> list[str] | None:
    """The command that restarts ``uplift-studio ARGUMENTS`` on the system allocator (with
    :data:`SYSTEM_ALLOCATOR` in its environment), or None to go on as is.

    CPython's own small-object allocator hands a 1 MiB arena back only once every object in it is gone, and
    the few hundred objects a closed session leaves behind (Tornado handles, HoloViews option lookups) each
    pin one: measured with 20 sessions opened and closed, then 30 more (bench_sessions), the server's RSS
    stayed 27% above its warm level with it and came back to within 1% with ``PYTHONMALLOC=malloc``, whose
    freed pages :func:`release_memory`'s ``malloc_trim`` returns. Its price: a budget change takes 11.7
    instead of 8.7 ms on the server (bench_app; the browser's 137 ms stay). The variable only acts at
    start-up, hence a restart; a ``PYTHONMALLOC`` the user set is theirs to keep."""
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if "PYTHONMALLOC" in environ or not platform.startswith("linux"):
        return None
    return [sys.executable, "-m", "uplift_studio.cli", *arguments]


def _is_closed_connection(error: BaseException | None) -> bool:
    from tornado.iostream import StreamClosedError
    from tornado.websocket import WebSocketClosedError

    return isinstance(error, WebSocketClosedError | StreamClosedError)


def _closed_connection_handler(previous):
    """A loop exception handler that turns an unawaited write to a closed page into one warning line.

    Panel sends each document patch as several websocket writes whose futures it awaits later; a page that
    closes in between leaves futures nobody awaits, and asyncio then prints a traceback for each ("Task
    exception was never retrieved"). Panel logs the same event, when it does await, as the warning "Failed
    sending message as connection was closed". Every other exception goes to the previous handler."""

    def handle(loop: asyncio.AbstractEventLoop, context: dict) -> None:
        if _is_closed_connection(context.get("exception")):
            log.warning("A message to a page that had just closed was dropped (the page is gone; nothing to do)")
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    return handle


# The last two frames of an AssertionError that Tornado logs for a page that closed its websocket at the
# wrong moment, and what each means. Bokeh's ``WSHandler.open`` asks Tornado for the subprotocol of a
# connection that no longer exists (Tornado asserts it does); under load a page can also close before Bokeh
# has attached its session to the connection, and ``WSHandler.on_close`` then asserts the session is there.
_CLOSED_PAGE_ASSERTIONS = {
    ("open", "selected_subprotocol"): "A page closed its connection during the websocket handshake",
    ("on_close", "session"): "A page closed its connection before its session was attached",
}


def _assertion_of_a_closed_page(record: logging.LogRecord) -> bool:
    """Let every record through but Tornado's reports of a websocket whose page had already gone (see
    :data:`_CLOSED_PAGE_ASSERTIONS`): each becomes one warning line."""
    error = record.exc_info[1] if record.exc_info else None
    if not isinstance(error, AssertionError) or "/ws" not in record.getMessage():
        return True
    frames = []
    trace = error.__traceback__
    while trace is not None:
        frames.append(trace.tb_frame.f_code.co_name)
        trace = trace.tb_next
    what = _CLOSED_PAGE_ASSERTIONS.get(tuple(frames[-2:]))
    if what is None:
        return True
    log.warning("%s (the page is gone; nothing to do)", what)
    return False

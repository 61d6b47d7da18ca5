"""The server's between-sessions hygiene: closed pages logged as one warning, memory released after teardown."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketClosedError

from uplift_studio.app import server_hygiene


def _handled(error: BaseException) -> list:
    """What the installed handler passes on to the previous one for a never-retrieved ``error``."""
    passed_on = []
    loop = asyncio.new_event_loop()
    try:
        handle = server_hygiene._closed_connection_handler(lambda _loop, context: passed_on.append(context))
        handle(loop, {"message": "Task exception was never retrieved", "exception": error})
    finally:
        loop.close()
    return passed_on


@pytest.mark.parametrize("error", [WebSocketClosedError(), StreamClosedError()])
def test_a_write_to_a_closed_page_is_one_warning(error, caplog):
    with caplog.at_level(logging.WARNING, logger=server_hygiene.__name__):
        assert _handled(error) == []
    assert [r.getMessage() for r in caplog.records] == [
        "A message to a page that had just closed was dropped (the page is gone; nothing to do)"
    ]


@pytest.mark.parametrize("error", [ValueError("a real bug"), AssertionError(), OSError("disk")])
def test_every_other_exception_reaches_the_previous_handler(error):
    passed_on = _handled(error)
    assert len(passed_on) == 1 and passed_on[0]["exception"] is error


def _assertion_raised_in(caller: str, callee: str) -> AssertionError:
    """An AssertionError whose traceback ends in frames named ``caller`` then ``callee``, as Tornado logs them."""

    def inner():
        raise AssertionError

    def outer():
        inner()

    inner.__code__ = inner.__code__.replace(co_name=callee)
    outer.__code__ = outer.__code__.replace(co_name=caller)
    try:
        outer()
    except AssertionError as error:
        return error
    raise RuntimeError("unreachable")


def _record(message: str, error: BaseException | None) -> logging.LogRecord:
    exc_info = (type(error), error, error.__traceback__) if error is not None else None
    return logging.LogRecord("tornado.application", logging.ERROR, __file__, 1, message, (), exc_info)


@pytest.mark.parametrize(
    ("caller", "callee", "warning"),
    [
        # Bokeh's WSHandler.open asking Tornado for the subprotocol of a connection that is gone
        ("open", "selected_subprotocol", "A page closed its connection during the websocket handshake"),
        # Bokeh's WSHandler.on_close reading the session of a connection that never got one
        ("on_close", "session", "A page closed its connection before its session was attached"),
    ],
)
def test_a_closed_page_assertion_is_one_warning(caplog, caller, callee, warning):
    error = _assertion_raised_in(caller, callee)
    keep = server_hygiene._assertion_of_a_closed_page
    with caplog.at_level(logging.WARNING, logger=server_hygiene.__name__):
        assert keep(_record("Uncaught exception GET /ws (127.0.0.1)", error)) is False
    assert [r.getMessage() for r in caplog.records] == [f"{warning} (the page is gone; nothing to do)"]
    assert keep(_record("Uncaught exception GET /app (127.0.0.1)", error)) is True  # another path: kept


def test_every_other_assertion_or_error_is_kept():
    keep = server_hygiene._assertion_of_a_closed_page
    try:
        assert 1 == 2  # noqa: PLR0133
    except AssertionError as error:
        elsewhere = error
    assert keep(_record("Uncaught exception GET /ws (127.0.0.1)", elsewhere)) is True
    # the right frames in the wrong order, or only one of them
    assert keep(_record("GET /ws", _assertion_raised_in("selected_subprotocol", "open"))) is True
    assert keep(_record("GET /ws", _assertion_raised_in("write", "session"))) is True
    assert keep(_record("Uncaught exception GET /ws (127.0.0.1)", ValueError("x"))) is True
    assert keep(_record("Uncaught exception GET /ws (127.0.0.1)", None)) is True


def test_install_is_once_per_loop():
    loop = asyncio.new_event_loop()
    tornado_log = logging.getLogger("tornado.application")
    filters_before = list(tornado_log.filters)
    try:
        server_hygiene.install(loop)
        handler = loop.get_exception_handler()
        server_hygiene.install(loop)
        assert loop.get_exception_handler() is handler  # not wrapped twice
        assert tornado_log.filters.count(server_hygiene._assertion_of_a_closed_page) == 1
    finally:
        loop.close()
        tornado_log.filters[:] = filters_before
        server_hygiene._installed.discard(loop)


def test_the_release_waits_for_the_teardown_and_a_burst_shares_one_per_delay(monkeypatch):
    released = []
    monkeypatch.setattr(server_hygiene, "release_memory", lambda: released.append(asyncio.get_running_loop().time()))
    monkeypatch.setattr(server_hygiene, "RELEASE_DELAYS_S", (0.05, 0.15))

    async def close_three_sessions() -> float:
        loop = asyncio.get_running_loop()
        for _ in range(3):
            server_hygiene.session_closed(None)
        assert released == []  # nothing is released while the callbacks run: the session still exists
        closed = loop.time()
        while len(released) < 2:  # a condition, not a sleep: the loop runs the deferred releases
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # a third release, if there were one, would be due by now
        return closed

    closed = asyncio.run(close_three_sessions())
    assert len(released) == 2
    assert released[0] >= closed + 0.05 - 0.01 and released[1] >= closed + 0.15 - 0.01


def test_off_the_loop_the_release_is_immediate(monkeypatch):
    released = []
    monkeypatch.setattr(server_hygiene, "release_memory", lambda: released.append(True))
    server_hygiene.session_closed(None)
    assert released == [True]


def test_the_command_line_server_restarts_on_the_system_allocator_unless_the_user_chose_one():
    command = server_hygiene.system_allocator_command(["serve", "--port", "5007"], environ={}, platform="linux")
    assert command[1:] == ["-m", "uplift_studio.cli", "serve", "--port", "5007"]
    chosen = {"PYTHONMALLOC": "pymalloc"}
    assert server_hygiene.system_allocator_command(["serve"], environ=chosen, platform="linux") is None
    assert server_hygiene.system_allocator_command(["serve"], environ={}, platform="darwin") is None


def test_the_restarted_server_runs_on_the_system_allocator(monkeypatch):
    from uplift_studio import cli

    calls = []
    monkeypatch.delenv("PYTHONMALLOC", raising=False)
    monkeypatch.setattr(server_hygiene.sys, "platform", "linux")
    monkeypatch.setattr(cli.os, "execve", lambda path, command, env: calls.append((path, command, env)))
    cli._restart_on_the_system_allocator(["serve", "--users", "1000"])
    [(path, command, env)] = calls
    assert path == command[0] and command[-3:] == ["serve", "--users", "1000"] and env["PYTHONMALLOC"] == "malloc"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the restart is for glibc's allocator")
def test_uplift_studio_serve_runs_on_the_system_allocator(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONMALLOC"} | {"UPLIFT_STUDIO_CACHE": str(tmp_path)}
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [str(Path(sys.executable).parent / "uplift-studio"), "serve", "--users", "2000", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while True:  # the port listens once the restarted process serves
            assert server.poll() is None, server.stderr.read().decode()[-2000:]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        environment = Path(f"/proc/{server.pid}/environ").read_bytes().split(b"\0")
        assert b"PYTHONMALLOC=malloc" in environment
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_settled_session_is_out_of_the_collectors_sight_until_the_release():
    """Full collections scanned every open session's objects (0.8-4.3 s with 20 open, every session stalled):
    once a page is drawn its objects are frozen, and a cycle among them waits for the release, which takes it."""
    import gc
    import weakref

    class Node:
        pass

    def cycle() -> weakref.ref:
        node = Node()
        node.self = node
        return weakref.ref(node)

    try:
        settled = cycle()
        server_hygiene.session_settled()
        gc.collect()
        assert settled() is not None, "a frozen object was collected"
        unsettled = cycle()  # made after the freeze: an ordinary collection takes it
        gc.collect()
        assert unsettled() is None
        server_hygiene.release_memory()
        assert settled() is None, "the release left a frozen cycle behind"
        assert gc.get_freeze_count() > 0, "the open sessions' survivors are frozen again"
    finally:
        gc.unfreeze()

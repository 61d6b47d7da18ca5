"""The server's between-sessions hygiene: closed pages logged as one warning, memory released after teardown."""

from __future__ import annotations

import asyncio
import logging

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


def _subprotocol():
    raise AssertionError  # where Tornado asserts that the connection still exists


def _ws_open():
    _subprotocol()


# the frames' names the filter recognises: Bokeh's WSHandler.open calling Tornado's selected_subprotocol
_subprotocol.__code__ = _subprotocol.__code__.replace(co_name="selected_subprotocol")
_ws_open.__code__ = _ws_open.__code__.replace(co_name="open")


def _record(message: str, error: BaseException | None) -> logging.LogRecord:
    exc_info = (type(error), error, error.__traceback__) if error is not None else None
    return logging.LogRecord("tornado.application", logging.ERROR, __file__, 1, message, (), exc_info)


def test_only_the_handshake_of_a_closed_page_is_filtered(caplog):
    try:
        _ws_open()
    except AssertionError as error:
        handshake = error
    keep = server_hygiene._assertion_of_a_closed_page
    with caplog.at_level(logging.WARNING, logger=server_hygiene.__name__):
        assert keep(_record("Uncaught exception GET /ws (127.0.0.1)", handshake)) is False
    assert len(caplog.records) == 1 and "handshake" in caplog.records[0].getMessage()
    # the same assertion elsewhere, another path, another error, or no error at all: all kept
    try:
        assert 1 == 2  # noqa: PLR0133
    except AssertionError as error:
        elsewhere = error
    assert keep(_record("Uncaught exception GET /ws (127.0.0.1)", elsewhere)) is True
    assert keep(_record("Uncaught exception GET /app (127.0.0.1)", handshake)) is True
    assert keep(_record("Uncaught exception GET /ws (127.0.0.1)", ValueError("x"))) is True
    assert keep(_record("Uncaught exception GET /ws (127.0.0.1)", None)) is True


def _session():
    raise AssertionError  # where Bokeh asserts that the connection has its session


def _ws_on_close():
    _session()


# Bokeh's WSHandler.on_close reading its connection's session, of a page that closed before it had one
_session.__code__ = _session.__code__.replace(co_name="session")
_ws_on_close.__code__ = _ws_on_close.__code__.replace(co_name="on_close")


def test_a_page_closed_before_its_session_was_attached_is_one_warning(caplog):
    try:
        _ws_on_close()
    except AssertionError as error:
        early_close = error
    keep = server_hygiene._assertion_of_a_closed_page
    with caplog.at_level(logging.WARNING, logger=server_hygiene.__name__):
        assert keep(_record("Uncaught exception GET /ws (127.0.0.1)", early_close)) is False
    assert [r.getMessage() for r in caplog.records] == [
        "A page closed its connection before its session was attached (the page is gone; nothing to do)"
    ]
    assert keep(_record("Uncaught exception GET /app (127.0.0.1)", early_close)) is True


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


def test_the_release_waits_for_the_teardown_and_a_burst_shares_one(monkeypatch):
    released = []
    monkeypatch.setattr(server_hygiene, "release_memory", lambda: released.append(asyncio.get_running_loop().time()))
    monkeypatch.setattr(server_hygiene, "RELEASE_DELAY_S", 0.05)

    async def close_three_sessions() -> float:
        loop = asyncio.get_running_loop()
        for _ in range(3):
            server_hygiene.session_closed(None)
        assert released == []  # nothing is released while the callbacks run: the session still exists
        closed = loop.time()
        while not released:  # a condition, not a sleep: the loop runs the deferred release
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # a second release, if there were one, would be due by now
        return closed

    closed = asyncio.run(close_three_sessions())
    assert len(released) == 1 and released[0] >= closed


def test_off_the_loop_the_release_is_immediate(monkeypatch):
    released = []
    monkeypatch.setattr(server_hygiene, "release_memory", lambda: released.append(True))
    server_hygiene.session_closed(None)
    assert released == [True]

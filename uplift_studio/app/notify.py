"""Errors reach the user: every callback's failure becomes a notification, and the page keeps its results."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from uplift_studio.core.errors import DataError

log = logging.getLogger("uplift_studio.app.dashboard")


def catch_and_notify(method: Callable) -> Callable:
    """Run a dashboard callback so that no error is lost and none breaks the page (after lumen's
    ``catch_and_notify``): a :class:`DataError` (bad upload, missing column, bad setting) becomes an error
    notification with its message; anything else is logged with its traceback and notified. The callback's
    partial work is not applied, so the results already on screen stay."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except DataError as error:
            log.info("%s: %s", method.__qualname__, error)
            self.notify_error(str(error))
        except Exception as error:
            log.exception("%s failed", method.__qualname__)
            self.notify_error(f"Unexpected error ({type(error).__name__}: {error}). The previous results are kept.")
        return None

    return wrapper

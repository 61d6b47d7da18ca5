"""Modules imported when first used, not when the app is imported.

HoloViews and its Bokeh plotting take 0.3 s to import, and a session needs them only once its views are
drawn, after its first page has been sent: the page of a warm start waited for them before it showed a number.
"""

from __future__ import annotations

import importlib
from types import ModuleType


class DeferredModule:
    """Stands for the module ``name``; the first attribute read imports it (under the import system's own
    per-module lock, so threads that race to it import it once)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str):
        return getattr(self.module, attribute)

    @property
    def module(self) -> ModuleType:
        return importlib.import_module(self._name)

    def __repr__(self) -> str:
        return f"<deferred module {self._name!r}>"

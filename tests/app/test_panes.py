"""The budget tick's HTML pane sends its text alone (a server re-sending the style sheets made a session's
first budget change slow: see app/panes.py)."""

from __future__ import annotations

import panel as pn
import pytest
from bokeh.document import Document

from uplift_studio.app.panes import TickHTML


@pytest.mark.parametrize(("kind", "resent"), [(TickHTML, False), (pn.pane.HTML, True)], ids=["tick", "panel's"])
def test_an_update_sends_the_text_and_leaves_the_style_sheets(kind, resent, monkeypatch):
    pane = kind("<p>one</p>", stylesheets=[".x { color: red; }"])
    document = Document()
    model = pane.get_root(document)
    document.add_root(model)
    changed = []
    model.on_change("stylesheets", lambda attr, old, new: changed.append(attr))
    # anything the style sheet list is rebuilt from, changed after the render: Panel's pane sends it again
    monkeypatch.setattr(pn.config, "raw_css", [*pn.config.raw_css, ".y { color: blue; }"])
    pane.object = "<p>two &lt;b&gt;</p>"
    assert "two" in model.text and "<b>" not in model.text  # Panel's own escaping of the transport kept
    assert bool(changed) is resent

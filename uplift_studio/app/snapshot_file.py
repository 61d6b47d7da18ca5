"""One Bokeh layout as one offline, deterministic HTML string: the HTML post-processing of the snapshot.

Every script and style sheet is inline (``bokeh.resources.INLINE``) and the tags of other packages'
resources are dropped, so the file opens with no server and no network. Bokeh's model ids come from a
process-wide counter and its document and element ids are random UUIDs, so the serialized document is
renumbered (ids in order of first appearance) after rendering, without touching the live models: the same
layout gives the same bytes in any process.
"""

from __future__ import annotations

import html
import json
import re

from bokeh.core.json_encoder import serialize_json
from bokeh.document import Document
from bokeh.embed import file_html
from bokeh.io.doc import patch_curdoc
from bokeh.models import LayoutDOM
from bokeh.resources import INLINE, Resources

# a string template: file_html prepends "{% extends base %}" (Bokeh's FILE) itself
_PAGE_TEMPLATE = """{% block postamble %}<style>body { margin: 16px 24px; background: #ffffff; }</style>{% endblock %}
"""


def offline_html(layout: LayoutDOM, title: str) -> str:
    """``layout`` as a standalone page with inline BokehJS, requesting nothing, with stable ids."""
    # file_html's document copies curdoc()'s JS event callbacks; inside a Panel session those belong to the
    # session's page, so a blank document stands in for curdoc. The exception is caught inside the block
    # because patch_curdoc only pops its entry when the block exits normally.
    blank = Document()
    failure: Exception | None = None
    with patch_curdoc(blank):
        try:
            # _always_new: a temporary document, so models HoloViews shares between plots (and with a live
            # dashboard) are never attached to this one
            page = file_html(layout, INLINE, title, template=_PAGE_TEMPLATE, _always_new=True)
        except Exception as exc:  # re-raised below, once curdoc is restored
            failure = exc
    if failure is not None:
        raise failure
    return _stable_ids(_without_external_resources(page))


def _without_external_resources(page: str) -> str:
    """Drop the ``<script src>`` and ``<link>`` tags of other packages' models.

    Bokeh's resources list the ``__javascript__`` and ``__css__`` files of every model class registered in
    the process, used or not: once HoloViews has imported Panel, that includes Panel's ES-module shim, as a
    path relative to the page (or a CDN address). The snapshot uses none of those models, and an offline
    file must request nothing, so exactly those tags go.
    """
    resources = Resources.build(INLINE)
    for url in resources.js_files:
        for text in {url, html.escape(url)}:
            page = page.replace(f'<script src="{text}"></script>\n', "").replace(f'<script src="{text}"></script>', "")
    for url in resources.css_files:
        for text in {url, html.escape(url)}:
            page = re.sub(rf'\s*<link rel="stylesheet" href="{re.escape(text)}" type="text/css" />', "", page)
    return page


# ---------------------------------------------------------------------------------------------------------
# Deterministic ids

_JSON_SCRIPT = re.compile(r'<script type="application/json" id="(?P<id>[^"]+)">\s*(?P<json>.*?)\s*</script>', re.S)
_RENDER_ITEMS = re.compile(r"const render_items = (?P<items>\[.*?\]);\n")


def _stable_ids(page: str) -> str:
    """Renumber Bokeh's ids in the page: model ids (a process-wide counter) in order of first appearance,
    and the random document, element and script ids, so the same analysis gives the same bytes."""
    found = _JSON_SCRIPT.search(page)
    items = _RENDER_ITEMS.search(page)
    if found is None or items is None:
        raise RuntimeError("unexpected Bokeh page layout: cannot find its document JSON and render items")
    docs = json.loads(html.unescape(found.group("json")))
    render_items = json.loads(items.group("items"))

    model_ids: dict[str, str] = {}

    def collect(value: object) -> None:
        if isinstance(value, dict):
            if value.get("type") == "object" and "id" in value and value["id"] not in model_ids:
                model_ids[value["id"]] = f"p{1000 + len(model_ids)}"
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    def rename(value: object) -> object:
        if isinstance(value, dict):
            return {
                key: (model_ids.get(item, item) if key == "id" and isinstance(item, str) else rename(item))
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [rename(item) for item in value]
        return value

    collect(docs)
    random_ids: dict[str, str] = {found.group("id"): "snapshot-json"}
    new_docs = {}
    for number, (doc_id, doc) in enumerate(docs.items()):
        random_ids[doc_id] = f"snapshot-doc-{number}"
        new_docs[random_ids[doc_id]] = rename(doc)
    new_items = []
    for item in render_items:
        roots = {}
        for model_id, element_id in item.get("roots", {}).items():
            random_ids[element_id] = f"snapshot-root-{len(random_ids)}"
            roots[model_ids.get(model_id, model_id)] = random_ids[element_id]
        new_items.append(
            {
                **item,
                "docid": random_ids.get(item["docid"], item["docid"]),
                "roots": roots,
                "root_ids": [model_ids.get(root, root) for root in item.get("root_ids", [])],
            }
        )

    docs_text = html.escape(serialize_json(new_docs), quote=False)
    page = page[: found.start("json")] + docs_text + page[found.end("json") :]
    items = _RENDER_ITEMS.search(page)
    assert items is not None
    page = page[: items.start("items")] + json.dumps(new_items, separators=(",", ":")) + page[items.end("items") :]
    # the remaining occurrences are attributes and the getElementById call: exact, random strings
    for old, new in random_ids.items():
        page = page.replace(f'"{old}"', f'"{new}"').replace(f"'{old}'", f"'{new}'")
    for item in render_items:
        for old in item.get("root_ids", []):
            page = page.replace(f'data-root-id="{old}"', f'data-root-id="{model_ids.get(old, old)}"')
    return page

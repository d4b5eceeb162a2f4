"""Where an AppTest run shows text through a markup parser, and whether data got in raw.

Why: issue 17.5's page-level check. Streamlit parses markdown in markdown/caption/write
bodies, titles, alert boxes, widget labels and help, metric labels and help, tab and
expander labels, radio options and captions, and pills/segmented-control options; plotly
parses HTML in titles, names, hover text, annotations and category tick labels. This
module reads every such string out of the element protos of a finished AppTest run, so a
test fails when text from the database reaches one of them without analytics.markup.

Not read: selectbox / multiselect options, st.text, and st.dataframe cells and headers (Streamlit
shows those as plain text, so they must *not* be escaped).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from google.protobuf.message import Message
from streamlit.testing.v1 import AppTest

# Proto string fields Streamlit renders as markdown (by field name, on any element/block).
MARKDOWN_FIELDS = {"body", "label", "help", "captions", "content", "caption"}
# Element types whose `options` are rendered as markdown.
MARKDOWN_OPTIONS = {"Radio"}
# Elements whose fields above are plain text, not markdown (values, not labels).
PLAIN_ELEMENTS = {"Selectbox", "MultiSelect", "TextInput", "TextArea", "NumberInput", "Text",
                  "DateInput", "Arrow", "DataFrame", "Code", "Json", "Exception"}  # fmt: skip
# plotly keys whose strings are never drawn as text (or only through our own templates).
PLOTLY_SILENT = {"customdata", "ids", "meta", "uid", "hovertemplate_src", "legendgroup",
                 "template", "type", "mode", "xaxis", "yaxis", "orientation", "alignmentgroup",
                 "offsetgroup", "textposition", "xref", "yref", "xanchor", "yanchor"}  # fmt: skip


def _repeated(value: Any) -> bool:
    return not isinstance(value, (str, bytes, Message)) and hasattr(value, "__iter__")


def _strings(message: Message, path: str = "") -> Iterator[tuple[str, str]]:
    """(where, text) for every markdown-rendered string in a proto message, recursively."""
    kind = type(message).__name__
    if kind in PLAIN_ELEMENTS:
        return
    for field, value in message.ListFields():
        where = f"{path}{kind}.{field.name}"
        if field.message_type is not None:
            items = value if _repeated(value) else [value]
            for item in items:
                if isinstance(item, Message):
                    yield from _strings(item, where + "/")
            continue
        if field.type != field.TYPE_STRING:
            continue
        if field.name in MARKDOWN_FIELDS or (field.name == "options" and kind in MARKDOWN_OPTIONS):
            items = value if _repeated(value) else [value]
            for item in items:
                yield where, str(item)


def _plotly_strings(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            if k not in PLOTLY_SILENT:
                yield from _plotly_strings(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _plotly_strings(v, key)
    elif isinstance(value, str):
        yield f"plotly.{key}", value


def _nodes(node: Any) -> Iterator[Any]:
    yield node
    children = getattr(node, "children", None) or {}
    for child in children.values():
        yield from _nodes(child)


def rendered_texts(at: AppTest) -> list[tuple[str, str]]:
    """Every (where, text) of the run that Streamlit parses as markdown or plotly as HTML."""
    out: list[tuple[str, str]] = []
    for node in _nodes(at._tree):
        proto = getattr(node, "proto", None)
        if not isinstance(proto, Message):
            continue
        if type(proto).__name__ == "PlotlyChart":
            spec = json.loads(proto.spec) if proto.spec else {}
            out += list(_plotly_strings(spec))
            continue
        out += list(_strings(proto))
    return out


def leaks(
    at: AppTest, markdown_markers: tuple[str, ...], html_markers: tuple[str, ...]
) -> list[tuple[str, str]]:
    """The rendered strings holding a marker as typed, i.e. data that was not escaped.

    Markdown markers are looked for where Streamlit parses markdown, HTML markers where
    plotly parses HTML (plotly shows `**` as two stars, so those are fine there).
    """
    out = []
    for where, text in rendered_texts(at):
        markers = html_markers if where.startswith("plotly.") else markdown_markers
        folded = text.casefold()  # an upper-cased currency code is markup too
        if any(m.casefold() in folded for m in markers):
            out.append((where, text))
    return out

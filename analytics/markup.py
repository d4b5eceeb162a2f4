"""The one place text from the data is made safe for the places that parse markup.

Why: names, accounts, stages, teams, sources, plan names and file names come from
someone's CRM export. Streamlit parses GitHub-flavoured Markdown plus its own directives
(`:red[...]`, `:material/...:`, `$...$` LaTeX) in st.markdown, st.caption, st.write, titles,
alert boxes, widget labels and help, metric labels, tab and expander labels, radio and pills
options and st.table cells; plotly parses a subset of HTML (`<b>`, `<a href>`, `<br>`) in
titles, hover text, legends and tick labels. A rep named
``**Bold** ![x](http://host/x.png)`` must read exactly so, and must never make the browser
fetch that URL (issue 17.5).

Three helpers, one rule each:

- `md(text)`: every ASCII punctuation character backslash-escaped (CommonMark renders any
  escaped ASCII punctuation as itself, so nothing -- emphasis, links, images, headings,
  lists, tables, HTML, `:` directives, `$` maths, `~` strike -- can start), line breaks
  flattened to spaces (a name never opens a new block), and an invisible WORD JOINER
  (U+2060) put inside `http://`, `www.` and `x@y`: GitHub-flavoured markdown links bare
  URLs and e-mail addresses *after* escapes are resolved, so a backslash cannot stop
  those; the joiner does, and it neither shows nor breaks the line.
- `plot_text(text)`: HTML-escaped for plotly (`<`, `>`, `&`, quotes), which shows the
  entities as the characters.
- `plain(text)`: the inverse of `md`, for tests that compare what a reader sees.

Pages call `md` on every value from the database that goes into a markdown-parsing place,
and never on the fixed wording around it (that wording may use markdown on purpose).
Selectbox and multiselect options, st.dataframe cells and column headers are shown as
plain text by Streamlit and must *not* be escaped (the backslashes would show).

This module does not import streamlit: analytics may prepare escaped sentences too (e.g.
a commission statement's explanation).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import Any

import pandas as pd

# Every ASCII punctuation character: CommonMark's escapable set (`!` to `/`, `:` to `@`,
# `[` to backtick, `{` to `~`).
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_BREAKS = re.compile(r"[\r\n\u2028\u2029\x0b\x0c]+")
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")
JOINER = "\u2060"  # WORD JOINER: invisible, and no autolink literal spans it
# Where GFM's autolink literals start (mdast-util-gfm-autolink-literal): a scheme, "www."
# and the "@" of an address. The joiner goes after "http"/"https"/"www" and after "@".
_AUTOLINK = re.compile(r"(?i)(\bhttps?|\bwww)(?=:|\.)|(@)")


def md(value: Any) -> str:
    """`value` as literal text inside Streamlit markdown (labels, captions, help, ...).

    None becomes an empty string; anything else is `str()`-ed first, so a number or a
    date can be passed as it is. Idempotence is not a goal: escape once, where the text
    meets the markdown.
    """
    if value is None:
        return ""
    text = _AUTOLINK.sub(lambda m: m.group(0) + JOINER, _BREAKS.sub(" ", str(value)))
    return _PUNCTUATION.sub(r"\\\1", text)


def md_list(values: Iterable[Any], sep: str = ", ") -> str:
    """Several values escaped and joined: the common 'a, b, c' in a caption."""
    return sep.join(md(v) for v in values)


def plain(text: str) -> str:
    """What a reader sees of `md(x)`: the backslash escapes removed (for tests).

    `plain(md(x)) == x` for every x without line breaks or word joiners.
    """
    return _ESCAPED.sub(r"\1", text).replace(JOINER, "")


def plot_text(value: Any) -> str:
    """`value` as literal text in a plotly title, label, legend entry or hover text."""
    if value is None:
        return ""
    return html.escape(_BREAKS.sub(" ", str(value)), quote=True)


def plot_frame(df: pd.DataFrame, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """A copy of `df` whose text columns (or just `columns`) are `plot_text`-escaped.

    For plotly express: category values become tick labels, legend entries and hover text,
    all of which plotly parses as HTML. Numbers and missing values are left alone.
    """
    out = df.copy()
    names = list(columns) if columns is not None else list(out.columns)
    for name in names:
        if name not in out.columns:
            continue
        series = out[name]
        if pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series):
            out[name] = series.map(lambda v: plot_text(v) if isinstance(v, str) else v)
    return out

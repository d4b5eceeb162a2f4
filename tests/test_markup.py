"""analytics.markup: the one escape helper for markdown (Streamlit) and HTML (plotly).

The real rendering is checked in a browser (tests/e2e/test_browser_markup.py); here the
rules themselves, as a table: what each special character becomes, that `plain` undoes
`md` exactly, and that no markup-starting sequence survives escaping.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest
from markup_db import HOSTILE, RAW_MARKERS

from analytics.markup import md, md_list, plain, plot_frame, plot_text

MD_CASES = [
    # (value, md(value))
    ("Ann Lee", "Ann Lee"),
    ("**Bold**", r"\*\*Bold\*\*"),
    ("_u_", r"\_u\_"),
    ("[x](javascript:alert(1))", r"\[x\]\(javascript\:alert\(1\)\)"),
    ("![x](http://h/x.png)", "\\!\\[x\\]\\(http\u2060\\:\\/\\/h\\/x\\.png\\)"),
    (":red[r]", r"\:red\[r\]"),
    (":material/home:", r"\:material\/home\:"),
    ("$x^2$", r"\$x\^2\$"),
    ("<b>h</b>", r"\<b\>h\<\/b\>"),
    ("`code`", r"\`code\`"),
    ("~strike~", r"\~strike\~"),
    ("a | b", r"a \| b"),
    ("# heading", r"\# heading"),
    ("1. item", r"1\. item"),
    ("- item", r"\- item"),
    ("> quote", r"\> quote"),
    ("&amp;", r"\&amp\;"),
    ("back\\slash", r"back\\slash"),
    # bare URLs and addresses are linked after escapes are read: a word joiner stops it
    ("www.example.com", "www\u2060\\.example\\.com"),
    ("HTTPS://x.org", "HTTPS\u2060\\:\\/\\/x\\.org"),
    ("ann@example.com", "ann\\@\u2060example\\.com"),
    ("awww.x whttp:", "awww\\.x whttp\\:"),  # only where a link would start
    ("two\nlines\r\nhere", "two lines here"),  # a name never opens a new block
    ("Ана שלום 名前", "Ана שלום 名前"),  # letters of any script pass untouched
    ("", ""),
    (None, ""),
    (1234.5, r"1234\.5"),
]


@pytest.mark.parametrize(("value", "expected"), MD_CASES)
def test_md_escapes_every_markup_character(value: object, expected: str) -> None:
    assert md(value) == expected


ROUND_TRIP = [HOSTILE, "plain", "a\\b", "\\*", "ends with \\", "'q' \"q\" {x} @y +z =w ?v"]


@pytest.mark.parametrize("value", ROUND_TRIP)
def test_plain_undoes_md(value: str) -> None:
    assert plain(md(value)) == value


def test_no_punctuation_is_left_unescaped() -> None:
    """Every ASCII punctuation character in the output follows a backslash (or is one)."""
    escaped = md(HOSTILE + "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
    stripped = re.sub(r"\\[!-/:-@\[-`{-~]", "", escaped)
    assert not re.search(r"[!-/:-@\[-`{-~]", stripped), stripped
    assert not any(marker in escaped for marker in RAW_MARKERS)


def test_md_list_escapes_each_value() -> None:
    assert md_list(["a*b", "c_d"]) == r"a\*b, c\_d"
    assert md_list(["x", "y"], sep="; ") == "x; y"


PLOT_CASES = [
    ("<b>h</b>", "&lt;b&gt;h&lt;/b&gt;"),
    ('<a href="javascript:x">l</a>', "&lt;a href=&quot;javascript:x&quot;&gt;l&lt;/a&gt;"),
    ("Tom & 'Jerry'", "Tom &amp; &#x27;Jerry&#x27;"),
    ("**Bold** $x$", "**Bold** $x$"),  # plotly does not parse markdown: left as typed
    ("a<br>b\nc", "a&lt;br&gt;b c"),
    (None, ""),
]


@pytest.mark.parametrize(("value", "expected"), PLOT_CASES)
def test_plot_text_escapes_html(value: object, expected: str) -> None:
    assert plot_text(value) == expected


def test_plot_frame_escapes_text_columns_only() -> None:
    df = pd.DataFrame({"stage": ["<b>h</b>", None], "deals": [3, 4], "label": ["a&b", "c"]})
    out = plot_frame(df)
    assert out["stage"].tolist()[0] == "&lt;b&gt;h&lt;/b&gt;"
    assert out["stage"].isna().tolist() == [False, True]
    assert out["deals"].tolist() == [3, 4]
    assert out["label"].tolist() == ["a&amp;b", "c"]
    assert df["stage"].tolist()[0] == "<b>h</b>"  # the original is not changed
    only = plot_frame(df, ["stage"])
    assert only["label"].tolist() == ["a&b", "c"]

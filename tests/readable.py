"""What a person reads on a page, and the words that must never be among it.

Shared by the AppTest walk (tests/test_readable_pages.py) and the browser walk
(tests/e2e/test_browser_readable.py): one definition of "unreadable" for both. A word
counts only on its own ("None", not "Nonetheless"; "inf", not "infinite"), and a
dataframe counts as unreadable when a missing cell would be drawn with Streamlit's
default placeholder ("None"), when a text cell holds one of the words, or when a
number cell holds an infinity (drawn as "∞" or "Infinity").
"""

from __future__ import annotations

import csv
import math
import random
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

UNREADABLE = re.compile(r"(?<![\w.])(None|nan|NaN|NaT|inf|-inf|Infinity|∞)(?![\w])")


def unreadable_words(text: str) -> list[str]:
    """The forbidden words standing alone in `text` (empty when the text is clean)."""
    return [m.group(0) for m in UNREADABLE.finditer(text)]


def _cell_problem(value: Any) -> str | None:
    if isinstance(value, str):
        words = unreadable_words(value)
        return f"text {value!r}" if words else None
    if isinstance(value, float) and math.isinf(value):
        return f"number {value}"
    return None


def frame_problems(df: pd.DataFrame, placeholder: str | None) -> list[str]:
    """Why `df`, drawn by st.dataframe with `placeholder`, would show an unreadable cell."""
    problems: list[str] = []
    for column in df.columns:
        if unreadable_words(str(column)):
            problems.append(f"header {column!r}")
        series = df[column]
        if placeholder is None and series.isna().any():
            problems.append(f"column {column!r}: missing cells drawn as 'None'")
        for value in series.dropna().head(2000):
            why = _cell_problem(value)
            if why is not None:
                problems.append(f"column {column!r}: {why}")
                break
    return problems


def apptest_texts(at: Any) -> Iterator[tuple[str, str]]:
    """(element type, text) for every piece of text an AppTest run put on the page."""
    from streamlit.testing.v1.element_tree import Block

    def walk(node: Any) -> Iterator[Any]:
        if isinstance(node, Block):
            label = getattr(getattr(node, "proto", None), "expandable", None)
            if label is not None and getattr(label, "label", ""):
                yield ("expander", label.label)
            for child in node.children.values():
                yield from walk(child)
        else:
            yield node

    for element in walk(at._tree):
        if isinstance(element, tuple):
            yield element
            continue
        kind = type(element).__name__
        for attr in ("value", "label", "body", "delta", "help", "caption"):
            try:
                text = getattr(element, attr, None)
            except Exception:  # noqa: BLE001 - some elements refuse attributes they lack
                continue
            if isinstance(text, str) and text:
                yield (f"{kind}.{attr}", text)
        options = getattr(element, "options", None)
        if isinstance(options, list):
            for option in options:
                yield (f"{kind}.option", str(option))


def apptest_problems(at: Any) -> list[str]:
    """Every unreadable word or cell on the page an AppTest run drew."""
    problems = [
        f"{kind}: {text[:160]!r}" for kind, text in apptest_texts(at) if unreadable_words(text)
    ]
    for element in at.dataframe:
        placeholder = element.proto.placeholder if element.proto.HasField("placeholder") else None
        for why in frame_problems(element.value, placeholder):
            problems.append(f"dataframe {element.key or element.proto.id[-40:]}: {why}")
    return problems


# --- the sparse database: one deals export, nothing else ------------------------------------

PAGES: tuple[str, ...] = (
    "overview", "reps", "funnel", "pipeline", "forecast", "leads", "commissions", "data",
    "settings",
)  # fmt: skip
SPARSE_AS_OF = date(2025, 3, 16)  # half of March is over: the newest month is unfinished
SPARSE_REPS: tuple[str, ...] = (
    "Moses Frase",
    "Darcel Schlecht",
    "Anna *Snelling*",  # markdown in a name
    "Vicki <b>Laflamme</b>",  # HTML in a name
    'Hayden "HH" O\'Neloms',  # quotes in a name
)


UNPRICED_REP = "Zoë Ünpriced & Co"  # every deal of theirs lacks an amount


def write_sparse_export(path: Path, seed: int = 7) -> Path:
    """A Maven-style deals export and nothing else: no activities, leads, quotas or roster.

    Custom stage names (Prospecting / Engaging / Won / Lost); lost deals carry amount 0;
    most open deals carry no amount; Prospecting deals have no engage date; some deals no
    account; the export stops on 16 March, half way through a month. One more rep
    (`UNPRICED_REP`) has two won deals and an open one, none with an amount.
    """
    rng = random.Random(seed)
    start = date(2024, 1, 3)
    span = (SPARSE_AS_OF - start).days - 5
    rows: list[dict[str, object]] = []
    for i in range(160):
        engaged = start + timedelta(days=rng.randrange(0, span))
        closed = min(SPARSE_AS_OF, engaged + timedelta(days=rng.randrange(5, 120)))
        draw = rng.random()
        if draw < 0.45:
            stage, close, value = "Won", closed, rng.randrange(500, 12_000)
        elif draw < 0.75:
            stage, close, value = "Lost", closed, 0
        elif draw < 0.9:
            priced = rng.random() < 0.3
            stage, close, value = "Engaging", None, rng.randrange(1000, 5000) if priced else None
        else:
            stage, close, value, engaged = "Prospecting", None, None, None
        rows.append(
            {
                "opportunity_id": f"S{i:04d}",
                "sales_agent": rng.choice(SPARSE_REPS),
                "product": rng.choice(["GTX Basic", "MG Special"]),
                "account": rng.choice(["Cancity", "Isdom", ""]),
                "deal_stage": stage,
                "engage_date": engaged.isoformat() if engaged else "",
                "close_date": close.isoformat() if close else "",
                "close_value": "" if value is None else value,
            }
        )
    # a rep whose won deals and open deal all lack a value: their bookings and open
    # pipeline are "no data" on their row (a name with an ampersand and an accent)
    for i, (stage, engaged, close) in enumerate(
        [
            ("Won", date(2025, 1, 10), date(2025, 2, 12)),
            ("Won", date(2025, 1, 20), date(2025, 3, 4)),
            ("Engaging", date(2025, 2, 1), None),
        ]
    ):
        rows.append(
            {
                "opportunity_id": f"U{i:04d}",
                "sales_agent": UNPRICED_REP,
                "product": "GTX Basic",
                "account": "Isdom",
                "deal_stage": stage,
                "engage_date": engaged.isoformat(),
                "close_date": close.isoformat() if close else "",
                "close_value": "",
            }
        )
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def build_sparse_db(db_path: Path, work_dir: Path) -> Path:
    """`db_path` holding the sparse export only, imported the way a user's upload is."""
    from analytics import db
    from analytics.ingest import import_file

    work_dir.mkdir(parents=True, exist_ok=True)
    export = write_sparse_export(work_dir / "sales_pipeline.csv")
    con = db.connect(db_path)
    try:
        result = import_file(con, export, as_of=SPARSE_AS_OF, data_dir=work_dir)
        assert result.ok, result.message
    finally:
        con.close()
    return db_path

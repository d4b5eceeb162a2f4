"""Fuzzing what an import keeps: never a silently wrong amount, never a changed name.

Why (issue: nothing silently wrong): a column of `1,200.00`, `3,400.00` and `1.200,00` once
loaded "3 of 3" with the last stored as 1.20, and names holding markdown rendered as bold
text and images. `tests/test_fuzz_import.py` checks that any file is imported or refused
cleanly; these properties check what an import that succeeds stores:

- mixed number styles in one Amount column: every row either loads the amount that was
  written, or is refused by row (the row named); a value read in the other style never
  lands;
- markup, HTML, quotes and control-free punctuation in every text field: a loaded row
  keeps each text exactly as written, and `md()` shows it as literal text.

Deterministic (`derandomize=True`). Cases per run: 80 number-style files and 60 markup
files (`pytest -s` prints the outcomes).
"""

from __future__ import annotations

import csv
import io
import itertools
import tempfile
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics import db
from analytics.ingest import import_file
from analytics.markup import md, plain

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
HEADER = ["opportunity_id", "opportunity_name", "account", "owner", "stage", "amount",
          "currency", "created_date", "close_date", "lead_source"]  # fmt: skip


def us(value: Decimal) -> str:
    """1234.5 -> '1,234.50' (comma thousands, point decimals)."""
    return f"{value:,.2f}"


def eu(value: Decimal) -> str:
    """1234.5 -> '1.234,50' (point thousands, comma decimals)."""
    return us(value).replace(",", "_").replace(".", ",").replace("_", ".")


class Store:
    """One database for a test's examples, with fresh deal ids per example."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.con = db.connect(folder / "sales.duckdb")
        self.ids = itertools.count()
        self.files = itertools.count()
        self.outcomes: Counter[str] = Counter()

    def write(self, rows: list[list[str]]) -> Path:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(rows)
        path = self.folder / "in" / f"upload-{next(self.files)}.csv"
        path.parent.mkdir(exist_ok=True)
        path.write_text(out.getvalue(), encoding="utf-8")
        return path

    def new_ids(self, n: int) -> list[str]:
        return [f"F-{next(self.ids)}" for _ in range(n)]


@pytest.fixture(scope="module")
def store() -> Iterator[Store]:
    with tempfile.TemporaryDirectory(prefix="fuzz-values-") as folder:
        s = Store(Path(folder))
        yield s
        print(f"\nfuzz values: {dict(s.outcomes)}")
        s.con.close()


amounts = st.decimals(min_value=Decimal("1000.00"), max_value=Decimal("9999999.99"), places=2)


@settings(FUZZ, max_examples=80)
@given(
    values=st.lists(st.tuples(amounts, st.booleans()), min_size=2, max_size=12),
)
def test_mixed_number_styles_never_load_a_wrong_amount(
    store: Store, values: list[tuple[Decimal, bool]]
) -> None:
    """`True` writes a value US-style, `False` European-style (both with thousands)."""
    ids = store.new_ids(len(values))
    rows = [
        [i, "Deal", "Acme", "Ana Ruiz", "Closed Won", us(v) if is_us else eu(v), "USD",
         "2024-01-02", "2024-03-15", "Web"]
        for i, (v, is_us) in zip(ids, values, strict=True)
    ]  # fmt: skip
    result = import_file(
        store.con, store.write(rows), data_dir=store.folder / "store", keep_valid=True
    )
    store.outcomes[f"styles:{result.status}"] += 1
    assert "Traceback" not in result.message
    stored = dict(
        store.con.execute(
            "SELECT opportunity_id, amount FROM opportunities WHERE opportunity_id IN "
            "(SELECT unnest($ids))",
            {"ids": ids},
        ).fetchall()
    )
    written = {i: v for i, (v, _) in zip(ids, values, strict=True)}
    for deal, amount in stored.items():
        assert amount == written[deal], (deal, amount, written[deal], rows)
    missing = [n for n, i in enumerate(ids, start=2) if i not in stored]
    if missing:
        named = " ".join(p.describe() for p in result.problems) + result.message
        for line in missing:
            assert str(line) in named, (line, named)


HOSTILE = [
    "**Bold** [x](javascript:alert(1)) ![x](http://127.0.0.1:9/x.png)",
    ":red[red] $x^2$ <b>h</b> <img src=x onerror=alert(1)>",
    'O\'Brien "the deal" `code` ~~strike~~ _u_ # h1 > quote | pipe',
    "=SUM(A1:A2)",
    "+1 555 @handle www.example.com",
    "Ünïcödé 東京 москва \u200f",
    "\\escaped\\ back\\slash",
    "- list item",
    "1. numbered",
]
texts = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(
        alphabet=st.characters(
            blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\ufeff"
        ),
        min_size=1,
        max_size=30,
    ).filter(lambda t: t.strip() == t and t.strip() != ""),
)


@settings(FUZZ, max_examples=60)
@given(name=texts, account=texts, owner=texts, source=texts)
def test_markup_in_every_text_field_is_kept_as_written(
    store: Store, name: str, account: str, owner: str, source: str
) -> None:
    (deal,) = store.new_ids(1)
    rows = [[deal, name, account, owner, "Discovery", "1000.00", "USD", "2024-01-02",
             "2024-06-30", source]]  # fmt: skip
    result = import_file(store.con, store.write(rows), data_dir=store.folder / "store")
    store.outcomes[f"markup:{result.status}"] += 1
    assert "Traceback" not in result.message
    if result.status == "refused":
        assert result.problems, result.message
        return
    got = store.con.execute(
        "SELECT opportunity_name, account, owner, lead_source FROM opportunities "
        "WHERE opportunity_id = ?",
        [deal],
    ).fetchone()
    assert got == (name, account, owner, source)
    for text in got:
        assert plain(md(text)) == text

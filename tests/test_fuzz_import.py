"""Fuzzing the importer: whatever bytes arrive, a clean import or a clear refusal.

Why: uploads come from anyone's CRM, spreadsheet or mistake, and `import_file` promises
never to raise for bad input and never to change anything when it refuses. Hand-picked
bad files (tests/ingest/test_ingest_bad_input.py) cover the cases we thought of; these
properties cover the ones we did not: random bytes, random CSV dialects (delimiter,
quoting, line ends, BOM), headers mixing real CRM labels with random text, cells in many
number/date styles, RTL text, emoji, huge fields, formula cells, several encodings with
invalid bytes spliced in, and files whose rows are each in their own encoding. Fixed cases
add what random draws would rarely reach: a 5 MB field, a field beyond the CSV reader's
64 MB line limit, a UTF-8 file with one cp1251 row, and .xlsx workbooks with real formula
cells, formula-looking text cells and a 32,767-character cell.

Every case must end in
- a clean import (loaded / partial / duplicate) whose counts add up and whose import is
  recorded, or
- a refusal with at least one problem naming the file, and the database (every table's
  row count and order-free sums of row hashes) and the uploads folder exactly as before.

The runs are deterministic (`derandomize=True`, no example database), so a failure
reproduces on every machine. Cases per full run: 120 random-byte files + 300 CSV files +
120 re-encoded files + 60 mixed-encoding files + 40 files with a row that ends early + 40
with one header twice (CSV or .xlsx) = 680 drawn imports, 20 fixed ones through the same
harness (8 of them .xlsx formula cells: without a saved value they are a named row
problem, issue 17.4), and 4 hand-fed ones (`pytest -s` prints the totals). The last full run
(`.venv/bin/python -m pytest -q -s tests/test_fuzz_import.py`, 2 min 17 s) ended, for the
600 drawn: 472 refused, 78 loaded, 33 partial, 17 duplicate.

Not checked here (the property is import-or-refuse): a file mixing two legacy code pages
(cp1251 rows and gb18030 rows) loads with one of them decoded wrongly, because one
encoding is chosen per file and both byte sequences are valid in it.
"""

from __future__ import annotations

import csv
import io
import itertools
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics import db
from analytics.db import quote_ident
from analytics.ingest import ImportResult, import_file
from analytics.ingest.learn import MAX_STAGE_NAME

TEMPLATE = (
    "opportunity_id,opportunity_name,account,owner,stage,amount,currency,close_date\n"
    "SEED-1,Seed deal,Acme,Ana Ruiz,Discovery,1000.00,USD,2024-06-30\n"
    "SEED-2,Seed deal two,Globex,Ben Okafor,Closed Won,2500.50,USD,2024-03-15\n"
)

# Headers real files carry: canonical names, Salesforce / HubSpot / Pipedrive labels,
# other kinds' columns, and localised ones.
REAL_HEADERS = [
    "opportunity_id",
    "opportunity_name",
    "account",
    "owner",
    "stage",
    "amount",
    "currency",
    "probability",
    "created_date",
    "close_date",
    "status",
    "Opportunity ID",
    "Opportunity Name",
    "Account Name",
    "Opportunity Owner",
    "Stage",
    "Amount",
    "Close Date",
    "Probability (%)",
    "Deal Name",
    "Deal Stage",
    "Record ID",
    'Date entered "Discovery (Sales Pipeline)"',
    "rep",
    "manager",
    "team",
    "lead_id",
    "created_at",
    "activity_type",
    "started_at",
    "period_start",
    "rate",
    "rate_date",
    "Сумма",
    "Этап",
    "金额",
    "阶段",
]
REQUIRED_CORE = ["opportunity_id", "stage"]

NUMBERS = [
    "1000",
    "1,234.56",
    "1.234,56",
    "1 234,56",
    "1\u00a0234,56",
    "$1,000",
    "€ 12",
    "12 EUR",
    "12%",
    "-5",
    "(5)",
    "1e5",
    "0",
    "0.000001",
    "99999999999999999999",
    "NaN",
    "inf",
]
DATES = [
    "2024-01-02",
    "02/01/2024",
    "1/2/24",
    "13/01/2024",
    "01/13/2024",
    "2024-01-02T10:00:00Z",
    "2024-01-02 10:00",
    "Jan 2, 2024",
    "02.01.2024",
    "2024-02-30",
    "0024-01-01",
    "45292",
    "yesterday",
]
TEXTS = [
    "",
    "-",
    " ",
    "Discovery",
    "Qualified",
    "Closed Won",
    "Closed Lost",
    "Won",
    "open",
    "Müller, Jörg",
    "مرحبا بالعالم",  # Arabic, right to left
    "שלום\u200f",  # Hebrew with a right-to-left mark
    "\u202eevil\u202c",  # right-to-left override
    "🚀💰",
    "👩‍👩‍👧",
    "zero\u200bwidth",
    '=HYPERLINK("http://evil.example","click")',
    "+1",
    "-2",
    "@SUM(A1)",
    "\t=1+1",
    '"quoted"',
    "multi\nline",
    "semi;colon",
    "pipe|bar",
    "comma, inside",
    "x" * 40_000,  # longer than the importer's text limit
    "y" * 2_000,
]

cells = st.one_of(
    st.sampled_from(NUMBERS),
    st.sampled_from(DATES),
    st.sampled_from(TEXTS),
    st.text(max_size=30),
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
)
header_names = st.one_of(st.sampled_from(REAL_HEADERS), st.text(min_size=0, max_size=25))


STAGES = ["Discovery", "Qualified", "Closed Won", "Closed Lost"]
GOOD_NUMBERS = ["1000", "1,234.56", "$1,000", "12", "0", "-5", "2500.50"]
GOOD_DATES = ["2024-01-02", "2024-06-30", "2023-12-31", "2024-02-29"]


def column_cells(header: str) -> st.SearchStrategy[str]:
    """Values that usually suit the column (so imports can succeed), sometimes anything."""
    key = header.lower()
    if "stage" in key or key == "этап" or key == "阶段":
        usual: st.SearchStrategy[str] = st.sampled_from(STAGES)
    elif key.endswith("id"):
        usual = st.integers(0, 10**6).map(lambda n: f"F-{n}")
    elif "amount" in key or key in ("probability", "rate", "сумма", "金额"):
        usual = st.sampled_from(GOOD_NUMBERS)
    elif "date" in key or key.endswith("_at") or key == "period_start":
        usual = st.sampled_from(GOOD_DATES)
    else:
        usual = st.sampled_from(TEXTS)
    # one value in ten is anything at all
    return st.integers(0, 9).flatmap(lambda n: cells if n == 0 else usual)


@st.composite
def table_strategy(draw: st.DrawFn) -> list[list[str]]:
    """A header row and up to a few records.

    Half the time the header is a plausible opportunities export (the required columns
    plus real CRM labels) with values that mostly suit each column, so that some imports
    load; otherwise headers and cells are anything, and rows may be ragged.
    """
    if draw(st.booleans()):
        extra = draw(st.lists(st.sampled_from(REAL_HEADERS), max_size=6, unique=True))
        headers = draw(st.permutations(list(dict.fromkeys(REQUIRED_CORE + extra))))
        strategies = [column_cells(h) for h in headers]
        rows = [[draw(s) for s in strategies] for _ in range(draw(st.integers(1, 6)))]
        return [headers, *rows]
    headers = draw(st.lists(header_names, min_size=1, max_size=8))
    width = len(headers)
    ragged = draw(st.integers(0, 4)) == 0
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        n = draw(st.integers(max(0, width - 2), width + 2)) if ragged else width
        rows.append([draw(cells) for _ in range(n)])
    return [headers, *rows]


@st.composite
def csv_text(draw: st.DrawFn) -> str:
    """The table written in a random dialect (including a naive, unquoted join)."""
    table = draw(table_strategy())
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    style = draw(st.sampled_from(["minimal", "all", "naive"]))
    if style == "naive":  # what a hand-rolled exporter writes: no quoting at all
        body = newline.join(delimiter.join(row) for row in table) + newline
    else:
        buffer = io.StringIO()
        quoting = csv.QUOTE_ALL if style == "all" else csv.QUOTE_MINIMAL
        writer = csv.writer(buffer, delimiter=delimiter, lineterminator=newline, quoting=quoting)
        writer.writerows(table)
        body = buffer.getvalue()
    if draw(st.booleans()):
        body = draw(st.sampled_from(["", "\n", "\n\n", " \n"])) + body  # blank lines first
    return body


@st.composite
def encoded_csv(draw: st.DrawFn) -> bytes:
    """CSV text in a random encoding, sometimes with invalid bytes spliced in."""
    text = draw(csv_text())
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1251", "gb18030"]))
    if encoding == "cp1251":
        text += "Иванов,Сделка\n"
    elif encoding == "gb18030":
        text += "张伟,交易\n"
    data = text.encode(encoding, errors="replace")
    if draw(st.booleans()):
        junk = draw(st.sampled_from([b"\xff", b"\x80\x81", b"\xc3\x28", b"\xed\xa0\x80", b"\x00"]))
        at = draw(st.integers(0, len(data)))
        data = data[:at] + junk + data[at:]
    return data


# Random bytes, raw and behind the magic numbers the sniffer dispatches on.
PREFIXES = [b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"PK\x03\x04", b"\xd0\xcf\x11\xe0"]
random_files = st.builds(
    lambda prefix, body: prefix + body,
    st.sampled_from(PREFIXES),
    st.binary(max_size=3000),
)

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class Harness:
    """One database file (holding a seed import) shared by a test's examples.

    Hypothesis runs many examples per test, so the database lives for the module: each
    example compares its own before/after fingerprint rather than starting from empty.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data_dir = folder / "store"
        self.con = db.connect(folder / "sales.duckdb")
        self.names = (f"upload-{i}.csv" for i in itertools.count())
        self.cases = 0
        self.outcomes: Counter[str] = Counter()
        seed = folder / "seed.csv"
        seed.write_text(TEMPLATE, encoding="utf-8")
        assert import_file(self.con, seed, data_dir=self.data_dir).status == "loaded"

    def fingerprint(self) -> dict[str, Any]:
        """Every base table's full contents, the stage-history view and the stored files.

        Each relation is summed up in the database as its row count and two sums of 64-bit
        row hashes (order-free, so a duplicated or a swapped row counts too), rather than
        fetched whole into Python: fetching every table twice an example was 40 % of this
        module's time, and grew with every import the examples load. A changed cell, row,
        table or stored file changes the result (`test_fingerprint_sees_every_change`).
        """
        tables = [
            r[0]
            for r in self.con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = "
                "current_database() AND schema_name = 'main' AND NOT temporary "
                "ORDER BY table_name"
            ).fetchall()
        ]
        relations = [*tables, "opportunity_stage_history"]
        summed = " UNION ALL ".join(
            f"SELECT {i} AS n, count(*), sum(hash(fp_row)), sum(hash(fp_row, 1)) "
            f"FROM {quote_ident(name)} AS fp_row"
            for i, name in enumerate(relations)
        )
        rows = dict((r[0], r[1:]) for r in self.con.execute(f"SELECT * FROM ({summed})").fetchall())
        out: dict[str, Any] = {t: rows[i] for i, t in enumerate(tables)}
        out["(view) opportunity_stage_history"] = rows[len(tables)]
        out["(files) uploads"] = sorted(
            str(p.relative_to(self.data_dir)) for p in self.data_dir.rglob("*") if p.is_file()
        )
        return out

    def check(
        self, content: bytes, *, keep_valid: bool = False, suffix: str = ".csv"
    ) -> ImportResult:
        """Import `content` as a new upload and assert the import-or-refuse property."""
        self.cases += 1
        name = next(self.names).removesuffix(".csv") + suffix
        path = self.folder / "in" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(content)
        before = self.fingerprint()
        try:
            result = import_file(self.con, path, data_dir=self.data_dir, keep_valid=keep_valid)
        except Exception as exc:  # the property itself: never an exception
            pytest.fail(f"import_file raised {exc!r} for {content[:200]!r}")
        self.outcomes[result.status] += 1
        assert result.file_name == name
        assert result.status in ("loaded", "partial", "duplicate", "refused"), result.status
        message = result.message
        assert message.startswith(f"{name}: ")
        assert "Traceback" not in message
        if result.status == "refused":
            assert_clean_refusal(result, name)
            assert self.fingerprint() == before, message
        elif result.status == "duplicate":
            assert result.import_id is not None
            assert self.fingerprint() == before, message
        else:
            assert_consistent_import(self.con, result)
        # no temp table of the import is left behind for the next one to trip over
        temps = self.con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
            "AND table_catalog = 'temp'"
        ).fetchall()
        assert temps == []
        return result

    def close(self) -> None:
        self.con.close()


def assert_clean_refusal(result: ImportResult, name: str) -> None:
    """A refusal says what is wrong, names the file, and loads nothing."""
    assert result.problems, result.message
    assert sum(result.problem_totals.values()) >= len(result.problems)
    for problem in result.problems:
        assert problem.file == name
        assert problem.problem.strip()
        assert name in problem.describe()
    assert result.import_id is None
    assert result.stored_path is None
    assert result.rows_loaded == 0


def assert_consistent_import(con: duckdb.DuckDBPyConnection, result: ImportResult) -> None:
    """Counts add up, the import is recorded and its original is kept."""
    assert result.import_id is not None
    assert result.rows_read >= 1
    assert result.rows_loaded >= 1 or result.kind == "fx_rates"
    assert result.rows_loaded + result.rows_rejected <= result.rows_read
    assert result.rows_inserted + result.rows_updated + result.rows_unchanged == (
        result.rows_loaded
    )
    if result.status == "loaded":
        assert result.rows_rejected == 0
        assert not result.problems
    else:
        assert result.rows_rejected >= 1
        assert result.problems
    row = con.execute(
        "SELECT file_name, rows_read, rows_loaded, rows_rejected FROM imports WHERE import_id = ?",
        [result.import_id],
    ).fetchone()
    assert row == (result.file_name, result.rows_read, result.rows_loaded, result.rows_rejected)
    assert result.stored_path is not None and Path(result.stored_path).is_file()


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    with tempfile.TemporaryDirectory(prefix="fuzz-import-") as folder:
        h = Harness(Path(folder))
        yield h
        print(f"\nfuzz harness, whole module: {h.cases} cases, {dict(h.outcomes)}")
        h.close()


# Each change a refused or duplicate import must not make, as SQL (or None: a stored file).
CHANGES = {
    "one cell": "UPDATE opportunities SET amount = amount + 0.01 WHERE opportunity_id = 'SEED-1'",
    "one row twice": "INSERT INTO opportunities SELECT * FROM opportunities LIMIT 1",
    "two rows' cells swapped": (
        "UPDATE opportunities SET owner = CASE owner WHEN 'Ana Ruiz' THEN 'Ben Okafor' "
        "ELSE 'Ana Ruiz' END"
    ),
    "one row gone": "DELETE FROM opportunities WHERE opportunity_id = 'SEED-2'",
    "a new empty table": "CREATE TABLE left_behind (x INTEGER)",
    "a stored file": None,
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_fingerprint_sees_every_change(change: str, tmp_path: Path) -> None:
    """The harness's summed fingerprint still tells a refusal that changed anything."""
    h = Harness(tmp_path)
    try:
        before = h.fingerprint()
        assert h.fingerprint() == before
        sql = CHANGES[change]
        if sql is None:
            (h.data_dir / "stray.csv").write_text("x\n", encoding="utf-8")
        else:
            h.con.execute(sql)
        assert h.fingerprint() != before
    finally:
        h.close()


@settings(FUZZ, max_examples=120)
@given(content=random_files)
def test_random_bytes_import_or_refuse(harness: Harness, content: bytes) -> None:
    harness.check(content)
    print(f"random bytes: {harness.cases} cases so far, {dict(harness.outcomes)}")


@settings(FUZZ, max_examples=300)
@given(text=csv_text(), keep_valid=st.booleans())
def test_random_csv_dialects_import_or_refuse(
    harness: Harness, text: str, keep_valid: bool
) -> None:
    harness.check(text.encode("utf-8"), keep_valid=keep_valid)
    print(f"csv dialects: {harness.cases} cases so far, {dict(harness.outcomes)}")


@settings(FUZZ, max_examples=120)
@given(content=encoded_csv(), keep_valid=st.booleans())
def test_mixed_encodings_import_or_refuse(
    harness: Harness, content: bytes, keep_valid: bool
) -> None:
    harness.check(content, keep_valid=keep_valid)
    print(f"encodings: {harness.cases} cases so far, {dict(harness.outcomes)}")


def test_fuzz_strategies_reach_every_outcome() -> None:
    """Guard against a fuzzer that only ever produces refusals (and so proves little):
    a handful of hand-fed cases built like the strategies' realistic branch must load."""
    with tempfile.TemporaryDirectory(prefix="fuzz-reach-") as folder:
        h = Harness(Path(folder))
        try:
            loaded = h.check(
                "stage;opportunity_id;amount\r\nDiscovery;F-1;1.234,56\r\n".encode("utf-16")
            )
            assert loaded.status == "loaded", loaded.message
            partial = h.check(
                b'"opportunity_id","stage","amount"\n"F-2","Discovery","1"\n"F-3","Discovery","lots"\n',
                keep_valid=True,
            )
            assert partial.status == "partial", partial.message
            again = h.check(
                b'"opportunity_id","stage","amount"\n"F-2","Discovery","1"\n"F-3","Discovery","lots"\n'
            )
            assert again.status == "refused"  # same bytes, without keep_valid
            dup = h.check(
                "stage;opportunity_id;amount\r\nDiscovery;F-1;1.234,56\r\n".encode("utf-16")
            )
            assert dup.status == "duplicate", dup.message
        finally:
            h.close()


# -- mixed encodings inside one file --------------------------------------------------------

ROW_ENCODINGS = ["utf-8", "cp1251", "gb18030", "cp1252", "utf-16-le"]


@st.composite
def mixed_encoding_csv(draw: st.DrawFn) -> bytes:
    """A header and rows where each row is written in its own encoding (a file pasted
    together from two exports, or a legacy system that changed code page mid-file)."""
    headers = ["opportunity_id", "stage", "account", "amount"]
    names = ["Иванов и партнёры", "张伟贸易", "Müller GmbH", "Ωmega", "plain"]
    data = ",".join(headers).encode("utf-8") + b"\n"
    for i in range(draw(st.integers(1, 6))):
        encoding = draw(st.sampled_from(ROW_ENCODINGS))
        row = f"M-{i},{draw(st.sampled_from(STAGES))},{draw(st.sampled_from(names))},1000\n"
        data += row.encode(encoding, errors="replace")
    return data


@settings(FUZZ, max_examples=60)
@given(content=mixed_encoding_csv(), keep_valid=st.booleans())
def test_mixed_encodings_in_one_file_import_or_refuse(
    harness: Harness, content: bytes, keep_valid: bool
) -> None:
    harness.check(content, keep_valid=keep_valid)
    print(f"mixed in one file: {harness.cases} cases so far, {dict(harness.outcomes)}")


def test_utf8_file_with_a_cp1251_row_is_refused_by_row(harness: Harness) -> None:
    """The decision is not a guess: the row whose bytes are not UTF-8 is named."""
    content = (
        "opportunity_id,stage,account\nU-1,Discovery,Иванов\n".encode()
        + "U-2,Discovery,Петров\n".encode("cp1251")
    )
    result = harness.check(content)
    assert result.status == "refused", result.message
    assert any(p.line == 3 for p in result.problems), result.message


# -- huge fields ----------------------------------------------------------------------------


def test_multi_megabyte_field_is_refused_with_its_row_and_column(harness: Harness) -> None:
    """A 5 MB description: the row and column are named; with keep_valid the rest loads."""
    huge = "é" * (5 * 1024 * 1024)
    content = (
        f"opportunity_id,stage,opportunity_name\nH-1,Discovery,{huge}\nH-2,Qualified,fine\n"
    ).encode()
    refused = harness.check(content)
    assert refused.status == "refused", refused.message
    (problem,) = refused.problems
    assert (problem.line, problem.column) == (2, "opportunity_name")
    assert "characters long" in problem.problem and len(problem.value or "") <= 60
    partial = harness.check(content, keep_valid=True)
    assert partial.status == "partial", partial.message
    assert (partial.rows_loaded, partial.rows_rejected) == (1, 1)


def test_field_longer_than_a_csv_line_may_be_is_refused(harness: Harness) -> None:
    """A single field beyond the CSV reader's line limit (64 MB): a refusal, not a crash."""
    from analytics.ingest.read import MAX_LINE_BYTES

    content = b"opportunity_id,stage,account\nX-1,Discovery," + b"z" * (MAX_LINE_BYTES + 1) + b"\n"
    result = harness.check(content)
    assert result.status == "refused", result.message


# -- formula cells --------------------------------------------------------------------------


def xlsx_bytes(rows: list[list[object]], *, as_text: bool) -> bytes:
    """A workbook; text starting with '=' is a formula cell unless `as_text` (a string cell
    holding formula-looking text, as a CRM writes an account named '=cmd|...')."""
    from openpyxl import Workbook

    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    if as_text:
        for cells in wb.active.iter_rows():
            for c in cells:
                if isinstance(c.value, str):
                    c.data_type = "s"
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


FORMULA_CELLS = [
    "=1+2",
    '=HYPERLINK("http://evil.example","click")',
    "=cmd|' /C calc'!A0",
    "x" * 32_767,  # Excel's own limit for one cell
]


@pytest.mark.parametrize("as_text", [False, True], ids=["formula-cell", "text-cell"])
@pytest.mark.parametrize("cell", FORMULA_CELLS, ids=["sum", "hyperlink", "dde", "32767-chars"])
def test_xlsx_formula_and_huge_cells_import_or_refuse(
    harness: Harness, cell: str, as_text: bool
) -> None:
    """A workbook's formulas are never evaluated: the importer reads cached values only, so
    a formula cell without one (as openpyxl writes it) arrives empty. Formula-looking text
    in a string cell is data and is stored exactly (exports escape it, see test_exports)."""
    for column in ("stage", "account"):
        deal = f"XF-{harness.cases}"
        row = {"opportunity_id": deal, "stage": "Discovery", "account": "Acme"}
        row[column] = cell
        result = harness.check(xlsx_bytes([list(row), list(row.values())], as_text=as_text),
                               suffix=".xlsx")  # fmt: skip
        formula = cell.startswith("=") and not as_text
        if formula:
            # a formula without a saved value is a named row problem, never a silent blank
            assert result.status == "refused", result.message
            assert any(
                (p.line, p.column) == (2, column) and "formula with no saved value" in p.problem
                for p in result.problems
            ), result.message
            continue
        if column == "stage":
            # text is a stage value, learned as written (issue 12.2) unless too long to be
            # a stage name
            if len(cell) > MAX_STAGE_NAME:
                assert result.status == "refused", result.message
                continue
            assert result.status == "loaded", result.message
            assert harness.con.execute(
                "SELECT source_stage FROM opportunities WHERE opportunity_id = ?", [deal]
            ).fetchone() == (cell,)
            continue
        assert result.status == "loaded", result.message
        (account,) = harness.con.execute(
            "SELECT account FROM opportunities WHERE opportunity_id = ?", [deal]
        ).fetchone()
        assert account == cell


# -- rows that end early, and one header twice (issue 17.4) -----------------------------------


@settings(FUZZ, max_examples=40)
@given(
    cut=st.integers(1, 5),
    short_row=st.integers(0, 3),
    keep_valid=st.booleans(),
)
def test_short_rows_are_named_or_rejected(
    harness: Harness, cut: int, short_row: int, keep_valid: bool
) -> None:
    """One of four rows ends after `cut` fields: the row and every mapped column it lacks
    are named, and with keep_valid only that row is rejected (and counted in imports)."""
    header = ["opportunity_id", "stage", "account", "amount", "close_date", "owner"]
    rows = [
        [f"SR-{harness.cases}-{i}", "Discovery", "Acme", "1000", "2024-06-30", "Ana"]
        for i in range(4)
    ]
    rows[short_row] = rows[short_row][:cut]
    text = "\n".join(",".join(r) for r in [header, *rows]) + "\n"
    result = harness.check(text.encode(), keep_valid=keep_valid)
    missing = {(short_row + 2, h) for h in header[cut:]}
    named = {(p.line, p.column) for p in result.problems if "row ends before" in p.problem}
    assert named == missing, result.message
    assert result.status == ("partial" if keep_valid else "refused"), result.message
    if keep_valid:
        assert (result.rows_loaded, result.rows_rejected) == (3, 1)


@settings(FUZZ, max_examples=40)
@given(
    header=st.sampled_from(["amount", "Amount", "owner", "Stage", "account"]),
    values=st.lists(st.tuples(st.sampled_from(["", "7", "8", "Ana"]), st.booleans()),
                    min_size=1, max_size=4),
    xlsx=st.booleans(),
)  # fmt: skip
def test_duplicate_headers_refuse_where_they_differ(
    harness: Harness, header: str, values: list[tuple[str, bool]], xlsx: bool
) -> None:
    """Two columns with one header: rows where they differ are named (both positions);
    when they never differ the file loads and says the second was ignored."""
    names = ["opportunity_id", "stage", header, "opportunity_name", header]
    if header.lower() == "stage":
        names[1] = "account"
    rows = []
    for i, (value, same) in enumerate(values):
        first = value if header.lower() != "stage" else ("Discovery" if value else "")
        second = first if same else first + "x"
        row = [f"DH-{harness.cases}-{i}", "Discovery", first, "Deal", second]
        if header.lower() == "stage":
            row[1] = "Acme"
        rows.append(row)
    differs = [i + 2 for i, (_, same) in enumerate(values) if not same]
    if xlsx:
        content = xlsx_bytes([names, *rows], as_text=True)
        result = harness.check(content, suffix=".xlsx")
    else:
        content = "\n".join(",".join(r) for r in [names, *rows]) + "\n"
        result = harness.check(content.encode())
    flagged = sorted(p.line for p in result.problems if "(columns 3 and 5)" in p.problem)
    assert flagged == differs, result.message
    if not differs and result.status == "loaded":
        assert "column 5 is a second" in result.message

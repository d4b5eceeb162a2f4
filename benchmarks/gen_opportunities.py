"""Deterministic generator of a large Salesforce *report* opportunity export (CSV).

Why: the import has to stay fast on the biggest files a sales-ops user realistically uploads
(a million-row "Opportunities" report with these twelve columns is about 190 MB). A benchmark
needs such a file, byte-identical for a given (rows, seed), without shipping it in the
repository, so it is generated on demand and cached under ``benchmarks/out/`` (git-ignored).

The file copies the quirks of a real report export that an importer must cope with and that
make a bare ``read_csv`` work harder: amounts quoted with thousands separators
(``"12,500.00"``), probability with a ``%`` sign, US ``MM/DD/YYYY`` dates, 18-character ids
with a valid case-checksum suffix, blanks in optional columns, and the report footer
(``Grand Totals``, confidentiality and copyright lines) after the data.

Speed: every column is built with vectorised numpy (integer codes into small label tables,
ids encoded in base 62 on whole arrays), then DuckDB formats the text and writes the CSV in
one ``COPY``; a million rows take a few seconds rather than a minute of Python loops.

Usage::

    python -m benchmarks.gen_opportunities --rows 1000000 --seed 42   # prints the path
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from benchmarks.harness import OUT_DIR, cached, sql_ident, sql_lit

DEFAULT_ROWS = 1_000_000
DEFAULT_SEED = 42
# Bump when the generated content changes, so stale cached files are never reused.
GENERATOR_VERSION = 1

HEADER = (
    "Opportunity ID",
    "Opportunity Name",
    "Account Name",
    "Opportunity Owner",
    "Stage",
    "Amount",
    "Probability (%)",
    "Forecast Category",
    "Created Date",
    "Close Date",
    "Lead Source",
    "Type",
)

# Stage -> (default probability %, forecast category, share of rows). Salesforce's standard
# picklist minus the two stages most orgs drop; closed deals dominate an all-time report.
STAGES: tuple[tuple[str, int, str, float], ...] = (
    ("Prospecting", 10, "Pipeline", 0.10),
    ("Qualification", 10, "Pipeline", 0.09),
    ("Needs Analysis", 20, "Pipeline", 0.08),
    ("Value Proposition", 50, "Best Case", 0.07),
    ("Proposal/Price Quote", 75, "Best Case", 0.06),
    ("Negotiation/Review", 90, "Commit", 0.05),
    ("Closed Won", 100, "Closed", 0.25),
    ("Closed Lost", 0, "Omitted", 0.30),
)
LEAD_SOURCES = (
    "Web",
    "Phone Inquiry",
    "Partner Referral",
    "Purchased List",
    "Other",
    "Trade Show",
    "Word of mouth",
    "Employee Referral",
    "External Referral",
)
DEAL_TYPES = (
    "New Customer",
    "Existing Customer - Upgrade",
    "Existing Customer - Replacement",
    "Existing Customer - Downgrade",
)
FIRST_NAMES = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Carlos",
    "Karen",
    "Priya",
    "Nancy",
    "Wei",
    "Lisa",
    "Ahmed",
    "Betty",
    "Olga",
    "Sandra",
    "Kenji",
    "Ashley",
]
LAST_NAMES = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
]
ACCOUNT_WORDS = [
    "Acme",
    "Global",
    "Pinnacle",
    "United",
    "Summit",
    "Apex",
    "Blue",
    "Northern",
    "Crystal",
    "Silver",
    "Vertex",
    "Atlas",
    "Nova",
    "Harbor",
    "Evergreen",
    "Quantum",
    "Redwood",
    "Granite",
    "Falcon",
    "Meridian",
    "Horizon",
    "Cobalt",
    "Sterling",
    "Orion",
]
ACCOUNT_NOUNS = [
    "Systems",
    "Logistics",
    "Foods",
    "Health",
    "Energy",
    "Labs",
    "Media",
    "Retail",
    "Motors",
    "Capital",
    "Robotics",
    "Partners",
    "Analytics",
    "Pharma",
    "Textiles",
    "Airlines",
    "Software",
    "Networks",
    "Holdings",
    "Dynamics",
]
ACCOUNT_SUFFIXES = ("Inc.", "LLC", "Ltd", "Corp", "GmbH", "Group", "plc", "S.A.")
DEAL_WORDS = (
    "Expansion",
    "Renewal",
    "Add-On",
    "Pilot",
    "Enterprise Deal",
    "Upgrade",
    "New Business",
    "Services",
)

N_OWNERS = 200
N_ACCOUNTS = 25_000
CREATED_FROM = date(2023, 1, 1)
CREATED_DAYS = 3 * 365 + 181  # through mid 2026
BASE62 = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
CHECKSUM_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"

FOOTER_TEMPLATE = (
    "\n"
    '"Grand Totals ({rows} records)"\n'
    "\n"
    '"Confidential Information - Do Not Distribute"\n'
    '"Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved."\n'
)


def cached_path(rows: int, seed: int, out_dir: Path = OUT_DIR) -> Path:
    """Where the file for (rows, seed) lives; the version in the name retires old layouts."""
    return out_dir / f"sf_report_opportunities_{rows}r_seed{seed}_v{GENERATOR_VERSION}.csv"


def salesforce_ids(rows: int, rng: np.random.Generator) -> np.ndarray:
    """Unique 18-character Opportunity ids (``006`` key prefix), as a (rows, 18) uint8 array.

    Uniqueness without a set: the 10-digit base-62 body is an affine map ``(a*i + b) mod
    62**10`` of the row number with ``a`` coprime to 62, a bijection, so ids look scattered
    but never collide. The 3-character suffix is Salesforce's real case checksum, so an
    importer that validates ids accepts them.
    """
    modulus = 62**10
    body_digits = 10
    while True:
        a = int(rng.integers(10**11, 9 * 10**12))
        if a % 2 and a % 31:
            break
    b = int(rng.integers(0, modulus))
    idx = np.arange(rows, dtype=np.int64)
    # a*i + b fits in int64 up to about a million rows; above that fall back to Python ints.
    if rows * a + b < 2**63:
        num = (idx * a + b) % modulus
    else:
        num = np.array([(a * int(i) + b) % modulus for i in idx], dtype=np.int64)

    alphabet = np.frombuffer(BASE62, dtype=np.uint8)
    chars = np.empty((rows, 18), dtype=np.uint8)
    chars[:, 0:5] = np.frombuffer(b"006Dn", dtype=np.uint8)  # key prefix + pod-like chars
    for pos in range(body_digits - 1, -1, -1):
        chars[:, 5 + pos] = alphabet[num % 62]
        num //= 62
    upper = (chars[:, :15] >= ord("A")) & (chars[:, :15] <= ord("Z"))
    weights = np.array([1, 2, 4, 8, 16], dtype=np.uint8)
    check = np.frombuffer(CHECKSUM_ALPHABET, dtype=np.uint8)
    for chunk in range(3):
        bits = (upper[:, chunk * 5 : chunk * 5 + 5] * weights).sum(axis=1)
        chars[:, 15 + chunk] = check[bits]
    return chars


def _labels(rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """Owner and account label tables: small, so rows refer to them by integer code."""
    owners: list[str] = []
    seen: set[str] = set()
    while len(owners) < N_OWNERS:
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        if name not in seen:
            seen.add(name)
            owners.append(name)
    words = rng.integers(0, len(ACCOUNT_WORDS), N_ACCOUNTS)
    nouns = rng.integers(0, len(ACCOUNT_NOUNS), N_ACCOUNTS)
    sufx = rng.integers(0, len(ACCOUNT_SUFFIXES), N_ACCOUNTS)
    accounts = [
        f"{ACCOUNT_WORDS[w]} {ACCOUNT_NOUNS[n]} {i % 1000:03d} {ACCOUNT_SUFFIXES[s]}"
        for i, (w, n, s) in enumerate(zip(words, nouns, sufx, strict=True))
    ]
    return owners, accounts


def _fixed_width_strings(chars: np.ndarray) -> pa.Array:
    """A (rows, width) ASCII byte matrix as an Arrow string column, built from offsets alone."""
    rows, width = chars.shape
    offsets = np.arange(0, (rows + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(
        rows, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(chars))
    )


def _dict_column(codes: np.ndarray, labels: Sequence[str]) -> pa.DictionaryArray:
    """Codes + label table as an Arrow dictionary column: DuckDB reads it without copies."""
    return pa.DictionaryArray.from_arrays(
        pa.array(codes.astype(np.int32)), pa.array(list(labels), pa.string())
    )


def build_table(rows: int, seed: int) -> pa.Table:
    """All columns for `rows` opportunities as raw values (text formatting happens in SQL)."""
    rng = np.random.default_rng(seed)
    owners, accounts = _labels(rng)

    stage_p = np.array([s[3] for s in STAGES])
    stage = rng.choice(len(STAGES), size=rows, p=stage_p / stage_p.sum())
    prob_by_stage = np.array([s[1] for s in STAGES], dtype=np.int32)
    forecast_names = sorted({s[2] for s in STAGES})
    forecast_by_stage = np.array([forecast_names.index(s[2]) for s in STAGES])

    # Log-normal deal sizes rounded to $50: median around $12k, a long tail of big deals.
    amount = np.round(rng.lognormal(mean=9.4, sigma=1.1, size=rows) / 50.0) * 50.0
    amount = np.clip(amount, 500.0, 9_999_950.0)

    created = rng.integers(0, CREATED_DAYS, rows)
    cycle = np.minimum(rng.gamma(2.0, 45.0, rows).astype(np.int64) + 7, 540)
    base = np.datetime64(CREATED_FROM.isoformat(), "D")
    created_d = base + created.astype("timedelta64[D]")
    close_d = created_d + cycle.astype("timedelta64[D]")

    lead = rng.integers(0, len(LEAD_SOURCES), rows)
    lead_mask = rng.random(rows) < 0.06  # reports leave Lead Source blank fairly often
    deal_type = rng.choice(len(DEAL_TYPES), size=rows, p=[0.55, 0.25, 0.12, 0.08])
    account = rng.integers(0, N_ACCOUNTS, rows)
    # A few owners carry most deals, as in a real team.
    owner_w = rng.pareto(1.5, N_OWNERS) + 1.0
    owner = rng.choice(N_OWNERS, size=rows, p=owner_w / owner_w.sum())
    deal_word = rng.integers(0, len(DEAL_WORDS), rows)
    deal_no = rng.integers(1, 10_000, rows)

    ids = salesforce_ids(rows, rng)
    return pa.table(
        {
            "id": _fixed_width_strings(ids),
            "deal_word": _dict_column(deal_word, DEAL_WORDS),
            "deal_no": pa.array(deal_no.astype(np.int32)),
            "account": _dict_column(account, accounts),
            "owner": _dict_column(owner, owners),
            "stage": _dict_column(stage, [s[0] for s in STAGES]),
            "amount": pa.array(amount),
            "probability": pa.array(prob_by_stage[stage]),
            "forecast": _dict_column(forecast_by_stage[stage], forecast_names),
            "created": pa.array(created_d),
            "close": pa.array(close_d),
            "lead": pa.DictionaryArray.from_arrays(
                pa.array(lead.astype(np.int32), mask=lead_mask),
                pa.array(list(LEAD_SOURCES), pa.string()),
            ),
            "deal_type": _dict_column(deal_type, DEAL_TYPES),
        }
    )


def write_csv(table: pa.Table, path: Path, rows: int) -> None:
    """Format and write the rows with DuckDB, then append the report footer.

    One thread keeps the row order (and so the bytes) identical on every machine.
    DuckDB quotes a field only when it must, which is what a report export does: amounts
    (they contain commas) are quoted, the rest is bare.
    """
    con = duckdb.connect()
    try:
        con.execute("SET threads = 1")
        con.register("gen", table)
        cols = ", ".join(
            f"{expr} AS {sql_ident(name)}"
            for expr, name in zip(
                (
                    "id",
                    "account || ' - ' || deal_word || ' ' || deal_no",
                    "account",
                    "owner",
                    "stage",
                    "format('{:,.2f}', amount)",
                    "probability || '%'",
                    "forecast",
                    "strftime(created, '%m/%d/%Y')",
                    "strftime(close, '%m/%d/%Y')",
                    "lead",
                    "deal_type",
                ),
                HEADER,
                strict=True,
            )
        )
        con.execute(
            f"COPY (SELECT {cols} FROM gen) TO {sql_lit(str(path))} "
            "(FORMAT csv, HEADER true, DELIMITER ',', QUOTE '\"')"
        )
    finally:
        con.close()
    with path.open("a", encoding="utf-8", newline="") as fh:
        fh.write(FOOTER_TEMPLATE.format(rows=rows))


def generate(
    rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED, *, out_dir: Path = OUT_DIR
) -> Path:
    """Return the cached export for (rows, seed), generating it first if it is missing.

    Written to a temporary name and renamed, so an interrupted run never leaves a
    truncated file that a later run would mistake for a finished one.
    """
    if rows < 1:
        raise ValueError("rows must be at least 1")
    path = cached_path(rows, seed, out_dir)
    return cached(path, lambda tmp: write_csv(build_table(rows, seed), tmp, rows))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.gen_opportunities",
        description="Generate (or reuse) a Salesforce report-style opportunity CSV.",
    )
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    print(generate(args.rows, args.seed, out_dir=args.out_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

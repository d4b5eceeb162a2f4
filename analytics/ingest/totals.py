"""A totals or subtotal row of an export: left out with a note, never loaded, never refused.

Why: people add a `Total` line under a deals list in a spreadsheet before they upload it,
and report exports end with one (Salesforce summary reports carry `Total` rows in the
first column; /work/shared/export-headers.md 1a). Such a row has no stage, so it used to
refuse the whole file ("row 12, column 'Deal Stage': is empty"), and loaded as a deal it
would add the sum of every amount to the figures once more.

The reader (analytics.ingest.read) already drops the vendor footer lines that stand alone
in the first column ('Grand Totals (12 records)', the copyright notice). A totals row is
different: it carries numbers in other columns, so telling it from a deal needs to know
which columns are the deal's identity, which only detection knows. Hence this step,
between the read and the staging: a row is a totals row only when

- its first non-empty cell is a totals label (TOTAL_LABELS, a count in brackets and a
  colon allowed: 'Grand Totals (12 records)', 'TOTAL:', 'Subtotal');
- it carries no identity: every column mapped to an id, a date, the owner, the stage or
  the status is empty (the label's own cell aside). A row named "Total" with an owner, a
  stage or dates is a deal someone called Total, and loads as one.

Wherever it stands: a Salesforce summary report has a `Total` row under each group, not
only at the end (export-headers.md 1a), and a spreadsheet a subtotal under each rep. Such
a row was refused as a deal without a stage, the whole file with it ("row 4, column
'Stage': is empty"), though nothing without an identity can be a record: leaving it out
with its row named loses nothing and counts nothing twice.
"""

from __future__ import annotations

import re
import unicodedata

import duckdb

from analytics.ingest.detect import Detection
from analytics.ingest.read import SourceFile, drop_lines


def _fold(text: str) -> str:
    """Case, accents and runs of spaces folded ('Total Général' -> 'total general')."""
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.split())


# Words a totals row is labelled with, in the languages the stage lexicon covers
# (analytics.ingest.stage_lexicon: English, German, French, Spanish, Italian, Dutch,
# Portuguese, Russian, Chinese, Korean). English 'Total'/'Grand Totals' are Salesforce's
# (export-headers.md 1a); the others are the common words for a total and a spreadsheet's
# grand total in each language, not copied from a CRM export. Compared case- and
# accent-folded (see _fold).
TOTAL_LABELS: tuple[str, ...] = (
    "total", "totals", "grand total", "grand totals", "sum",
    "summe", "gesamt", "gesamtsumme", "insgesamt", "gesamtergebnis",
    "totaux", "total général", "somme",
    "totales", "suma",
    "totale", "totali", "totale complessivo", "somma",
    "totaal", "eindtotaal", "som",
    "totais", "total geral", "soma",
    "итого", "итог", "всего", "общий итог",
    "合计", "合計", "总计", "總計", "总和",
    "합계", "총계", "총합계",
    # subtotals, under each group of a report or a sheet
    "subtotal", "subtotals", "sub-total", "sub total",
    "zwischensumme", "teilsumme", "sous-total", "subtotale", "subtotaal",
    "промежуточный итог", "小计", "小計", "소계",
)  # fmt: skip
_LABEL = re.compile(
    r"^(?:" + "|".join(re.escape(_fold(w)) for w in TOTAL_LABELS) + r")\s*(?:\([^()]*\))?\s*:?$"
)
# Field types and names that make a row a record of its own (a deal, a rep, an activity)
IDENTITY_TYPES = ("id", "date", "timestamp", "outcome")
IDENTITY_FIELDS = ("owner", "stage", "status")
# rows without an identity looked at for a totals label: a report's group totals are a
# few hundred at most; beyond that the rows are left to the usual checks
MAX_TOTALS_ROWS = 100_000
# the longest label with its count: 'Grand Totals (1234567 records):' and the like
MAX_LABEL_CHARS = 48


def is_totals_label(text: str) -> bool:
    """Whether a cell reads as a totals row's label: 'Total', 'Grand Totals (12 records)'."""
    return bool(_LABEL.match(_fold(text)))


def _identity_columns(detection: Detection, headers: list[str]) -> list[int]:
    """Positions of the columns that say a row is a record of its own."""
    types = {f.name: f.type for f in detection.kind.fields}
    chosen = [
        f for f in detection.columns if types.get(f) in IDENTITY_TYPES or f in IDENTITY_FIELDS
    ]
    named = [detection.columns[f] for f in chosen]
    named += [h for f in chosen for h in detection.fallbacks.get(f, [])]
    return sorted({headers.index(h) for h in named if h in headers})


def drop_totals_rows(
    con: duckdb.DuckDBPyConnection, source: SourceFile, detection: Detection
) -> list[str]:
    """Delete the totals and subtotal rows of `raw` and return one note per row, in row
    order: "row 12: a totals row ('Total'), left out".

    Nothing is deleted when no identity column is mapped: without one a totals row cannot
    be told from a record named Total. Only candidates are read back from the database:
    with two identity columns or more, the rows with at most one of them filled (the
    label's), tested on the first two before the rest (a trim of every identity cell took
    0.4 s at a million rows); with one, the rows whose cell is blank or short enough to be
    a label. The last MAX_TOTALS_ROWS of them, so a totals row at the end is always seen.
    """
    identity = _identity_columns(detection, source.headers)
    if not identity:
        return []
    names = ", ".join(f"c{i}" for i in range(len(source.headers)))
    # '-' is a blank cell in Salesforce reports, as everywhere else (values.blank_to_null)
    blank = "coalesce(trim(c{0}), '') IN ('', '-')".format
    # a blank cell starts with neither a digit nor a letter with case: tested first, so
    # the trim runs on few cells (ids and names fail the cheap test)
    maybe = (
        "(c{0} IS NULL OR NOT (left(c{0}, 1) BETWEEN '0' AND '9' "
        "OR lower(left(c{0}, 1)) <> upper(left(c{0}, 1))))"
    ).format
    if len(identity) >= 2:
        filled = " + ".join(f"CASE WHEN {blank(i)} THEN 0 ELSE 1 END" for i in identity)
        first, second = identity[:2]
        where = (
            f"(({maybe(first)} AND {blank(first)}) OR ({maybe(second)} AND {blank(second)}))"
            f" AND {filled} <= 1"
        )
    else:
        where = f"({blank(identity[0])} OR length(trim(c{identity[0]})) <= {MAX_LABEL_CHARS})"
    rows = con.execute(
        f"SELECT __line, {names} FROM raw WHERE {where} "
        f"ORDER BY __line DESC LIMIT {MAX_TOTALS_ROWS}"
    ).fetchall()
    found: list[tuple[int, str]] = []
    for line, *cells in reversed(rows):
        texts = [t if (t := (c or "").strip()) != "-" else "" for c in cells]
        at = next((i for i, t in enumerate(texts) if t), None)
        if at is None or not is_totals_label(texts[at]):
            continue
        if any(texts[i] for i in identity if i != at):
            continue  # a record named like a total: it loads as one
        found.append((int(line), texts[at]))
    drop_lines(con, source, [line for line, _ in found])
    return [f"row {line}: a totals row ({label!r}), left out" for line, label in found]

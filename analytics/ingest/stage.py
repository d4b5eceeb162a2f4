"""Raw text table -> `staged`: every mapped field parsed, plus the list of row problems.

All of it is SQL over whole columns. `staged` keeps each field's raw text (r_<field>)
beside its parsed value so problems can quote what the file said.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import duckdb

from analytics.db import quote_ident
from analytics.ingest import values as V
from analytics.ingest.detect import Detection, header_unit
from analytics.ingest.kinds import Kind
from analytics.ingest.learn import HISTORY_TABLE, MAX_STAGE_NAME, LearnedStage
from analytics.ingest.learn import learn as learn_values
from analytics.ingest.problems import ImportRefused, Problem, refuse
from analytics.settings import Stage, norm_key

MAX_REPORTED = 50


@dataclass
class Staged:
    kind: Kind
    fields: list[str]  # mapped canonical fields present in `staged`
    problem_count: int
    problems: list[Problem]  # the first MAX_REPORTED, in row order
    problem_totals: dict[str, int]
    date_orders: dict[str, str | None]
    # HubSpot `Date entered "<stage> (<pipeline>)"` columns: staged field -> canonical stage
    entered: dict[str, str] = field(default_factory=dict)
    deleted: int = 0  # rows the CRM marks deleted (status "deleted"): skipped, not loaded
    notes: list[str] = field(default_factory=list)  # said with the result, not problems
    warnings: list[Problem] = field(default_factory=list)  # the first MAX_REPORTED
    new_stages: list[LearnedStage] = field(default_factory=list)  # learned, not yet saved
    # a won-deal list (no stage column): every row is a win, in this canonical stage
    won_stage: str | None = None
    # the reporting currency this import set (engine._learn_reporting_currency), if any
    reporting_currency: str | None = None


def _learn(
    con: duckdb.DuckDBPyConnection,
    stages: tuple[Stage, ...],
    unknown: list[str],
    parsers: dict[str, str],
    choices: dict[str, str] | None,
) -> list[LearnedStage]:
    """Classify the unknown stage values from the rows' own outcome and probability (and,
    for their funnel order, the created dates of their open rows)."""
    status = parsers.get("status")
    won = [parsers["is_won"]] if "is_won" in parsers else []
    closed = [parsers["is_closed"]] if "is_closed" in parsers else []
    if status:
        won.append(f"({status}) = 'won'")
        closed.append(f"({status}) IN ('won', 'lost')")
    history = HISTORY_TABLE
    if "entered_at" in parsers and "opportunity_id" in parsers:  # a stage-history upload
        history = (
            f"(SELECT r_stage AS source_stage, {parsers['opportunity_id']} AS opportunity_id, "
            f"{parsers['entered_at']} AS entered_at FROM staged_text)"
        )
    return learn_values(
        con, stages, unknown,
        won_sql=f"coalesce({', '.join(won)})" if won else None,
        closed_sql=f"coalesce({', '.join(closed)})" if closed else None,
        probability_sql=parsers.get("probability"),
        choices=choices,
        history_source=history,
        created_sql=parsers.get("created_date"),
        # a status column is an outcome beside the stage (Pipedrive): its won and lost
        # rows say nothing of whether the stage itself is won or lost
        status_decides=bool(status),
    )  # fmt: skip


def _stage_map(
    con: duckdb.DuckDBPyConnection,
    stages: tuple[Stage, ...],
    raw_labels: list[str | None],
    learned: list[LearnedStage] = (),
) -> None:
    """Distinct stage labels in the file -> canonical stage (matched in Python, once per label)."""
    rows = []
    final = {s.name: s for s in stages}
    for ls in learned:
        target = final.get(ls.maps_to) if ls.maps_to else None
        if target is not None:
            rows.append((ls.value, target.name, target.probability, target.is_closed,
                         target.is_won))  # fmt: skip
        else:
            rows.append((ls.value, ls.value, ls.probability, ls.is_closed, ls.is_won))
    for label in raw_labels:
        if label is None:
            continue
        stage = _lookup(stages, label)
        if stage is not None:
            rows.append((label, stage.name, stage.probability, stage.is_closed, stage.is_won))
    con.execute(
        "CREATE OR REPLACE TEMP TABLE stage_map (raw VARCHAR, stage VARCHAR, "
        "stage_probability DOUBLE, stage_closed BOOLEAN, stage_won BOOLEAN)"
    )
    if rows:
        con.executemany("INSERT INTO stage_map VALUES (?, ?, ?, ?, ?)", rows)


_ENTERED = re.compile(r"""^date entered\s*["'“‘](.+?)["'”’]\s*$""", re.IGNORECASE)


def _lookup(stages: tuple[Stage, ...], label: str) -> Stage | None:
    table = {}
    for s in stages:
        for name in (s.name, *s.aliases):
            table.setdefault(norm_key(name), s)
    stage = table.get(norm_key(label))
    if stage is None and label.rstrip().endswith(")") and "(" in label:
        stage = table.get(norm_key(label[: label.rindex("(")]))  # "Won (Sales Pipeline)"
    return stage


def entered_columns(headers: list[str], stages: tuple[Stage, ...]) -> dict[str, str]:
    """HubSpot deal exports carry stage history as one date column per stage entered."""
    out = {}
    for header in headers:
        match = _ENTERED.match(header)
        stage = _lookup(stages, match.group(1)) if match else None
        if stage is not None:
            out[header] = stage.name
    return out


def stage_rows(
    con: duckdb.DuckDBPyConnection,
    file_name: str,
    detection: Detection,
    headers: list[str],
    stages: tuple[Stage, ...],
    date_order: str | None = None,
    numeric_headers: set[str] | frozenset[str] = frozenset(),
    *,
    raw_headers: list[str] | None = None,
    short_rows: bool = False,
    learn_stages: bool = True,
    stage_choices: dict[str, str] | None = None,
) -> Staged:
    """Parse the mapped fields of `raw` into `staged` and list every row problem.

    `raw_headers` (the header cells as written) let two columns of the same name be
    compared rather than the second ignored; `short_rows` says a NULL cell in `raw` means
    the record ended before that column (the CSV reader pads only then). Unknown stage
    values are learned (analytics.ingest.learn) unless `learn_stages` is False, when they
    are row problems; `stage_choices` maps such a value onto an existing stage by name.
    """
    kind = detection.kind
    answers: dict[tuple[str, str], tuple] = {}
    header_of = dict(detection.columns)
    col_of = {f: f"c{headers.index(h)}" for f, h in header_of.items()}
    fields = [f.name for f in kind.fields if f.name in col_of]
    types = {f.name: f.type for f in kind.fields}
    required = {f.name for f in kind.fields if f.required}
    entered: dict[str, str] = {}
    if kind.name == "opportunities":
        for i, (header, stage_name) in enumerate(entered_columns(headers, stages).items()):
            name = f"entered__{i}"
            header_of[name], col_of[name], types[name] = (
                header,
                f"c{headers.index(header)}",
                "timestamp",
            )
            fields.append(name)
            entered[name] = stage_name

    # 1. trimmed text per field (blank and '-' become NULL)
    def text_of(f: str) -> str:
        cols = [col_of[f]] + [f"c{headers.index(h)}" for h in detection.fallbacks.get(f, [])]
        blank = V.blank_to_null
        if types[f] in ("date", "timestamp"):
            blank = lambda c: V.no_date_to_null(V.blank_to_null(c))  # noqa: E731
        if len(cols) == 1:
            return blank(cols[0])
        return "coalesce(" + ", ".join(blank(c) for c in cols) + ")"

    select = ", ".join(f"{text_of(f)} AS {quote_ident('r_' + f)}" for f in fields)
    # a view: it is read a few times for profiles and once, whole, by the parse below
    con.execute(f"CREATE OR REPLACE TEMP VIEW staged_text AS SELECT __line, {select} FROM raw")

    # 2. column-wide conventions, decided from all values of each column, in ONE scan
    questions: list[tuple[str, str, list[str]]] = []  # (field, question, aggregate exprs)
    # Amounts written as text: each distinct value once, with how many rows hold it. The
    # decimal-mark votes, the parse, the currency and the other-style check are asked of
    # these values and joined back (a few thousand values instead of a million cells:
    # their regular expressions were a third of a clean import, issue 15.1).
    distinct: dict[str, str] = {}  # field -> temp table (v, n)
    for f in fields:
        if types[f] in ("amount", "number") and (
            header_of[f] not in numeric_headers or detection.fallbacks.get(f)
        ):
            distinct[f] = f"values__{len(distinct)}"
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {distinct[f]} AS SELECT {quote_ident('r_' + f)} "
                "AS v, count(*) AS n FROM staged_text GROUP BY ALL"
            )
            row = con.execute(
                f"SELECT {', '.join(V.decimal_mark_exprs('v', types[f] == 'number', 'n'))} "
                f"FROM {distinct[f]}"
            ).fetchone()
            answers[(f, "mark")] = tuple(row)
    for f in fields:
        r = quote_ident("r_" + f)
        if types[f] in ("date", "timestamp"):
            continue  # asked below, over distinct values only
        elif types[f] == "percent":
            questions.append((f, "percent", V.percent_exprs(r)))
    if "stage" in fields:
        questions.append(("stage", "labels", ["list(DISTINCT r_stage)"]))
    if questions:
        exprs = [e for _, _, es in questions for e in es]
        row = con.execute(f"SELECT {', '.join(exprs)} FROM staged_text").fetchone()
        pos = 0
        for f, question, es in questions:
            answers[(f, question)] = tuple(row[pos : pos + len(es)])
            pos += len(es)
    parsers: dict[str, str] = {}
    marks: dict[str, str] = {}  # amount/number fields whose decimal mark was read from text
    date_orders: dict[str, str | None] = {}
    # A date column holds far fewer distinct values than rows: ask its questions of those.
    profiles = {}
    for f in fields:
        if types[f] in ("date", "timestamp"):
            v = quote_ident("v")
            row = con.execute(
                f"SELECT {', '.join(V.date_profile_exprs(v))} "
                f"FROM (SELECT DISTINCT {quote_ident('r_' + f)} AS v FROM staged_text)"
            ).fetchone()
            profiles[f] = V.date_profile_answer(*row)
    decided = {p.order for p in profiles.values() if p.order}
    file_order = date_order or (decided.pop() if len(decided) == 1 else None)
    for f, p in profiles.items():
        if p.conflict:
            raise _mixed_date_orders(con, file_name, f, header_of[f])
        order = date_order or p.order or file_order
        if p.has_xx and order is None:
            raise refuse(
                file_name,
                "dates like 03/05/2024 could be day-first or month-first and no value decides it;"
                " choose the date order (--date-order dmy|mdy, or on the Data page)",
                column=header_of[f],
            )
        date_orders[f] = order if p.has_xx else None
    for f in fields:
        r = quote_ident("r_" + f)
        ftype = types[f]
        if ftype in ("amount", "number"):
            # spreadsheet number cells carry a decimal point; only text needs the guess
            votes = answers.get((f, "mark"))
            mark = V.decimal_mark_answer(*votes) if votes else "."
            if votes:
                marks[f] = mark
            parse = V.amount_sql if ftype == "amount" else V.number_sql
            if f in distinct:
                # each distinct text parsed once, joined back in the parse below
                table = distinct[f]
                currency = (
                    f", {V.currency_from_amount_sql('v')} AS currency" if ftype == "amount" else ""
                )
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT v, {parse('v', mark)} AS "
                    f"parsed, {V.mark_contradicts_sql('v', mark, ftype == 'number')} AS "
                    f"other_style{currency} FROM {table}"
                )
                parsers[f] = f"{table}.parsed"
            else:
                parsers[f] = parse(r, mark)
        elif ftype == "percent":
            parsers[f] = V.percent_sql(r, V.percent_answer(*answers[(f, "percent")]))
        elif ftype == "date":
            parsers[f] = V.date_sql(r, date_orders[f])
        elif ftype == "timestamp":
            parsers[f] = V.timestamp_sql(r, date_orders[f])
        elif ftype == "bool":
            parsers[f] = V.bool_sql(r)
        elif ftype == "outcome":
            parsers[f] = V.outcome_sql(r)
        elif f == "currency" and kind.name == "opportunities":
            parsers[f] = V.currency_sql(r)
        else:
            parsers[f] = r
    extra = []
    if "amount" in fields and types["amount"] == "amount":
        from_values = (
            f"{distinct['amount']}.currency"
            if "amount" in distinct
            else V.currency_from_amount_sql(quote_ident("r_amount"))
        )
        code = V.unit_currency(header_unit(header_of["amount"]))
        if code is not None:  # "Value (EUR)": the header names the amounts' currency
            from_values = f"coalesce({from_values}, {V.sql_str(code)})"
        extra.append(f"{from_values} AS amount_currency")
    new_stages: list[LearnedStage] = []
    if "stage" in fields:
        labels = [label for label in answers[("stage", "labels")][0] or [] if label is not None]
        unknown = sorted(
            label
            for label in labels
            if _lookup(stages, label) is None and len(label) <= MAX_STAGE_NAME
        )
        if unknown and learn_stages:
            new_stages = _learn(con, stages, unknown, parsers, stage_choices)
        _stage_map(con, stages, labels, new_stages)

    # 3. parse everything in one pass
    parsed = ", ".join(f"{parsers[f]} AS {quote_ident(f)}" for f in fields)
    # text fields are their own raw value: one column, not two (a million-row copy saved)
    plain = {f for f in fields if types[f] in ("text", "id")}
    raws = "".join(f", {quote_ident('r_' + f)}" for f in fields if f not in plain)
    join = ""
    if "stage" in fields:
        extra += [
            "sm.stage AS canonical_stage",
            "sm.stage_probability",
            "sm.stage_closed",
            "sm.stage_won",
        ]
        join = "LEFT JOIN stage_map sm ON sm.raw = t.r_stage"
    for f, table in distinct.items():
        extra.append(f"{table}.other_style AS {quote_ident('other_style__' + f)}")
        join += f" LEFT JOIN {table} ON {table}.v = t.{quote_ident('r_' + f)}"
    extra_sql = (", " + ", ".join(extra)) if extra else ""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE staged AS SELECT t.__line{raws}, {parsed}{extra_sql} "
        f"FROM staged_text t {join}"
    )
    deleted = 0
    if "status" in fields and types["status"] == "outcome":
        # A deal deleted in the CRM is not a lost deal: it must not count anywhere.
        deleted = con.execute("SELECT count(*) FROM staged WHERE status = 'deleted'").fetchone()[0]
        if deleted:
            con.execute("DELETE FROM staged WHERE status = 'deleted'")

    # 4. problems, one SELECT per rule. Headers and stage names are users' text: bound
    # parameters (one list per check, in placeholder order), never formatted in.
    checks: list[str] = []
    params: list[str] = []
    header = "CAST(? AS VARCHAR)"
    for f in fields:
        ftype = types[f]
        p = quote_ident(f)
        r = p if f in plain else quote_ident("r_" + f)
        # the value's own separators say the other decimal mark (computed per distinct value)
        other_style = quote_ident("other_style__" + f) if f in marks else None
        what = {
            "amount": "is not an amount",
            "number": "is not a number",
            "percent": "is not a percentage between 0 and 100",
            "date": "is not a date",
            "timestamp": "is not a date/time",
            "bool": "is not yes/no (TRUE/FALSE)",
            "outcome": "is not a status (open / won / lost)",
        }.get(ftype)
        if what:
            # a value written in the other decimal style is reported as such, below
            unlike = f" AND NOT {other_style}" if other_style else ""
            checks.append(
                f"SELECT __line, {header}, {r}, {V.sql_str(what)} FROM staged "
                f"WHERE {r} IS NOT NULL AND {p} IS NULL{unlike}"
            )
            params.append(header_of[f])
        if f in marks:
            other = "," if marks[f] == "." else "."
            checks.append(
                f"SELECT __line, {header}, {r}, CAST(? AS VARCHAR) FROM staged "
                f"WHERE {r} IS NOT NULL AND {other_style}"
            )
            params += [
                header_of[f],
                f"writes its decimals with {other!r} (like {V.MARK_EXAMPLE[other]}) but the "
                f"column writes them with {marks[f]!r} (like {V.MARK_EXAMPLE[marks[f]]})",
            ]
        if ftype in ("date", "timestamp"):
            checks.append(
                f"SELECT __line, {header}, {r}, 'is a date outside 1900-2100' FROM staged "
                f"WHERE {p} IS NOT NULL AND NOT {V.plausible_sql(p)}"
            )
            params.append(header_of[f])
        if f in required:
            checks.append(
                f"SELECT __line, {header}, NULL, {V.sql_str(f'is empty ({f} is required)')} "
                f"FROM staged WHERE {r} IS NULL"
            )
            params.append(header_of[f])
        checks.append(
            f"SELECT __line, {header}, left({r}, 60), "
            f"'is ' || length({r}) || ' characters long (the limit is {V.MAX_TEXT_CHARS:,})' "
            f"FROM staged WHERE length({r}) > {V.MAX_TEXT_CHARS}"
        )
        params.append(header_of[f])
    if "stage" in fields:
        known = ", ".join(s.name for s in stages)
        checks.append(
            f"SELECT __line, {header}, stage, CAST(? AS VARCHAR) "
            "FROM staged WHERE stage IS NOT NULL AND canonical_stage IS NULL"
        )
        params += [
            detection.columns["stage"],
            f"is not a known stage (known: {known}; add it on Settings, or import without "
            "--no-new-stages to learn it)",
        ]
    notes: list[str] = []
    read_checks, read_params, notes = _read_checks(
        con, detection, headers, raw_headers, short_rows, header
    )
    checks += read_checks
    params += read_params
    key_sql = key_expression(kind, fields)
    if kind.key_policy == "entity" and key_sql:
        key_field = kind.key[0] if kind.key[0] in fields else "opportunity_name"
        key_header = detection.columns.get(key_field)
        label = key_field if len(kind.key) == 1 else "/".join(kind.key)
        checks.append(
            f"""
            SELECT __line, {header}, CAST(k AS VARCHAR),
                   'repeats the {label} of row ' || first_line
            FROM (
                SELECT __line, {key_sql} AS k,
                       min(__line) OVER (PARTITION BY {key_sql}) AS first_line
                FROM staged
                WHERE {key_sql} IS NOT NULL AND {key_sql} IN (
                    -- the window only over repeated keys: a hash count of all keys is far
                    -- cheaper than sorting every row into its partition
                    SELECT {key_sql} FROM staged GROUP BY ALL HAVING count(*) > 1
                )
            )
            WHERE __line > first_line
            """
        )
        params.append(key_header or label)
    warn_checks: list[str] = []
    warn_params: list[str] = []
    for f, condition, message, severity in plausibility_rules(kind.name, fields):
        r = quote_ident(f) if f in plain else quote_ident("r_" + f)
        sql = (
            f"SELECT __line, {header}, CAST({r} AS VARCHAR), CAST(? AS VARCHAR) FROM staged "
            f"WHERE {condition}"
        )
        if severity == "refuse":
            checks.append(sql)
            params += [header_of[f], message]
        else:
            warn_checks.append(sql)
            warn_params += [header_of[f], message]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE warnings AS "
        "SELECT * FROM (" + " UNION ALL ".join(warn_checks) + ") AS w(line, col, value, warning)"
        if warn_checks
        else "CREATE OR REPLACE TEMP TABLE warnings "
        "(line BIGINT, col VARCHAR, value VARCHAR, warning VARCHAR)",
        warn_params,
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE problems AS "
        "SELECT * FROM (" + " UNION ALL ".join(checks) + ") AS p(line, col, value, problem)"
        if checks
        else "CREATE OR REPLACE TEMP TABLE problems "
        "(line BIGINT, col VARCHAR, value VARCHAR, problem VARCHAR)",
        params if checks else [],
    )
    count = con.execute("SELECT count(*) FROM problems").fetchone()[0]
    first = con.execute(
        "SELECT line, col, value, problem FROM problems ORDER BY line, col LIMIT ?", [MAX_REPORTED]
    ).fetchall()
    totals = dict(
        con.execute(
            "SELECT problem, count(*) FROM problems GROUP BY problem ORDER BY count(*) DESC"
        ).fetchall()
    )
    warned = con.execute(
        "SELECT line, col, value, warning FROM warnings "
        "WHERE line NOT IN (SELECT line FROM problems) ORDER BY line, col LIMIT ?",
        [MAX_REPORTED],
    ).fetchall()
    return Staged(
        kind=kind,
        fields=fields,
        problem_count=count,
        problems=[
            Problem(file_name, line, col, value, problem) for line, col, value, problem in first
        ],
        problem_totals=totals,
        date_orders=date_orders,
        entered=entered,
        deleted=deleted,
        new_stages=new_stages,
        notes=notes,
        warnings=[Problem(file_name, line, col, value, what) for line, col, value, what in warned],
    )


FORMULA_PROBLEM = (
    "is a formula with no saved value (the workbook was not recalculated and saved); "
    "open it in Excel or LibreOffice, save it, and upload it again"
)
SHORT_ROW_PROBLEM = "is missing: the row ends before this column"


def _read_checks(
    con: duckdb.DuckDBPyConnection,
    detection: Detection,
    headers: list[str],
    raw_headers: list[str] | None,
    short_rows: bool,
    header: str,
) -> tuple[list[str], list[str], list[str]]:
    """Row problems the reader's view of the file reveals, for the mapped columns only:
    formula cells without a saved value, rows that end early, and a second column of
    the same name whose values differ from the first. Returns (checks, params, notes).

    Each is a row problem (so `keep_valid` rejects just those rows and `imports` counts
    them), never a silent blank or a silently ignored column.
    """
    checks: list[str] = []
    params: list[str] = []
    notes: list[str] = []
    mapped = {h: f for f, h in detection.columns.items()}
    flags = con.execute("SELECT count(*) FROM read_flags").fetchone()[0] if _has(con) else 0
    for position, name in enumerate(headers):
        if name not in mapped:
            continue
        col = f"c{position}"
        if flags:
            checks.append(
                f"SELECT line, {header}, NULL, {V.sql_str(FORMULA_PROBLEM)} FROM read_flags "
                f"WHERE col = {position}"
            )
            params.append(name)
        if short_rows:
            checks.append(
                f"SELECT __line, {header}, NULL, {V.sql_str(SHORT_ROW_PROBLEM)} FROM raw "
                f"WHERE {col} IS NULL"
            )
            params.append(name)
        if not raw_headers or position >= len(raw_headers):
            continue
        written = raw_headers[position].strip().lower()
        for other in range(position + 1, len(raw_headers)):
            if raw_headers[other].strip().lower() != written or other >= len(headers):
                continue
            a, b = V.blank_to_null(col), V.blank_to_null(f"c{other}")
            differ_sql = f"{a} IS DISTINCT FROM {b} AND NOT {_same_salesforce_id(a, b)}"
            differ = con.execute(f"SELECT count(*) FROM raw WHERE {differ_sql}").fetchone()[0]
            label = raw_headers[position]
            if not differ:
                notes.append(
                    f"column {other + 1} is a second {label!r} with the same values as "
                    f"column {position + 1}; it was ignored"
                )
                continue
            checks.append(
                f"SELECT __line, {header}, "
                f"coalesce({a}, '(empty)') || ' / ' || coalesce({b}, '(empty)'), "
                f"CAST(? AS VARCHAR) FROM raw WHERE {differ_sql}"
            )
            params += [
                name,
                f"two columns are named {label!r} (columns {position + 1} and "
                f"{other + 1}) and they differ in this row; keep one of them",
            ]
    return checks, params, notes


def _same_salesforce_id(a: str, b: str) -> str:
    """SQL: the two cells are one Salesforce record id, 15 and 18 characters long.

    Salesforce reports carry `Opportunity ID` twice, the case-sensitive 15-character id and
    the 18-character one (the same id plus a 3-character checksum): the same values.
    """
    return (
        f"coalesce((length({a}) = 15 AND length({b}) = 18 AND left({b}, 15) = {a}) "
        f"OR (length({a}) = 18 AND length({b}) = 15 AND left({a}, 15) = {b}), false)"
    )


def _has(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the reader left its `read_flags` table (load_raw always does)."""
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = 'read_flags'"
        ).fetchone()[0]
    )


def _mixed_date_orders(
    con: duckdb.DuckDBPyConnection, file_name: str, f: str, header: str
) -> ImportRefused:
    """Both readings are proven in one column: name example rows of each, so ops can see
    which rows were typed the other way round."""
    r = quote_ident("r_" + f)
    style = V.xx_style_sql(r)
    rows = con.execute(
        f"SELECT s, list(__line ORDER BY __line)[1:3], first({r} ORDER BY __line) "
        f"FROM (SELECT __line, {r}, {style} AS s FROM staged_text) "
        "WHERE s IS NOT NULL GROUP BY s ORDER BY s"
    ).fetchall()
    label = {"dmy": "day-first", "mdy": "month-first"}
    parts = [
        f"{label[s]} in row{'s' if len(lines) > 1 else ''} "
        f"{', '.join(str(n) for n in lines)} (like {example!r})"
        for s, lines, example in rows
    ]
    return refuse(
        file_name,
        "dates are written both day-first and month-first in this column: "
        + " and ".join(parts)
        + "; write them one way",
        column=header,
    )


WEEK_MINUTES = 7 * 24 * 60


def plausibility_rules(kind: str, fields: list[str]) -> list[tuple[str, str, str, str]]:
    """Values that parse but cannot be true (refused) or are unlikely (a warning).

    Each rule is (field named in the message, SQL condition over `staged`, the problem,
    "refuse" | "warn"). An impossible value would corrupt a figure silently (a negative
    quota inflates attainment, a rate of 0 divides by zero), so its row is refused; an
    unlikely one may be true, so it loads and the import lists it.
    """
    has = set(fields).__contains__
    rules: list[tuple[str, str, str, str]] = []
    if kind == "fx_rates" and has("rate"):
        rules.append(("rate", "rate <= 0", "is not a positive exchange rate", "refuse"))
    if kind == "quotas":
        if has("amount"):
            rules.append(("amount", "amount < 0", "is a negative quota", "refuse"))
        if has("period_end") and has("period_start"):
            rules.append(
                (
                    "period_end",
                    "period_end < period_start",
                    "is before the period's start (the period ends before it starts)",
                    "refuse",
                )
            )
    if kind == "activities" and has("duration_minutes"):
        rules.append(
            ("duration_minutes", "duration_minutes < 0", "is a negative duration", "refuse")
        )
        rules.append(
            (
                "duration_minutes",
                f"duration_minutes > {WEEK_MINUTES}",
                f"is longer than a week ({WEEK_MINUTES:,} minutes); check the unit",
                "warn",
            )
        )
    if kind == "opportunities" and has("amount"):
        # Possible (a credit note, a correction), so loaded; but a won deal of -500 lowers
        # bookings and the average deal without a word otherwise (a new-user test).
        rules.append(
            (
                "amount",
                "amount < 0",
                "is a negative amount: it lowers bookings and the pipeline (a credit or a "
                "correction? check it in the CRM)",
                "warn",
            )
        )
    if kind == "opportunities" and has("created_date") and has("close_date"):
        # Unlikely, not impossible: a CRM stamps CreatedDate when the record is entered, so
        # deals migrated from an older system (the Salesforce sample org's among them)
        # legitimately "close" before they were created. A warning names them.
        rules.append(
            (
                "close_date",
                "created_date > close_date",
                "is before the deal's created date (closed, or expected to close, before it "
                "was created)",
                "warn",
            )
        )
    return rules


def key_expression(kind: Kind, fields: list[str]) -> str | None:
    if kind.name == "opportunities":
        parts = [quote_ident(f) for f in ("opportunity_id", "opportunity_name") if f in fields]
        return f"coalesce({', '.join(parts)})" if parts else None
    if not all(k in fields for k in kind.key):
        return None
    if len(kind.key) == 1:
        return quote_ident(kind.key[0])
    return "(" + ", ".join(quote_ident(k) for k in kind.key) + ")"

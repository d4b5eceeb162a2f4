"""Problems found in an upload, worded for the ops person who has to fix the file."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None  # spreadsheet row: the header is row 1, the first record row 2
    column: str | None  # the header as written in the file
    value: str | None
    problem: str

    def describe(self) -> str:
        where = [self.file]
        if self.line is not None:
            where.append(f"row {self.line}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        text = ", ".join(where) + f": {self.problem}"
        if self.value is not None:
            shown = self.value if len(self.value) <= 60 else self.value[:57] + "..."
            text += f" (value {shown!r})"
        return text


class ImportRefused(Exception):
    """The whole file is unusable (unreadable, wrong kind, missing columns, ...)."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(p.describe() for p in problems))
        self.problems = problems


def refuse(
    file: str,
    problem: str,
    *,
    column: str | None = None,
    line: int | None = None,
    value: str | None = None,
) -> ImportRefused:
    return ImportRefused([Problem(file, line, column, value, problem)])


def totals(problems: list[Problem]) -> dict[str, int]:
    """Counts per kind of problem (the text before any quoted value)."""
    return dict(Counter(p.problem for p in problems).most_common())


GROUP_ROWS = 5  # rows named per group
GROUP_VALUES = 5  # distinct values quoted per group


@dataclass(frozen=True)
class ProblemGroup:
    """One column and problem, however many rows have it: a file with 4,346 rows in an
    unknown stage is one line to read, not 4,346. Row-level detail stays in
    ImportResult.problems and the quarantine table."""

    file: str
    column: str | None
    problem: str
    count: int
    lines: tuple[int, ...]  # the first GROUP_ROWS rows, in file order
    values: tuple[str, ...]  # the first GROUP_VALUES distinct values, in file order
    distinct_values: int

    def describe(self) -> str:
        if self.count == 1:  # one row: worded as that row's own problem
            line = self.lines[0] if self.lines else None
            value = self.values[0] if self.values else None
            return Problem(self.file, line, self.column, value, self.problem).describe()
        where = self.file + (f", column {self.column!r}" if self.column is not None else "")
        text = f"{where}: {self.problem}"
        if self.count == 1 and self.lines:
            text += f" (row {self.lines[0]})"
        elif self.lines:
            more = ", ..." if self.count > len(self.lines) else ""
            text += f" ({self.count:,} rows: {', '.join(str(n) for n in self.lines)}{more})"
        if self.values:
            shown = ", ".join(repr(v if len(v) <= 60 else v[:57] + "...") for v in self.values)
            extra = self.distinct_values - len(self.values)
            label = "value" if self.distinct_values == 1 else "values"
            text += f"; {label} {shown}" + (f" and {extra:,} more" if extra > 0 else "")
        return text


# Problems whose text names one row (a repeated key names the row it repeats) or one
# length are grouped under their general wording.
_GENERAL = (
    (r" of row [0-9]+$", " of an earlier row"),
    (r"^is [0-9]+ characters long", "is too long"),
)


def _general(expr: str) -> str:
    for pattern, text in _GENERAL:
        expr = f"regexp_replace({expr}, '{pattern}', '{text}')"
    return expr


WARNINGS_OF_LOADED_ROWS = (
    "(SELECT line, col, value, warning AS problem FROM warnings "
    "WHERE line NOT IN (SELECT line FROM problems))"
)


def group_problems(con, file_name: str, source: str = "problems") -> list[ProblemGroup]:
    """Group the `problems` temp table (or `source`, a relation chosen by this code with
    the same columns) by column and problem, in the order they first occur."""
    key = _general("problem")
    rows = con.execute(
        f"""
        WITH p AS (SELECT line, col, value, problem, {key} AS what FROM {source}),
        groups AS (
            SELECT col, what, count(*) AS n, min(line) AS first_line, any_value(problem) AS one
            FROM p GROUP BY col, what
        ),
        first_rows AS (
            SELECT col, what, list(line ORDER BY line) AS lines
            FROM (SELECT col, what, line,
                         row_number() OVER (PARTITION BY col, what ORDER BY line) AS rn
                  FROM p)
            WHERE rn <= {GROUP_ROWS}
            GROUP BY col, what
        ),
        distinct_values AS (
            SELECT col, what, value, min(line) AS first_seen
            FROM p WHERE value IS NOT NULL GROUP BY col, what, value
        ),
        first_values AS (
            SELECT col, what, count(*) AS n_values,
                   list(value ORDER BY first_seen)[1:{GROUP_VALUES}] AS vals
            FROM distinct_values GROUP BY col, what
        )
        SELECT g.col, CASE WHEN g.n = 1 THEN g.one ELSE g.what END, g.n, r.lines,
               coalesce(v.vals, []), coalesce(v.n_values, 0)
        FROM groups g
        JOIN first_rows r ON r.col IS NOT DISTINCT FROM g.col AND r.what = g.what
        LEFT JOIN first_values v ON v.col IS NOT DISTINCT FROM g.col AND v.what = g.what
        ORDER BY g.first_line, g.col
        """
    ).fetchall()
    return [
        ProblemGroup(file_name, col, what, n, tuple(x for x in lines if x is not None),
                     tuple(vals), n_values)
        for col, what, n, lines, vals, n_values in rows
    ]  # fmt: skip


def group_list(problems: list[Problem]) -> list[ProblemGroup]:
    """The same grouping for problems found outside SQL (a whole-file refusal)."""
    order: dict[tuple[str | None, str], list[Problem]] = {}
    for p in problems:
        order.setdefault((p.column, p.problem), []).append(p)
    out = []
    for (column, problem), members in order.items():
        lines = sorted({p.line for p in members if p.line is not None})
        values: list[str] = []
        for p in members:
            if p.value is not None and p.value not in values:
                values.append(p.value)
        out.append(
            ProblemGroup(members[0].file, column, problem, len(members),
                         tuple(lines[:GROUP_ROWS]), tuple(values[:GROUP_VALUES]), len(values))
        )  # fmt: skip
    return out

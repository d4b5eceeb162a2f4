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

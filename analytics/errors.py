"""What a user may read about a failure: a plain sentence, never a stack or a server path.

Why a module of its own: the pages (pages/_ui.py `friendly_error`) and anything else that
talks to people need the same rule. A failure the user can act on (a refused file, the
database held by another program, a file that is not a DuckDB database, a database made
for another version of the tables) gets its own sentence; anything else is a bug or an
outage, and the user gets a generic sentence plus a short reference that is also in the
server log next to the full traceback, so a support request can be matched to it.
Exception text is always passed through `strip_paths`: DuckDB and the operating system put
absolute paths in their messages ("Could not set lock on file "/srv/.../sales.duckdb"").
"""

from __future__ import annotations

import re
import uuid
from pathlib import PurePosixPath, PureWindowsPath

import duckdb

from analytics.access import AccessDenied
from analytics.ingest.problems import ImportRefused

MAX_MESSAGE = 300
_SEG = r"""[^\s"'`<>|\\/]+"""
# Absolute paths only (/a/b, C:\a, \\server\share, ~/a): at least two parts for POSIX, so
# text such as "open / won" or "' /C calc" is left alone. Not preceded by a word character,
# a dot or a colon, so "and/or", "1/2" and the path part of a URL are not paths.
_PATH = re.compile(
    rf"""(?<![\w.:/\\~-])(?:
        [A-Za-z]:[\\/](?:{_SEG}[\\/])*(?:{_SEG})?   # C:\\Users\\x
      | \\\\{_SEG}(?:\\{_SEG})*                     # \\\\server\\share
      | ~?/(?:{_SEG}/)+(?:{_SEG})?                  # /srv/app/x, ~/x/y
    )""",
    re.VERBOSE,
)
_CODE_SUFFIXES = (".py", ".pyc", ".pyx", ".so", ".dll")


def strip_paths(text: str) -> str:
    """Every absolute path in `text` becomes its last part (a file name a user knows).

    A path to program code becomes "(internal file)": it says nothing a user can act on.
    """

    def last_part(match: re.Match[str]) -> str:
        path = match.group(0)
        trail = path[len(path.rstrip(".,:;)]")) :]
        path = path[: len(path) - len(trail)] if trail else path
        name = PureWindowsPath(PurePosixPath(path.rstrip("\\/")).name).name
        if not name or name.lower().endswith(_CODE_SUFFIXES):
            name = "(internal file)"
        return name + trail

    return _PATH.sub(last_part, text)


def _first_line(text: str) -> str:
    line = (text.strip().splitlines() or [""])[0].strip()
    return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 3] + "..."


def _file_named(text: str) -> str:
    """The file name inside a DuckDB message ('... file "/a/b/sales.duckdb" ...')."""
    match = re.search(r'"([^"]+)"', text)
    return strip_paths(match.group(1)) if match else "the database file"


def user_message(exc: BaseException) -> str | None:
    """A sentence for a failure the user can act on; None for anything else (a bug).

    Always free of tracebacks and absolute paths.
    """
    text = str(exc)
    if isinstance(exc, AccessDenied):  # written for the user: who may not do what
        return strip_paths(_first_line(text))
    if isinstance(exc, ImportRefused):
        return strip_paths(_first_line(text))
    if isinstance(exc, duckdb.Error):
        lower = text.lower()
        if "in use by another" in lower:  # analytics.db's own message, written for users
            return strip_paths(_first_line(text))
        if "could not set lock" in lower or "conflicting lock" in lower:
            return (
                "the database is in use by another program (a script, a second dashboard or "
                "an import running elsewhere); try again when it has finished"
            )
        if "not a valid duckdb database" in lower:
            return (
                f"{_file_named(text)} is not a DuckDB database (or it is damaged); point "
                "SALES_DB at the right file or restore a backup"
            )
        if "version" in lower and ("database file" in lower or "storage" in lower):
            return (
                f"{_file_named(text)} was written by a different DuckDB version and cannot be "
                "read by this one"
            )
        if isinstance(exc, duckdb.BinderException | duckdb.CatalogException):
            return (
                "the database's tables are not the ones this version of the dashboard expects "
                "(a table or column is missing or different); was it made by another program?"
            )
        if "cannot open file" in lower or "permission denied" in lower:
            return f"{_file_named(text)} cannot be opened by the server"
        return None
    if isinstance(exc, PermissionError):
        name = PurePosixPath(str(exc.filename)).name if exc.filename else "a file"
        return f"the server is not allowed to read or write {name}"
    return None


def new_reference() -> str:
    """A short id shown to the user and written to the log beside the traceback."""
    return uuid.uuid4().hex[:8]

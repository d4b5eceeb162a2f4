"""Shared facts read once per page run instead of by every query that needs them.

Why: a page run calls many analytics functions, and each asks the database again for the
few facts they share: the snapshot dates, the reporting currency, the stages, the first
stage change, the scope's data facts. With twenty managers on the app (issue 15, "work
repeated on every rerun"), 1,055 of the 1,514 statements of twenty sessions' Overview,
Reps, Funnel and Forecast views repeated one the same run had already answered, with the
same parameters.

`run_memo()` opens a memo for one read-only page run (the entry script opens it around
the analysis pages only, never around a page that writes: an import that learns a stage
must read the stages again). Inside it, a function decorated with `@memoised` answers
repeated calls with equal arguments from the memo; outside it (the command line, tests,
imports, settings) every call runs as before. The connection is not part of the key: a
run reads one database, through several cursors. Lists, dicts and frames are handed out
as copies, so a caller that changes its answer cannot change the next caller's.

No streamlit here: the memo is a context variable, set by the entry script per run.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

_memo: ContextVar[dict[Any, Any] | None] = ContextVar("analytics_run_memo", default=None)


@contextmanager
def run_memo() -> Iterator[None]:
    """Remember `@memoised` answers until the block ends (nested: the outer memo is kept)."""
    if _memo.get() is not None:
        yield
        return
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def active() -> bool:
    """Whether a run memo is open in this context (tests check the write pages have none)."""
    return _memo.get() is not None


class _Unhashable(Exception):
    pass


def _frozen(value: Any) -> Any:
    """`value` as a hashable key part: lists and tuples as tuples, dicts as sorted items."""
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, (set, frozenset)):
        return frozenset(_frozen(v) for v in value)
    try:
        hash(value)
    except TypeError:
        raise _Unhashable from None
    return value


def _handed_out(value: Any) -> Any:
    """A copy of a mutable answer (shallow: the items are values, not shared state)."""
    if isinstance(value, (list, dict, set)) or hasattr(value, "copy") and hasattr(value, "iloc"):
        return value.copy()
    return value


def memoised(func: Callable[P, R]) -> Callable[P, R]:
    """Answer repeated calls of `func(con, ...)` with equal arguments once per run memo.

    Only for functions that read the database and nothing else: their answer must depend
    on the data and the arguments alone (not the clock beyond the day, not the caller).
    """
    name = f"{func.__module__}.{func.__qualname__}"

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        memo = _memo.get()
        if memo is None:
            return func(*args, **kwargs)
        try:
            key = (name, _frozen(args[1:]), _frozen(kwargs))
        except _Unhashable:
            return func(*args, **kwargs)
        if key not in memo:
            memo[key] = func(*args, **kwargs)
        return _handed_out(memo[key])

    return wrapper


@memoised
def fetch_one(con: Any, sql: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
    """`con.execute(sql, params).fetchone()`, once per run memo for equal SQL and values.

    For functions whose own arguments say more than their query uses (a Scope carries its
    period, a query of the filters alone does not): keyed by the statement itself.
    """
    return con.execute(sql, params).fetchone()


@memoised
def fetch_frame(con: Any, sql: str, params: dict[str, Any]) -> Any:
    """`con.execute(sql, params).df()`, once per run memo (handed out as a copy)."""
    return con.execute(sql, params).df()

"""Accounts: local passwords for the embedded default, roles by e-mail for OpenID Connect.

Why both: a company with an identity provider signs in through it (Streamlit's `st.login`)
and only says here which role each e-mail has (the roles file); a team running the
dashboard on one machine has no provider, so it keeps local accounts whose passwords are
hashed with argon2id (argon2-cffi: salted, memory-hard, the current OWASP advice) and
never stored. Both end in the same `Access` (analytics.access), which every read carries.

A manager sees one team: the `team` given when the account was made, else the team of
the reps whose `manager` (in the `reps` table) is the account's `person`. A rep sees the
deals whose owner is their `person`, the owner name exactly as on deals.
"""

from __future__ import annotations

import functools
import os
import re
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import duckdb
import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from analytics import audit
from analytics.access import ROLES, Access
from analytics.db import PROJECT_ROOT, transaction

MIN_PASSWORD_LENGTH = 10
# Refuse further tries for a name after this many attempts in the window (guessing).
MAX_FAILED_SIGN_INS = 5
FAILED_WINDOW = timedelta(minutes=15)
# A write that meets another transaction's write is tried again this often (DuckDB reports
# the conflict rather than waiting); the pause doubles from CONFLICT_PAUSE each time.
CONFLICT_RETRIES = 30
CONFLICT_PAUSE = 0.005
ROLES_ENV = "SALES_ROLES"
DEFAULT_ROLES_FILE = PROJECT_ROOT / ".streamlit" / "roles.toml"
_NAME_RE = re.compile(r"^[^\s@]+(@[^\s@]+)?$")  # an e-mail, or a plain user name

_hasher = PasswordHasher()  # argon2id with the library's current default cost


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the name is unknown, so a wrong name costs as long as a wrong
    password and timing does not tell which names exist.

    Made on the first sign-in rather than at import: hashing costs a fifth of a CPU second,
    which every command-line run and test process would pay for nothing. Every sign-in asks
    for it before looking the name up, so the first one costs the same for either kind.
    """
    return _hasher.hash("not a password of anyone")


class SignInRefused(Exception):
    """Sign-in refused; the message is shown to the person signing in."""


class AccountError(ValueError):
    """An account that cannot be made as asked (message names the problem)."""


WRONG_CREDENTIALS = "wrong e-mail or password"


@dataclass(frozen=True)
class Account:
    """A sign-in name and what it may see (no password: that lives only as a hash)."""

    email: str
    role: str
    team: str | None = None
    person: str | None = None


def normalise_email(email: str) -> str:
    return str(email or "").strip().lower()


def check_account(account: Account) -> list[str]:
    """Everything wrong with an account, in plain words (empty when it is fine)."""
    problems = []
    if not _NAME_RE.match(account.email):
        problems.append(f"{account.email!r} is not an e-mail address or user name")
    if account.role not in ROLES:
        problems.append(f"unknown role {account.role!r}: use {', '.join(ROLES)}")
    if account.role == "manager" and not (account.team or account.person):
        problems.append("a manager needs --team, or --person naming them as in reps.manager")
    if account.role == "rep" and not account.person:
        problems.append("a rep needs --person: their owner name exactly as on deals")
    if account.role == "rep" and account.team:
        problems.append("a rep sees their own deals: give --person, not --team")
    if account.role in ("ops", "executive") and (account.team or account.person):
        problems.append(f"{account.role} sees everything: no --team or --person")
    return problems


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


# --- accounts ---------------------------------------------------------------------------


def has_accounts(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute("SELECT count(*) FROM users").fetchone()[0])


def add_user(
    con: duckdb.DuckDBPyConnection,
    account: Account,
    password: str,
    *,
    actor: str = "command line",
    replace: bool = False,
) -> None:
    """Create the account (or, with `replace`, change its role and password)."""
    account = Account(
        normalise_email(account.email),
        account.role,
        (account.team or "").strip() or None,
        (account.person or "").strip() or None,
    )
    problems = check_account(account)
    if problems:
        raise AccountError("; ".join(problems))
    hashed = hash_password(password)
    now = datetime.now()
    with transaction(con):
        exists = con.execute("SELECT 1 FROM users WHERE email = ?", [account.email]).fetchone()
        if exists and not replace:
            raise AccountError(f"{account.email} already exists: add --replace to change it")
        con.execute("DELETE FROM users WHERE email = ?", [account.email])
        con.execute(
            "INSERT INTO users (email, role, team, person, password_hash, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [account.email, account.role, account.team, account.person, hashed, now, now],
        )
        audit.record(
            con, actor, "user_add", email=account.email, role=account.role,
            team=account.team, person=account.person, replaced=bool(exists),
        )  # fmt: skip


def remove_user(con: duckdb.DuckDBPyConnection, email: str, *, actor: str = "command line") -> bool:
    """Delete the account; False when there was none."""
    email = normalise_email(email)
    with transaction(con):
        gone = con.execute("DELETE FROM users WHERE email = ? RETURNING email", [email]).fetchall()
        if gone:
            audit.record(con, actor, "user_remove", email=email)
    return bool(gone)


def list_users(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every account without its hash: email, role, team, person, created_at, updated_at."""
    return con.execute(
        "SELECT email, role, team, person, created_at, updated_at FROM users ORDER BY email"
    ).df()


def get_account(con: duckdb.DuckDBPyConnection, email: str) -> Account | None:
    row = con.execute(
        "SELECT email, role, team, person FROM users WHERE email = ?", [normalise_email(email)]
    ).fetchone()
    return Account(*row) if row else None


# --- signing in -------------------------------------------------------------------------


T = TypeVar("T")

_NAME_LOCKS: dict[str, threading.Lock] = {}
_NAME_LOCKS_GUARD = threading.Lock()


@contextmanager
def _name_lock(email: str) -> Iterator[None]:
    """One sign-in of a name at a time in this process.

    Why on top of the counted attempt: browser sessions of one server are threads of one
    process, and taking turns per name means a burst of guesses for one name is checked
    one after another, each seeing the attempts before it. Other names are not held up.
    """
    with _NAME_LOCKS_GUARD:
        lock = _NAME_LOCKS.setdefault(email, threading.Lock())
    with lock:
        yield


def _retrying(step: Callable[[], T]) -> T:
    """Run a write, trying again when DuckDB reports a conflict with another transaction.

    DuckDB's optimistic concurrency refuses the later of two conflicting writes instead of
    making it wait; for a sign-in that is a reason to try again, never a message to show.
    """
    pause = CONFLICT_PAUSE
    for attempt in range(CONFLICT_RETRIES):
        try:
            return step()
        except duckdb.TransactionException:
            if attempt == CONFLICT_RETRIES - 1:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.2)
    raise AssertionError("unreachable")  # the loop returns or raises


def _recent_attempts(con: duckdb.DuckDBPyConnection, email: str) -> int:
    """Password attempts of the name within the window and since its last good sign-in.

    Attempts, not failures: an attempt is recorded before its (slow) password check, so
    attempts still being checked count too, and a burst of simultaneous guesses cannot
    all slip in under the limit while the first ones are still hashing.
    """
    return int(
        con.execute(
            """
            WITH last_good AS (
                SELECT max(logged_at) AS at FROM audit_log
                WHERE actor = $email AND action = 'sign_in'
            )
            SELECT count(*) FROM audit_log, last_good
            WHERE actor = $email AND action = 'sign_in_attempt' AND logged_at >= $since
              AND logged_at > coalesce(last_good.at, $since)
            """,
            {"email": email, "since": datetime.now() - FAILED_WINDOW},
        ).fetchone()[0]
    )


def _claim_attempt(con: duckdb.DuckDBPyConnection, email: str) -> bool:
    """Count the name's recent attempts and record this one, as one atomic step.

    False (nothing recorded) when the limit is already reached. One transaction, so two
    sign-ins can never both read "4 so far" and both go on to a password check.
    """

    def step() -> bool:
        with transaction(con):
            if _recent_attempts(con, email) >= MAX_FAILED_SIGN_INS:
                return False
            audit.record(con, email[:200] or "(empty)", "sign_in_attempt", method="password")
            return True

    return _retrying(step)


def _refuse(con: duckdb.DuckDBPyConnection, email: str, reason: str, shown: str) -> NoReturn:
    _retrying(
        lambda: audit.record(
            con, email[:200] or "(empty)", "sign_in_failed", method="password", reason=reason
        )
    )
    raise SignInRefused(shown)


def authenticate(con: duckdb.DuckDBPyConnection, email: str, password: str) -> Access:
    """Check a local password; the Access of the account, or SignInRefused.

    Every attempt is audited (sign_in_attempt before the check, then sign_in or
    sign_in_failed). The message never says whether the name or the password was wrong,
    and unknown names cost a hash check too. After MAX_FAILED_SIGN_INS attempts within
    FAILED_WINDOW (since the last good sign-in) the name is refused without a check, even
    when the attempts arrive at the same moment (see `_claim_attempt`).
    """
    email = normalise_email(email)
    with _name_lock(email):
        if not _claim_attempt(con, email):
            _refuse(
                con, email, "too many failures",
                f"too many failed sign-ins for {email}: wait "
                f"{FAILED_WINDOW.seconds // 60} minutes and try again",
            )  # fmt: skip
        return _check_password(con, email, password)


def _check_password(con: duckdb.DuckDBPyConnection, email: str, password: str) -> Access:
    dummy = _dummy_hash()
    row = con.execute("SELECT password_hash FROM users WHERE email = ?", [email]).fetchone()
    try:
        _hasher.verify(row[0] if row else dummy, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        _refuse(con, email, "wrong password" if row else "unknown name", WRONG_CREDENTIALS)
    if row is None:
        _refuse(con, email, "unknown name", WRONG_CREDENTIALS)
    account = get_account(con, email)
    try:
        access = access_for(con, account)
    except SignInRefused as exc:
        _refuse(con, email, str(exc), str(exc))

    def succeed() -> None:
        with transaction(con):
            if _hasher.check_needs_rehash(row[0]):  # the library's cost went up: upgrade
                con.execute(
                    "UPDATE users SET password_hash = ?, updated_at = ? WHERE email = ?",
                    [_hasher.hash(password), datetime.now(), email],
                )
            audit.record(con, email, "sign_in", method="password", role=access.role)

    _retrying(succeed)
    return access


def access_for(con: duckdb.DuckDBPyConnection, account: Account) -> Access:
    """The account's Access; a manager's team is read from the reps table when not given."""
    if account.role == "manager":
        team = account.team or _managed_team(con, account)
        return Access.manager(account.email, team)
    if account.role == "rep":
        return Access.for_rep(account.email, str(account.person))
    return Access(account.role, account.email)  # type: ignore[arg-type]


def _managed_team(con: duckdb.DuckDBPyConnection, account: Account) -> str:
    teams = [
        r[0]
        for r in con.execute(
            """
            SELECT DISTINCT team FROM reps
            WHERE (manager = $person OR rep = $person) AND team IS NOT NULL AND team <> ''
            ORDER BY 1
            """,
            {"person": account.person},
        ).fetchall()
    ]
    if len(teams) == 1:
        return teams[0]
    found = "no team" if not teams else f"several teams ({', '.join(teams)})"
    raise SignInRefused(
        f"{account.email} is a manager, but the reps table gives {account.person!r} "
        f"{found}: ask sales operations to set the account's team"
    )


def record_sign_in(con: duckdb.DuckDBPyConnection, access: Access, method: str) -> None:
    """Audit a sign-in made elsewhere (OpenID Connect): the provider checked the password."""
    audit.record(con, access.user, "sign_in", method=method, role=access.role)


def record_sign_out(con: duckdb.DuckDBPyConnection, access: Access) -> None:
    audit.record(con, access.user, "sign_out")


# --- roles of OpenID Connect users --------------------------------------------------------


def roles_path() -> Path:
    """$SALES_ROLES, else .streamlit/roles.toml beside the app."""
    return Path(os.environ.get(ROLES_ENV) or DEFAULT_ROLES_FILE)


def load_roles(path: Path | str | None = None) -> dict[str, Account]:
    """E-mail -> Account from the roles file (missing file: nobody has a role).

    Format (TOML), one table per e-mail::

        [users."dana@example.com"]
        role = "manager"
        team = "East"          # or person = "Dana Lee" (as in reps.manager)

    Raises AccountError naming the e-mail and the problem for an entry that cannot be used.
    """
    target = Path(path) if path is not None else roles_path()
    if not target.is_file():
        return {}
    try:
        data: dict[str, Any] = tomllib.loads(target.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise AccountError(f"{target}: not valid TOML ({exc})") from exc
    out: dict[str, Account] = {}
    for email, entry in (data.get("users") or {}).items():
        if not isinstance(entry, dict):
            raise AccountError(f"{target}: users.{email} must be a table with a role")
        account = Account(
            normalise_email(email),
            str(entry.get("role", "")),
            (str(entry.get("team") or "").strip() or None),
            (str(entry.get("person") or "").strip() or None),
        )
        problems = check_account(account)
        if problems:
            raise AccountError(f"{target}: {email}: {'; '.join(problems)}")
        out[account.email] = account
    return out


def oidc_access(con: duckdb.DuckDBPyConnection, email: str, roles: dict[str, Account]) -> Access:
    """The Access of an e-mail the identity provider vouched for; refused when the roles
    file gives it no role (signing in proves who you are, not what you may see)."""
    account = roles.get(normalise_email(email))
    if account is None:
        raise SignInRefused(
            f"{email or 'this account'} has no role in the dashboard: ask sales operations "
            "to add it to the roles file"
        )
    return access_for(con, account)

"""`python -m analytics users add | list | remove | audit`: local accounts from the shell.

Why a command and not a page: the first account must exist before anyone can sign in,
and whoever runs commands on the server already holds the database file. The password is
typed at a hidden prompt (twice) or read from standard input (`--password-stdin`, for
scripts), never given as an argument where `ps` and shell history would keep it.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

import duckdb

from analytics import audit, db
from analytics.users import Account, AccountError, add_user, list_users, remove_user


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("users", help="local sign-in accounts and the audit log")
    users = p.add_subparsers(dest="users_command", required=True, metavar="ACTION")

    add = users.add_parser("add", help="create an account (password prompted)")
    add.add_argument("email", metavar="EMAIL", help="the sign-in name (an e-mail address)")
    add.add_argument("--role", required=True, choices=("ops", "executive", "manager", "rep"))
    add.add_argument("--team", default=None, help="manager: the team they see (reps.team)")
    add.add_argument(
        "--person", default=None,
        help="rep: their owner name exactly as on deals; manager: their name as in "
        "reps.manager (the team is then read from the reps table)",
    )  # fmt: skip
    add.add_argument(
        "--password-stdin", action="store_true",
        help="read the password from the first line of standard input (for scripts)",
    )  # fmt: skip
    add.add_argument("--replace", action="store_true", help="change an existing account")
    _db_option(add)
    add.set_defaults(func=run_add)

    listing = users.add_parser("list", help="list the accounts (never the passwords)")
    _db_option(listing)
    listing.set_defaults(func=run_list)

    remove = users.add_parser("remove", help="delete an account")
    remove.add_argument("email", metavar="EMAIL")
    _db_option(remove)
    remove.set_defaults(func=run_remove)

    log = users.add_parser("audit", help="show the audit log, newest first")
    log.add_argument("--limit", type=int, default=50)
    log.add_argument("--action", default=None, choices=audit.ACTIONS)
    _db_option(log)
    log.set_defaults(func=run_audit)


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=Path, default=None, help="database file (default: $SALES_DB)")


def _connect(args: argparse.Namespace) -> duckdb.DuckDBPyConnection:
    return db.connect(args.db if args.db is not None else db.default_db_path())


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise AccountError("no terminal to ask the password: use --password-stdin")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise AccountError("the two passwords differ; nothing was saved")
    return first


def run_add(args: argparse.Namespace) -> int:
    account = Account(args.email, args.role, args.team, args.person)
    try:
        password = _password(args)
        con = _connect(args)
        try:
            add_user(con, account, password, replace=args.replace)
        finally:
            con.close()
    except (AccountError, duckdb.Error) as exc:
        return _fail(str(exc))
    where = f" (team {args.team})" if args.team else f" ({args.person})" if args.person else ""
    print(f"account {account.email.strip().lower()} saved: {args.role}{where}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    con = _connect(args)
    try:
        frame = list_users(con)
    finally:
        con.close()
    if frame.empty:
        print("no accounts: the dashboard runs open, on this machine only")
        return 0
    print(frame.fillna("").to_string(index=False))
    return 0


def run_remove(args: argparse.Namespace) -> int:
    con = _connect(args)
    try:
        removed = remove_user(con, args.email)
    finally:
        con.close()
    if not removed:
        return _fail(f"no account {args.email}")
    print(f"account {args.email.strip().lower()} removed")
    return 0


def run_audit(args: argparse.Namespace) -> int:
    con = _connect(args)
    try:
        frame = audit.entries(con, limit=args.limit, action=args.action)
    finally:
        con.close()
    if frame.empty:
        print("the audit log is empty")
        return 0
    print(frame.to_string(index=False))
    return 0

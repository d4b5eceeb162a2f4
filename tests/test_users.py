"""Local accounts, the roles file and the audit log: `python -m analytics users ...` for real.

The command line runs in-process through analytics.cli.main with a real database file and
the password on standard input (as `--password-stdin` is meant for scripts).
"""

from __future__ import annotations

import io
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from analytics import audit, db
from analytics.access import Access
from analytics.cli import main
from analytics.ingest import import_file
from analytics.users import (
    MAX_FAILED_SIGN_INS,
    WRONG_CREDENTIALS,
    Account,
    AccountError,
    SignInRefused,
    access_for,
    add_user,
    authenticate,
    has_accounts,
    list_users,
    load_roles,
    oidc_access,
    remove_user,
)

FIXTURES = Path(__file__).resolve().parent / "data"
PASSWORD = "correct horse battery staple"


def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, *argv: str,
            stdin: str = "") -> tuple[int, str, str]:  # fmt: skip
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def roster(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> duckdb.DuckDBPyConnection:
    """The KPI roster: East (Ann, Bob; manager Maria Boss), West (manager Tom Chief)."""
    result = import_file(con, FIXTURES / "kpi_reps.csv", as_of=date(2024, 7, 15), data_dir=tmp_path)
    assert result.ok, result.message
    return con


# --- the command line ---------------------------------------------------------------------


def test_cli_add_list_remove(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    code, out, err = run_cli(
        monkeypatch, capsys, "users", "add", "Maria@Example.com", "--role", "manager",
        "--team", "East", "--password-stdin", "--db", str(db_path), stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert "maria@example.com saved: manager (team East)" in out

    code, out, _ = run_cli(monkeypatch, capsys, "users", "list", "--db", str(db_path))
    assert code == 0
    assert "maria@example.com" in out and "manager" in out and "East" in out
    assert PASSWORD not in out and "argon2" not in out  # never the password nor its hash

    con = db.connect(db_path)
    try:
        stored = con.execute("SELECT password_hash FROM users").fetchone()[0]
        assert stored.startswith("$argon2id$") and PASSWORD not in stored
        assert authenticate(con, "MARIA@example.com ", PASSWORD) == Access.manager(
            "maria@example.com", "East"
        )
    finally:
        con.close()

    code, out, _ = run_cli(
        monkeypatch, capsys, "users", "remove", "maria@example.com", "--db", str(db_path)
    )
    assert code == 0 and "removed" in out
    code, _, err = run_cli(
        monkeypatch, capsys, "users", "remove", "maria@example.com", "--db", str(db_path)
    )
    assert code == 2 and "no account maria@example.com" in err

    code, out, _ = run_cli(monkeypatch, capsys, "users", "audit", "--db", str(db_path))
    assert code == 0
    for action in ("user_add", "sign_in", "user_remove"):
        assert action in out


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["x@example.com", "--role", "manager"], PASSWORD, "a manager needs --team"),
        (["x@example.com", "--role", "rep"], PASSWORD, "a rep needs --person"),
        (["x@example.com", "--role", "rep", "--person", "Ann Lee", "--team", "East"], PASSWORD,
         "not --team"),
        (["x@example.com", "--role", "ops", "--team", "East"], PASSWORD, "sees everything"),
        (["x@example.com", "--role", "ops"], "short", "at least 10 characters"),
        (["not an email", "--role", "ops"], PASSWORD, "is not an e-mail address"),
    ],
)  # fmt: skip
def test_cli_refuses_bad_accounts(
    db_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    args: list[str],
    stdin: str,
    message: str,
) -> None:
    code, _, err = run_cli(
        monkeypatch, capsys, "users", "add", *args, "--password-stdin", "--db", str(db_path),
        stdin=stdin + "\n",
    )  # fmt: skip
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    con = db.connect(db_path)
    try:
        assert not has_accounts(con)
    finally:
        con.close()


def test_cli_without_a_terminal_asks_for_password_stdin(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    code, _, err = run_cli(
        monkeypatch, capsys, "users", "add", "a@example.com", "--role", "ops", "--db", str(db_path)
    )
    assert code == 2 and "--password-stdin" in err


def test_adding_twice_needs_replace(con: duckdb.DuckDBPyConnection) -> None:
    add_user(con, Account("a@example.com", "ops"), PASSWORD)
    with pytest.raises(AccountError, match="already exists"):
        add_user(con, Account("a@example.com", "executive"), PASSWORD)
    add_user(con, Account("a@example.com", "executive"), "another long password", replace=True)
    assert list_users(con)["role"].tolist() == ["executive"]
    with pytest.raises(SignInRefused):
        authenticate(con, "a@example.com", PASSWORD)
    assert authenticate(con, "a@example.com", "another long password").role == "executive"


# --- signing in -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "password", "reason"),
    [
        ("rep@example.com", "wrong password!!", "wrong password"),
        ("nobody@example.com", PASSWORD, "unknown name"),
        ("rep@example.com", "", "wrong password"),
    ],
)
def test_wrong_sign_in_is_refused_the_same_way_and_audited(
    con: duckdb.DuckDBPyConnection, email: str, password: str, reason: str
) -> None:
    add_user(con, Account("rep@example.com", "rep", person="Ann Lee"), PASSWORD)
    with pytest.raises(SignInRefused) as refused:
        authenticate(con, email, password)
    assert str(refused.value) == WRONG_CREDENTIALS  # never says which part was wrong
    last = audit.entries(con, limit=1).iloc[0]
    assert (last["actor"], last["action"]) == (email, "sign_in_failed")
    assert reason in last["detail"]


def test_good_sign_in_is_audited(con: duckdb.DuckDBPyConnection) -> None:
    add_user(con, Account("rep@example.com", "rep", person="Ann Lee"), PASSWORD)
    access = authenticate(con, "rep@example.com", PASSWORD)
    assert access == Access.for_rep("rep@example.com", "Ann Lee")
    last = audit.entries(con, limit=1).iloc[0]
    assert (last["actor"], last["action"]) == ("rep@example.com", "sign_in")
    assert '"role": "rep"' in last["detail"]


def test_repeated_failures_lock_the_name_for_a_while(con: duckdb.DuckDBPyConnection) -> None:
    add_user(con, Account("ops@example.com", "ops"), PASSWORD)
    for _ in range(MAX_FAILED_SIGN_INS):
        with pytest.raises(SignInRefused, match=WRONG_CREDENTIALS):
            authenticate(con, "ops@example.com", "guess number one")
    with pytest.raises(SignInRefused, match="too many failed sign-ins"):
        authenticate(con, "ops@example.com", PASSWORD)  # even the right password, for now
    # Another name is not affected.
    add_user(con, Account("exec@example.com", "executive"), PASSWORD)
    assert authenticate(con, "exec@example.com", PASSWORD).role == "executive"


def test_a_removed_account_cannot_sign_in(con: duckdb.DuckDBPyConnection) -> None:
    add_user(con, Account("ops@example.com", "ops"), PASSWORD)
    assert remove_user(con, "OPS@example.com")
    with pytest.raises(SignInRefused):
        authenticate(con, "ops@example.com", PASSWORD)


# --- a manager's team from the reps table ----------------------------------------------------


@pytest.mark.parametrize(
    ("person", "team"),
    [("Maria Boss", "East"), ("Tom Chief", "West")],
)
def test_manager_team_comes_from_the_reps_table(
    roster: duckdb.DuckDBPyConnection, person: str, team: str
) -> None:
    account = Account("boss@example.com", "manager", person=person)
    assert access_for(roster, account) == Access.manager("boss@example.com", team)


def test_manager_the_reps_table_does_not_place_is_refused(
    roster: duckdb.DuckDBPyConnection,
) -> None:
    add_user(roster, Account("ghost@example.com", "manager", person="Nobody Known"), PASSWORD)
    with pytest.raises(SignInRefused, match="gives 'Nobody Known' no team"):
        authenticate(roster, "ghost@example.com", PASSWORD)
    assert audit.entries(roster, limit=1).iloc[0]["action"] == "sign_in_failed"


def test_explicit_team_wins_over_the_reps_table(roster: duckdb.DuckDBPyConnection) -> None:
    account = Account("boss@example.com", "manager", team="West", person="Maria Boss")
    assert access_for(roster, account).team == "West"


# --- the roles file (OpenID Connect) -------------------------------------------------------


ROLES = """
[users."Dana@Example.com"]
role = "manager"
team = "East"

[users."cfo@example.com"]
role = "executive"

[users."ann@example.com"]
role = "rep"
person = "Ann Lee"
"""


def test_roles_file_gives_each_e_mail_its_access(
    roster: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = tmp_path / "roles.toml"
    path.write_text(ROLES, encoding="utf-8")
    roles = load_roles(path)
    assert oidc_access(roster, "dana@example.com", roles) == Access.manager(
        "dana@example.com", "East"
    )
    assert oidc_access(roster, "CFO@example.com", roles).role == "executive"
    assert oidc_access(roster, "ann@example.com", roles).rep == "Ann Lee"
    with pytest.raises(SignInRefused, match="has no role"):
        oidc_access(roster, "stranger@example.com", roles)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[users."a@example.com"]\nrole = "boss"\n', "unknown role 'boss'"),
        ('[users."a@example.com"]\nrole = "rep"\n', "a rep needs --person"),
        ("[users\nrole=", "not valid TOML"),
    ],
)
def test_bad_roles_file_names_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "roles.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AccountError, match=message):
        load_roles(path)


def test_missing_roles_file_gives_nobody_a_role(tmp_path: Path) -> None:
    assert load_roles(tmp_path / "absent.toml") == {}

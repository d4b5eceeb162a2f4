"""Signing in and what each role sees in the app, driven by Streamlit's AppTest.

Over the quadrant fixture (tests/test_quadrant.py): team East = Ann Lee, Bob Stone; team
West = Cara Diaz, Dan Ghost, Eve Moss. Accounts are made through analytics.users, the
same code `python -m analytics users add` runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest
from test_quadrant import load_fixture

from analytics import audit, db
from analytics.markup import plain
from analytics.users import Account, add_user

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 90  # seconds per script run: generous for loaded machines, never asserted on
PASSWORD = "correct horse battery staple"
Q2 = {"kind": "Quarter", "period": "2024-Q2"}
ACCOUNTS = [
    Account("ops@example.com", "ops"),
    Account("boss@example.com", "manager", team="East"),
    Account("cara@example.com", "rep", person="Cara Diaz"),
    Account("cfo@example.com", "executive"),
]


def load_with_accounts(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
    """The quadrant fixture plus the four accounts (hashing their passwords is the slow part)."""
    load_fixture(con, folder)
    for account in ACCOUNTS:
        add_user(con, account, PASSWORD)


@pytest.fixture
def fixture_db(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_template: Callable[..., Path]
) -> Path:
    """The quadrant fixture, imported once per test process and copied for this test (conftest
    `db_template`): a private file the app may write to (sign-ins, audit)."""
    path = db_template("test_app_roles.fixture", load_fixture, tmp_path / "roles.duckdb")
    monkeypatch.setenv("SALES_DB", str(path))
    return path


@pytest.fixture
def accounts_db(fixture_db: Path, db_template: Callable[..., Path]) -> Path:
    """The fixture with the accounts added, as a private copy at the same path."""
    return db_template("test_app_roles.accounts", load_with_accounts, fixture_db)


def start(query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=TIMEOUT)
    at.query_params.update(query or {})
    return at.run()


def sign_in(at: AppTest, email: str, password: str = PASSWORD) -> AppTest:
    at.text_input(key="auth:email").input(email)
    at.text_input(key="auth:password").input(password)
    return at.button[0].click().run()


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def titles(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


def shown_text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    for frame in at.dataframe:
        parts.append(frame.value.to_csv())
    return "\n".join(str(p) for p in parts)


def audit_actions(path: Path) -> list[tuple[str, str]]:
    con = db.connect(path)  # the app holds the file open in this process: same settings
    try:
        rows = audit.entries(con, limit=50)
    finally:
        con.close()
    return list(zip(rows["actor"], rows["action"], strict=True))


# --- the gate -----------------------------------------------------------------------------------


def test_with_accounts_nothing_shows_before_signing_in(accounts_db: Path) -> None:
    at = start(Q2)
    assert_clean(at)
    assert titles(at) == ["Sales performance"]
    assert at.text_input(key="auth:password") is not None
    assert not at.metric and not at.dataframe  # no figure of anyone
    assert not at.sidebar.selectbox  # no filters either


def test_wrong_password_is_refused_with_a_message(accounts_db: Path) -> None:
    at = sign_in(start(Q2), "boss@example.com", "not the password")
    assert [plain(e.value) for e in at.error] == ["Sign-in refused: wrong e-mail or password."]
    assert not at.metric and not at.dataframe
    assert not at.exception


def test_without_accounts_the_app_is_open_and_says_so(fixture_db: Path) -> None:
    at = start(Q2)
    assert_clean(at)
    warnings = " ".join(w.value for w in at.sidebar.warning)
    assert "No accounts configured: open to this machine only" in warnings
    assert titles(at)[0] == "Overview"
    at.switch_page("pages/data.py").run()  # open mode is sales operations
    assert titles(at)[0] == "Data"


# --- per role -------------------------------------------------------------------------------------


def test_manager_sees_only_their_team_whatever_the_url_says(accounts_db: Path) -> None:
    at = sign_in(start(Q2 | {"team": "West"}), "boss@example.com")
    assert_clean(at)
    team = at.sidebar.selectbox(key="team")
    assert (team.value, team.options, team.disabled) == ("East", ["East"], True)
    rep_options = set(at.sidebar.selectbox(key="rep").options) - {"All reps"}
    assert rep_options == {"Ann Lee", "Bob Stone", "Max Boss"}  # the East roster
    assert "Signed in as **boss@example.com** (manager of team East)" in " ".join(
        plain(c.value) for c in at.sidebar.caption
    )

    at.switch_page("pages/reps.py").run()
    assert_clean(at)
    boards = [d.value for d in at.dataframe if "quadrant" in d.value.columns]
    assert boards and set(boards[-1]["rep"]) == {"Ann Lee", "Bob Stone", "Max Boss"}
    text = shown_text(at)
    for other in ("Cara Diaz", "Dan Ghost", "Eve Moss"):
        assert other not in text

    at.switch_page("pages/commissions.py").run()
    assert_clean(at)
    assert not {"Cara Diaz", "Dan Ghost", "Eve Moss"} & set(shown_text(at).split(","))
    assert ("boss@example.com", "sign_in") in audit_actions(accounts_db)


def test_two_managers_of_one_team_share_the_cached_figures(accounts_db: Path) -> None:
    """Pages cache figures per Scope; a Scope with the e-mail in it made every manager
    compute their own copy of the same team's figures (issue 15, many managers at once)."""
    con = db.connect(accounts_db)
    try:
        add_user(con, Account("deputy@example.com", "manager", team="East"), PASSWORD)
    finally:
        con.close()
    boss = sign_in(start(Q2), "boss@example.com")
    deputy = sign_in(start(Q2), "deputy@example.com")
    ops = sign_in(start(Q2 | {"team": "East"}), "ops@example.com")
    for at in (boss, deputy, ops):
        assert_clean(at)
    scopes = [at.session_state["scope"] for at in (boss, deputy, ops)]
    assert scopes[0] == scopes[1]  # the cache key: same team, same role, same figures
    assert scopes[0].team == scopes[2].team == "East"
    assert scopes[0] != scopes[2]  # a role stays in the key: ops is not a manager
    # audited actions and the account box still name the person
    assert "Signed in as **deputy@example.com**" in " ".join(
        plain(c.value) for c in deputy.sidebar.caption
    )


@pytest.mark.parametrize("page", ["pages/data.py", "pages/settings.py"])
@pytest.mark.parametrize("email", ["cara@example.com", "boss@example.com", "cfo@example.com"])
def test_only_ops_open_data_and_settings(accounts_db: Path, page: str, email: str) -> None:
    """The pages are not in this person's navigation at all (AppTest refuses to switch to a
    page the app did not register); the browser test checks the URL /data too."""
    at = sign_in(start(Q2), email)
    assert_clean(at)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(page)
    assert titles(at)[0] == "Overview"


def test_ops_open_data_and_settings(accounts_db: Path) -> None:
    at = sign_in(start(Q2), "ops@example.com")
    at.switch_page("pages/data.py").run()
    assert titles(at)[0] == "Data"
    at.switch_page("pages/settings.py").run()
    assert titles(at)[0] == "Settings"


def test_rep_sees_their_own_statement_only(accounts_db: Path) -> None:
    at = sign_in(start({"kind": "Month", "period": "2024-05"}), "cara@example.com")
    assert_clean(at)
    assert not _has(at, "team") and not _has(at, "rep")  # a rep has nothing to choose
    assert "Your own figures: Cara Diaz" in " ".join(c.value for c in at.sidebar.caption)
    at.switch_page("pages/commissions.py").run()
    assert_clean(at)
    tabs = [t.label for t in at.tabs]
    assert "Approval" not in tabs and "Plans" not in tabs
    text = shown_text(at)
    assert "Cara Diaz" in text
    for other in ("Ann Lee", "Bob Stone", "Dan Ghost", "Eve Moss"):
        assert other not in text
    assert not any(b.label == "Record this run" for b in at.button)


def _has(at: AppTest, key: str) -> bool:
    return any(getattr(s, "key", None) == key for s in at.sidebar.selectbox)


def test_sign_out_returns_to_the_form_and_is_audited(accounts_db: Path) -> None:
    at = sign_in(start(Q2), "cfo@example.com")
    assert_clean(at)
    at.sidebar.button(key="auth:signout").click().run()
    assert titles(at) == ["Sales performance"]
    assert not at.metric
    assert ("cfo@example.com", "sign_out") in audit_actions(accounts_db)


def test_removing_an_account_ends_its_session(accounts_db: Path) -> None:
    at = sign_in(start(Q2), "boss@example.com")
    assert titles(at)[0] == "Overview"
    con = db.connect(accounts_db)
    try:
        con.execute("DELETE FROM users WHERE email = 'boss@example.com'")
    finally:
        con.close()
    at.run()
    assert titles(at) == ["Sales performance"]


def test_with_an_auth_section_sign_in_goes_through_the_identity_provider(
    fixture_db: Path,
) -> None:
    """secrets.toml [auth] switches to OpenID Connect: a provider button, no password form,
    and no figure before the provider says who this is (even with no accounts at all)."""
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=TIMEOUT)
    at.secrets["auth"] = {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "a-long-random-test-secret",
        "google": {
            "client_id": "id",
            "client_secret": "secret",
            "server_metadata_url": "https://accounts.google.com/.well-known/openid-configuration",
        },
    }
    at.run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in with Google"]
    assert not at.text_input and not at.metric and not at.sidebar.selectbox

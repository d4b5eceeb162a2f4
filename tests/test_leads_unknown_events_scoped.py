"""The Leads page's "event types without a rule" are the viewer's own leads' (found by a tester).

Signed in as a rep, the caption listed event types (and counts) from other reps' leads.
`unknown_event_types(scope=...)` keeps the scope's leads; Settings and the command line
without filters still list every event. The quadrant fixture with its accounts
(tests/test_app_roles.py), plus a leads file and its events, imported for real.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from test_app_roles import Q2, load_with_accounts, sign_in, start

from analytics import db
from analytics.ingest import import_file
from analytics.markup import plain
from analytics.scope import Period, Scope
from analytics.scoring import unknown_event_types

LEADS = """lead_id,created_at,owner,source,status,company
C1,2024-05-02 09:00:00,Cara Diaz,web,Working,Cedar
A1,2024-05-03 09:00:00,Ann Lee,web,Working,"**Acme** <b>x</b>"
"""
EVENTS = """lead_id,event_type,occurred_at
C1,Cara Webinar,2024-05-04 10:00:00
A1,Ann Secret Visit,2024-05-05 10:00:00
A1,Ann Secret Visit,2024-05-06 10:00:00
"""


def load(con, folder: Path) -> None:  # noqa: ANN001 - the db_template loader's shape
    load_with_accounts(con, folder)
    for name, text in (("leads.csv", LEADS), ("lead_events.csv", EVENTS)):
        path = folder / name
        path.write_text(text, encoding="utf-8")
        result = import_file(con, path, as_of=date(2024, 6, 30), data_dir=folder)
        assert result.ok, result.message


@pytest.fixture
def app_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_template: Callable[..., Path]):
    path = db_template("test_leads_unknown_events_scoped", load, tmp_path / "app.duckdb")
    monkeypatch.setenv("SALES_DB", str(path))
    return path


def test_a_scope_keeps_its_own_leads_event_types(app_db: Path) -> None:
    con = db.connect(app_db)
    try:
        every = unknown_event_types(con)
        cara = unknown_event_types(con, scope=Scope(Period.parse("2024-Q2"), rep="Cara Diaz"))
        east = unknown_event_types(con, scope=Scope(Period.parse("2024-Q2"), team="East"))
    finally:
        con.close()
    assert dict(zip(every["event_type"], every["events"], strict=True)) == {
        "ann secret visit": 2,
        "cara webinar": 1,
    }
    assert list(cara["event_type"]) == ["cara webinar"]
    assert list(east["event_type"]) == ["ann secret visit"]


def test_a_rep_sees_only_their_leads_event_types_on_the_leads_page(app_db: Path) -> None:
    at = sign_in(start(Q2), "cara@example.com")
    at.switch_page("pages/leads.py").run()
    assert not at.exception
    captions = " ".join(plain(c.value) for c in at.caption)
    assert "cara webinar" in captions
    assert "ann secret visit" not in captions

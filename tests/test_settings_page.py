"""The Settings page with AppTest: commission plans are edited here too (issue 6).

Ops keep everything the app computes from on Settings; the plan editor there is the same
one as on the Commissions page's Plans tab, so a version saved on either is the version
both pages (and the commissions report) pay under.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from apptest import assert_clean, open_page
from streamlit.testing.v1 import AppTest

from analytics import db
from analytics.commissions.data import load_spiffs
from analytics.commissions.plans import plan_for_month, plan_versions
from analytics.markup import plain

MAY = {"kind": "Month", "period": "2024-05"}


def start(query: dict[str, str] | None = None) -> AppTest:
    return open_page("pages/settings.py", query)


def test_settings_shows_every_section_with_the_plan_editor(commission_app_db: Path) -> None:
    at = start(MAY)
    assert_clean(at)
    headers = [h.value for h in at.subheader]
    sections = ("Sales stages", "Lead scoring", "Fiscal year", "Commission plans", "Audit log")
    for section in sections:
        assert section in headers, headers
    # the plan listing shows the version in force; the editor starts from its rules
    assert at.text_input(key="com:plan_name").value == "Default plan"
    # the default start of a new version is the filtered month
    assert at.date_input(key="com:plan_from").value == date(2024, 5, 1)


def test_a_plan_saved_on_settings_is_the_plan_paid_under(commission_app_db: Path) -> None:
    at = start(MAY)
    at.text_input(key="com:plan_name").input("FY plan")
    at.date_input(key="com:plan_from").set_value(date(2024, 6, 1))
    at.button(key="com:plan_save").click().run()
    assert_clean(at)
    assert any("Saved FY plan v1, in force from 2024-06." in plain(s.value) for s in at.success)
    with db.connect(commission_app_db) as con:
        assert [v.plan.name for v in plan_versions(con)] == ["Default plan", "FY plan"]
        # effective-dated: May stays under the old plan, June is paid under the new one
        assert plan_for_month(con, date(2024, 5, 1)).plan.name == "Default plan"
        assert plan_for_month(con, date(2024, 6, 1)).plan.name == "FY plan"


def test_a_bad_plan_saves_nothing_and_says_why(commission_app_db: Path) -> None:
    at = start(MAY)
    at.date_input(key="com:plan_from").set_value(date(2024, 6, 15))
    at.button(key="com:plan_save").click().run()
    assert not at.exception
    assert any("first day of a month" in plain(e.value) for e in at.error)
    with db.connect(commission_app_db) as con:
        assert len(plan_versions(con)) == 1


def test_spiffs_table_is_editable_from_settings(commission_app_db: Path) -> None:
    at = start(MAY)
    assert_clean(at)
    assert any(b.label == "Save spiffs" for b in at.button)
    with db.connect(commission_app_db) as con:
        before = load_spiffs(con)
    at.button(key="com:save:spiffs").click().run()  # saving the table as shown keeps it
    assert_clean(at)
    assert any(f"Saved {len(before)} rows of spiffs." in plain(s.value) for s in at.success)
    with db.connect(commission_app_db) as con:
        assert load_spiffs(con).equals(before)


def test_the_audit_log_shows_who_changed_what(commission_app_db: Path) -> None:
    at = start(MAY)
    at.text_input(key="com:plan_name").input("Audited plan")
    at.date_input(key="com:plan_from").set_value(date(2024, 6, 1))
    at.button(key="com:plan_save").click().run()
    assert_clean(at)
    log = next(d.value for d in at.dataframe if "action" in d.value.columns)
    edits = log[log["action"] == "plan_edit"]
    assert len(edits) == 1
    assert edits.iloc[0]["actor"] == "local (open mode)"  # no accounts: the open local mode
    assert "Audited plan" in edits.iloc[0]["detail"]
    assert (log["action"] == "upload").sum() >= 1  # the fixture's imports, by the command line
    at.selectbox(key="settings:audit_action").set_value("plan_edit").run()
    log = next(d.value for d in at.dataframe if "action" in d.value.columns)
    assert set(log["action"]) == {"plan_edit"}

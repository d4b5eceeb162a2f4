"""A database whose every text field is markup: the fixture of issue 17.5's tests.

Why: a rep, team, account, stage, lead source, event type, currency, plan or file named
``**Bold** [x](javascript:alert(1)) ![x](http://127.0.0.1:9/x.png) :red[r] $x^2$ <b>h</b>``
must be shown as those characters on every page, for every role, and the image must
never be fetched. Everything is loaded the way a user would load it: real CSV files on
disk through the real importer, stages and the commission plan saved through analytics,
accounts made with analytics.users.

Used by tests/test_markup_pages.py (AppTest) and tests/e2e/test_browser_markup.py (a real
browser). `build(folder)` writes the database and returns its path.
"""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

from analytics import db
from analytics.commissions.plans import Plan, Rule, save_plan
from analytics.ingest import import_file
from analytics.settings import DEFAULT_STAGES, Stage, save_stages
from analytics.users import Account, add_user

# The host is a closed port on this machine: a browser that fetches it gets nothing, and
# the browser test sees the attempt.
IMAGE_URL = "http://127.0.0.1:9/x.png"
HOSTILE = (
    f"**Bold** [x](javascript:alert(1)) ![x]({IMAGE_URL}) :red[r] $x^2$ <b>h</b> \"q\" 'q' | # _u_"
)
# Substrings that only appear when the hostile text reached markdown unescaped (md() puts a
# backslash before every one of their punctuation characters).
RAW_MARKERS = ("**Bold**", "](javascript:", "![x](", ":red[r]", "$x^2$", "<b>h</b>", "_u_")
# A file name cannot hold "/": the same markup, a relative image, no closing tag.
FILE_HOSTILE = "**F** [x](javascript:alert(1)) ![x](x.png) :red[r] $x^2$ <b>h<b> | # _u_"


def h(word: str) -> str:
    """A distinct hostile name: a plain word (so tests can find it) then the markup."""
    return f"{word} {HOSTILE}"


ANN, BOB, CARA, DAN, EVE = h("Ann"), h("Bob"), h("Cara"), h("Dan"), h("Eve")
EAST, WEST = h("East"), h("West")
REGION = h("EMEA")
MANAGER = h("Max")
ROLE, LEVEL = h("AE"), h("senior")  # the plan's rule covers any role and level ("*")
STAGE = h("Haggle")  # a custom open stage, between Demo and Trial
WON_ALIAS = h("Won")  # the CRM's own word for won
SOURCE = h("web")
EVENT = h("visit")
ACTIVITY = h("call").lower()  # the importer lower-cases activity types
CURRENCY = h("eur").upper()  # ... and upper-cases currencies
PLAN = h("Plan")
RULE = h("Rule")
PASSWORD = "correct horse battery staple"
ACCOUNTS = {
    "ops": Account("ops@example.com", "ops"),
    "executive": Account("cfo@example.com", "executive"),
    "manager": Account("boss@example.com", "manager", team=EAST),
    "rep": Account("cara@example.com", "rep", person=CARA),
}
REPS = [(ANN, EAST), (BOB, EAST), (CARA, WEST), (DAN, WEST)]
# Eve joined in Q2: no previous quarter, so the Reps quadrant lists her under "Not placed:".
NEWCOMER = (EVE, WEST)
AS_OF = (date(2024, 5, 20), date(2024, 6, 28))  # the first export holds May's closes


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(rows)
    return path


def _deals(later: bool) -> list[list[str]]:
    """Per rep: a Q1 win, a Q2 win (one in the won alias and the hostile currency), a Q2
    loss and an open deal in the hostile stage; the later export moves the open deal."""
    rows = [["opportunity_id", "opportunity_name", "account", "owner", "stage", "amount",
             "currency", "created_date", "close_date", "lead_source", "deal_type", "product",
             "forecast_category"]]  # fmt: skip
    for i, (rep, _team) in enumerate(REPS):
        n = i + 1
        won_stage = WON_ALIAS if i == 0 else "Closed Won"
        currency = CURRENCY if i == 0 else "USD"
        rows += [
            [f"Q1-{n}", h(f"Deal{n}a"), h(f"Acme{n}"), rep, "Closed Won", str(2000 * n),
             "USD", "2023-12-01", "2024-02-10", SOURCE, h("New"), h("Prod"), "Closed"],
            [f"W-{n}", h(f"Deal{n}b"), h(f"Birch{n}"), rep, won_stage, str(3000 * n),
             currency, "2024-03-01", "2024-05-10", SOURCE, h("New"), h("Prod"), "Closed"],
            [f"L-{n}", h(f"Deal{n}c"), h(f"Cedar{n}"), rep, "Closed Lost", "1500",
             "USD", "2024-04-02", "2024-05-20", SOURCE, h("New"), h("Prod"), "Omitted"],
            [f"O-{n}", h(f"Deal{n}d"), h(f"Dune{n}"), rep, STAGE if later else "Demo",
             str(4000 * n), "USD", "2024-04-05", "2024-06-25" if later else "2024-05-30",
             SOURCE, h("New"), h("Prod"), "Commit" if later else "Pipeline"],
        ]  # fmt: skip
    rows += [["E-1", h("Deal5"), h("Elm5"), EVE, "Closed Won", "500", "USD", "2024-04-03",
              "2024-05-03", SOURCE, h("New"), h("Prod"), "Closed"]]  # fmt: skip
    return rows


def _files(folder: Path) -> list[tuple[Path, str, date]]:
    folder.mkdir(parents=True, exist_ok=True)
    first, last = AS_OF
    reps = [["rep", "manager", "team", "region", "role", "level", "hire_date", "active"]]
    reps += [[r, MANAGER, t, REGION, ROLE, LEVEL, "2020-01-01", "TRUE"] for r, t in REPS]
    reps += [[EVE, MANAGER, WEST, REGION, ROLE, LEVEL, "2024-04-01", "TRUE"]]
    fx = [["currency", "rate_date", "rate"], [CURRENCY, "2024-01-01", "1.1"]]
    quotas = [["owner", "period_start", "period_end", "amount"]]
    for rep, _team in REPS:
        quotas += [[rep, "2024-01-01", "2024-03-31", "9000"], [rep, "2024-04-01", "2024-06-30",
                                                                 "9000"]]  # fmt: skip
    acts = [["activity_id", "owner", "activity_type", "started_at", "duration_minutes",
             "opportunity_id", "account", "subject"]]  # fmt: skip
    leads = [["lead_id", "created_at", "owner", "source", "status", "company",
              "first_response_at", "converted_at", "opportunity_id"]]  # fmt: skip
    events = [["lead_id", "event_type", "occurred_at"]]
    subs = [["owner", "period_start", "period_end", "category", "amount", "submitted_at"]]
    for i, (rep, _team) in enumerate(REPS):
        n = i + 1
        acts += [
            [f"A-{n}", rep, ACTIVITY, "2024-05-02 10:00", "45", f"O-{n}", h(f"Acme{n}"), HOSTILE],
            [f"B-{n}", rep, "email", "2024-02-03 10:00", "10", f"Q1-{n}", h(f"Acme{n}"), HOSTILE],
        ]  # fmt: skip
        leads += [
            [f"LD-{n}", "2024-05-01 09:00", rep, SOURCE, h("Working"), h(f"Co{n}"),
             "2024-05-01 09:30", "2024-05-09 10:00" if n % 2 else "", f"W-{n}" if n % 2 else ""],
        ]  # fmt: skip
        events += [[f"LD-{n}", EVENT, "2024-05-02 10:00"], [f"LD-{n}", "email_click",
                                                            "2024-05-03 10:00"]]  # fmt: skip
        subs += [[rep, "2024-06-01", "2024-06-30", "commit", str(1000 * n), "2024-05-30 09:00"]]
    files = [
        (_write(folder / f"reps {FILE_HOSTILE}.csv", reps), "reps", first),
        (_write(folder / "fx.csv", fx), "fx_rates", first),
        (_write(folder / f"deals {FILE_HOSTILE}.csv", _deals(False)), "opportunities", first),
        (_write(folder / "deals-later.csv", _deals(True)), "opportunities", last),
        (_write(folder / "quotas.csv", quotas), "quotas", last),
        (_write(folder / "activities.csv", acts), "activities", last),
        (_write(folder / "leads.csv", leads), "leads", last),
        (_write(folder / "events.csv", events), "lead_events", last),
        (_write(folder / "submissions.csv", subs), "forecast_submissions", last),
    ]
    return files


def build(folder: Path, *, accounts: bool = True) -> Path:
    """The hostile database at folder/markup.duckdb (closed again: an app may open it)."""
    path = folder / "markup.duckdb"
    con = db.connect(path)
    try:
        stages = list(DEFAULT_STAGES)
        at = [s.name for s in stages].index("Trial")
        stages.insert(at, Stage(STAGE, 50))
        stages = [
            Stage(s.name, s.probability, s.is_closed, s.is_won, (*s.aliases, WON_ALIAS))
            if s.is_won
            else s
            for s in stages
        ]
        save_stages(con, stages)
        for file, kind, as_of in _files(folder / "files"):
            result = import_file(con, file, kind=kind, as_of=as_of, data_dir=folder / "store")
            assert result.ok, (file.name, result.message)
        plan = Plan(PLAN, (Rule(RULE, quota=Decimal(9000), rate=Decimal("0.1")),), note=HOSTILE)
        save_plan(con, plan, date(2024, 1, 1), note=HOSTILE)
        if accounts:
            for account in ACCOUNTS.values():
                add_user(con, account, PASSWORD)
    finally:
        con.close()
    return path

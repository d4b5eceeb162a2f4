"""Missing is not zero: each "no data" case on its own hand-made export (issue 13, item 2).

Every fixture is written by the test as the CRM would export it and loaded through the
real importer into a real DuckDB file; the KPI table is then checked to show the figure
as empty (never 0 or 100%) with the reason `analytics.metrics.availability` gives.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from analytics.drilldown import kpi_history
from analytics.ingest import import_file
from analytics.leads import response_by
from analytics.metrics.availability import (
    NO_ACTIVITY,
    NO_LEAD_LINK,
    NO_LOST_AMOUNT,
    NO_QUOTAS,
    NO_RESPONSE,
    blank_no_data,
    data_start,
    no_data_reasons,
    no_data_reasons_by_period,
    pipeline_note,
)
from analytics.metrics.kpis import kpi_table, kpi_tables
from analytics.scope import Period, Scope

AS_OF = date(2024, 7, 15)
HEAD = "opportunity_id,opportunity_name,account,owner,stage,amount,currency,created_date,close_date"
DEALS = [
    "D-1,One,Acme,Ann Lee,Closed Won,10000,USD,2024-03-01,2024-05-10",
    "D-2,Two,Birch,Ann Lee,Closed Lost,4000,USD,2024-03-05,2024-05-12",
    "D-3,Three,Cedar,Bob Stone,Closed Won,6000,USD,2024-04-01,2024-05-20",
    "D-4,Four,Dune,Bob Stone,Discovery,5000,USD,2024-05-01,2024-08-30",
    "D-5,Five,Elm,Ann Lee,Demo,2000,USD,2024-05-02,2024-09-15",
]
# lost deal with 0 / empty amounts; open deals without amount
DEALS_NO_LOST_AMOUNT = [*DEALS[:1], DEALS[1].replace(",4000,", ",0,"), *DEALS[2:],
                        "D-6,Six,Fir,Bob Stone,Closed Lost,,USD,2024-04-01,2024-05-25"]  # fmt: skip
DEALS_ALL_OPEN_UNPRICED = [*DEALS[:3], DEALS[3].replace(",5000,", ",,"),
                           DEALS[4].replace(",2000,", ",0,")]  # fmt: skip
DEALS_ONE_OPEN_UNPRICED = [*DEALS[:4], DEALS[4].replace(",2000,", ",,")]
ACTIVITIES = (
    "activity_id,owner,activity_type,started_at,duration_minutes,opportunity_id\n"
    "A1,Ann Lee,call,2024-05-02 09:00:00,30,D-1\n"
    "A2,Ann Lee,meeting,2024-05-03 09:00:00,60,D-1\n"
)
LEADS_HEAD = (
    "lead_id,created_at,owner,source,status,company,first_response_at,converted_at,opportunity_id\n"
)
LEADS_FULL = LEADS_HEAD + (
    "L1,2024-05-01 09:00:00,Ann Lee,web,converted,Acme,2024-05-01 09:20:00,"
    "2024-05-03 00:00:00,D-1\n"
    "L2,2024-05-02 09:00:00,Bob Stone,web,working,Oak,2024-05-02 12:00:00,,\n"
)
LEADS_NO_RESPONSE = LEADS_HEAD + (
    "L1,2024-05-01 09:00:00,Ann Lee,web,converted,Acme,,2024-05-03 00:00:00,D-1\n"
    "L2,2024-05-02 09:00:00,Bob Stone,web,working,Oak,,,\n"
)
LEADS_NO_LINK = (
    "lead_id,created_at,owner,source,status,company,first_response_at\n"
    "L1,2024-05-01 09:00:00,Ann Lee,web,working,Acme,2024-05-01 09:20:00\n"
    "L2,2024-05-02 09:00:00,Bob Stone,web,working,Oak,2024-05-02 12:00:00\n"
)
MAY = Scope(Period.parse("2024-05"))


def load(con: duckdb.DuckDBPyConnection, tmp_path: Path, files: dict[str, str]) -> None:
    """Write each export and import it (kind detected from its columns, as ops would)."""
    for name, text in files.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        result = import_file(con, path, as_of=AS_OF, data_dir=tmp_path / "store", backup=False)
        assert result.ok, result


def deals(rows: list[str]) -> str:
    return HEAD + "\n" + "\n".join(rows) + "\n"


FULL = {"deals.csv": deals(DEALS), "acts.csv": ACTIVITIES, "leads.csv": LEADS_FULL}

QUOTAS = (
    "owner,period_start,period_end,amount\n"
    "Ann Lee,2024-05-01,2024-05-31,20000\nBob Stone,2024-05-01,2024-05-31,5000\n"
)

# (case, files, column -> expected reason, columns that must keep a figure)
CASES = [
    (
        "no quotas",
        FULL,
        {
            "quota": NO_QUOTAS,
            "quota_attainment": NO_QUOTAS,
            "at_or_above_quota": NO_QUOTAS,
            "pipeline_coverage": NO_QUOTAS,
        },
        ["bookings", "win_rate"],
    ),  # fmt: skip
    (
        "quotas",
        FULL | {"quotas.csv": QUOTAS},
        {},
        ["quota", "quota_attainment", "at_or_above_quota"],
    ),  # fmt: skip
    (
        "complete export",
        FULL,
        {},
        [
            "touches_per_deal",
            "lead_sla_1h_share",
            "win_rate_value",
            "lead_to_opp_rate",
            "open_pipeline",
        ],
    ),  # fmt: skip
    (
        "no activity data",
        {k: v for k, v in FULL.items() if k != "acts.csv"},
        {
            "touches_per_deal": NO_ACTIVITY,
            "selling_time_share": NO_ACTIVITY,
            "meeting_ratio": NO_ACTIVITY,
        },
        ["lead_sla_1h_share", "win_rate_value"],
    ),  # fmt: skip
    (
        "no response timestamps",
        FULL | {"leads.csv": LEADS_NO_RESPONSE},
        {
            "lead_sla_1h_share": NO_RESPONSE,
            "lead_sla_5min_share": NO_RESPONSE,
            "lead_response_median_minutes": NO_RESPONSE,
        },
        ["lead_to_opp_rate"],
    ),  # fmt: skip
    (
        "lost deals carry no amount",
        FULL | {"deals.csv": deals(DEALS_NO_LOST_AMOUNT)},
        {"win_rate_value": NO_LOST_AMOUNT},
        ["win_rate", "bookings"],
    ),  # fmt: skip
    (
        "every open deal unpriced",
        FULL | {"deals.csv": deals(DEALS_ALL_OPEN_UNPRICED)},
        {
            "open_pipeline": "2 open deals have no amount",
            "weighted_pipeline": "2 open deals have no amount",
        },
        ["win_rate_value"],
    ),  # fmt: skip
    (
        "no lead-to-deal link",
        FULL | {"leads.csv": LEADS_NO_LINK},
        {"lead_to_opp_rate": NO_LEAD_LINK},
        ["lead_sla_1h_share"],
    ),  # fmt: skip
]


@pytest.mark.parametrize(
    ("files", "expected", "kept"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_no_data_reason_per_case(
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    files: dict[str, str],
    expected: dict[str, str],
    kept: list[str],
) -> None:
    load(con, tmp_path, files)
    reasons = no_data_reasons(con, MAY)
    for column, reason in expected.items():
        assert reasons.get(column) == reason, column
    for column in kept:
        assert column not in reasons, column
    raw = kpi_table(con, MAY, "company")
    table = blank_no_data(raw, reasons)
    assert table.attrs["no_data"] == reasons
    for column in expected:
        assert pd.isna(table.loc[0, column]), column
    for column in kept:
        assert pd.notna(table.loc[0, column]), column


def test_kpi_table_itself_empties_them(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    """The KPI query alone would say 100% and 0% here; kpi_table (pages, CLI, downloads)
    returns no figure and the reasons instead, for every rep row as well."""
    load(con, tmp_path, {"deals.csv": deals(DEALS_NO_LOST_AMOUNT), "leads.csv": LEADS_NO_RESPONSE})
    for by in ("company", "rep"):
        table = kpi_table(con, MAY, by)
        assert table["win_rate_value"].isna().all()
        assert table["lead_sla_1h_share"].isna().all()
        assert table["win_rate"].notna().any()
        assert table.attrs["no_data"]["win_rate_value"] == NO_LOST_AMOUNT


def test_lost_amount_is_judged_per_period(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    """A period whose lost deals are priced keeps its win rate by value; one without lost
    deals has none to judge (the rate is then simply 100% of a won amount, a real figure)."""
    june_lost = "D-7,Seven,Gum,Ann Lee,Closed Lost,3000,USD,2024-03-01,2024-06-02"
    rows = [*DEALS_NO_LOST_AMOUNT, june_lost]
    load(con, tmp_path, {"deals.csv": deals(rows)})
    periods = [Period.parse("2024-04"), Period.parse("2024-05"), Period.parse("2024-06")]
    out = no_data_reasons_by_period(con, MAY, periods)
    assert "win_rate_value" not in out["2024-04"]
    assert out["2024-05"]["win_rate_value"] == NO_LOST_AMOUNT
    assert "win_rate_value" not in out["2024-06"]


@pytest.mark.parametrize(
    ("rows", "note"),
    [
        (DEALS, None),
        (DEALS_ONE_OPEN_UNPRICED, "1 open deal has no amount"),
        (DEALS_ALL_OPEN_UNPRICED, "2 open deals have no amount"),
    ],
)
def test_pipeline_note_counts_unpriced_open_deals(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, rows: list[str], note: str | None
) -> None:
    """Some unpriced: the pipeline is the priced part (5000) and the note gives the count."""
    load(con, tmp_path, {"deals.csv": deals(rows)})
    assert pipeline_note(con, MAY) == note
    reasons = no_data_reasons(con, MAY)
    if rows is DEALS_ONE_OPEN_UNPRICED:
        assert "open_pipeline" not in reasons
        assert kpi_table(con, MAY, "company").loc[0, "open_pipeline"] == pytest.approx(5000)


def test_data_start_is_first_deal_day(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    load(con, tmp_path, {"deals.csv": deals(DEALS)})
    assert data_start(con, MAY) == date(2024, 3, 1)
    assert data_start(con, Scope(MAY.period, rep="Bob Stone")) == date(2024, 4, 1)


@pytest.mark.parametrize(
    ("leads_file", "empty", "kept"),
    [
        (LEADS_FULL, [], ["median_minutes", "sla_1h_share", "conversion_rate"]),
        (LEADS_NO_RESPONSE, ["median_minutes", "p90_minutes", "sla_1h_share", "sla_5min_share"],
         ["conversion_rate"]),
        (LEADS_NO_LINK, ["conversion_rate", "lead_to_won_rate"], ["median_minutes"]),
    ],
    ids=["complete", "no response timestamps", "no lead-to-deal link"],
)  # fmt: skip
def test_leads_response_by_leaves_missing_figures_empty(
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    leads_file: str,
    empty: list[str],
    kept: list[str],
) -> None:
    """The Leads page's table: 0% there would read as 'nobody answered / converted'."""
    load(con, tmp_path, {"deals.csv": deals(DEALS), "leads.csv": leads_file})
    table = response_by(con, MAY, "source")
    for column in empty:
        assert table[column].isna().all(), column
        assert table.attrs["no_data"][column] in (NO_RESPONSE, NO_LEAD_LINK)
    for column in kept:
        assert table[column].notna().all(), column


def test_rep_history_starts_where_the_data_starts(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """The drill-down's 12 months up to May 2024 begin in March, the first deal's month."""
    load(con, tmp_path, {"deals.csv": deals(DEALS)})
    history = kpi_history(con, MAY, "Ann Lee", 12)
    assert list(history["period"]) == ["2024-03", "2024-04", "2024-05"]
    assert history["bookings"].iloc[-1] == pytest.approx(10000)


def test_a_period_without_new_leads_says_so(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    """Leads exist (created in May) but none in June: June's lead -> opportunity rate and
    response times are empty for the company with the reason, not a bare dash (found by
    a new user). May keeps its figures."""
    load(con, tmp_path, FULL)
    table = kpi_tables(con, MAY, [Period.parse("2024-05"), Period.parse("2024-06")], "company")
    rows = table.attrs["row_no_data"]
    june = next(iter(rows["2024-06"].values()))
    assert june["lead_to_opp_rate"] == "no lead was created in 2024-06"
    assert june["lead_response_median_minutes"] == "no lead was created in 2024-06"
    assert "2024-05" not in rows
    by_rep = kpi_tables(con, MAY, [Period.parse("2024-06")], "rep")
    assert not any(  # by rep a dash means "not defined": no note on every row
        "lead_to_opp_rate" in why
        for per in by_rep.attrs["row_no_data"].values()
        for why in per.values()
    )

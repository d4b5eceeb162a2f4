"""The KPI table: every performance and efficiency KPI per rep, team, region or company.

Why a facade: pages (Overview, Reps, quadrant), the scorecard report and the benchmark
all need the same rows, so they call `kpi_table` and never assemble KPIs themselves. It
runs one query per concern (performance, efficiency) and joins the two on the group key.
`KPI_COLUMNS` carries each column's one-line definition -- the same text as the headings
of docs/metrics.md -- so a page can show which definition a number uses.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pandas as pd

from analytics.metrics.availability import (
    LEAD_COLUMNS,
    NO_LOST_AMOUNT,
    NO_QUOTAS,
    OPEN_AMOUNT_COLUMNS,
    WON_AMOUNT_COLUMNS,
    no_data_reasons_by_period,
    undated_closed_reason,
    unpriced_open_text,
    unpriced_won_text,
)
from analytics.metrics.efficiency import efficiency_tables
from analytics.metrics.performance import (
    GROUPINGS,
    attainment_table,
    attainment_tables,
    open_bases,
    performance_tables,
)
from analytics.numbers import counted
from analytics.pointintime import Basis
from analytics.scope import Period, Scope
from analytics.settings import ActivityCategory, Stage

SCOPE_WIDE = (NO_QUOTAS, NO_LOST_AMOUNT)  # reasons true of every row of the scope

# Column -> one-line definition (docs/metrics.md, "KPI table"). Order = column order.
KPI_COLUMNS: dict[str, str] = {
    "bookings": "Sum of won amounts (reporting currency), deals won with close date in the period",
    "won_deals": "Number of deals won with close date in the period",
    "lost_deals": "Number of deals lost with close date in the period",
    "win_rate": "Win rate by count: won / (won + lost), deals closed in the period",
    "win_rate_value": "Win rate by value: won amount / (won + lost amount) closed in the period",
    "avg_deal_size": "Average won amount, deals won in the period with a known, priced amount",
    "open_pipeline": "Sum of amounts of deals open at the period's end, now if not over",
    "weighted_pipeline": "Sum of open amounts x stage probability from settings",
    "open_deals": "Number of deals open at the period's end, now if not over",
    "quota": "Quota for the period: quota rows overlapping it, pro-rated by days",
    "quota_attainment": "Bookings / quota; empty without a quota",
    "at_or_above_quota": "Quota attainment is 100% or more; empty without a quota",
    "leads": "Number of leads created in the period",
    "lead_to_opp_rate": "Leads created in the period that converted / leads created in the period",
    "opp_to_won_rate": "Deals created in the period that are won now / deals created in the period",
    "sales_velocity": "Open deals x win rate x average deal size / mean cycle days (per day)",
    "pipeline_coverage": "Open pipeline closing in the period / (quota - bookings)",
    "unpriced_deals": "Deals closed in the period or open whose currency has no rate (not summed)",
    "selling_time_share": "Customer-facing activity minutes / (customer-facing + internal) minutes",
    "meeting_ratio": "Meetings / prospecting activities, activities in the period",
    "median_cycle_days": "Median days from created to close, deals won in the period",
    "mean_cycle_days": "Mean days from created to close, deals won in the period",
    "lead_response_median_minutes": "Median minutes from lead created to first response",
    "lead_response_p90_minutes": "90th percentile of minutes from lead created to first response",
    "lead_sla_5min_share": "Leads created in the period answered within 5 minutes / leads",
    "lead_sla_1h_share": "Leads created in the period answered within 1 hour / leads",
    "lead_sla_1day_share": "Leads created in the period answered within 1 day / leads",
    "touches_per_deal": "Activities linked to a deal won in the period (to its close day), mean",
    "won_5plus_touches_share": "Deals won in the period with 5 or more touches / deals won",
}

# Counts are 0, never empty, for a group without data (every other figure is empty).
COUNT_COLUMNS = (
    "won_deals",
    "lost_deals",
    "open_deals",
    "unpriced_deals",
    "leads",
    "created_deals",
    "activities",
    "prospecting_activities",
    "meetings",
    "converted_leads",
)


def kpi_table(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    by: str = "rep",
    *,
    stages: tuple[Stage, ...] | list[Stage] | None = None,
    categories: tuple[ActivityCategory, ...] | list | None = None,
    reporting_currency: str | None = None,
) -> pd.DataFrame:
    """Every KPI for `scope`, one row per `by` group ("rep", "team", "region", "company").

    The first column is named `by`; then the `KPI_COLUMNS` in order, then helper columns
    (activities, meetings, created_deals, ...). by="rep" lists every rep of the roster
    within the scope's filters plus owners found only in the data; a group without data
    has 0 counts and empty (NaN/None) figures. A figure the export has no data for is
    empty in every row; `attrs["no_data"]` maps it to the reason (metrics/availability.py).
    A key of None collects deals whose owner
    (by="rep") or roster team/region is unknown. Settings are read from the database
    unless passed in.
    """
    table = kpi_tables(
        con,
        scope,
        [scope.period],
        by,
        stages=stages,
        categories=categories,
        reporting_currency=reporting_currency,
    )
    out = table.drop(columns="period").reset_index(drop=True)
    out.attrs["no_data"] = table.attrs.get("no_data", {}).get(scope.period.label, {})
    # group key -> KPI column -> why that row's figure is no data (`row_no_data`)
    out.attrs["row_no_data"] = table.attrs.get("row_no_data", {}).get(scope.period.label, {})
    return out


def kpi_tables(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    periods: Sequence[Period],
    by: str = "rep",
    *,
    stages: tuple[Stage, ...] | list[Stage] | None = None,
    categories: tuple[ActivityCategory, ...] | list | None = None,
    reporting_currency: str | None = None,
) -> pd.DataFrame:
    """`kpi_table` for the scope's filters over each of `periods`, in two queries in all.

    Why: a trend (the Overview cards' last six periods and last year's) would otherwise
    cost two queries per period, each reading the activities again. The periods must not
    overlap. The first column is `period` (the label), then `kpi_table`'s columns; rows
    follow `periods`' order, then the group key; each period's rows equal
    `kpi_table(con, scope.with_period(period), by)`.
    """
    perf, eff = kpi_parts(
        con, scope, periods, by,
        stages=stages, categories=categories, reporting_currency=reporting_currency,
    )  # fmt: skip
    return with_no_data(con, scope, periods, by, merge_parts(perf, eff, periods, by))


def kpi_parts(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    periods: Sequence[Period],
    by: str = "rep",
    *,
    stages: tuple[Stage, ...] | list[Stage] | None = None,
    categories: tuple[ActivityCategory, ...] | list | None = None,
    reporting_currency: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`kpi_tables`' two queries (performance, efficiency), one row per period and group.

    Split out so that pages can run them once for every group of the company and give
    each reader the rows of their filters (analytics/metrics/shared.py): a group's rows
    do not depend on the filters; the no-data verdicts do (`with_no_data`).
    """
    if by not in GROUPINGS:
        raise ValueError(f"unknown grouping {by!r}: use one of {', '.join(GROUPINGS)}")
    periods = list(periods)
    perf = performance_tables(
        con, scope, periods, by, stages=stages, reporting_currency=reporting_currency
    )
    eff = efficiency_tables(con, scope, periods, by, categories=categories)
    return perf, eff


def merge_parts(
    perf: pd.DataFrame, eff: pd.DataFrame, periods: Sequence[Period], by: str
) -> pd.DataFrame:
    """`kpi_parts`' two tables as one, in `kpi_tables`' columns and order, before the
    no-data verdicts."""
    periods = list(periods)
    table = perf.merge(eff, on=["period_no", by], how="outer", sort=False)
    for column in COUNT_COLUMNS:
        if column in table:
            table[column] = table[column].fillna(0).astype("int64")
    table["at_or_above_quota"] = [
        None if pd.isna(v) else bool(v) for v in table["at_or_above_quota"]
    ]
    table["at_or_above_quota"] = table["at_or_above_quota"].astype(object)
    table = table.sort_values(["period_no", by], na_position="last", kind="stable")
    table.insert(0, "period", [periods[n].label for n in table["period_no"]])
    extra = [c for c in table.columns if c not in ("period", "period_no", by, *KPI_COLUMNS)]
    return table[["period", by, *KPI_COLUMNS, *extra]].reset_index(drop=True)


def with_no_data(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    periods: Sequence[Period],
    by: str,
    merged: pd.DataFrame,
) -> pd.DataFrame:
    """`kpi_tables`' last step: `scope`'s no-data verdicts applied to `merged` (the rows
    `merge_parts` gives for `scope`) and named in `attrs`. Returns a new table."""
    periods = list(periods)
    table = merged.copy()
    # Figures the export has no data for (no activities, no lost amounts, ...) are emptied
    # here, once, so no page, report or download shows them as 0 or 100%.
    reasons = no_data_reasons_by_period(con, scope, periods)
    for label, missing in reasons.items():
        rows = table["period"] == label
        scope_wide = (*SCOPE_WIDE, undated_closed_reason(missing))
        for column, why in missing.items():
            if by != "company" and column in WON_AMOUNT_COLUMNS and why not in scope_wide:
                # "none of the won deals can be valued" is a verdict on the scope's won
                # deals, which is one row only by company: by rep it would blank a rep's row
                # because of which other reps the filters or the reader's access chose
                continue
            table.loc[rows, column] = float("nan")
    found = open_bases(con, periods)
    # past periods whose end an older snapshot answers (the deals created since added)
    later = {p.label for p, b in zip(periods, found, strict=True) if b and b.after_snapshot}
    # past periods whose end the stage history answers: a deal open then whose first
    # recorded stage change came later has no known stage on that day
    history = {
        p.label for p, b in zip(periods, found, strict=True) if b and b.source == "stage history"
    }
    table.attrs["row_no_data"] = row_no_data(
        table, by, reasons, created_since=later, stage_history=history
    )
    for period, basis in zip(periods, found, strict=True):
        if basis is not None and basis.source == "rebuilt":
            # The weighted pipeline needs each deal's stage on that day, which a rebuilt day
            # (no snapshot, no stage history) does not know: the query leaves it empty for
            # a group with open deals then (a group with none keeps its true 0), and this
            # names why, after the blanking above so that 0 stays.
            reasons.setdefault(period.label, {}).setdefault(
                "weighted_pipeline", rebuilt_stage_reason(basis)
            )
    table.attrs["no_data"] = reasons
    return table


# Figures a group's open pipeline feeds: unknown when none of its open deals has a value.
ROW_OPEN_COLUMNS = (*OPEN_AMOUNT_COLUMNS, "pipeline_in_period")


def row_no_data(
    table: pd.DataFrame,
    by: str,
    reasons: dict[str, dict[str, str]],
    created_since: set[str] | frozenset[str] = frozenset(),
    stage_history: set[str] | frozenset[str] = frozenset(),
) -> dict[str, dict[object, dict[str, str]]]:
    """Per period label, per group key: KPI column -> why that row's figure is no data.

    Why per row: a rep whose won deals all lack an amount has unknown bookings, not 0,
    while the rep beside them has real bookings; the scope-wide verdict (`reasons`) cannot
    say that without blanking the other reps, or depending on which reps the filters and
    the reader's access chose. The query (`performance_sql`) already leaves these figures
    empty (`won_unvalued`, `open_unpriced`); this names why. A column the scope-wide
    reasons already explain (no quotas, ...) keeps that reason only.
    """
    out: dict[str, dict[object, dict[str, str]]] = {}
    if "won_unvalued" not in table.columns:
        return out
    flags = table["won_unvalued"].fillna(False) | table["open_unpriced"].fillna(False)
    # a period whose end is answered by an older snapshot (`created_since`: its label)
    # holds the deals created since, whose stage then is not known without stage history:
    # the query leaves the row's weighted pipeline empty, and this names why
    stageless = (
        (table["stage_unknown_deals"].fillna(0) > 0)
        & table["weighted_pipeline"].isna()
        & table["period"].isin([*created_since, *stage_history])
    )
    flags = flags | stageless
    # the company's row (the Overview's cards): a period in which no lead was created has
    # no lead -> opportunity rate or response time, and says so rather than a bare dash
    # (by rep, most reps create no leads: the board's dash means "not defined" there)
    no_leads = (table["leads"] == 0) if by == "company" and "leads" in table else None
    if no_leads is not None:
        flags = flags | no_leads
    for stageless_row, row in zip(
        stageless[flags], table[flags].itertuples(index=False), strict=True
    ):
        label, key = row.period, getattr(row, by)
        scope_wide = reasons.get(label, {})
        mine: dict[str, str] = {}
        if no_leads is not None and row.leads == 0:
            mine |= {
                c: f"no lead was created in {label}" for c in LEAD_COLUMNS if c in table.columns
            }
        if row.won_unvalued:
            why = unpriced_won_text(int(row.won_deals), int(row.rateless_won))
            mine |= {c: why for c in WON_AMOUNT_COLUMNS if c in table.columns}
        if stageless_row:
            mine["weighted_pipeline"] = (
                unknown_stage_text(int(row.stage_unknown_deals))
                if label in created_since
                else history_stage_text(int(row.stage_unknown_deals))
            )
        if row.open_unpriced:
            rateless = int(row.rateless_open)
            why = unpriced_open_text(int(row.open_deals) - rateless, rateless)
            mine |= {c: why for c in ROW_OPEN_COLUMNS if c in table.columns}
        mine = {c: why for c, why in mine.items() if c not in scope_wide}
        if mine:
            out.setdefault(label, {})[None if pd.isna(key) else key] = mine
    return out


def unknown_stage_text(deals: int) -> str:
    """Why a row's weighted pipeline at a past period's end is no data: some of its open
    deals, created after the export that answers that day, have no known stage on it
    (docs/metrics.md, "When a figure is no data")."""
    one = deals == 1
    return (
        f"{counted(deals, 'open deal')} {'has' if one else 'have'} no known stage on the "
        "period's last day: created after the export that answers that day, and no stage "
        "history gives one by then"
    )


def history_stage_text(deals: int) -> str:
    """Why a row's weighted pipeline at a past period's end, answered by the stage history,
    is no data: some of its open deals were open then, but their first recorded stage
    change came later, so their stage on that day is not known (docs/metrics.md, "When a
    figure is no data")."""
    one = deals == 1
    return (
        f"{counted(deals, 'open deal')} {'has' if one else 'have'} no known stage on the "
        f"period's last day: {'its' if one else 'their'} stage history starts after it"
    )


def rebuilt_stage_reason(basis: Basis) -> str:
    """Why the weighted pipeline of a day rebuilt from created and close dates is no data
    (docs/metrics.md, "When a figure is no data")."""
    return (
        f"no deal's stage on {basis.day:%d %b %Y} is known (rebuilt from created and close "
        "dates: no export of that time and no stage history)"
    )


def share_of_reps_at_quota(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    *,
    reporting_currency: str | None = None,
    table: pd.DataFrame | None = None,
) -> float | None:
    """Reps at or above 100% of quota / reps with a quota in the period (team/region aware).

    Reps without a quota are left out of both sides (they cannot reach a quota they do
    not have), and so are reps whose won deals all lack a value (attainment unknown); a
    rep with a quota and no deal counts as below it. None when no rep in
    scope has a quota. `table`: the scope's kpi_table or attainment_table by rep, when the
    caller has it already.
    """
    if table is None:
        table = attainment_table(con, scope, "rep", reporting_currency=reporting_currency)
    # a rep whose won deals all lack a value has an unknown attainment (NaN): neither at
    # nor below quota, so left out of both sides like a rep without a quota
    with_quota = table[table["quota"].notna() & table["quota_attainment"].notna()]
    if with_quota.empty:
        return None
    return float((with_quota["quota_attainment"] >= 1).sum()) / len(with_quota)


def share_of_reps_at_quota_by_period(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    periods: Sequence[Period],
    *,
    reporting_currency: str | None = None,
) -> dict[str, float | None]:
    """`share_of_reps_at_quota` for each of `periods` (not overlapping), in one query;
    keyed by period label."""
    periods = list(periods)
    table = attainment_tables(con, scope, periods, "rep", reporting_currency=reporting_currency)
    return {
        period.label: share_of_reps_at_quota(con, scope, table=table[table["period_no"] == number])
        for number, period in enumerate(periods)
    }


def open_basis(con: duckdb.DuckDBPyConnection, period: Period) -> Basis | None:
    """Where `period`'s open figures (open pipeline and deals, weighted pipeline, coverage,
    velocity) come from: None for a period not over on the data's date (the deals open
    now), else the point-in-time basis of its last day (snapshot, stage history or
    rebuilt; analytics/pointintime.py). The same rule `kpi_tables` applies."""
    return open_bases(con, [period])[0]

"""Funnel: how many deals reached each stage of the sales process, and where the rest fell out.

Why a module of its own: managers read the funnel to see where deals stall and remove
waste (domain brief), so every number on it has to follow one written rule, the same on
the page, in the report and in the tests. The rules (docs/metrics.md, "Funnel"):

* **Steps** are the open stages of the configured list that deals in scope were ever
  seen at (stage history or current stage), in the list's order, then the won stage.
  Stages no deal used are hidden and named in a note (drawn, they would show a made-up
  100% conversion). Won and lost are outcomes: lost is never a step. Funnels compared
  side by side share the union of their used stages.
* **Cohort**: the deals in scope *created* in the period (`created_date`); a deal without
  a created date is in no cohort (counted in `Funnel.undated`). When no deal in scope has
  a created date at all (an export without the column), deals can only be placed in a
  period by their close date: the cohort is then the deals *closed* in the period
  (`Funnel.basis` "closed"), open deals and closed ones without a close date are in none
  (counted in `Funnel.undated`, the open ones in `Funnel.undated_open`), and the page says
  so. A period not over on the data's date is taken to date (`Period.to_date`), and two
  compared periods cover the same calendar days (`compared_periods`), as on the Overview.
* **No data**: a funnel whose cohort used no open stage (every deal won, lost without
  history, or at a stage not in the list) has nothing to show between "deal" and "won":
  drawn, it is a single "Closed Won" step at 100%. Such a funnel carries the reason in
  `Funnel.no_data` (and `table.attrs["no_data"]`); the page shows the counts, not a funnel,
  and the report prints no row, only the reason and the counts.
* **Furthest stage**: a won deal reached every step. Any other deal reached the furthest
  step it was ever seen at, in its stage history (`opportunity_stage_history`, origin
  'history' or 'snapshot') or as its current stage, capped at the last step before won (a
  deal marked won and later lost or reopened did not end won). Skipped stages: a deal seen at
  step k reached every step before k. Backward moves: the furthest step counts; moving
  back never un-reaches a step.
* **Method**: a deal is placed "from history" when it has a CRM stage-history row (origin
  'history') or at least two snapshot-derived rows (origin 'snapshot': the weekly exports
  saw it change stage); otherwise "from the current stage" (the ordered-stage assumption:
  a deal in step k reached steps <= k). A single snapshot row only repeats the current
  stage, so it counts as the current stage. The result says which method it used:
  history, current stage, or mixed (with both counts).
* **Stage unknown**: a deal not won that was never seen at an open stage (no history and
  its current stage is the lost one, or a stage no longer in the list) is at no step: it
  is in the cohort's count but not "dropped at the first step" (`Funnel.stage_unknown`,
  and how many of them are lost).
* **Dropped** at a step: lost deals whose furthest step is that step. **Open** at a step:
  deals still open whose furthest step is that step (shown apart: they may still
  advance). So reached(k) = reached(k+1) + dropped(k) + open(k) for every open step.
* **Amounts** are converted to the reporting currency as the KPI table does
  (`analytics.metrics.fx`: close date for closed deals, period end for open ones); a deal
  without an amount or a rate counts in the counts but in no amount (`Funnel.unpriced`).
* **Median days in a stage**: per deal, the time from entering the stage to the next
  stage-history entry, summed over the deal's stays in it; the median over cohort deals
  with a completed stay (the current, unfinished stay is not counted).

All heavy lifting is one SQL query over the cohort (its stage history read once, each
deal's history folded into one row); the per-step cumulative sums are done on the tiny
grouped result in pandas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import duckdb
import pandas as pd

from analytics.labels import NO_OWNER, NO_SOURCE, NO_TEAM
from analytics.metrics.fx import fx_params, priced_sql
from analytics.numbers import amount_text, counted, duration_text, percent_text, verb
from analytics.run_memo import memoised
from analytics.scope import Period, Scope, data_as_of, owner_filter_sql
from analytics.settings import Stage, load_stages
from analytics.sql import (
    crm_history_sql,
    funnel_steps,
    run_sql,
    snapshot_history_sql,
    step_keys,
)

CompareBy = Literal["team", "rep", "lead_source", "period"]
COMPARE_BY: tuple[str, ...] = ("team", "rep", "lead_source", "period")
# Group expressions by name: fixed SQL chosen by code, never user text.
_GROUP_SQL: dict[str, str] = {
    "company": "'All'",
    "team": f"coalesce(r.team, '{NO_TEAM}')",
    "rep": f"coalesce(o.owner, '{NO_OWNER}')",
    "lead_source": f"coalesce(nullif(trim(o.lead_source), ''), '{NO_SOURCE}')",
}

FUNNEL_COLUMNS: tuple[str, ...] = (
    "step",
    "stage",
    "reached",
    "conversion_from_previous",
    "conversion_from_first",
    "dropped",
    "open",
    "reached_amount",
    "amount_conversion_from_previous",
    "amount_conversion_from_first",
    "dropped_amount",
    "open_amount",
    "median_days_in_stage",
    "stage_stays",
)


# Why a funnel is "no data" (`Funnel.no_data`): no open stage between "deal" and "won".
NO_CREATED_DATES = (
    "the export has no created dates, so deals are placed in a period by their close date; "
    "without stage history a closed deal shows only its outcome (won or lost), not the "
    "stages it passed"
)
NO_STAGES_SEEN = (
    "no deal of the cohort was seen at an open stage of the stage list (no stage history, "
    "and none is open at a listed stage), so the stages they passed are not known"
)


def no_stages_reason(basis: str) -> str:
    """Why a funnel with deals but no open step is no data, for the cohort's basis."""
    return NO_CREATED_DATES if basis == "closed" else NO_STAGES_SEEN


CohortBasis = Literal["created", "closed"]
# Which deals form a period's cohort, by basis: fixed SQL chosen by code, never user text.
_COHORT_WHERE: dict[str, str] = {
    "created": "created_date BETWEEN $period_start AND $period_end",
    "closed": "is_closed AND close_date BETWEEN $period_start AND $period_end",
}
# The deals in scope that are in no period's cohort, by basis (part 'undated').
_OUTSIDE_WHERE: dict[str, str] = {
    "created": "created_date IS NULL",
    "closed": "NOT is_closed OR close_date IS NULL",
}

BASIS_SQL = f"""
SELECT count(*) AS deals, count(o.created_date) AS dated
FROM opportunities AS o
LEFT JOIN reps AS r ON r.rep = o.owner
WHERE {owner_filter_sql("o.owner")}
"""


@memoised
def cohort_basis(con: duckdb.DuckDBPyConnection, scope: Scope) -> CohortBasis:
    """ "created" (the rule), or "closed" when no deal in scope has a created date.

    Why: an export without created dates puts every deal in no cohort, and the funnel
    would be empty for every period. The close date is the only date such deals carry, so
    the funnel then follows the deals closed in the period, and says so.
    """
    params = {k: v for k, v in scope.params().items() if k in ("team", "region", "rep")}
    deals, dated = con.execute(BASIS_SQL, params).fetchone() or (0, 0)
    return "closed" if deals and not dated else "created"


def _cohort_sql(group: str, basis: CohortBasis = "created") -> str:
    """CTEs `steps`, `scoped` and `cohort` (deals in scope created -- or, basis "closed",
    closed -- in the period, grouped, each numbered `deal_no`, with the step of its
    current stage: `stage_step`)."""
    return f"""
    steps AS (
        SELECT unnest($step_keys) AS stage_key, unnest($step_numbers) AS step
    ),
    scoped AS (
        SELECT o.opportunity_id, o.stage, o.amount, o.created_date, o.close_date,
               o.is_closed, o.is_won,
               upper(nullif(trim(o.currency), '')) AS currency_key,
               CASE WHEN o.is_closed THEN o.close_date ELSE CAST($period_end AS DATE) END
                   AS rate_day,
               {_GROUP_SQL[group]} AS grp,
               cs.step AS stage_step
        FROM opportunities AS o
        LEFT JOIN reps AS r ON r.rep = o.owner
        -- mapped as the deals are read (cheapest there), carried through the later CTEs
        LEFT JOIN steps AS cs ON cs.stage_key = lower(trim(o.stage))
        WHERE {owner_filter_sql("o.owner")}
    ),
    cohort AS MATERIALIZED (
        -- deal_no: a number per deal, cheaper than the text id to partition and join on;
        -- MATERIALIZED so every reader sees the same numbering
        SELECT *, row_number() OVER () AS deal_no
        FROM scoped WHERE {_COHORT_WHERE[basis]}
    )"""


def _fold_history_sql(rows: str, crm: bool, won_step: int) -> str:
    """SELECT folding each deal's stage-history rows (CTE `rows`: deal_no, stage,
    entered_at) into one row: furthest step seen, rows (all, from the CRM), and completed
    days per open step as columns `days_0` .. (NULL: no completed stay there).

    A stay runs from entering a stage to the deal's next row (ties in time: the lower step
    first, lost/unknown stages last); the last row's stay is unfinished and not counted.
    `crm` says which origin the rows are (a deal's rows are all CRM or all snapshot).
    """
    day_columns = ",\n               ".join(
        f"sum(days) FILTER (WHERE step = {k}) AS days_{k}" for k in range(won_step)
    )
    return f"""
        SELECT deal_no, max(step) AS hist_step,
               {"count(*)" if crm else "0"} AS crm_rows, count(*) AS all_rows,
               -- open steps the deal was seen at (which stages the data uses)
               list(DISTINCT step) FILTER (WHERE step < {won_step}) AS seen_steps,
               {day_columns}
        FROM (
            -- one sort of all rows rather than a partition per deal (cheaper for a few
            -- rows per deal): the next row counts when it is the same deal's
            SELECT h.deal_no, st.step,
                   CASE WHEN lead(h.deal_no) OVER w = h.deal_no
                        THEN epoch(lead(h.entered_at) OVER w - h.entered_at) / 86400.0
                   END AS days
            FROM {rows} AS h
            LEFT JOIN steps AS st ON st.stage_key = lower(trim(h.stage))
            WINDOW w AS (ORDER BY h.deal_no, h.entered_at, st.step NULLS LAST)
        )
        GROUP BY deal_no"""


def _funnel_sql(group: str, won_step: int, basis: CohortBasis = "created") -> str:
    """One pass over the cohort's stage history, four kinds of rows (column `part`).

    * part 'reach': deals per (group, furthest step) -- counts and amounts by outcome,
      method counts;
    * part 'days': per group, for each open step k, `median_k` (the median of deals'
      completed days in the step) and `stays_k` (how many deals had one);
    * part 'seen': deals per (group, open step) seen at that step themselves (stage
      history or current stage): which stages the data uses;
    * part 'undated': in `deals`, the deals in scope in no cohort (basis "created": no
      created date; basis "closed": not closed, or closed without a close date), in
      `open` how many of them are open.

    One query so the history is read and joined to the cohort once. Each deal's history
    is folded into one row (`_fold_history_sql`) straight from the CRM rows, and from the
    snapshots for the deals the CRM has nothing on (the view's rule, in that order so the
    CRM rows are never stored in between), so the medians and the reach counts read the
    cohort's deals, not their history rows. `won_step` (an int from the stage list) sets
    how many day columns there are.
    """
    open_steps = range(won_step)
    medians = ", ".join(
        f"median(days_{k}) AS median_{k}, count(days_{k}) AS stays_{k}" for k in open_steps
    )
    # the first branch of the UNION names the columns
    no_medians = ", ".join(
        f"NULL::DOUBLE AS median_{k}, NULL::BIGINT AS stays_{k}" for k in open_steps
    )
    return f"""
    WITH {_cohort_sql(group, basis)},
    priced AS ({priced_sql("cohort")}),
    crm_history AS ({crm_history_sql("cohort", "deal_no")}
    ),
    crm_hist AS ({_fold_history_sql("crm_history", True, won_step)}
    ),
    bare AS (
        -- deals without CRM history: usually few, and when none the snapshots go unread
        SELECT d.opportunity_id, d.deal_no FROM cohort AS d
        ANTI JOIN crm_hist AS c ON c.deal_no = d.deal_no
    ),
    snapshot_history AS ({snapshot_history_sql("bare", "deal_no")}
    ),
    hist AS (
        SELECT * FROM crm_hist
        UNION ALL
        {_fold_history_sql("snapshot_history", False, won_step)}
    ),
    deal AS (
        SELECT p.grp, p.is_won, p.is_closed, p.amount_rc, p.unpriced,
               p.amount IS NULL AS no_amount,
               coalesce(h.crm_rows > 0 OR h.all_rows >= 2, false) AS from_history,
               coalesce(h.crm_rows = 0 AND h.all_rows >= 2, false) AS from_snapshots,
               greatest(coalesce(h.hist_step, -1), coalesce(p.stage_step, -1)) AS seen_step,
               list_distinct(list_concat(
                   coalesce(h.seen_steps, []),
                   CASE WHEN p.stage_step < $won_step THEN [p.stage_step] ELSE [] END
               )) AS seen_steps,
               {", ".join(f"h.days_{k}" for k in open_steps)}
        FROM priced AS p
        LEFT JOIN hist AS h ON h.deal_no = p.deal_no
    ),
    placed AS (
        SELECT *,
               CASE WHEN is_won THEN $won_step
                    WHEN seen_step < 0 THEN -1
                    ELSE least(seen_step, $won_step - 1) END AS furthest,
               NOT is_won AND seen_step < 0 AS stage_unknown
        FROM deal
    )
    SELECT 'reach' AS part, grp, furthest AS step,
           count(*)                                                   AS deals,
           coalesce(sum(amount_rc), 0)                                AS amount,
           count(*) FILTER (WHERE is_closed AND NOT is_won)           AS lost,
           coalesce(sum(amount_rc) FILTER (WHERE is_closed AND NOT is_won), 0) AS lost_amount,
           count(*) FILTER (WHERE NOT is_closed)                      AS open,
           coalesce(sum(amount_rc) FILTER (WHERE NOT is_closed), 0)   AS open_amount,
           count(*) FILTER (WHERE from_history)                       AS from_history,
           count(*) FILTER (WHERE from_snapshots)                     AS from_snapshots,
           count(*) FILTER (WHERE stage_unknown)                      AS stage_unknown,
           count(*) FILTER (WHERE unpriced OR no_amount)              AS unpriced,
           {no_medians}
    FROM placed
    GROUP BY grp, furthest
    UNION ALL
    SELECT 'days', grp, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           {medians}
    FROM placed
    GROUP BY grp
    UNION ALL
    SELECT 'seen', grp, step, count(*), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           {no_medians}
    FROM (SELECT grp, unnest(seen_steps) AS step FROM placed)
    GROUP BY grp, step
    UNION ALL
    SELECT 'undated', NULL, NULL, count(*), NULL, NULL, NULL,
           count(*) FILTER (WHERE NOT is_closed), NULL, NULL, NULL, NULL, NULL, {no_medians}
    FROM scoped
    WHERE {_OUTSIDE_WHERE[basis]}
    """


@dataclass(frozen=True)
class Funnel:
    """One funnel: the per-step table plus how the deals were placed.

    `method` is "history" (every deal from stage history), "current stage" (none had
    history: the ordered-stage assumption), "mixed" (some of each: see the two counts)
    or "none" (no deal in the cohort). `hidden` names the configured open stages no deal
    in scope was ever seen at: they are not steps (drawn, they would show a made-up 100%
    conversion). `stage_unknown` deals (no stage history and no open current stage) are in
    `deals` but at no step: reached at the first step = deals - stage_unknown.
    """

    scope: Scope
    table: pd.DataFrame
    deals: int
    from_history: int
    from_current_stage: int
    from_snapshots: int = 0  # of from_history: placed from snapshot-derived history only
    stage_unknown: int = 0
    stage_unknown_lost: int = 0  # of stage_unknown: lost deals (the rest are open)
    unpriced: int = 0
    undated: int = 0
    # of undated: the open ones (basis "closed": the rest are closed without a close date)
    undated_open: int = 0
    group: str = "All"
    stages: tuple[str, ...] = field(default_factory=tuple)
    hidden: tuple[str, ...] = field(default_factory=tuple)
    basis: str = "created"  # "closed": no created dates, the cohort is the deals closed
    no_data: str = ""  # why there is no funnel to draw (no open step), else empty
    won: int = 0
    lost: int = 0
    still_open: int = 0

    @property
    def won_share(self) -> float | None:
        """Won deals / deals of the cohort (stage-unknown deals included); None without a
        deal, where a share has no meaning."""
        return self.won / self.deals if self.deals else None

    @property
    def cohort_words(self) -> str:
        """'created' or 'closed': which date puts a deal in the period."""
        return "closed" if self.basis == "closed" else "created"

    def period_note(self) -> str:
        """'2026-11 was not over on 16 Nov 2026, the data's date: this funnel follows the
        deals created in 2026-11 to date (1–16 Nov).' (empty for a period that was over).

        Why: the report's table carries no period, so without this line a half month's
        funnel reads as the whole month's.
        """
        return to_date_note(self.scope.period, self.cohort_words)

    def counts_note(self) -> str:
        """'3 deals created in the period: 3 won so far (100.0%), 0 still open.' -- the
        cohort's counts the Funnel page's cards show (deals, won, the share won, still open
        or lost, stage unknown).

        Why: a funnel without data has no step rows, so in the report this line is where
        the cohort's figures are, as the cards are on the page.
        """
        share = percent_text(self.won_share)
        if self.basis == "closed":
            text = (
                f"{counted(self.deals, 'deal')} closed in the period: {self.won:,} won "
                f"({share}), {self.lost:,} lost"
            )
        else:
            text = (
                f"{counted(self.deals, 'deal')} created in the period: {self.won:,} won so far "
                f"({share}), {self.still_open:,} still open"
            )
        if self.stage_unknown:
            text += f", {self.stage_unknown:,} stage unknown"
        return text + "."

    def basis_note(self) -> str:
        """Why the cohort is the deals closed in the period (empty for the usual rule)."""
        if self.basis != "closed":
            return ""
        return (
            "The export has no created dates, so deals cannot be placed in the period they "
            "were created: this funnel follows the deals closed in the period (by close date)."
        )

    @property
    def method(self) -> str:
        return _method(self.deals, self.from_history)

    def hidden_note(self) -> str:
        """'Demo, Trial not used by any deal in scope' (empty when every stage is used)."""
        if not self.hidden or self.deals == 0:
            return ""
        return f"{', '.join(self.hidden)} not used by any deal in scope: not shown as steps."

    def stage_unknown_note(self) -> str:
        """Why some deals are at no step (empty when none)."""
        if not self.stage_unknown:
            return ""
        parts = []
        if self.stage_unknown_lost:
            parts.append(f"{self.stage_unknown_lost:,} lost")
        if self.stage_unknown - self.stage_unknown_lost:
            parts.append(f"{self.stage_unknown - self.stage_unknown_lost:,} open")
        return (
            f"Stage unknown: {counted(self.stage_unknown, 'deal')} ({', '.join(parts)}) "
            f"{verb(self.stage_unknown, 'has', 'have')} no stage "
            "history and a current stage that is not an open stage of the list, so where they "
            "stopped is unknown; they are counted apart, not as dropped at the first step."
        )

    def _all_deals(self) -> str:
        """'all 6 deals', or 'the one deal' (never 'all 1 deals')."""
        return "the one deal" if self.deals == 1 else f"all {self.deals:,} deals"

    def snapshots_words(self) -> str:
        """'2 from the uploaded exports, whose days in a stage run from one export's date
        to the next'.

        Why: these deals' stage changes are only known at the exports' dates, so their
        days in a stage are whole gaps between two uploads, not the CRM's days. They
        said "from weekly snapshots", which a team that exports monthly read as weekly
        precision, and the median days in stage as exact (a new user's 21.0 days were
        the 21 days between its two exports).
        """
        return (
            f"{self.from_snapshots:,} from the uploaded exports, whose days in a stage run "
            "from one export's date to the next"
        )

    def method_note(self) -> str:
        """One sentence for the page: which rule placed the deals, with the counts."""
        if self.deals == 0:
            text = f"No deal was {self.cohort_words} in this period."
        elif self.method == "history":
            text = f"Stage reached from stage history for {self._all_deals()}."
            if self.from_snapshots:
                text = text[:-1] + f" ({self.snapshots_words()})."
        elif self.method == "current stage":
            text = (
                "No stage history: stage reached from the current stage for "
                f"{self._all_deals()} (a deal in stage k is taken to have passed every "
                "earlier stage)."
            )
        else:
            text = (
                f"Mixed: {counted(self.from_history, 'deal')} placed from stage history"
                + (f" ({self.snapshots_words()})" if self.from_snapshots else "")
                + f", {self.from_current_stage:,} from "
                + verb(self.from_current_stage, "its", "their")
                + " current stage (no history: a deal in stage k is taken to have passed "
                "every earlier stage)."
            )
        extras = [self.stage_unknown_note(), self.hidden_note()]
        if self.no_data:
            extras = [self.stage_unknown_note()]  # no steps drawn: hidden stages say nothing
        if self.unpriced:
            extras.append(
                f"{counted(self.unpriced, 'deal')} {verb(self.unpriced, 'has', 'have')} "
                "no amount or rate (counts only)."
            )
        if self.undated and self.basis == "closed":
            extras.append(self.outside_cohorts_note())
        elif self.undated:
            extras.append(
                f"{counted(self.undated, 'deal')} {verb(self.undated, 'has', 'have')} "
                "no created date (in no cohort)."
            )
        return " ".join([self.basis_note(), text, *(e for e in extras if e)]).strip()

    def outside_cohorts_note(self) -> str:
        """Basis "closed": the deals in no period's cohort, open ones and closed ones
        without a close date told apart (a Zoho export without a closing date read "3 open
        deals are in no period's cohort" for 1 open, 1 won and 1 lost deal)."""
        undated_closed = self.undated - self.undated_open
        if not undated_closed:
            return (
                f"{counted(self.undated, 'open deal')} {verb(self.undated, 'is', 'are')} "
                "in no period's cohort."
            )
        if not self.undated_open:
            return (
                f"{counted(undated_closed, 'closed deal')} "
                f"{verb(undated_closed, 'has', 'have')} no close date and "
                f"{verb(undated_closed, 'is', 'are')} in no period's cohort."
            )
        return (
            f"{counted(self.undated, 'deal')} {verb(self.undated, 'is', 'are')} in no "
            f"period's cohort: {self.undated_open:,} open, {undated_closed:,} closed "
            "without a close date."
        )


def to_date_note(period: Period, words: str = "created") -> str:
    """What the report says about a period cut at the data's date (`Period.to_date`),
    `words` the cohort's date ("created", or "closed" without created dates); empty for a
    period that was over."""
    if not period.is_to_date:
        return ""
    return (
        f"{period.label} was not over on {period.end:%-d %b %Y}, the data's date: this funnel "
        f"follows the deals {words} in {period.name}."
    )


def compared_periods(
    con: duckdb.DuckDBPyConnection, period: Period, versus: Period | None = None
) -> tuple[Period, Period]:
    """The two periods a comparison by period reads: `period` and `versus` (default: the
    previous period), each taken to date on the data's date (`data_as_of`), and a whole
    period compared with one to date cut at the same calendar day (`Period.same_days_as`).

    Why: the data stops on its as-of date, so a month not over then holds only its first
    days' new deals. Beside a whole month it reads as a collapse (the demo's "2026-11"
    against all of October). The Overview and the scorecard compare such a period with the
    same days before; the funnel follows the same rule, and its labels (`Period.name`,
    "2026-11 to date (1–16 Nov)") say which days each block covers.
    """
    as_of = data_as_of(con)
    this = period.to_date(as_of)
    other = versus.to_date(as_of) if versus is not None else this.previous()
    if this.is_to_date and not other.is_to_date:
        other = other.same_days_as(this)
    elif other.is_to_date and not this.is_to_date:
        this = this.same_days_as(other)
    return this, other


def _method(deals: int, from_history: int) -> str:
    if deals == 0:
        return "none"
    if from_history == deals:
        return "history"
    if from_history == 0:
        return "current stage"
    return "mixed"


def _share(part: float, whole: float) -> float | None:
    return None if not whole else float(part) / float(whole)


def used_steps(seen: pd.DataFrame, won_step: int) -> list[int]:
    """Configured open step numbers (0-based, sorted) at which some deal was seen.

    `seen` holds the 'seen' rows (step, deals) of every group being drawn together, so
    funnels compared side by side share their steps.
    """
    if seen.empty:
        return []
    steps = seen.loc[seen["deals"] > 0, "step"].dropna().astype(int)
    return sorted({k for k in steps if 0 <= k < won_step})


def place_step(furthest: int, used: list[int], won_step: int) -> int | None:
    """A deal's furthest configured step -> its row among the shown steps (None: unknown).

    Won -> the last row. An open step the deal was seen at is always used, so it maps to
    itself; a deal capped at the last open stage (marked won, then lost or reopened) goes
    to the last used open step at or below it; no such step, or no known stage: None.
    """
    if furthest == won_step:
        return len(used)
    if furthest < 0:
        return None
    below = [i for i, k in enumerate(used) if k <= furthest]
    return below[-1] if below else None


def _build_table(
    steps: list[Stage], used: list[int], reach: pd.DataFrame, days: pd.DataFrame
) -> tuple[pd.DataFrame, int, int]:
    """The per-step table for one group (shown steps: `used` open steps, then won), and
    its deals placed at no step (stage unknown): how many, and how many of them lost."""
    won_step = len(steps) - 1
    shown = [steps[k] for k in used] + [steps[won_step]]
    n = len(shown)
    sums = ["deals", "amount", "lost", "lost_amount", "open", "open_amount"]
    unknown = unknown_lost = 0
    by_step = pd.DataFrame(0.0, index=range(n), columns=sums)
    for _, row in reach.iterrows():
        at = place_step(int(row["furthest"]), used, won_step)
        if at is None:
            unknown += int(row["deals"])
            unknown_lost += int(row["lost"])
            continue
        for col in sums:
            by_step.at[at, col] += float(row[col] or 0)
    day_by_step = days.set_index("step") if not days.empty else days

    rows: list[dict[str, Any]] = []
    cumulative: list[tuple[float, float]] = [(0.0, 0.0)] * n
    reached_from_here = amount_from_here = 0.0
    for i in range(n - 1, -1, -1):
        reached_from_here += by_step.at[i, "deals"]
        amount_from_here += by_step.at[i, "amount"]
        cumulative[i] = (reached_from_here, amount_from_here)
    first_n, first_amount = cumulative[0]
    for i, stage in enumerate(shown):
        reached, amount = cumulative[i]
        prev_n, prev_amount = cumulative[i - 1] if i else (None, None)
        is_won = i == n - 1
        k = won_step if is_won else used[i]
        has_days = not is_won and not day_by_step.empty and k in day_by_step.index
        stays = int(day_by_step.at[k, "stays"] or 0) if has_days else 0
        rows.append(
            {
                "step": i + 1,
                "stage": stage.name,
                "reached": int(reached),
                "conversion_from_previous": None if i == 0 else _share(reached, prev_n or 0),
                "conversion_from_first": _share(reached, first_n),
                "dropped": int(by_step.at[i, "lost"]),
                "open": int(by_step.at[i, "open"]),
                "reached_amount": round(amount, 2),
                "amount_conversion_from_previous": (
                    None if i == 0 else _share(amount, prev_amount or 0)
                ),
                "amount_conversion_from_first": _share(amount, first_amount),
                "dropped_amount": round(by_step.at[i, "lost_amount"], 2),
                "open_amount": round(by_step.at[i, "open_amount"], 2),
                "median_days_in_stage": (
                    float(day_by_step.at[k, "median_days"]) if stays else None
                ),
                "stage_stays": stays,
            }
        )
    return pd.DataFrame(rows, columns=list(FUNNEL_COLUMNS)), unknown, unknown_lost


def _params(
    con: duckdb.DuckDBPyConnection, scope: Scope, stages: tuple[Stage, ...] | list[Stage]
) -> dict[str, Any]:
    return scope.params() | step_keys(stages) | fx_params(con)


def _days_by_step(rows: pd.DataFrame, won_step: int) -> pd.DataFrame:
    """The 'days' rows (one per group, `median_k` / `stays_k` per open step) as one row per
    group and step with columns grp, step, stays, median_days, as `_build_table` reads them."""
    frames = [
        pd.DataFrame(
            {
                "grp": rows["grp"],
                "step": k,
                "stays": rows[f"stays_{k}"],
                "median_days": rows[f"median_{k}"],
            }
        )
        for k in range(won_step)
    ]
    return pd.concat(frames, ignore_index=True)


@dataclass(frozen=True)
class _Rows:
    """One query's grouped rows, before the shown steps are chosen."""

    scope: Scope
    reach: pd.DataFrame
    days: pd.DataFrame
    seen: pd.DataFrame
    undated: int
    groups: list[str]
    basis: str = "created"
    undated_open: int = 0


def _query(
    con: duckdb.DuckDBPyConnection, scope: Scope, group: str, stage_list: list[Stage]
) -> _Rows:
    params = _params(con, scope, stage_list)
    basis = cohort_basis(con, scope)
    rows = run_sql(con, _funnel_sql(group, params["won_step"], basis), params)
    reach = rows[rows["part"] == "reach"].rename(columns={"step": "furthest"})
    days = _days_by_step(rows[rows["part"] == "days"], params["won_step"])
    seen = rows.loc[rows["part"] == "seen", ["grp", "step", "deals"]]
    undated = int(rows.loc[rows["part"] == "undated", "deals"].sum())
    undated_open = int(rows.loc[rows["part"] == "undated", "open"].sum())
    groups = sorted(set(reach["grp"])) if not reach.empty else []
    if group == "company" and not groups:
        groups = ["All"]
    return _Rows(scope, reach, days, seen, undated, [str(g) for g in groups], basis, undated_open)


def _funnels_of(parts: list[_Rows], stage_list: list[Stage]) -> list[Funnel]:
    """One Funnel per group of every query in `parts`, all on the same shown steps: the
    open stages any deal of any of them was seen at, then won."""
    steps = funnel_steps(stage_list)
    won_step = len(steps) - 1
    used = used_steps(pd.concat([p.seen for p in parts], ignore_index=True), won_step)
    hidden = tuple(steps[k].name for k in range(won_step) if k not in used)
    out: list[Funnel] = []
    for part in parts:
        for name in part.groups:
            mine = part.reach[part.reach["grp"] == name]
            days = part.days[part.days["grp"] == name]
            table, unknown, unknown_lost = _build_table(steps, used, mine, days)
            total = int(mine["deals"].sum()) if not mine.empty else 0
            history = int(mine["from_history"].sum()) if not mine.empty else 0
            reason = no_stages_reason(part.basis) if total and not used else ""
            if reason:
                table.attrs["no_data"] = {"funnel": reason}
            won = int(mine.loc[mine["furthest"] == won_step, "deals"].sum()) if total else 0
            out.append(
                Funnel(
                    scope=part.scope,
                    table=table,
                    deals=total,
                    from_history=history,
                    from_current_stage=total - history,
                    from_snapshots=int(mine["from_snapshots"].sum()) if not mine.empty else 0,
                    stage_unknown=unknown,
                    stage_unknown_lost=unknown_lost,
                    unpriced=int(mine["unpriced"].sum()) if not mine.empty else 0,
                    undated=part.undated,
                    undated_open=part.undated_open,
                    group=name,
                    stages=tuple(table["stage"]),
                    hidden=hidden,
                    basis=part.basis,
                    no_data=reason,
                    won=won,
                    lost=int(mine["lost"].sum()) if total else 0,
                    still_open=int(mine["open"].sum()) if total else 0,
                )
            )
    return out


def _stage_list(
    con: duckdb.DuckDBPyConnection, stages: tuple[Stage, ...] | list[Stage] | None
) -> list[Stage]:
    stage_list = list(stages if stages is not None else load_stages(con))
    if len(funnel_steps(stage_list)) < 2:
        raise ValueError("the stage list needs at least one open stage and a won stage")
    return stage_list


def _funnels(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    group: str,
    stages: tuple[Stage, ...] | list[Stage] | None,
) -> list[Funnel]:
    """One Funnel per group value (one for "company"), groups sorted by name."""
    stage_list = _stage_list(con, stages)
    return _funnels_of([_query(con, scope, group, stage_list)], stage_list)


def funnel(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    *,
    stages: tuple[Stage, ...] | list[Stage] | None = None,
) -> Funnel:
    """The funnel of the deals created in `scope`'s period (stages default to settings).

    A period not over on the data's date is taken to date (`Period.to_date`), as on the
    Overview: its cohort, its open deals' rate day and its name ("2026-11 to date (1–16
    Nov)") are those of the days the data covers, not of days nothing is known about.
    """
    return _funnels(con, scope.to_date(data_as_of(con)), "company", stages)[0]


def funnel_compare(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    by: CompareBy = "team",
    *,
    versus: Period | None = None,
    stages: tuple[Stage, ...] | list[Stage] | None = None,
) -> pd.DataFrame:
    """Funnels side by side, one block of rows per team, rep, lead source or period.

    `by="period"` compares `scope.period` with `versus` (default: the previous period),
    same filters, each taken to date and a whole period cut at the same calendar day as
    one to date (`compared_periods`); blocks are labelled by `Period.name` ("2026-11 to
    date (1–16 Nov)", "2026-10 to date (1–16 Oct)"). Other groupings read `scope` taken to
    date, as `funnel` does; `attrs["period"]` is the period they read. A period in which
    no deal was created (or closed, for an export without created dates) has no block, as
    the page draws no funnel for it alone: its steps would be made-up zeros; its label is
    in `attrs["without_deals"]` (`without_deals_note`).
    Every block has the same steps (the open stages any deal of any block was seen at,
    then won), so the blocks line up. Columns: group, then `FUNNEL_COLUMNS`, then
    the group's method, deals, from_history, from_current_stage and stage_unknown, so each
    block says how it was computed. `attrs["hidden"]`: the stages shown by no block.
    """
    if by not in COMPARE_BY:
        raise ValueError(f"cannot compare funnels by {by!r}: use {', '.join(COMPARE_BY)}")
    stage_list = _stage_list(con, stages)
    if by == "period":
        this, other = compared_periods(con, scope.period, versus)
        scope = scope.with_period(this)
        scopes = (scope, scope.with_period(other))
        found = _funnels_of([_query(con, s, "company", stage_list) for s in scopes], stage_list)
        labels = [this.name, other.name]
    else:
        scope = scope.to_date(data_as_of(con))
        found = _funnels_of([_query(con, scope, by, stage_list)], stage_list)
        labels = [f.group for f in found]
    frames = []
    pairs = list(zip(labels, found, strict=True))
    # a period without a cohort is no funnel (no invented block); groups always have deals
    without = [label for label, f in pairs if by == "period" and f.deals == 0]
    for label, f in pairs:
        if label in without:
            continue
        frame = f.table.copy()
        frame.insert(0, "group", label)
        frame["method"] = f.method
        frame["deals"] = f.deals
        frame["from_history"] = f.from_history
        frame["from_current_stage"] = f.from_current_stage
        frame["stage_unknown"] = f.stage_unknown
        frames.append(frame)
    columns = ["group", *FUNNEL_COLUMNS, "method", "deals", "from_history"]
    columns += ["from_current_stage", "stage_unknown"]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    out.attrs["hidden"] = list(found[0].hidden) if found else []
    out.attrs["basis"] = found[0].basis if found else "created"
    out.attrs["without_deals"] = without
    out.attrs["period"] = scope.period
    reasons = {f.no_data for f in found if f.no_data}
    if reasons:  # the blocks share their steps: no open step in one is none in all
        out.attrs["no_data"] = {"funnel": sorted(reasons)[0]}
    return out


def nothing_to_compare(basis: str) -> str:
    """What the Funnel page and `report funnel --by ...` say when compared funnels have no
    deal at all (`basis`: "created", or "closed" without created dates)."""
    noun = "closed" if basis == "closed" else "created"
    return f"No deal was {noun} in this period: nothing to compare."


def without_deals_note(table: pd.DataFrame) -> str | None:
    """What the Funnel page and `report funnel --by period` say about a compared period
    in which no deal was created (`funnel_compare`'s `attrs["without_deals"]`), else None.

    Why: that period has no block (its zeros would be made up), so the reader must be told
    why only one period is shown, or why nothing is: "No deal was created in 2024-03: no
    funnel to compare 2024-04 with." / "No deal was created in 2024-09 or 2024-08: nothing
    to compare."
    """
    without = list(table.attrs.get("without_deals") or [])
    if not without:
        return None
    noun = "closed" if table.attrs.get("basis") == "closed" else "created"
    shown = list(dict.fromkeys(table["group"])) if not table.empty else []
    if shown:
        return (
            f"No deal was {noun} in {' or '.join(without)}: no funnel to compare {shown[0]} with."
        )
    return f"No deal was {noun} in {' or '.join(without)}: nothing to compare."


# --- for reading (pages) ------------------------------------------------------------------

PERCENT_COLUMNS: tuple[str, ...] = (
    "conversion_from_previous",
    "conversion_from_first",
    "amount_conversion_from_previous",
    "amount_conversion_from_first",
)
AMOUNT_COLUMNS: tuple[str, ...] = ("reached_amount", "dropped_amount", "open_amount")


def readable_table(table: pd.DataFrame) -> pd.DataFrame:
    """The funnel table (or a comparison) as a person reads it: shares as '62.5%', amounts
    as '71,000', median time in stage as '7.0 days' or '12 h 22 min', and '—' wherever a
    figure is undefined (the first step has no previous one; nobody reached the step
    before) -- never None or NaN. Counts stay numbers. Downloads keep the raw table.
    """
    out = table.copy()
    for col in PERCENT_COLUMNS:
        if col in out:
            out[col] = [percent_text(v) for v in out[col]]
    for col in AMOUNT_COLUMNS:
        if col in out:
            out[col] = [amount_text(v) for v in out[col]]
    if "median_days_in_stage" in out:
        out["median_days_in_stage"] = [duration_text(v) for v in out["median_days_in_stage"]]
    return out


# Which share of the first step a comparison shows, per measure the page offers.
SHARE_OF_FIRST: dict[str, str] = {
    "reached": "conversion_from_first",
    "reached_amount": "amount_conversion_from_first",
}


def compare_order(table: pd.DataFrame, by: str) -> list[str]:
    """The groups of a comparison (`funnel_compare`) in the order they are drawn and
    listed: two periods as given (this period first); teams, reps or lead sources by the
    deals in their cohort, most first, ties in the comparison's own order. The chart
    takes the first few, so the largest groups are the ones drawn."""
    sizes = table.groupby("group", sort=False)["deals"].first()
    if by != "period":
        sizes = sizes.sort_values(ascending=False, kind="stable")
    return list(sizes.index)


def compare_shares(table: pd.DataFrame, groups: list[str], measure: str) -> pd.DataFrame:
    """A comparison as one row per group, in `groups` order: group, deals, stage_unknown,
    method, then per step (in step order) the share of the group's first step that reached
    it, by count (`measure` "reached") or amount ("reached_amount"), as text ('62.5%', '—'
    where undefined). `attrs["steps"]` lists the step columns.

    Why here: the page's table and the report must read the same shares, and a reshape in
    a page is one no test reaches (issue 16, item 6).
    """
    steps = list(dict.fromkeys(table["stage"]))
    wide = table.pivot(index="group", columns="stage", values=SHARE_OF_FIRST[measure])
    wide = wide.reindex(index=groups, columns=steps)
    first = table.groupby("group", sort=False).first().reindex(groups)
    out = pd.DataFrame(
        {
            "group": groups,
            "deals": first["deals"].to_numpy(),
            "stage_unknown": first["stage_unknown"].to_numpy(),
            "method": first["method"].to_numpy(),
        }
    )
    for step in steps:
        out[step] = [percent_text(v) for v in wide[step]]
    out.attrs["steps"] = steps
    return out


# --- the table `python -m analytics report funnel` prints -----------------------------


def funnel_report_table(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    by: str = "company",
    versus: Period | None = None,
) -> pd.DataFrame:
    """The Funnel page's table with its method columns (one funnel), or the funnels
    compared by a grouping or against another period. What the page says beside the table
    is in `attrs["notes"]`.

    A cohort without a deal has no funnel: the table has no row (never a made-up "Closed
    Won, 0" step) and the note is the page's sentence ("No deal was created in this
    period.", `Funnel.method_note`); compared funnels without any deal say the page's
    "nothing to compare" (`nothing_to_compare`), and a compared period without a created
    deal has no block and is named (`without_deals_note`). A funnel that is no data
    (`Funnel.no_data`: no deal seen at an open stage, e.g. every deal lost without history
    or a list of won deals) has no row either, as the page draws no table: its one "Closed
    Won" row would be made up (0 reached, or 100%). The notes give the reason and, for one
    funnel, the counts the page's cards show (`Funnel.counts_note`)."""
    if by == "company":
        f = funnel(con, scope)
        table = f.table.copy()
        if f.deals == 0 or f.no_data:  # no step to show, whatever the stage list holds
            table = table.iloc[0:0]
        table["method"] = f.method
        table["deals"] = f.deals
        table["from_history"] = f.from_history
        table["from_current_stage"] = f.from_current_stage
        table["stage_unknown"] = f.stage_unknown
        notes = [f.period_note(), f.basis_note(), f.hidden_note(), f.stage_unknown_note()]
        if f.no_data:
            notes = [f.period_note(), f.basis_note(), f"no data: {f.no_data}"]
            notes += [f.counts_note(), f.stage_unknown_note()]
            table.attrs["no_data"] = {"funnel": f.no_data}
        if f.deals == 0:
            # the page's words: basis, "No deal was ...", extras
            notes = [f.period_note(), f.method_note()]
            table.attrs["no_data"] = {"funnel": f"no deal was {f.cohort_words} in this period"}
        table.attrs["notes"] = [n for n in notes if n]
        return table
    table = funnel_compare(con, scope, by, versus=versus)  # type: ignore[arg-type]
    hidden = table.attrs.get("hidden") or []
    without = without_deals_note(table)  # a compared period without a created deal
    notes = [without] if without else []
    period = table.attrs.get("period")
    words = "closed" if table.attrs.get("basis") == "closed" else "created"
    # compared periods carry "to date" in their labels; other groupings say it here
    cut = [to_date_note(period, words)] if by != "period" and period is not None else []
    cut = [n for n in cut if n]
    if table.empty:
        notes = notes or [nothing_to_compare(table.attrs.get("basis", "created"))]
        table.attrs["notes"] = cut + notes
        return table
    if table.attrs.get("basis") == "closed":
        notes.append(
            "the export has no created dates: each funnel follows the deals closed "
            "in its period (by close date)"
        )
    if table.attrs.get("no_data"):
        # as the page: no funnels to compare, no block (each would be one made-up row)
        notes.append(f"no data: {table.attrs['no_data']['funnel']}")
        table = table.iloc[0:0]
    elif hidden:
        notes.append(f"{', '.join(hidden)} not used by any deal in scope: not shown as steps.")
    table.attrs["notes"] = cut + notes
    return table

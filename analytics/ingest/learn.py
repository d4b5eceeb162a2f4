"""Stages are learned, not refused: a stage value the settings do not know is classified
from the file's own signals and added to the stage list.

Every company names its stages its own way, so an unknown stage is the normal case of a
first upload, not an error. The evidence, strongest first:

1. the rows' own outcome: a status column (Pipedrive's open/won/lost), IsWon / IsClosed;
2. the file's probability column: 100 on every row is won, 0 on every row is lost, and
   an open stage's probability is the median of its rows;
3. the words of the name: won, lost or closed in English, Russian, Korean and Chinese;
   won or lost in German, Dutch, French, Spanish, Portuguese and Italian;
4. otherwise the stage is open. When its name reads as the usual funnel step
   (analytics.ingest.stage_lexicon) of an open stage the settings already have, by that
   stage's name or one of its aliases ("Verhandlung" is the negotiation step, which
   "Final Decision" holds by its alias "Negotiation"), it joins that stage as an alias: a
   second stage of the same step with an invented probability would weigh a German
   negotiation differently from an English one. Otherwise its probability is set by its
   position (10-90%) in the funnel order analytics.ingest.stage_order reads from the
   CRM's stage history, a number its name starts with, the usual funnel step its name
   names, the age of its open deals, and last its deal count (more deals, earlier).

Won and lost still follow each row where the file carries an outcome (the loader reads
the row's status before the stage's), so one stage value may hold open, won and lost deals.

A status column (Pipedrive's Deal - Status: open / won / lost) is an outcome beside the
stage, not a property of it: Pipedrive keeps a won or lost deal in the pipeline step it
was in when it closed. So where a status column gives a stage's rows their outcome,
signals 1 and 2 are skipped (a closed row's probability of 100 or 0 is its outcome again)
and the stage is learned from its name (3) or as an open stage (4, its probability the
median of its OPEN rows' probabilities): a stage whose two rows are both won is still the
step "Negotiations", and learning it as the won stage would make the next export's open
deal in it a "Closed Won" deal weighted at 100%.
IsWon / IsClosed flags (Salesforce, Bitrix24) are different: those CRMs derive them from
the stage (a Salesforce stage is defined closed and won in its picklist), so there a
stage whose rows are all won is the won stage, as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date

import duckdb

from analytics.ingest.stage_order import Evidence, lexicon_step
from analytics.ingest.stage_order import order as funnel_order
from analytics.settings import Stage, norm_key

# Words of a stage name that say how a deal ended; matched on word boundaries for
# alphabetic scripts and as substrings for Korean and Chinese.
WON_WORDS = (
    "won", "win", "wins", "signed", "выиграна", "выигран", "успешно", "успешна",
    # German / Dutch, French, Spanish, Portuguese, Italian: a first export from a team that
    # works in one of them ("Gewonnen", "Cerrada ganada", "Fechado/Ganho", "Chiusa vinta")
    # must not turn its won deals into open pipeline
    "gewonnen", "gewonnene", "gagné", "gagnée", "gagne", "gagnee", "ganado", "ganada",
    "ganados", "ganadas", "ganho", "ganha", "vinto", "vinta",
)  # fmt: skip
# Bitrix24's default final stages are "Сделка успешна" / "Сделка провалена" (crm REST
# crm.status.list for DEAL_STAGE: WON, LOSE), so "провалена" says lost too.
LOST_WORDS = (
    "lost", "lose", "loss", "dead", "disqualified", "проиграна", "проигран", "отказ",
    "провалена", "провален",
    "verloren", "verlorene", "perdu", "perdue", "perdido", "perdida", "perdidos", "perdidas",
    "perso", "persa",
)  # fmt: skip
CLOSED_WORDS = ("closed", "закрыта", "закрыт", "закрыто")
WON_CJK = ("성사", "수주", "성공", "赢单", "成交", "赢得")
LOST_CJK = ("실패", "실주", "输单", "丢单", "失败")
CLOSED_CJK = ("종료", "마감", "关闭", "结束")
# Phrases checked first: amoCRM's "Закрыта и не реализована" (lost) beside "Успешно
# реализовано" (won); "not won" is lost.
LOST_PHRASES = ("не реализ", "нереализ", "not won", "no deal", "미성사", "未成交")
WON_PHRASES = ("реализован", "closed won", "closedwon")


# Longer values are not stage names (a pasted note, a formula's text): they stay refused.
MAX_STAGE_NAME = 100


@dataclass(frozen=True)
class LearnedStage:
    """One stage value of an upload the settings did not know, and what it became."""

    value: str  # as the file wrote it
    count: int  # rows carrying it
    classification: str  # open | won | lost | mapped
    why: str
    probability: float  # percent
    maps_to: str | None = None  # the existing stage it joins (won, lost and mapped ones)

    @property
    def is_closed(self) -> bool:
        return self.classification in ("won", "lost")

    @property
    def is_won(self) -> bool:
        return self.classification == "won"

    def describe(self) -> str:
        target = f" (as {self.maps_to!r})" if self.maps_to else ""
        return (
            f"{self.value!r}: {self.count:,} row{'s' if self.count != 1 else ''}, "
            f"{self.classification}{target}, probability {self.probability:g}%; {self.why}"
        )


def name_says(label: str) -> str | None:
    """'won', 'lost' or None from the words of a stage name."""
    text = label.casefold()
    if any(p in text for p in LOST_PHRASES):
        return "lost"
    if any(p in text for p in WON_PHRASES):
        return "won"
    words = set(re.findall(r"\w+", text))
    if words & set(WON_WORDS) or any(w in label for w in WON_CJK):
        return "won"
    if words & set(LOST_WORDS) or any(w in label for w in LOST_CJK):
        return "lost"
    if words & set(CLOSED_WORDS) or any(w in label for w in CLOSED_CJK):
        return "lost"  # closed, and not said to be won
    return None


@dataclass(frozen=True)
class Signals:
    """What the rows of one stage value say (from stage_signals)."""

    count: int
    won: int  # rows whose own outcome is won
    lost: int
    open: int
    probability_rows: int  # rows with a probability
    probability_median: float | None
    probability_min: float | None
    probability_max: float | None
    # closed rows whose file says nothing of won or lost (Bitrix24's "Сделка закрыта"
    # without a won flag): neither won nor lost by themselves, only not open
    closed: int = 0
    # the median age in days of its open rows (created date to `age_reference`, the latest
    # created date in the file), when the file has created dates
    open_age_days: float | None = None
    age_reference: date | None = None
    # the median probability of its open rows only (a won row's 100 is its outcome, not
    # the step's odds): the open stage's probability where a status column decides
    open_probability_median: float | None = None


def classify(
    label: str, s: Signals, *, status_decides: bool = False
) -> tuple[str, str, float | None]:
    """(classification, why, probability or None when it is to be set by position).

    `status_decides` says the rows' outcome comes from a status column beside the stage
    (module docstring): then a stage whose rows have an outcome is not won or lost by
    those outcomes, nor by the probability of 100 or 0 that closed rows carry (the same
    outcome again), since each row keeps its own outcome and a later open deal in the same
    step must stay open pipeline. Only its name can still close it ("Gewonnen" beside a
    status of Won is the won stage), as for any stage none of whose rows is open.
    """
    outcomes = s.won + s.lost + s.open
    if status_decides and outcomes:
        said = name_says(label) if not s.open else None
        if said == "won":
            return "won", "its name says won", 100.0
        if said == "lost":
            return "lost", "its name says lost or closed", 0.0
        why = (
            f"its rows carry their own status ({s.open:,} open, {s.won:,} won, "
            f"{s.lost:,} lost), which each row keeps; the stage is the pipeline step they "
            "are or were in, not an outcome"
        )
        if s.open_probability_median is None:
            return "open", why, None
        return (
            "open",
            why + "; probability: the median of its open rows",
            (s.open_probability_median),
        )
    if outcomes:
        if s.won == outcomes:
            return "won", f"all {s.won:,} of its rows with an outcome are won", 100.0
        if s.lost == outcomes:
            return "lost", f"all {s.lost:,} of its rows with an outcome are lost", 0.0
    if s.probability_rows and s.probability_min == s.probability_max == 100:
        return "won", "the file's probability is 100% on every row", 100.0
    if s.probability_rows and s.probability_min == s.probability_max == 0 and not s.open:
        return "lost", "the file's probability is 0% on every row", 0.0
    if not outcomes or not s.open:
        said = name_says(label)
        if said == "won":
            return "won", "its name says won", 100.0
        if said == "lost":
            return "lost", "its name says lost or closed", 0.0
    if s.closed and not outcomes:
        return "lost", f"all {s.closed:,} of its rows are closed and none is said to be won", 0.0
    if outcomes and s.open < outcomes:
        why = (
            f"its rows carry their own outcome ({s.open:,} open, {s.won:,} won, "
            f"{s.lost:,} lost), which each row keeps"
        )
    elif outcomes:
        why = "its rows are open by their status"
    else:
        why = "nothing in the file says it is closed"
    if s.probability_rows and s.probability_median is not None:
        return "open", why + "; probability: the median of its rows", s.probability_median
    return "open", why, None


def stage_signals(
    con: duckdb.DuckDBPyConnection,
    labels: list[str],
    won_sql: str | None,
    closed_sql: str | None,
    probability_sql: str | None,
    created_sql: str | None = None,
) -> dict[str, Signals]:
    """One scan of `staged_text` over the rows of the unknown labels only (and, with
    created dates, one over the created dates of all rows for the latest of them)."""
    won = won_sql or "NULL::BOOLEAN"
    closed = closed_sql or "NULL::BOOLEAN"
    prob = probability_sql or "NULL::DOUBLE"
    created = f"CAST({created_sql} AS DATE)" if created_sql else "NULL::DATE"
    rows = con.execute(
        f"""
        WITH latest AS (
            SELECT max({created}) AS day FROM staged_text
        ),
        rows AS (
            SELECT r_stage AS label, {won} AS row_won, {closed} AS row_closed, {prob} AS p,
                   {created} AS created
            FROM staged_text
            WHERE r_stage IN (SELECT unnest(?))
        )
        SELECT label, count(*),
               count(*) FILTER (WHERE row_won),
               count(*) FILTER (WHERE row_closed AND row_won IS NOT NULL AND NOT row_won),
               count(*) FILTER (WHERE NOT row_closed AND NOT coalesce(row_won, false)),
               count(p), median(p), min(p), max(p),
               count(*) FILTER (WHERE row_closed AND row_won IS NULL),
               median(date_diff('day', created, latest.day)) FILTER (
                   WHERE NOT coalesce(row_closed, false) AND NOT coalesce(row_won, false)
               ),
               any_value(latest.day),
               median(p) FILTER (
                   WHERE NOT coalesce(row_closed, false) AND NOT coalesce(row_won, false)
               )
        FROM rows, latest GROUP BY label
        """,
        [labels],
    ).fetchall()
    return {r[0]: Signals(*r[1:]) for r in rows}


HISTORY_TABLE = "stage_history_imported"


def stage_steps(stages: tuple[Stage, ...]) -> dict[int, tuple[Stage, str]]:
    """Lexicon step index -> (the open stage of the settings that holds it, step name).
    A stage holds the steps its name and its aliases read as. Where several stages hold
    one step, a stage whose own name reads as it wins, then the first in funnel order
    (Discovery, with its alias "Appointment Scheduled", rather than Qualified, with
    Pipedrive's "Contact Made"), so the choice is predictable."""
    by_name: dict[int, tuple[Stage, str]] = {}
    by_alias: dict[int, tuple[Stage, str]] = {}
    for stage in stages:
        if stage.is_closed:
            continue
        named = lexicon_step(stage.name)
        if named is not None:
            by_name.setdefault(named[0], (stage, named[1]))
        for alias in stage.aliases:
            step = lexicon_step(alias)
            if step is not None:
                by_alias.setdefault(step[0], (stage, step[1]))
    return {**by_alias, **by_name}


def history_positions(
    con: duckdb.DuckDBPyConnection, labels: list[str], source: str = HISTORY_TABLE
) -> dict[str, float]:
    """Where each label sits in the CRM's recorded stage history (0 = first stage a deal
    enters, 1 = last), the median over the deals that passed through more than one stage.
    `source` is the
    stored history or, for a stage-history upload, the upload itself (a relation chosen by
    this code with source_stage, opportunity_id, entered_at). Empty when no history holds
    the labels (or the database has no history table, as in a preview)."""
    try:
        rows = con.execute(
            f"""
            WITH ranked AS (
                SELECT source_stage, count(*) OVER w2 AS n,
                       (row_number() OVER w - 1) / greatest(count(*) OVER w2 - 1, 1) AS pos
                FROM {source}
                WHERE entered_at IS NOT NULL
                WINDOW w AS (PARTITION BY opportunity_id ORDER BY entered_at),
                       w2 AS (PARTITION BY opportunity_id)
            )
            SELECT source_stage, median(pos) FROM ranked
            WHERE n > 1 AND source_stage IN (SELECT unnest(?)) GROUP BY source_stage
            """,
            [labels],
        ).fetchall()
    except duckdb.Error:
        return {}
    return {label: float(pos) for label, pos in rows}


def learn(
    con: duckdb.DuckDBPyConnection,
    stages: tuple[Stage, ...],
    labels: list[str],
    *,
    won_sql: str | None = None,
    closed_sql: str | None = None,
    probability_sql: str | None = None,
    choices: dict[str, str] | None = None,
    history_source: str = HISTORY_TABLE,
    created_sql: str | None = None,
    status_decides: bool = False,
) -> list[LearnedStage]:
    """Classify each unknown label; `choices` maps a label onto an existing stage by name
    (the Data page's grid), which overrides what the file says. `status_decides`: the
    outcomes in `won_sql` / `closed_sql` come from a status column beside the stage, so
    they do not make a stage won or lost (classify)."""
    choices = choices or {}
    by_name = {s.name: s for s in stages}
    signals = stage_signals(con, labels, won_sql, closed_sql, probability_sql, created_sql)
    won_stage = next((s.name for s in stages if s.is_won), None)
    lost_stage = next((s.name for s in stages if s.is_closed and not s.is_won), None)
    steps = stage_steps(stages)
    out: list[LearnedStage] = []
    unplaced: list[tuple[str, Signals, str]] = []
    for label in labels:
        s = signals.get(label)
        if s is None:
            continue
        chosen = by_name.get(choices.get(label, ""))
        if chosen is not None:
            out.append(
                LearnedStage(label, s.count, "mapped", "mapped by hand on the Data page",
                             chosen.probability, chosen.name)
            )  # fmt: skip
            continue
        classification, why, probability = classify(label, s, status_decides=status_decides)
        if classification == "won":
            out.append(LearnedStage(label, s.count, "won", why, 100.0, won_stage))
        elif classification == "lost":
            out.append(LearnedStage(label, s.count, "lost", why, 0.0, lost_stage))
        elif probability is not None:
            out.append(LearnedStage(label, s.count, "open", why, round(probability, 1)))
        elif (word := lexicon_step(label)) is not None and word[0] in steps:
            stage, step = steps[word[0]]
            out.append(
                LearnedStage(label, s.count, "mapped", f"same step as {stage.name!r} ({step})",
                             stage.probability, stage.name)
            )  # fmt: skip
        else:
            unplaced.append((label, s, why))
    # Open stages with no probability in the file: in funnel order (stage_order: history,
    # a number in the name, the usual funnel step the name names, age, deal count)
    history = (
        history_positions(con, [label for label, _, _ in unplaced], history_source)
        if unplaced
        else {}
    )
    evidence = [
        Evidence(label, s.count, history.get(label), s.open_age_days, s.age_reference)
        for label, s, _ in unplaced
    ]
    placed = funnel_order(evidence)
    rows = {label: (s, why) for label, s, why in unplaced}
    # stages of one lexicon step share a slot, so one probability ("Propuesta" and
    # "Angebot" are both the proposal step: no manager weighs them apart)
    slots: list[int] = []
    for i, p in enumerate(placed):
        same = i and p.step is not None and placed[i - 1].step == p.step
        slots.append(slots[-1] if same else (slots[-1] + 1 if slots else 0))
    n = (slots[-1] + 1) if slots else 0
    for p, slot in zip(placed, slots, strict=True):
        s, why = rows[p.label]
        probability = round(10 + 80 * (slot + 1) / (n + 1), 1)
        out.append(
            LearnedStage(
                p.label, s.count, "open", why + f"; probability by position ({p.why})",
                probability,
            )
        )  # fmt: skip
    return sorted(out, key=lambda ls: labels.index(ls.value))


def merge(stages: tuple[Stage, ...], learned: list[LearnedStage]) -> tuple[Stage, ...]:
    """The stage list with the learned values added: a won, lost or mapped value becomes an
    alias of its stage; an open one a new stage, placed among the open stages by its
    probability (the list order is the funnel order)."""
    out = list(stages)
    known = {norm_key(label) for s in stages for label in (s.name, *s.aliases)}
    for ls in learned:
        if norm_key(ls.value) in known:
            continue
        known.add(norm_key(ls.value))
        if ls.maps_to is not None:
            i = next((i for i, s in enumerate(out) if s.name == ls.maps_to), None)
            if i is not None:
                out[i] = replace(out[i], aliases=(*out[i].aliases, ls.value))
                continue
        if ls.is_closed:  # no such stage in the list yet: the value becomes one
            out.append(Stage(ls.value, ls.probability, True, ls.is_won))
            continue
        at = next(
            (i for i, s in enumerate(out) if s.is_closed or s.probability > ls.probability),
            len(out),
        )
        out.insert(at, Stage(ls.value, ls.probability))
    return tuple(out)

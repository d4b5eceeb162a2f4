"""A deals file without a stage column: an update of the stored deals it names (issue 12.5).

Why: ops re-upload partial exports (id + amount + close date, id + owner) to update deals
the database holds. "A column that is absent changes nothing" holds for the stage too:
each stored deal keeps its stage, outcome and stage probability, as if the file had
repeated them, so the loader, the snapshot of the import's date and the as-of checks all
see the stage the deal has. A deal the database does not hold yet cannot be created
without a stage: its row is refused naming the field (engine._refuse_new_records), and a
file in which *no* deal is stored is refused whole (`refuse_if_none_stored`): nothing in
it could be imported, so one clear message beats one line per row.

The won-deal list (engine._won_list) is decided before this and wins: a file with a
`won_date`-like column and no stage loads every row as won, stored deals included.
"""

from __future__ import annotations

from datetime import date

import duckdb

from analytics.ingest.detect import Detection
from analytics.ingest.problems import refuse
from analytics.ingest.stage import Staged

# the columns keep_stored_stage adds to `staged`, as stage_rows adds them for a stage column
STAGE_COLUMNS = ("stage", "canonical_stage", "stage_probability", "stage_closed", "stage_won")


def keep_stored_stage(
    con: duckdb.DuckDBPyConnection, staged: Staged, as_of: date | None = None
) -> None:
    """Each row takes its deal's stored stage and outcome, so the loader keeps them.

    Without `as_of`: the deal's current row. With it (an export older than what is stored,
    arriving late): the snapshot in force on that day, else the nearest later one, so the
    history row this export writes carries the stage the deal had then, not today's.
    Rows for deals not stored get NULLs; they were refused before the load.
    """
    if as_of is None:
        known = "SELECT * FROM opportunities"
        params: list = []
    else:
        known = """
            SELECT * FROM opportunity_snapshots
            WHERE opportunity_id IN (SELECT opportunity_id FROM staged)
            QUALIFY row_number() OVER (
                PARTITION BY opportunity_id
                ORDER BY snapshot_date > ?, abs(date_diff('day', snapshot_date, ?))) = 1
        """
        params = [as_of, as_of]
    again = "stage" in staged.fields
    keep = f"s.* EXCLUDE ({', '.join(STAGE_COLUMNS)})" if again else "s.*"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE staged AS
        WITH known AS ({known})
        SELECT {keep}, k.source_stage AS stage, k.stage AS canonical_stage,
               k.probability AS stage_probability, k.is_closed AS stage_closed,
               k.is_won AS stage_won
        FROM staged s
        LEFT JOIN known k ON k.opportunity_id = s.opportunity_id
        """,
        params,
    )
    if not again:
        staged.fields.append("stage")


def stored_later_than(con: duckdb.DuckDBPyConnection, as_of: date) -> bool:
    """Whether a deal of the file is stored in a state newer than the export's date."""
    return con.execute(
        """
        SELECT EXISTS (
            SELECT 1 FROM staged s JOIN opportunities o ON o.opportunity_id = s.opportunity_id
            WHERE o.snapshot_date > ?)
        """,
        [as_of],
    ).fetchone()[0]


def all_stored(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether every row of the staged deals file names a deal the database holds."""
    return con.execute(
        """
        SELECT count(*) > 0 AND count(*) FILTER (WHERE o.opportunity_id IS NULL) = 0
        FROM staged s LEFT JOIN opportunities o ON o.opportunity_id = s.opportunity_id
        """
    ).fetchone()[0]


def won_list_hint(det: Detection) -> str:
    """The way on for a stage-less file with a close date that was not read as wins."""
    close = det.columns.get("close_date")
    if close is None:
        return ""
    return (
        f". If every row is a won deal (its column {close!r} the day it was won), import it "
        "as a won-deal list: tick 'Every row is a won deal' on the Data page, or pass --all-won"
    )


def refuse_if_none_stored(con: duckdb.DuckDBPyConnection, det: Detection, name: str) -> None:
    """Refuse the whole file when none of its deals is stored: every row would be a new
    deal without a stage, so nothing could be imported. Names the file, the missing
    column, the first row and the way on."""
    id_column = det.columns["opportunity_id"]
    rows, stored, first_line, first_id = con.execute(
        """
        SELECT count(*), count(o.opportunity_id), min(s.__line), arg_min(s.opportunity_id, s.__line)
        FROM staged s LEFT JOIN opportunities o ON o.opportunity_id = s.opportunity_id
        """
    ).fetchone()
    if stored or not rows:
        return
    raise refuse(
        name,
        f"the file has no stage column, and none of its deals is in the database yet "
        f"({rows:,} {'row' if rows == 1 else 'rows'} by {id_column!r}, the first "
        f"{first_id!r} on row {first_line}): a file without stages can only update stored "
        "deals, and a new deal needs its stage. Add a stage column, or import the full "
        "deals export first" + won_list_hint(det),
        column="stage",
    )


def note(loaded: int | None) -> str:
    """What the import result says: how many deals kept their stored stage, and why."""
    if loaded is None:  # refused before the load
        return (
            "the file has no stage column: a stored deal keeps its stage and outcome, "
            "a deal not stored yet needs one"
        )
    deals = "1 deal" if loaded == 1 else f"{loaded:,} deals"
    return f"stage and outcome kept from the stored deals ({deals}): the file has no stage column"


def preview_note(kind: str, missing: list[str]) -> str | None:
    """What the Data page says before import about a deals file without a stage column,
    instead of "will be refused": it is an update of the stored deals (None: not such a
    file, the page's usual warning about missing columns stands)."""
    if kind != "opportunities" or missing != ["stage"]:
        return None
    return (
        "No stage column: this file can only update deals already in the database. Each "
        "keeps its stored stage and outcome, and the columns the file has update the rest; "
        "a deal not stored yet will be refused. If the file lists closed sales, tick "
        "'Every row is a won deal'."
    )


def refuse_undated_wins(
    con: duckdb.DuckDBPyConnection, det: Detection, name: str, asked: bool
) -> None:
    """Refuse a won-deal list in which some rows have no won date.

    Why: a list of closed sales dates every sale. A deals export whose stage column has a
    header the app does not know (`Phase`, `Etapa`) also shows a close-date column without
    a stage, but its open deals leave that date empty; read as wins, every open and lost
    deal became a booking with no day and no amount (a German export of 120 deals: 120
    won). Detected, such a file is refused naming the empty rows and the columns left
    unmapped, so ops map the stage instead. Asked for (`--all-won`), a win without its day
    would fall outside every period's bookings, so the file is refused the same way.
    """
    close = det.columns.get("close_date")
    if close is None:
        return
    rows, empty, first_line = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE close_date IS NULL), "
        "min(__line) FILTER (WHERE close_date IS NULL) FROM staged"
    ).fetchone()
    if not empty:
        return
    counted = f"{empty:,} of {rows:,} {'row' if rows == 1 else 'rows'}"
    if asked:
        raise refuse(
            name,
            f"every row is a won deal, but the column {close!r} is empty on {counted} "
            f"(the first on row {first_line}): a won deal needs the day it was won. Fill "
            "the dates, or import the file as a deals export with its stage column",
            column=close,
            line=first_line,
        )
    unmapped = ", ".join(repr(h) for h in det.unmapped[:10])
    raise refuse(
        name,
        f"not read as a list of won deals: the column {close!r} is empty on {counted} "
        f"(the first on row {first_line}), so not every row is a closed sale. The file "
        "has no column recognised as the stage"
        + (f"; the columns not recognised are {unmapped}" if unmapped else "")
        + ". Map the stage (and amount) columns by hand on the Data page or pass "
        "--mapping FILE",
        column=close,
        line=first_line,
    )

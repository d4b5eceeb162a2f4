"""Data: sales ops upload CRM exports, check what was detected, fix the mapping, import.

Each uploaded file is previewed (kind, source format, encoding, delimiter, column mapping)
before anything is written, so ops see a wrong guess before it lands. A hand-fixed mapping
can be saved by name (data/mappings/NAME.json beside the database) and picked again next
month. The import itself is analytics.ingest.import_file: all or nothing per file, or
'load valid rows, quarantine the rest' when ops ask for it.

An import can be rolled back here (analytics.backup.rollback_import: exactly, or refused
with the reason), behind a confirmation. Backups are listed but restored from the command
line: a restore swaps the database file, which the running dashboard holds open.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from analytics import leftovers
from analytics.backup import RollbackRefused, backups_table, rollback_import
from analytics.errors import strip_paths
from analytics.ingest import (
    KINDS,
    ImportResult,
    Mapping,
    Preview,
    import_file,
    import_history,
    import_warnings,
    preview_file,
    propose_stages,
    quarantined_rows,
)
from analytics.ingest.propose import propose_for_preview
from analytics.ingest.read import UPLOAD_TYPES
from analytics.ingest.stageless import preview_note
from analytics.markup import md, md_list
from analytics.settings import UploadLimits, load_stages, load_upload_limits
from pages import _auth, _ui

NONE = "—"
DETECT = "(detect)"
NO_SAVED = "(none)"
DATE_ORDERS: dict[str, str | None] = {"(detect)": None, "day/month/year": "dmy",
                                      "month/day/year": "mdy"}  # fmt: skip
UPLOAD_DIR_KEY = "upload_dir"
RESULTS_KEY = "import_results"
ROLLBACK_RESULT_KEY = "rollback_result"  # (status, message) of the last rollback
ROLLBACK_ROUND_KEY = "rollback_round"  # bumped after a rollback: fresh, empty widgets
STATUS_BOX = {"loaded": st.success, "partial": st.warning, "duplicate": st.info}
MAPPING_NAME = re.compile(r"^[\w][\w .-]{0,63}$")


def mappings_dir() -> Path:
    return _ui.data_dir() / "mappings"


def saved_mappings() -> dict[str, Path]:
    folder = mappings_dir()
    return {p.stem: p for p in sorted(folder.glob("*.json"))} if folder.is_dir() else {}


def stash_upload(uploaded: Any) -> Path:
    """Write the uploaded bytes to a per-session folder under the original file name.

    The importer reads a path and reports the original name, so the suffix (.csv, .xlsx)
    and the name ops recognise are kept; the file id keeps two same-named uploads apart.
    The folder sits beside the database (uploads/pending/, git-ignored) rather than in the
    system temp dir, and each file is removed once imported (see `forget_stashed`).
    """
    if UPLOAD_DIR_KEY not in st.session_state:
        pending = _ui.data_dir() / "uploads" / "pending"
        pending.mkdir(parents=True, exist_ok=True)
        # The pid in the name tells a later sweep whether its writer is still running.
        st.session_state[UPLOAD_DIR_KEY] = tempfile.mkdtemp(
            prefix=f"session-{os.getpid()}-", dir=pending
        )
    folder = Path(st.session_state[UPLOAD_DIR_KEY]) / re.sub(r"\W", "_", uploaded.file_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / Path(uploaded.name).name
    if path.exists():
        path.touch()  # in use: a sweep removes only stashes untouched for an hour
    else:
        uploaded.seek(0)
        with path.open("wb") as out:  # in chunks: no second copy of a big upload in memory
            shutil.copyfileobj(uploaded, out, 8 * 1024 * 1024)
    return path


def session_stash() -> Path | None:
    """This session's stash folder, when it has one."""
    found = st.session_state.get(UPLOAD_DIR_KEY)
    return Path(found) if found else None


def prune_stash(uploads: list[Any]) -> None:
    """Drop this session's stashed files that are no longer in the uploader (removed by
    hand, or imported), and the session folder itself once it is empty."""
    own = session_stash()
    if own is None or not own.is_dir():
        return
    wanted = {re.sub(r"\W", "_", u.file_id) for u in uploads}
    for folder in own.iterdir():
        if folder.name not in wanted:
            shutil.rmtree(folder, ignore_errors=True)
    if not uploads:
        with contextlib.suppress(OSError):
            own.rmdir()
        st.session_state.pop(UPLOAD_DIR_KEY, None)


def forget_stashed(plans: list[dict[str, Any]]) -> None:
    """Drop imported files from the pending folder (the importer keeps its own copy).

    If the file is still in the uploader, the next rerun simply writes it again.
    """
    for plan in plans:
        path: Path = plan["path"]
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            path.parent.rmdir()


def _describe(preview: Preview) -> None:
    facts = {
        "Detected kind": preview.kind or NONE,
        "Source format": preview.format_label or preview.source_format or NONE,
        "Encoding": preview.encoding or NONE,
        "Delimiter": repr(preview.delimiter) if preview.delimiter else NONE,
    }
    cols = st.columns(len(facts))
    for col, (name, value) in zip(cols, facts.items(), strict=True):
        col.markdown(f"**{name}**  \n{md(value)}")


def _mapping_editor(preview: Preview, key: str) -> dict[str, str]:
    """One selectbox per canonical field (required ones starred), preset to the detection.

    Returns canonical field -> header, with "" for a field set to "not in this file", which
    is how a Mapping says "do not auto-map this one".
    """
    st.markdown("**Column mapping** (canonical field ← column in your file; * = required)")
    headers = list(preview.headers)
    chosen: dict[str, str] = {}
    grid = st.columns(3)
    for i, (field, required) in enumerate(preview.fields):
        current = preview.columns.get(field)
        index = headers.index(current) + 1 if current in headers else 0
        picked = grid[i % 3].selectbox(
            f"{field}{' *' if required else ''}",
            [NONE, *headers],
            index=index,
            key=f"{key}:map:{preview.kind}:{field}",
        )
        chosen[field] = "" if picked == NONE else picked
    return chosen


def _proposals(preview: Preview, key: str) -> dict[str, str] | None:
    """Columns no header matched, proposed from their contents; ops confirm before use.

    Returns the mapping to use (detected + proposed) once confirmed, else None.
    """
    try:
        with _ui.cursor() as cur:
            names = tuple(n for s in load_stages(cur) for n in (s.name, *s.aliases))
    except Exception:  # the proposal works without stage names
        names = ()
    proposed = propose_for_preview(preview, names)
    if not proposed:
        return None
    st.markdown("**Proposed from the column contents** (no header matched these fields)")
    st.dataframe(
        pd.DataFrame(
            [(p.field, p.header, p.reason) for p in proposed],
            columns=["field", "column in your file", "why"],
        ),
        hide_index=True,
        placeholder=_ui.DASH,
    )
    if not st.checkbox("Use the proposed columns", key=f"{key}:use_proposed"):
        return None
    return {**preview.columns, **{p.field: p.header for p in proposed}}


def _save_mapping_form(mapping: Mapping, key: str) -> None:
    name_col, button_col = st.columns([3, 1], vertical_alignment="bottom")
    name = name_col.text_input(
        "Save this mapping as", key=f"{key}:save_name", placeholder="e.g. salesforce-monthly"
    )
    if button_col.button("Save mapping", key=f"{key}:save"):
        name = name.strip()
        if not MAPPING_NAME.match(name):
            st.error("Use letters, digits, spaces, dots, dashes or underscores for the name.")
            return
        target = mappings_dir() / f"{name}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        mapping.save(target)
        st.success(f"Saved as '{md(name)}': pick it under 'Saved mapping' next time.")


def file_panel(uploaded: Any, limits: UploadLimits) -> dict[str, Any] | None:
    """Preview one upload and let ops fix it; returns what to hand to import_file."""
    path = stash_upload(uploaded)
    key = re.sub(r"\W", "_", uploaded.file_id)
    st.subheader(md(uploaded.name))

    saved = saved_mappings()
    kind_col, saved_col, order_col = st.columns(3)
    kind_pick = kind_col.selectbox(
        "Kind", [DETECT, *KINDS], key=f"{key}:kind",
        help="What the file holds; detected from its headers unless you choose.",
    )  # fmt: skip
    saved_pick = saved_col.selectbox("Saved mapping", [NO_SAVED, *saved], key=f"{key}:saved")
    order_pick = order_col.selectbox(
        "Date order", list(DATE_ORDERS), key=f"{key}:date_order",
        help="Only for ambiguous dates such as 03/05/2024.",
    )  # fmt: skip

    try:
        mapping = Mapping.load(saved[saved_pick]) if saved_pick in saved else None
        kind = mapping.kind if mapping else (None if kind_pick == DETECT else kind_pick)
        date_order = DATE_ORDERS[order_pick] or (mapping.date_order if mapping else None)
        preview = preview_file(
            path, kind=kind, mapping=mapping, file_name=uploaded.name, limits=limits
        )
    except Exception as exc:
        _ui.friendly_error(f"reading {uploaded.name}", exc)
        return None
    _describe(preview)
    if preview.problem:
        st.warning(md(preview.problem))
    if not preview.headers:
        return None

    use_proposed = _proposals(preview, key) if mapping is None else None
    if use_proposed:  # confirmed by ops: the proposed columns preset the editor below
        mapping = Mapping(kind=preview.kind, columns=use_proposed, date_order=date_order)
        preview = preview_file(
            path, kind=preview.kind, mapping=mapping, file_name=uploaded.name, limits=limits
        )
    # Keyed by the saved mapping (and an accepted proposal) too: picking one must re-preset
    # every field, not keep the selections made for the previous one.
    chosen = _mapping_editor(preview, f"{key}:{saved_pick}:{bool(use_proposed)}")
    detected = {f: preview.columns.get(f, "") for f, _ in preview.fields}
    if chosen != detected:  # edited by hand: the mapping now rules
        mapping = Mapping(kind=preview.kind, columns=chosen, date_order=date_order)
        preview = preview_file(
            path, kind=preview.kind, mapping=mapping, file_name=uploaded.name, limits=limits
        )
    all_won = False
    if preview.kind == "opportunities" and "stage" not in preview.columns:
        detected_won = preview.won_list is not None
        # detected, the import loads the rows as won deals whatever the box says: so the
        # box shows it ticked and cannot be unticked (map a stage column to change it)
        all_won = st.checkbox(
            "Every row is a won deal (a list of closed sales, no stage column)",
            value=detected_won,
            disabled=detected_won,
            key=f"{key}:all_won:{detected_won}",
            help="Also detected on import when a won or closed date column has no stage.",
        )
    # the same fields the import asks for: a won-deal list needs no stage, and its lead id
    # stands in for the deal id
    missing = preview.missing_if_won if all_won else list(preview.missing_required)
    update_only = None if all_won else preview_note(preview.kind, missing)
    if preview.won_list is not None:
        st.info(
            "Every row will be loaded as a won deal (a won date column without a stage: "
            + md(preview.won_list)
            + ")."
        )
    if update_only:
        st.info(update_only)
    elif missing:
        st.warning(
            "Required fields without a column: " + md_list(missing)
            + ". Pick their columns above, or the import will be refused."
        )  # fmt: skip
    with st.expander("First rows as read"):
        st.dataframe(preview.sample.head(10), hide_index=True, placeholder=_ui.DASH)
    _save_mapping_form(Mapping(kind=preview.kind, columns=chosen, date_order=date_order), key)
    plan_kind = None if kind is None and mapping is None else preview.kind
    return {
        "path": path,
        "file_name": uploaded.name,
        "kind": plan_kind,
        "mapping": mapping,
        "date_order": date_order,
        "all_won": all_won,
        "stage_choices": stage_grid(path, uploaded.name, plan_kind, mapping, date_order, key),
    }


NEW_STAGE = "(learn as proposed)"


def stage_grid(
    path: Path,
    file_name: str,
    kind: str | None,
    mapping: Mapping | None,
    date_order: str | None,
    key: str,
) -> dict[str, str]:
    """The stages this file would add to Settings, before Import is pressed: ops accept
    each as proposed or map it onto an existing stage. Returns value -> existing stage."""
    try:
        with _ui.cursor() as cur:
            proposed = propose_stages(
                cur, path, kind=kind, mapping=mapping, file_name=file_name, date_order=date_order
            )
            existing = [s.name for s in load_stages(cur)]
    except Exception as exc:
        _ui.friendly_error(f"reading the stages of {file_name}", exc)
        return {}
    if not proposed:
        return {}
    st.markdown(f"**New stages ({len(proposed)})**: not in Settings yet; learned on import.")
    frame = pd.DataFrame(
        {
            "stage in file": [ls.value for ls in proposed],
            "rows": [ls.count for ls in proposed],
            "classified as": [ls.classification for ls in proposed],
            "probability %": [ls.probability for ls in proposed],
            "why": [ls.why for ls in proposed],
            "joins": [ls.maps_to or "" for ls in proposed],
            "map onto": [NEW_STAGE] * len(proposed),
        }
    )
    edited = st.data_editor(
        frame,
        hide_index=True,
        key=f"{key}:stages",
        disabled=[c for c in frame.columns if c != "map onto"],
        column_config={
            "map onto": st.column_config.SelectboxColumn(
                "map onto",
                options=[NEW_STAGE, *existing],
                required=True,
                help="Keep the proposal, or map this value onto a stage you already have.",
            )
        },
        placeholder=_ui.DASH,
    )
    return {
        str(row["stage in file"]): str(row["map onto"])
        for _, row in edited.iterrows()
        if row["map onto"] and row["map onto"] != NEW_STAGE
    }


def run_imports(plans: list[dict[str, Any]], as_of: date | None, keep_valid: bool) -> list[dict]:
    """Import each file in order; one file's failure never stops or hides the others."""
    outcomes: list[dict[str, Any]] = []
    with _ui.cursor() as cur:
        for plan in plans:
            try:
                result: ImportResult = import_file(
                    cur,
                    plan["path"],
                    kind=plan["kind"],
                    mapping=plan["mapping"],
                    as_of=as_of,
                    keep_valid=keep_valid,
                    data_dir=_ui.data_dir(),
                    file_name=plan["file_name"],
                    date_order=plan["date_order"],
                    access=_auth.current_access(),
                    stage_choices=plan.get("stage_choices"),
                    all_won=plan.get("all_won", False),
                )
            except Exception as exc:
                text = _ui.error_text(f"importing {plan['file_name']}", exc)
                outcomes.append(
                    {"file_name": plan["file_name"], "status": "refused", "message": text,
                     "problems": []}
                )  # fmt: skip
                continue
            outcomes.append(
                {
                    "file_name": result.file_name,
                    "status": result.status,
                    "message": result.message,
                    "problems": [
                        {"file": p.file, "line": p.line, "column": p.column,
                         "value": p.value, "problem": p.problem}
                        for p in result.problems
                    ],
                }
            )  # fmt: skip
    return outcomes


def show_results(outcomes: list[dict[str, Any]]) -> None:
    st.header("Last import")
    for outcome in outcomes:
        # The importer's report starts with "<file>: <status>..."; the box shows that line.
        first, *rest = (outcome["message"] or f"{outcome['file_name']}: {outcome['status']}").split(
            "\n"
        )
        STATUS_BOX.get(outcome["status"], st.error)(md(strip_paths(first)))
        if rest:
            st.text("\n".join(rest))
    problems = [p for o in outcomes for p in o["problems"]]
    if problems:
        st.subheader("Validation report")
        st.dataframe(
            pd.DataFrame(problems, columns=["file", "line", "column", "value", "problem"]),
            hide_index=True,
            placeholder=_ui.DASH,
        )


def show_history() -> pd.DataFrame:
    st.header("Import history")
    with _ui.cursor() as cur:
        history = import_history(cur)
    if history.empty:
        st.caption("Nothing imported yet.")
    else:
        st.dataframe(history, hide_index=True, placeholder=_ui.DASH, column_config=HISTORY_COLUMNS)
    return history


# The history table as ops read it: words for headers, the as-of day without a clock time.
HISTORY_COLUMNS = {
    "import_id": st.column_config.NumberColumn("Import", format="%d"),
    "file_name": st.column_config.TextColumn("File"),
    "kind": st.column_config.TextColumn("Kind"),
    "source_format": st.column_config.TextColumn("Format"),
    "encoding": st.column_config.TextColumn("Encoding"),
    "as_of_date": st.column_config.DateColumn("As of", format="YYYY-MM-DD"),
    "as_of_source": st.column_config.TextColumn(
        "As-of date from", help="given, the file name, a report-run column or the file's content"
    ),
    "rows_read": st.column_config.NumberColumn("Rows read", format="%,d"),
    "rows_loaded": st.column_config.NumberColumn("Loaded", format="%,d"),
    "rows_rejected": st.column_config.NumberColumn("Rejected", format="%,d"),
    "rows_warned": st.column_config.NumberColumn("With a warning", format="%,d"),
    "rows_inserted": st.column_config.NumberColumn("New", format="%,d"),
    "rows_updated": st.column_config.NumberColumn("Updated", format="%,d"),
    "rows_unchanged": st.column_config.NumberColumn(
        "Unchanged", format="%,d", help="Rows equal to what was stored, or older than it"
    ),
    "started_at": st.column_config.DatetimeColumn("Started", format="YYYY-MM-DD HH:mm"),
    "finished_at": st.column_config.DatetimeColumn("Finished", format="YYYY-MM-DD HH:mm"),
}


def show_warnings() -> None:
    """Rows that loaded but look unlikely: listed until the import is rolled back."""
    with _ui.cursor() as cur:
        warnings = import_warnings(cur)
    if warnings.empty:
        return
    with st.expander(f"Rows loaded with a warning ({len(warnings):,})"):
        st.caption("These rows loaded; check them in the CRM and re-export if they are wrong.")
        st.dataframe(warnings, hide_index=True, placeholder=_ui.DASH, column_config=ROW_COLUMNS)


# Rows left out of an import (quarantine) and rows loaded with a warning, as ops read them.
ROW_COLUMNS = {
    "import_id": st.column_config.NumberColumn("Import", format="%d"),
    "file_name": st.column_config.TextColumn("File"),
    "line": st.column_config.NumberColumn("Row", format="%d", help="The header is row 1"),
    "column_name": st.column_config.TextColumn("Column"),
    "value": st.column_config.TextColumn("Value"),
    "problem": st.column_config.TextColumn("Problem"),
    "warning": st.column_config.TextColumn("Warning"),
}


def show_quarantine() -> None:
    """Rows left out by "load valid rows, quarantine the rest": listed until the import is
    rolled back, so they can be fixed in the CRM after the result message is gone."""
    with _ui.cursor() as cur:
        rows = quarantined_rows(cur)
    if rows.empty:
        return
    with st.expander(f"Rows left out of an import ({len(rows):,} problems)"):
        st.caption(
            "These rows were not loaded (quarantined). Fix them in the CRM and upload the "
            "export again; rolling the import back removes them from this list."
        )
        st.dataframe(rows, hide_index=True, placeholder=_ui.DASH, column_config=ROW_COLUMNS)
        _ui.downloads(rows, "rows_left_out", "data:quarantine")


def limits_help(limits: UploadLimits) -> str:
    page_mb = int(st.get_option("server.maxUploadSize"))
    return (
        f"Up to {min(page_mb, limits.max_file_mb):,} MB per file here; CSV/TSV up to "
        f"{limits.max_file_mb:,} MB and .xlsx up to {limits.max_xlsx_mb:,} MB, at most "
        f"{limits.max_rows:,} rows per file. Bigger CSV exports: `python -m analytics "
        "import FILE` on the server."
    )


def _import_label(row: pd.Series) -> str:
    as_of = row["as_of_date"]
    when = row["finished_at"]
    return (
        f"#{row['import_id']} · {row['file_name']} · {row['kind']} · as of "
        f"{as_of:%Y-%m-%d} · {int(row['rows_loaded']):,} rows · imported {when:%Y-%m-%d %H:%M}"
    )


def _do_rollback(import_id: int) -> tuple[str, str]:
    try:
        with _ui.cursor() as cur:
            result = rollback_import(cur, import_id, access=_auth.current_access())
    except RollbackRefused as exc:
        return "refused", strip_paths(f"{exc} Nothing was changed.")
    except Exception as exc:
        return "failed", _ui.error_text(f"rolling back import #{import_id}", exc)
    return "done", result.message


def show_rollback(history: pd.DataFrame) -> None:
    """Pick an import, confirm, roll back; the outcome is shown after the rerun."""
    st.header("Roll back an import")
    st.caption(
        "Undoes one import exactly: deals go back to their state in the previous export, "
        "rows it added are removed. When the earlier state is not in the database (an "
        "import that replaced reps, quotas, ... or a same-day export), the rollback is "
        "refused and a backup has to be restored instead."
    )
    outcome = st.session_state.pop(ROLLBACK_RESULT_KEY, None)
    if outcome is not None:
        status, message = outcome
        {"done": st.success, "refused": st.warning}.get(status, st.error)(message)
    if history.empty:
        st.caption("Nothing to roll back.")
        return
    round_ = st.session_state.get(ROLLBACK_ROUND_KEY, 0)
    labels = {int(row["import_id"]): _import_label(row) for _, row in history.iterrows()}
    pick = st.selectbox(
        "Import to roll back",
        list(labels),
        index=None,
        format_func=labels.get,
        placeholder="Choose an import",
        key=f"rollback_pick:{round_}",
    )
    if pick is None:
        return
    st.warning(
        f"Rolling back import #{pick} changes the figures on every page. It cannot be "
        "undone from here (a backup can be restored from the command line)."
    )
    confirmed = st.checkbox(
        f"Yes, roll back import #{pick}", key=f"rollback_confirm:{round_}:{pick}"
    )
    if st.button("Roll back", key="rollback", disabled=not confirmed):
        st.session_state[ROLLBACK_RESULT_KEY] = _do_rollback(pick)
        st.session_state[ROLLBACK_ROUND_KEY] = round_ + 1
        st.rerun()  # the history, the sidebar filters and the figures change with it


def show_backups() -> None:
    backups = backups_table(_ui.data_dir(), _ui.db_path())  # this database's only
    with st.expander(f"Backups ({len(backups)})"):
        st.caption(
            "A backup is taken automatically before every import that replaces data (the 20 "
            "newest are kept), and by hand with `python -m analytics backup`. To restore one, "
            "stop the dashboard and run `python -m analytics restore backups/FILE`: the "
            "database it replaces is itself backed up first."
        )
        if backups.empty:
            st.caption("No backups yet.")
            return
        st.dataframe(backups, hide_index=True, placeholder=_ui.DASH)


def render() -> None:
    st.title("Data")
    st.caption(
        "Upload CRM exports (Salesforce, HubSpot, Pipedrive, Zoho, Odoo or a hand-made "
        "sheet). Nothing is written until you press Import."
    )
    with _ui.cursor() as cur:
        limits = load_upload_limits(cur)
    uploads = st.file_uploader(
        "CRM export files",
        type=UPLOAD_TYPES,
        accept_multiple_files=True,
        key="uploads",
        help=limits_help(limits),
    )
    prune_stash(list(uploads or []))
    plans = []
    for uploaded in uploads or []:
        with st.container(border=True):
            plan = file_panel(uploaded, limits)
        if plan:
            plans.append(plan)

    as_of = st.date_input(
        "As-of date (optional)",
        value=None,
        help="The day the export was taken. Empty: the importer decides (see its report).",
    )
    keep_valid = st.checkbox(
        "Load valid rows, quarantine the rest",
        help="Off: a file with any bad row is refused whole. On: good rows load, bad rows "
        "go to the quarantine table with the reason.",
    )
    if st.button("Import", type="primary", disabled=not plans, key="import"):
        with st.spinner("Importing..."):
            st.session_state[RESULTS_KEY] = run_imports(plans, as_of, keep_valid)
        forget_stashed(plans)
        # and whatever gone sessions or killed processes left (never this session's)
        leftovers.sweep(_ui.data_dir(), keep_session=session_stash())
        st.rerun()  # so the sidebar filters see the new teams, reps and periods

    if st.session_state.get(RESULTS_KEY):
        show_results(st.session_state[RESULTS_KEY])
    history = show_history()
    show_warnings()
    show_quarantine()
    show_rollback(history)
    show_backups()


_ui.run_page(render)

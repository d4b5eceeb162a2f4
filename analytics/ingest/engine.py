"""One import engine behind the Data page and `python -m analytics import`.

An import is all or nothing: everything is read, parsed and checked in temp tables
first; only a clean file (or, when asked, its valid rows) is written, in one
transaction, and only then is the original kept under uploads/ by its sha256.

Before an import that replaces data, a backup of the database is taken (see
`replaces_data` for the rule); a file over the upload limits (settings key
`upload_limits`) is refused before it is read. Several sessions may import at once, each
with its own cursor: DuckDB's transactions keep them apart, and an import that collides
with another one on the same records is retried a few times before being refused.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd

from analytics import audit
from analytics.access import Access, AccessDenied, require
from analytics.backup import ENTITY_TABLES, BackupError, BackupIncomplete, backup_before_import
from analytics.db import WRITE_LOCK, data_dir_for, quote_ident, transaction
from analytics.ingest.asof import AsOf
from analytics.ingest.asof import resolve as resolve_as_of
from analytics.ingest.detect import Detection, Mapping, detect, reference_list
from analytics.ingest.kinds import KINDS
from analytics.ingest.learn import LearnedStage, merge
from analytics.ingest.load import LoadCounts, load, no_longer_won_note
from analytics.ingest.owners import spelling_variants, variants_note
from analytics.ingest.problems import (
    WARNINGS_OF_LOADED_ROWS,
    ImportRefused,
    Problem,
    ProblemGroup,
    group_list,
    group_problems,
    refuse,
)
from analytics.ingest.read import (
    PARTIAL_MARK,
    SourceFile,
    check_size,
    check_xlsx_archive,
    is_footer_line,
    load_raw,
    safe_file_name,
    sniff,
)
from analytics.ingest.stage import MAX_REPORTED, Staged, stage_rows
from analytics.ingest.stageless import (
    all_stored,
    keep_stored_stage,
    refuse_if_none_stored,
    refuse_undated_wins,
    stored_later_than,
    won_list_hint,
)
from analytics.ingest.stageless import note as stageless_note
from analytics.ingest.totals import drop_totals_rows
from analytics.metrics.availability import undated_closed_text
from analytics.metrics.derived import (
    refresh_after_import,
    refresh_stage_spans_after_import,
    source_stamp,
    spans_stamp,
)
from analytics.settings import (
    DEFAULT_UPLOAD_LIMITS,
    REPORTING_CURRENCY_KEY,
    STAGES_KEY,
    UploadLimits,
    is_currency_code,
    load_reporting_currency,
    load_stages,
    load_upload_limits,
    norm_key,
    stages_to_json,
    validate_stages,
)

log = logging.getLogger(__name__)

TEMP_TABLES = (
    "won_stage",
    "raw",
    "raw_cells",
    "read_flags",
    "staged_text",
    "staged",
    "stage_map",
    "problems",
    "warnings",
    "valid",
    "incoming",
)
CONFLICT_ATTEMPTS = 3  # an import colliding with a concurrent one on the same rows is re-run
# kinds whose import replaces existing records by key (the event kinds only ever add)
REPLACING_TABLES: dict[str, str] = {"opportunities": "opportunities"} | {
    kind: table for kind, (table, _key) in ENTITY_TABLES.items()
}


MAX_UNUSED_NAMED = 10  # unused columns named in the result; the rest are counted


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


@dataclass
class ImportResult:
    file_name: str
    status: str  # loaded | partial | duplicate | refused
    kind: str | None = None
    source_format: str | None = None
    import_id: int | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_unchanged: int = 0
    rows_not_in_file: int = 0
    # open deals of an export older than the newest one loaded that the newer one does not
    # list (LoadCounts.open_not_in_newer), and that newer export's date
    open_not_in_newer: int = 0
    newer_export: date | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)  # loaded rows that look unlikely
    new_stages: list[LearnedStage] = field(default_factory=list)  # learned and saved
    rows_warned: int = 0
    problem_totals: dict[str, int] = field(default_factory=dict)
    # one line per column and problem (count, first rows, distinct values): the report
    problem_groups: list[ProblemGroup] = field(default_factory=list)
    warning_groups: list[ProblemGroup] = field(default_factory=list)
    stored_path: str | None = None
    as_of: date | None = None
    as_of_source: str | None = None  # given | file name | column | content | today
    as_of_note: str = ""  # the date and where it came from, in words
    note: str = ""
    backup_path: str | None = None  # the backup taken before this import, if one was
    actor: str | None = None  # who imported (for the audit log), as the caller named them
    # headers no field took: their values are not stored, so the result names them (a
    # won-deals file's 'Seller' was dropped without a word, leaving every deal ownerless)
    unused_columns: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status in ("loaded", "partial", "duplicate")

    def older_export_note(self) -> str:
        """What an export older than the newest one loaded added to today's pipeline."""
        n = self.open_not_in_newer
        one = n == 1
        deals = "1 open deal" if one else f"{n:,} open deals"
        return (
            f"{deals} of this export (as of {self.as_of}) {'is' if one else 'are'} not in "
            f"the newer export of {self.newer_export} already loaded: "
            f"{'it counts' if one else 'they count'} as open now, as "
            f"{'it was' if one else 'they were'} then. The newer export no longer listing a "
            "deal usually means it was closed or deleted since: check in the CRM, or import "
            "an export that lists it"
        )

    @property
    def message(self) -> str:
        head = f"{self.file_name}: "
        if self.status == "duplicate":
            return head + self.note
        if self.status == "refused":
            total = sum(self.problem_totals.values())
            lines = [head + f"refused, nothing was loaded ({plural(total, 'problem')})."]
            if self.note:
                lines.append("  " + self.note)
        else:
            lines = [
                head + f"{self.status}: {self.rows_loaded:,} of {plural(self.rows_read, 'row')} as "
                f"{self.kind} ({self.source_format}); {self.rows_inserted:,} new, "
                f"{self.rows_updated:,} updated, {self.rows_unchanged:,} unchanged."
            ]
            if self.as_of_note:
                lines.append("  " + self.as_of_note[:1].upper() + self.as_of_note[1:] + ".")
            if self.note:
                lines.append("  " + self.note + ".")
            if self.unused_columns:
                named = ", ".join(repr(h) for h in self.unused_columns[:MAX_UNUSED_NAMED])
                more = len(self.unused_columns) - MAX_UNUSED_NAMED
                lines.append(
                    f"  {plural(len(self.unused_columns), 'column')} not used: {named}"
                    + (f" and {more:,} more" if more > 0 else "")
                    + " (not stored; map them on the Data page or with --mapping to keep them)."
                )
            if self.rows_not_in_file:
                lines.append(
                    f"  {plural(self.rows_not_in_file, 'record')} from earlier imports "
                    f"{'is' if self.rows_not_in_file == 1 else 'are'} not in this file; "
                    "kept as they were."
                )
            if self.open_not_in_newer:
                lines.append("  " + self.older_export_note() + ".")
            if self.rows_rejected:
                lines.append(
                    f"  {plural(self.rows_rejected, 'row')} rejected (kept in quarantine):"
                )
        if self.backup_path and self.status in ("loaded", "partial"):
            lines.append(
                "  The database as it was before this import is backed up as "
                f"backups/{Path(self.backup_path).name}."
            )
        if self.new_stages and self.status in ("loaded", "partial"):
            lines.append(
                f"  {plural(len(self.new_stages), 'new stage')} learned and saved to Settings "
                "(edit them there):"
            )
            lines += ["    " + ls.describe() for ls in self.new_stages]
        if self.rows_warned and self.status in ("loaded", "partial"):
            lines.append(
                f"  {plural(self.rows_warned, 'row')} loaded with a warning (check "
                f"{'it' if self.rows_warned == 1 else 'them'} in the CRM):"
            )
            if self.warning_groups:
                lines += ["  " + g.describe() for g in self.warning_groups]
            else:
                lines += ["  " + p.describe() for p in self.warnings]
        if self.problem_groups:
            lines += ["  " + g.describe() for g in self.problem_groups]
            return "\n".join(lines)
        lines += ["  " + p.describe() for p in self.problems]
        shown = len(self.problems)
        total = sum(self.problem_totals.values())
        if total > shown:
            lines.append(f"  ... and {total - shown:,} more. Totals per problem:")
        if total > shown or len(self.problem_totals) > 1:
            lines += [f"    {n:,} x {what}" for what, n in self.problem_totals.items()]
        return "\n".join(lines)


@dataclass
class Preview:
    """What the Data page shows before an import: detection, mapping and a sample."""

    file_name: str
    encoding: str | None
    delimiter: str | None
    headers: list[str]
    kind: str
    source_format: str
    format_label: str
    columns: dict[str, str]
    missing_required: list[str]
    unmapped: list[str]
    sample: pd.DataFrame
    fields: list[tuple[str, bool]]
    date_order: str | None = None
    problem: str | None = None
    # the import's own won-list detection (engine._won_list), so the page says what Import
    # will do: why every row will be a won deal (None: not detected), and the required
    # fields still missing when the rows are read as won deals (ticked or detected)
    won_list: str | None = None
    missing_if_won: list[str] = field(default_factory=list)


def _refused(name: str, exc: ImportRefused) -> ImportResult:
    totals: dict[str, int] = {}
    for p in exc.problems:
        totals[p.problem] = totals.get(p.problem, 0) + 1
    return ImportResult(
        name,
        "refused",
        problems=exc.problems,
        problem_totals=totals,
        problem_groups=group_list(exc.problems),
    )


# Kinds whose file may update stored records without carrying every required column: the
# one-column key says which record, and an absent column keeps its stored value. A row
# that is not stored yet is a new record, and is refused for lacking the column.
UPDATABLE_KINDS = ("reps", "activities", "leads")


def _needed_for_new(con: duckdb.DuckDBPyConnection, det: Detection) -> list[str]:
    """Required columns the file lacks that only a new record needs (see UPDATABLE_KINDS).

    A deals file may lack the stage column alone (issue 12.5): its stored deals keep their
    stage and outcome (analytics.ingest.stageless), a deal not stored yet is refused."""
    kind = det.kind
    stageless_deals = kind.name == "opportunities" and det.missing_required == ["stage"]
    if (kind.name not in UPDATABLE_KINDS and not stageless_deals) or not det.missing_required:
        return []
    (key,) = kind.key
    if key not in det.columns or key in det.missing_required:
        return []
    if not con.execute(f"SELECT EXISTS (SELECT 1 FROM {quote_ident(kind.table)})").fetchone()[0]:
        return []
    missing = list(det.missing_required)
    det.missing_required = []
    return missing


def _refuse_new_records(
    con: duckdb.DuckDBPyConnection, det: Detection, staged: Staged, missing: list[str], name: str
) -> None:
    """Rows for records not stored yet, when the file lacks a column a new record needs.

    Added to the import's problems (one per row, naming the field), so they are refused
    like any other bad row, or quarantined with --keep-valid.
    """
    kind = det.kind
    (key,) = kind.key
    fields = ", ".join(missing)
    what = (
        f"is not in the database yet, and a new {kind.label.lower()} record needs "
        f"{fields}: the file has no {'column' if len(missing) == 1 else 'columns'} for "
        f"{'it' if len(missing) == 1 else 'them'}"
    )
    k = quote_ident(key)
    con.execute(
        f"""
        INSERT INTO problems
        SELECT s.__line, CAST(? AS VARCHAR), s.{k}, CAST(? AS VARCHAR)
        FROM staged s
        WHERE s.{k} IS NULL
           OR NOT EXISTS (SELECT 1 FROM {quote_ident(kind.table)} t WHERE t.{k} = s.{k})
        """,
        [det.columns[key], what],
    )
    staged.problem_count = con.execute("SELECT count(*) FROM problems").fetchone()[0]
    staged.problems = [
        Problem(name, line, col, value, problem)
        for line, col, value, problem in con.execute(
            "SELECT line, col, value, problem FROM problems ORDER BY line, col LIMIT ?",
            [MAX_REPORTED],
        ).fetchall()
    ]
    staged.problem_totals = dict(
        con.execute(
            "SELECT problem, count(*) FROM problems GROUP BY problem ORDER BY count(*) DESC"
        ).fetchall()
    )


# a date column that only a closed sale has: with no stage beside it, the file lists wins
WON_DATE_HEADERS = frozenset(
    norm_key(h)
    for h in (
        "won date",
        "date won",
        "closed won date",
        "closed date",
        "date closed",
        "close date",
        "closing date",
        "booking date",
        "booked date",
        "дата закрытия",
        "дата выигрыша",
    )
)
# ... but these also name the date a deal is expected to close: a file of deals that are
# all stored already, with one of them and no stage, is a re-upload, not a list of wins
EXPECTED_CLOSE_HEADERS = frozenset(
    norm_key(h) for h in ("close date", "closing date", "дата закрытия")
)


def _won_list(det: Detection, all_won: bool, name: str) -> str | None:
    """Whether an opportunities file lists won deals only, and why (None: it does not).

    Asked for (`all_won`), or detected: a won/closed date column stands without a stage,
    status or won flag. The file then needs no stage column, and a lead id may stand in
    for a deal id (one deal per converted lead). Its `missing_required` is updated.
    """
    if det.kind.name != "opportunities":
        if all_won:
            raise refuse(name, f"only a deals file can be a won-deal list, not {det.kind.name}")
        return None
    if "stage" in det.columns:
        if all_won:
            raise refuse(
                name,
                "the file has a stage column, so it is not a won-deal list; import it "
                "without 'every row is a won deal'",
                column=det.columns["stage"],
            )
        return None
    close = det.columns.get("close_date")
    if all_won:
        why = "as asked"
    elif (
        close is not None
        and norm_key(close) in WON_DATE_HEADERS
        and not ({"status", "is_won", "is_closed"} & set(det.columns))
    ):
        why = f"the column {close!r} stands without a stage"
    else:
        return None
    det.missing_required = _missing_as_won_list(det)
    return why


def _missing_as_won_list(det: Detection) -> list[str]:
    """The required fields a won-deal list still lacks: no stage is needed, and a lead id
    stands in for the deal id (one deal per converted lead)."""
    return [
        m
        for m in det.missing_required
        if m != "stage" and not (m.startswith("opportunity_id") and "lead_id" in det.columns)
    ]


def _check_detection(source: SourceFile, det: Detection, kind: str | None) -> None:
    if det.conflicting_format is not None and kind is not None:
        other = det.conflicting_format
        raise refuse(
            source.name,
            f"this looks like a {other.label} file ({other.kind}), not {kind}",
        )
    # an accounts or products list: no column a deal is made of (an id column counts as a
    # deal's only against fewer than three company or product columns: Salesforce's
    # Account export starts with Id)
    ref = reference_list(source.headers) if det.missing_required and kind is None else None
    dealish = {"stage", "owner", "close_date", "created_date", "status"} & set(det.columns)
    if ref and not dealish and ("opportunity_id" not in det.columns or len(ref[1]) >= 3):
        what, shown = ref
        raise refuse(
            source.name,
            f"this is {what}, with columns such as {', '.join(repr(h) for h in shown[:3])}: "
            "the dashboard does not read such lists (each deal names its account and "
            "product, and the pages use those). Upload the deals, leads, activities, reps, "
            "quotas or exchange-rate exports instead; if this file is one of them after "
            "all, map its columns by hand on the Data page or pass --mapping FILE",
        )
    if det.missing_required:
        found = ", ".join(repr(h) for h in source.headers[:40])
        raise refuse(
            source.name,
            f"cannot load as {det.kind.name}: missing required column(s) "
            f"{', '.join(det.missing_required)}; the headers found were: {found}. "
            "Map the columns by hand on the Data page or pass --mapping FILE"
            + (won_list_hint(det) if det.missing_required == ["stage"] else ""),
        )


def _rows_with_problems(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT count(DISTINCT line) FROM problems").fetchone()[0]


COPY_CHUNK = 1 << 20


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(COPY_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a folder be synced
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def _remove_dead_partials(folder: Path) -> None:
    """Copies a killed import left half-written (`.<name>.partial-<pid>-<token>`).

    Only those of a process that is gone: another import of the same bytes may be
    copying right now.
    """
    for leftover in folder.glob(f".*{PARTIAL_MARK}*"):
        pid_text = leftover.name.rsplit(PARTIAL_MARK, 1)[1].split("-", 1)[0]
        if not pid_text.isdigit() or not _pid_alive(int(pid_text)):
            leftover.unlink(missing_ok=True)


def _copy_verified(source: SourceFile, target: Path) -> None:
    """Copy to a temporary name, fsync, check the sha256, then rename into place.

    Why: a kill in the middle of a plain copy leaves a fragment under the final name,
    which the next import of the same file would trust. The rename is atomic, so the
    final name only ever holds the whole original.
    """
    tmp = target.with_name(f".{target.name}{PARTIAL_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}")
    pause = float(os.environ.get("SALES_TEST_COPY_PAUSE") or 0)
    digest = hashlib.sha256()
    try:
        with source.path.open("rb") as src, tmp.open("wb") as dst:
            while chunk := src.read(COPY_CHUNK):
                dst.write(chunk)
                digest.update(chunk)
                if pause:
                    dst.flush()
                    time.sleep(pause)
                    pause = 0
            dst.flush()
            os.fsync(dst.fileno())
        if digest.hexdigest() != source.sha256:
            raise refuse(
                source.name,
                "the file changed while it was being imported (its sha256 no longer "
                "matches); nothing was loaded, upload it again",
            )
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def _upload_folder(source: SourceFile, data_dir: Path) -> Path:
    return data_dir / "uploads" / source.sha256[:2] / source.sha256


def _store_original(source: SourceFile, folder: Path) -> Path:
    """Keep the upload as <folder>/<its name>, whole and verified.

    A copy already there is trusted only when its bytes hash to the upload's sha256;
    a fragment (left by a kill during an older, in-place copy) is replaced.
    """
    # the name comes from the user's browser: keep only its last part, never a path
    target = folder / safe_file_name(source.name)
    folder.mkdir(parents=True, exist_ok=True)
    _remove_dead_partials(folder)
    if target.is_file() and _file_sha256(target) == source.sha256:
        return target
    if target.exists() and not target.is_file():
        raise refuse(source.name, "cannot keep the original: its place under uploads/ is taken")
    if target.exists():
        log.warning("kept copy %s does not match its sha256; replacing it", target)
    if source.private is not None:  # the copy written while hashing: already verified
        source.private.finish(target)
        _fsync_dir(folder)
    else:
        _copy_verified(source, target)
    return target


def _incoming_folder(data_dir: Path) -> Path:
    """Where an import writes its own copy of the upload while hashing it (PrivateCopy):
    beside the kept originals, on the same file system, so keeping it is a rename."""
    folder = data_dir / "uploads" / ".incoming"
    if folder.is_dir():
        _remove_dead_partials(folder)
    return folder


def _write(
    con: duckdb.DuckDBPyConnection,
    source: SourceFile,
    det: Detection,
    staged: Staged,
    rows_read: int,
    resolved: AsOf,
    data_dir: Path,
    started: datetime,
    actor: str | None,
) -> tuple[int, LoadCounts, int, int, Path]:
    """The one transaction of an import; the kept original is removed again if it fails."""
    as_of = resolved.day
    folder = _upload_folder(source, data_dir)
    created = not folder.exists()
    try:
        with transaction(con):
            import_id = con.execute("SELECT nextval('import_id_seq')").fetchone()[0]
            stamp_before = source_stamp(con)
            spans_before = spans_stamp(con)
            counts: LoadCounts = load(con, staged, import_id, as_of)
            # The stage changes' spans first, for the deals this import touched (after it,
            # `refresh_after_import` would find them stale and count them whole).
            spans = refresh_stage_spans_after_import(con, import_id, spans_before)
            log.info("stage_history_spans after the import: %s", spans)
            # An import of their sources counts again what it changed (the stamp alone
            # cannot see an update that changes no count or newest import id).
            counted = refresh_after_import(con, det.kind.name, stamp_before)
            log.info(
                "derived tables after the import: %s",
                ", ".join(f"{name}={how}" for name, how in sorted(counted.items())),
            )
            rejected = con.execute("SELECT count(DISTINCT line) FROM problems").fetchone()[0]
            # warnings of loaded rows only: a rejected row is in quarantine with its problem
            con.execute(
                "INSERT INTO import_warnings SELECT ?, line, col, value, warning FROM warnings "
                "WHERE line NOT IN (SELECT line FROM problems)",
                [import_id],
            )
            warned = con.execute(
                "SELECT count(DISTINCT line) FROM import_warnings WHERE import_id = ?",
                [import_id],
            ).fetchone()[0]
            if rejected:
                con.execute(
                    "INSERT INTO quarantine SELECT ?, line, col, value, problem FROM problems",
                    [import_id],
                )
            if staged.new_stages:
                _save_learned(con, source.name, staged.new_stages, actor)
            if det.kind.name == "opportunities":
                staged.reporting_currency = _learn_reporting_currency(con, actor)
            stored = _store_original(source, folder)
            con.execute(
                """
                INSERT INTO imports (import_id, file_name, sha256, stored_path, kind,
                    source_format, encoding, delimiter, as_of_date, rows_read, rows_loaded,
                    rows_rejected, rows_inserted, rows_updated, started_at, finished_at,
                    rows_warned, as_of_source, partial, rows_unchanged)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                # rows_updated: the records this import replaced (a rollback restores that
                # many); rows_unchanged: those of them it left as they were, plus the rows
                # older than the stored state. The history shows the difference as updated.
                [
                    import_id,
                    source.name,
                    source.sha256,
                    str(stored),
                    det.kind.name,
                    det.source_format,
                    source.encoding,
                    source.delimiter,
                    as_of,
                    rows_read,
                    counts.loaded,
                    rejected,
                    counts.inserted,
                    counts.updated,
                    started,
                    datetime.now(),
                    warned,
                    resolved.source,
                    # a won-deal list or a stage-less update: no pipeline snapshot
                    det.kind.name == "opportunities" and "stage" not in staged.fields,
                    counts.unchanged + counts.same,
                ],
            )
            audit.record(
                con, actor or "command line", "upload", import_id=import_id, file=source.name,
                kind=det.kind.name, as_of=as_of, rows_loaded=counts.loaded,
                rows_rejected=rejected,
            )  # fmt: skip
    except BaseException:
        if created:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    return import_id, counts, rejected, warned, stored


def _backup_with_retries(con: duckdb.DuckDBPyConnection, name: str) -> Path | None:
    """The safety copy before an import, tried again after a DuckDB error.

    Why: the copy reads the whole database while other sessions stage their uploads on
    the same database; a clean-clone run once saw the copy fail while a second import of
    the same deals was being staged (tests/test_concurrency.py), and the upload was
    refused although nothing was wrong with it. A DuckDB error is retried like a write
    conflict, and so is a copy still held open by another session (BackupIncomplete);
    a full disk or a missing folder (OSError, any other BackupError) is not.
    """
    for attempt in range(1, CONFLICT_ATTEMPTS + 1):
        try:
            return backup_before_import(con)
        except (BackupError, duckdb.Error, OSError) as exc:
            # backup_before_import wraps DuckDB's errors in a BackupError
            transient = isinstance(exc, duckdb.Error | BackupIncomplete) or isinstance(
                exc.__cause__, duckdb.Error
            )
            log.warning("backup before importing %s failed (attempt %d): %r", name, attempt, exc)
            if not transient or attempt == CONFLICT_ATTEMPTS:
                raise refuse(
                    name, f"the backup before this import could not be written ({exc})"
                ) from exc
            time.sleep(0.2 * attempt)
    return None


def _save_learned(
    con: duckdb.DuckDBPyConnection, name: str, learned: list[LearnedStage], actor: str | None
) -> None:
    """Add the learned stages to the settings, in the import's own transaction: a refused
    or failed import leaves the stage list as it was. Read afresh here, so a stage list
    another session saved meanwhile is extended, not overwritten."""
    merged = merge(load_stages(con), learned)
    problems = validate_stages(merged)
    if problems:
        raise refuse(name, "the learned stages do not fit the stage list: " + "; ".join(problems))
    value = stages_to_json(merged)
    con.execute(
        "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, current_timestamp) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        [STAGES_KEY, value],
    )
    audit.record(
        con, actor or "command line", "settings_edit", key=STAGES_KEY,
        learned=[ls.value for ls in learned],
    )  # fmt: skip


# a date as exports write it (ISO, d/m/Y, m/d/Y, d.m.Y, with or without a time)
DATE_LIKE = r"^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}([ T].*)?$"


def _closed_flag_holding_dates(
    con: duckdb.DuckDBPyConnection, det: Detection, headers: list[str]
) -> str | None:
    """Remap a 'Closed' column that holds dates from the closed flag to the close date.

    Why: "Closed" is Salesforce's label of IsClosed (yes/no), and so a synonym of the flag;
    but a team's own sheet with "Created / Closed" columns means the day. Read as a flag,
    such a file was refused whole ("'Closed' is not yes/no", every closed row). When the
    file has no close-date column and every non-empty cell of the flag's column is a
    date, the column is the close date. Returns the header remapped, or None.
    """
    header = det.columns.get("is_closed")
    if det.kind.name != "opportunities" or header is None or "close_date" in det.columns:
        return None
    column = quote_ident(f"c{headers.index(header)}")
    filled, dated = con.execute(
        f"SELECT count(v), count(v) FILTER (WHERE regexp_matches(v, ?)) FROM ("
        f"SELECT nullif(trim({column}), '') AS v FROM raw)",
        [DATE_LIKE],
    ).fetchone()
    if not filled or dated < filled:
        return None
    det.columns["close_date"] = det.columns.pop("is_closed")
    return header


def _learn_reporting_currency(con: duckdb.DuckDBPyConnection, actor: str | None) -> str | None:
    """Make the deals' one currency the reporting currency when nobody chose one; the code
    set, or None when nothing changed.

    Why: the reporting currency defaults to USD and no page edits it. A team whose export
    is all in EUR ("Betrag (EUR)", or a currency column) and that has uploaded no exchange
    rates saw every amount as unpriced: bookings, pipeline and deal sizes were no data on
    every page. Learned like the stages, in the import's own transaction, and only while
    it is unambiguous: no reporting currency saved yet, no exchange rates, every deal with
    an amount in one and the same stated currency. Once saved it is never changed here.
    """
    if con.execute(
        "SELECT count(*) FROM settings WHERE key = ?", [REPORTING_CURRENCY_KEY]
    ).fetchone()[0]:
        return None
    if con.execute("SELECT count(*) FROM (SELECT 1 FROM fx_rates LIMIT 1)").fetchone()[0]:
        return None
    currencies, code, undeclared = con.execute(
        """
        WITH deals AS (
            SELECT nullif(upper(trim(currency)), '') AS code, amount FROM opportunities
        )
        SELECT count(DISTINCT code), min(code),
               count(*) FILTER (WHERE code IS NULL AND amount IS NOT NULL)
        FROM deals
        """
    ).fetchone()
    if currencies != 1 or undeclared or not is_currency_code(code):
        return None
    if code == load_reporting_currency(con):
        return None
    con.execute(
        "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, current_timestamp)",
        [REPORTING_CURRENCY_KEY, json.dumps(code)],
    )
    audit.record(
        con, actor or "command line", "settings_edit", key=REPORTING_CURRENCY_KEY,
        value=code, learned=True,
    )  # fmt: skip
    return code


def _already_imported(
    con: duckdb.DuckDBPyConnection, source: SourceFile, name: str
) -> ImportResult | None:
    """A clean earlier import of the same bytes; a partial one may be repeated (after
    Settings learn a stage, say)."""
    done = con.execute(
        "SELECT import_id, kind, finished_at, stored_path FROM imports WHERE sha256 = ? "
        "AND rows_rejected = 0 ORDER BY import_id LIMIT 1",
        [source.sha256],
    ).fetchone()
    if done is None:
        return None
    note = (
        f"already imported (import #{done[0]}, {done[1]}, on "
        f"{done[2]:%Y-%m-%d %H:%M}); nothing was added"
    )
    if _repair_kept_copy(source, done[3]):
        note += "; its kept original was incomplete and has been replaced by this upload"
    return ImportResult(name, "duplicate", kind=done[1], import_id=done[0], note=note)


def _repair_kept_copy(source: SourceFile, stored_path: str | None) -> bool:
    """Replace a kept original that is missing or does not hash to its import's sha256.

    Why: an older version copied in place, so a kill mid-copy could leave a fragment that
    the import row still points at; this upload holds the same bytes and can restore it.
    """
    if not stored_path:
        return False
    kept = Path(stored_path)
    try:
        if kept.is_file() and _file_sha256(kept) == source.sha256:
            return False
        if not kept.parent.is_dir() or (kept.exists() and not kept.is_file()):
            return False  # the database was moved, or the place is not a file: leave it
        _copy_verified(source, kept)
    except (OSError, ImportRefused):
        log.warning("could not repair the kept copy %s", kept, exc_info=True)
        return False
    return True


def replaces_data(con: duckdb.DuckDBPyConnection, kind: str) -> bool:
    """Whether an import of `kind` may overwrite records the database already holds.

    The rule: the kind is one whose records are replaced by key (opportunities, whose
    current state and same-day snapshot rows are replaced; reps, activities, leads, quotas,
    forecast submissions, FX rates) and its table already holds records. Event kinds
    (stage history, lead events) only ever add rows, and a first import into an empty
    table has nothing to lose, so neither is backed up. Deliberately coarse: a backup too
    many costs a file (automatic ones are pruned), a backup too few loses data.
    """
    table = REPLACING_TABLES.get(kind)
    if table is None:
        return False
    return con.execute(f"SELECT EXISTS (SELECT 1 FROM {quote_ident(table)})").fetchone()[0]


def import_file(
    con: duckdb.DuckDBPyConnection,
    path: Path | str,
    *,
    kind: str | None = None,
    mapping: Mapping | None = None,
    as_of: date | None = None,
    keep_valid: bool = False,
    data_dir: Path | str | None = None,
    file_name: str | None = None,
    date_order: str | None = None,
    limits: UploadLimits | None = None,
    actor: str | None = None,
    backup: bool = True,
    access: Access | None = None,
    learn_stages: bool = True,
    stage_choices: dict[str, str] | None = None,
    all_won: bool = False,
) -> ImportResult:
    """Import one file. Never raises for bad input: the result says what happened.

    `limits` default to the `upload_limits` setting; `actor` is who imported, written to
    the audit log with the import (default: the access's user, else "command line");
    `access` is who asks: only sales operations may upload, whatever page they came from;
    `backup=False` skips the backup before an import that replaces data (for bulk
    rebuilds that start empty); `learn_stages=False` refuses rows whose stage the settings
    do not know instead of learning it (analytics.ingest.learn); `stage_choices` maps such
    a stage value onto an existing stage by name (the Data page's grid).
    """
    path = Path(path)
    name = file_name or path.name
    if access is not None:
        try:
            require(access, "upload")
        except AccessDenied as exc:
            return _refused(name, refuse(name, str(exc)))
        actor = actor or access.user
    started = datetime.now()
    if kind is not None and kind not in KINDS:
        return _refused(name, refuse(name, f"unknown kind {kind!r}; known: {', '.join(KINDS)}"))
    if data_dir is None:
        db_file = con.execute(
            "SELECT file FROM pragma_database_list WHERE name = current_database()"
        ).fetchone()
        data_dir = data_dir_for(db_file[0]) if db_file and db_file[0] else Path.cwd() / "data"
    data_dir = Path(data_dir)
    source: SourceFile | None = None
    try:
        limits = limits or load_upload_limits(con)
        check_size(path, name, limits.max_file_mb, limits.max_xlsx_mb)
        check_xlsx_archive(path, name, limits)
        source = sniff(path, name, keep_into=_incoming_folder(data_dir))
        done = _already_imported(con, source, name)
        if done is not None:
            return done
        det = detect(source.headers, kind, mapping)
        won_list = _won_list(det, all_won, name)
        if won_list is not None and not all_won:
            ambiguous = norm_key(det.columns["close_date"]) in EXPECTED_CLOSE_HEADERS
        else:
            ambiguous = False
        needed_for_new = _needed_for_new(con, det)
        _check_detection(source, det, kind or (mapping.kind if mapping else None))
        rows_read = load_raw(con, source, max_rows=limits.max_rows)
        totals_rows = drop_totals_rows(con, source, det)
        rows_read -= len(totals_rows)
        if rows_read == 0:
            raise refuse(name, "the file has a header but no data rows")
        order = date_order or (mapping.date_order if mapping else None)
        dated_flag = None if mapping else _closed_flag_holding_dates(con, det, source.headers)
        staged = stage_rows(
            con,
            name,
            det,
            source.headers,
            load_stages(con),
            order,
            source.numeric_columns,
            raw_headers=source.raw_headers,
            short_rows=source.format == "csv",
            learn_stages=learn_stages,
            stage_choices=stage_choices,
        )
        staged.notes[:0] = totals_rows
        if dated_flag:
            staged.notes.append(
                f"the column {dated_flag!r} holds dates, so it was read as the close date, "
                "not as the closed yes/no flag"
            )
        kept_stages = False
        if ambiguous and "opportunity_id" in det.columns and all_stored(con):
            won_list = None  # stored deals with their expected close date: an update
        if det.kind.name == "opportunities" and "stage" not in staged.fields and not won_list:
            if needed_for_new:
                refuse_if_none_stored(con, det, name)
                _refuse_new_records(con, det, staged, needed_for_new, name)
            # an export given an older date than the stored deals: the stage they had then
            late = as_of is not None and stored_later_than(con, as_of)
            keep_stored_stage(con, staged, as_of if late else None)
            kept_stages = True
        elif needed_for_new:
            _refuse_new_records(con, det, staged, needed_for_new, name)
        if won_list is not None:
            refuse_undated_wins(con, det, name, asked=all_won)
            staged.won_stage = next(s.name for s in load_stages(con) if s.is_won)
        result = ImportResult(
            name,
            "loaded",
            # a known CRM format leaves its other columns out by design; a generic or
            # hand-mapped file may have lost one the user meant (a 'Seller' column)
            unused_columns=(
                [h for h in det.unmapped if h.strip()]
                if det.source_format in ("generic", "custom")
                else []
            ),
            kind=det.kind.name,
            source_format=det.source_format,
            rows_read=rows_read,
            problems=staged.problems,
            problem_totals=staged.problem_totals,
            problem_groups=group_problems(con, name) if staged.problem_count else [],
            warning_groups=(
                group_problems(con, name, WARNINGS_OF_LOADED_ROWS) if staged.warnings else []
            ),
            warnings=staged.warnings,
            new_stages=staged.new_stages,
        )
        notes = list(staged.notes)
        if won_list is not None:
            notes.append(
                f"every row loaded as a won deal ({won_list}: a list of closed sales, no "
                f"stage column; stage {staged.won_stage})"
            )
        if kept_stages:
            notes.append(stageless_note(None))
        if staged.deleted:
            notes.append(
                f"{plural(staged.deleted, 'deal')} marked deleted in the CRM skipped "
                "(not counted as lost)"
            )
        result.note = "; ".join(notes)
        if staged.problem_count and not keep_valid:
            result.status = "refused"
            return result
        if staged.problem_count and _rows_with_problems(con) >= rows_read:
            result.status = "refused"
            result.note = "no row is valid; nothing was loaded"
            return result
        resolved = resolve_as_of(con, staged, det, name, as_of)
        if kept_stages and as_of is None and stored_later_than(con, resolved.day):
            keep_stored_stage(con, staged, resolved.day)  # dated by the file: as above
        as_of = resolved.day
        result.as_of_source = resolved.source
        result.as_of_note = resolved.described
        if resolved.notice:  # closed deals dated after the day: allowed, but said
            result.note = "; ".join(n for n in (result.note, resolved.notice) if n)
        result.actor = actor
        # Writers take turns (see analytics.db.WRITE_LOCK); holding the turn from here on
        # makes the backup exactly the state this import starts from, and the duplicate
        # check sees an identical upload another session has just finished.
        with WRITE_LOCK:
            done = _already_imported(con, source, name)
            if done is not None:
                return done
            if backup and replaces_data(con, det.kind.name):
                made = _backup_with_retries(con, name)
                result.backup_path = str(made) if made else None
            for attempt in range(1, CONFLICT_ATTEMPTS + 1):
                try:
                    import_id, counts, rejected, warned, stored = _write(
                        con, source, det, staged, rows_read, resolved, data_dir, started, actor
                    )
                    break
                except duckdb.TransactionException as exc:
                    log.info("import of %s collided with another (attempt %d)", name, attempt)
                    if attempt == CONFLICT_ATTEMPTS:
                        raise refuse(
                            name,
                            "another change to the same records was made at the same moment; "
                            "nothing was loaded, import the file again",
                        ) from exc
        result.status = "partial" if rejected else "loaded"
        result.import_id = import_id
        if det.kind.name == "opportunities":
            undated = _undated_closed_note(con)
            result.note = "; ".join(n for n in (result.note, undated) if n)
        if staged.reporting_currency:
            learned = (
                f"reporting currency set to {staged.reporting_currency}: every deal is in "
                f"{staged.reporting_currency} and none had been chosen (amounts are shown in "
                f"{staged.reporting_currency}; upload exchange rates before deals in another "
                "currency)"
            )
            result.note = "; ".join(n for n in (result.note, learned) if n)
        result.rows_loaded = counts.loaded
        result.rows_rejected = rejected
        result.rows_warned = warned
        result.rows_inserted = counts.inserted
        # a record replaced by an equal version (every column the file carries is the same)
        # did not change: reported unchanged (issue 12)
        result.rows_updated = counts.updated - counts.same
        result.rows_unchanged = counts.unchanged + counts.same
        result.rows_not_in_file = counts.not_in_file
        result.open_not_in_newer = counts.open_not_in_newer
        if counts.no_longer_won:
            unwon = no_longer_won_note(counts.no_longer_won, counts.no_longer_won_rows)
            result.note = "; ".join(n for n in (result.note, unwon) if n)
        result.newer_export = counts.newer_export
        result.stored_path = str(stored)
        result.as_of = as_of
        if kept_stages:  # the count is known now: say how many deals kept their stage
            result.note = result.note.replace(stageless_note(None), stageless_note(counts.loaded))
        if det.kind.name in ("opportunities", "reps"):
            variants = spelling_variants(con)
            if variants:
                result.note = "; ".join(n for n in (result.note, variants_note(variants)) if n)
        return result
    except ImportRefused as exc:
        return _refused(name, exc)
    except duckdb.OutOfMemoryException:
        log.warning("import of %s ran out of memory", name, exc_info=True)
        return _refused(
            name,
            refuse(
                name,
                "the server ran out of memory for this import; nothing was loaded. Try again "
                "when fewer imports run, or ask an admin to raise SALES_MEMORY_LIMIT",
            ),
        )
    except (duckdb.Error, OSError, ValueError) as exc:  # unexpected, but never a traceback
        log.warning("import of %s failed", name, exc_info=True)
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        return _refused(name, refuse(name, f"the import could not be completed ({detail})"))
    finally:
        if source is not None:
            source.cleanup()
        _drop_temp_tables(con)


def _undated_closed_note(con: duckdb.DuckDBPyConnection) -> str:
    """'2 closed deals (1 won, 1 lost) have no close date: ...' for the deals this import
    just wrote (`incoming`, analytics.ingest.load), or '' when every closed one has a date.

    Why: a deal belongs to a period by its close date, so a closed deal without one is in
    no period's bookings, win rate or cycle. A Zoho export without its closing date loaded
    "3 of 3 rows" without a word, and the Overview then read Bookings 0 beside a won
    $12,400 deal.
    """
    won, lost = con.execute(
        "SELECT count(*) FILTER (WHERE is_won), count(*) FILTER (WHERE NOT is_won) "
        "FROM incoming WHERE is_closed AND close_date IS NULL"
    ).fetchone()
    return undated_closed_text(won, lost) if won or lost else ""


def _drop_temp_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The import's temp tables and views, named (TEMP_TABLES) or numbered (values__N)."""
    numbered: list[str] = []
    with contextlib.suppress(duckdb.Error):
        numbered = [
            name
            for (name,) in con.execute(
                "SELECT table_name FROM duckdb_tables() "
                "WHERE temporary AND starts_with(table_name, 'values__')"
            ).fetchall()
        ]
    for table in (*TEMP_TABLES, *numbered):
        with contextlib.suppress(duckdb.Error):
            con.execute(f"DROP VIEW IF EXISTS temp.{quote_ident(table)}")
        with contextlib.suppress(duckdb.Error):
            con.execute(f"DROP TABLE IF EXISTS temp.{quote_ident(table)}")


def propose_stages(
    con: duckdb.DuckDBPyConnection,
    path: Path | str,
    *,
    kind: str | None = None,
    mapping: Mapping | None = None,
    file_name: str | None = None,
    date_order: str | None = None,
    limits: UploadLimits | None = None,
) -> list[LearnedStage]:
    """The stages an import of this file would learn, for the Data page to show before
    Import is pressed. Reads the stage list from `con`, stages the file in a separate
    in-memory database and writes nothing; an unreadable file proposes nothing (the
    import itself reports why)."""
    path = Path(path)
    name = file_name or path.name
    stages = load_stages(con)
    scratch = duckdb.connect()
    source: SourceFile | None = None
    try:
        limits = limits or DEFAULT_UPLOAD_LIMITS
        check_size(path, name, limits.max_file_mb, limits.max_xlsx_mb)
        source = sniff(path, name)
        det = detect(source.headers, kind, mapping)
        if det.missing_required or "stage" not in det.columns:
            return []
        load_raw(scratch, source, max_rows=limits.max_rows)
        drop_totals_rows(scratch, source, det)
        order = date_order or (mapping.date_order if mapping else None)
        staged = stage_rows(
            scratch, name, det, source.headers, stages, order, source.numeric_columns
        )
        return staged.new_stages
    except (ImportRefused, duckdb.Error, OSError, ValueError):
        return []
    finally:
        if source is not None:
            source.cleanup()
        scratch.close()


def preview_file(
    path: Path | str,
    *,
    kind: str | None = None,
    mapping: Mapping | None = None,
    file_name: str | None = None,
    rows: int = 20,
    limits: UploadLimits | None = None,
) -> Preview:
    """Detection and a few rows, without touching any database.

    A file over `limits` (default: the built-in defaults, as no database is at hand) is
    reported as the preview's problem, so the page says so before Import is pressed.
    """
    path = Path(path)
    name = file_name or path.name
    try:
        limits = limits or DEFAULT_UPLOAD_LIMITS
        check_size(path, name, limits.max_file_mb, limits.max_xlsx_mb)
        check_xlsx_archive(path, name, limits)
        source = sniff(path, name)
    except ImportRefused as exc:
        empty = KINDS[kind or (mapping.kind if mapping else "opportunities")]
        return Preview(
            name,
            None,
            None,
            [],
            empty.name,
            "unknown",
            "unreadable",
            {},
            [],
            [],
            pd.DataFrame(),
            [(f.name, f.required) for f in empty.fields],
            problem=exc.problems[0].describe(),
        )
    try:
        det = detect(source.headers, kind, mapping)
        sample = _sample(source, rows)
    finally:
        source.cleanup()
    problem = None
    if det.conflicting_format is not None and kind is not None:
        problem = f"this looks like a {det.conflicting_format.label} file, not {kind}"
    # the import's detection, not a guess of the page's own: a stage-less file with a won
    # date is loaded as won deals, so the preview must not warn of a refusal (issue 12)
    stageless = det.kind.name == "opportunities" and "stage" not in det.columns
    missing_if_won = _missing_as_won_list(det) if stageless else list(det.missing_required)
    won_list = None
    if stageless:
        before = list(det.missing_required)
        won_list = _won_list(det, False, name)
        close = det.columns.get("close_date", "")
        if (
            won_list
            and norm_key(close) in EXPECTED_CLOSE_HEADERS
            and "opportunity_id" in det.columns
        ):
            # 'Close Date' beside stored deal ids is an update (the import decides on the
            # stored deals): without a database, the preview keeps the update note
            won_list, det.missing_required = None, before
    return Preview(
        file_name=name,
        encoding=source.encoding,
        delimiter=source.delimiter,
        headers=source.headers,
        kind=det.kind.name,
        source_format=det.source_format,
        format_label=det.format_label,
        columns=det.columns,
        missing_required=det.missing_required,
        unmapped=det.unmapped,
        sample=sample,
        fields=[(f.name, f.required) for f in det.kind.fields],
        date_order=mapping.date_order if mapping else None,
        problem=problem,
        won_list=won_list,
        missing_if_won=missing_if_won,
    )


def _sample(source: SourceFile, rows: int) -> pd.DataFrame:
    con = duckdb.connect()
    try:
        if source.format == "xlsx":
            load_raw(con, source, first_rows=int(rows))
            frame = con.execute(f"SELECT * EXCLUDE (__line) FROM raw LIMIT {int(rows)}").df()
            frame.columns = source.headers
            return frame
    finally:
        con.close()
    assert source.read_path is not None
    records: list[list[str]] = []
    with source.read_path.open(encoding="utf-8-sig", newline="") as fh:
        for _ in range(source.skip_lines):
            fh.readline()
        reader = csv.reader(fh, delimiter=source.delimiter or ",")
        next(reader, None)  # the header
        for record in reader:
            if source.line_numbers:  # the numbered copy carries the row number in front
                record = record[1:]
            if not any(cell.strip() for cell in record):
                continue
            if is_footer_line(record[0]) and not any(cell.strip() for cell in record[1:]):
                continue
            records.append(record)
            if len(records) >= rows:
                break
    width = len(source.headers)
    records = [(r + [""] * width)[:width] for r in records]
    return pd.DataFrame(records, columns=source.headers)

"""Settings as data: the ordered stage list with win probabilities and CRM aliases.

Stored in the `settings` table as JSON so ops can edit them from the Settings page and
every figure (forecast, funnel) reads the same list. Defaults follow the domain brief;
they are data (`analytics/default_settings.json`), which `analytics.db` seeds into a new
database and this module reads as its fallback, so the two cannot drift apart.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb

from analytics import audit
from analytics.access import Access, require
from analytics.db import default_settings, transaction
from analytics.numbers import blank_cell, counted
from analytics.run_memo import memoised


def norm_key(text: str) -> str:
    """Compare labels ignoring case, spaces, underscores and punctuation (any script)."""
    return re.sub(r"[\W_]+", "", str(text).casefold())


@dataclass(frozen=True)
class Stage:
    name: str
    probability: float  # percent, 0-100
    is_closed: bool = False
    is_won: bool = False
    aliases: tuple[str, ...] = field(default_factory=tuple)


STAGES_KEY = "stages"


def stages_from_data(items: list[dict[str, Any]]) -> tuple[Stage, ...]:
    """Stages from their JSON form (a list of objects; missing flags are False)."""
    return tuple(
        Stage(
            name=d["name"],
            probability=float(d["probability"]),
            is_closed=bool(d.get("is_closed", False)),
            is_won=bool(d.get("is_won", False)),
            aliases=tuple(d.get("aliases", ())),
        )
        for d in items
    )


# Order matters: it is the funnel order. Aliases map the default stage names of
# Salesforce, HubSpot, Pipedrive, Zoho, Odoo, the Maven data set and a few UI languages
# (analytics/default_settings.json, key "stages").
DEFAULT_STAGES: tuple[Stage, ...] = stages_from_data(default_settings()[STAGES_KEY])


def stages_to_json(stages: tuple[Stage, ...] | list[Stage]) -> str:
    return json.dumps([asdict(s) for s in stages], ensure_ascii=False)


def stages_from_json(text: str) -> tuple[Stage, ...]:
    return stages_from_data(json.loads(text))


# -- the stage list as editor rows (the Settings page) ----------------------------------

STAGE_COLUMNS: tuple[str, ...] = ("order", "name", "probability", "won", "lost", "aliases")
ALIAS_SPLIT = re.compile(r"[;,\n]")


def _finite(value: Any) -> float | None:
    if blank_cell(value) or isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _checked(value: Any) -> bool:
    """A checkbox cell: an empty cell (None/NaN in a new row) is unchecked, not truthy NaN."""
    return False if blank_cell(value) else bool(value)


def stages_to_rows(stages: tuple[Stage, ...] | list[Stage]) -> list[dict[str, Any]]:
    """The stage list as the editor shows it: one row per stage, aliases as '; ' text."""
    return [
        {
            "order": i,
            "name": s.name,
            "probability": float(s.probability),
            "won": bool(s.is_won),
            "lost": bool(s.is_closed and not s.is_won),
            "aliases": "; ".join(s.aliases),
        }
        for i, s in enumerate(stages, start=1)
    ]


def stages_from_rows(rows: Iterable[dict[str, Any]]) -> tuple[list[Stage], list[str]]:
    """The edited rows back into stages, in `order`; problems when any row is unusable.

    Fully blank rows (the editor's new row) are skipped; rows without an order go last in
    table order. `won` makes a stage closed and won, `lost` closed and not won. Why here
    and not in the page: what makes a usable stage list is the settings' business, and
    the rules are tested without a browser.
    """
    problems: list[str] = []
    parsed: list[tuple[float, int, Stage]] = []
    for i, row in enumerate(rows, start=1):
        name = "" if blank_cell(row.get("name")) else str(row["name"]).strip()
        probability = _finite(row.get("probability"))
        if not name and probability is None and blank_cell(row.get("aliases")):
            continue
        if not name:
            problems.append(f"row {i} has no stage name")
            continue
        if probability is None:
            problems.append(f"stage {name!r} has no probability (0-100)")
            continue
        won, lost = _checked(row.get("won")), _checked(row.get("lost"))
        if won and lost:
            problems.append(f"stage {name!r} cannot be both won and lost")
        text = "" if blank_cell(row.get("aliases")) else str(row["aliases"])
        aliases = tuple(a.strip() for a in ALIAS_SPLIT.split(text) if a.strip())
        order = _finite(row.get("order"))
        stage = Stage(name, probability, is_closed=won or lost, is_won=won, aliases=aliases)
        parsed.append((math.inf if order is None else order, i, stage))
    stages = [stage for _, _, stage in sorted(parsed, key=lambda r: (r[0], r[1]))]
    if not stages and not problems:
        problems.append("the stage list is empty")
    names: dict[str, str] = {}
    for s in stages:
        key = norm_key(s.name)
        if key in names:
            problems.append(f"stage name {s.name!r} is listed twice")
        names[key] = s.name
    return stages, problems


def stages_in_use(con: duckdb.DuckDBPyConnection, stages: Iterable[Stage]) -> list[str]:
    """Problems for stages that deals in the database use but the new list drops.

    Deals keep the canonical stage name they were imported with; a renamed or deleted
    stage would leave them without a probability (weighted as 0), so it is refused.
    """
    keep = [s.name.strip().lower() for s in stages]
    rows = con.execute(
        """
        SELECT stage, count(*) FROM opportunities
        WHERE NOT list_contains(CAST($keep AS VARCHAR[]), lower(trim(stage)))
        GROUP BY stage ORDER BY count(*) DESC, stage
        """,
        {"keep": keep},
    ).fetchall()
    return [
        f"stage {stage!r} is used by {counted(count, 'deal')} in the database: keep it in the list "
        "(rename it only after re-importing those deals)"
        for stage, count in rows
    ]


def validate_stages(stages: tuple[Stage, ...] | list[Stage]) -> list[str]:
    """Problems that would make figures wrong; an empty list means the list is usable."""
    problems: list[str] = []
    if not any(s.is_won for s in stages):
        problems.append("no stage is marked won")
    if not any(s.is_closed and not s.is_won for s in stages):
        problems.append("no stage is marked lost")
    seen: dict[str, str] = {}
    for s in stages:
        if not 0 <= s.probability <= 100:
            problems.append(f"stage {s.name!r}: probability {s.probability} is not within 0-100")
        if s.is_won and not s.is_closed:
            problems.append(f"stage {s.name!r}: a won stage must also be closed")
        for label in (s.name, *s.aliases):
            key = norm_key(label)
            if key in seen and seen[key] != s.name:
                problems.append(f"label {label!r} maps to both {seen[key]!r} and {s.name!r}")
            seen[key] = s.name
    return problems


def put_setting(
    con: duckdb.DuckDBPyConnection, key: str, value_json: str, access: Access | None = None
) -> None:
    """Store one setting (JSON text) with its audit row, in one transaction.

    Every setting changes figures on every page, so who changed it is recorded and only
    sales operations may: `access` None means a trusted caller (the command line, tests,
    the demo builder), which is audited as "command line".
    """
    if access is not None:
        require(access, "edit_settings")
    with transaction(con):
        con.execute(
            "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, current_timestamp) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
            "updated_at = excluded.updated_at",
            [key, value_json],
        )
        audit.record(
            con, access.user if access else "command line", "settings_edit", key=key,
            value=json.loads(value_json),
        )  # fmt: skip


@memoised
def load_stages(con: duckdb.DuckDBPyConnection) -> tuple[Stage, ...]:
    row = con.execute("SELECT value FROM settings WHERE key = ?", [STAGES_KEY]).fetchone()
    return stages_from_json(row[0]) if row else DEFAULT_STAGES


def save_stages(
    con: duckdb.DuckDBPyConnection,
    stages: tuple[Stage, ...] | list[Stage],
    access: Access | None = None,
) -> None:
    problems = validate_stages(stages)
    if problems:
        raise ValueError("; ".join(problems))
    put_setting(con, STAGES_KEY, stages_to_json(stages), access)


def stage_lookup(stages: tuple[Stage, ...] | list[Stage]) -> dict[str, Stage]:
    """Normalised label (name or alias) -> stage."""
    out: dict[str, Stage] = {}
    for s in stages:
        for label in (s.name, *s.aliases):
            out.setdefault(norm_key(label), s)
    return out


# -- activity categories (efficiency KPIs) -------------------------------------------------


@dataclass(frozen=True)
class ActivityCategory:
    """How one activity type counts in the efficiency KPIs.

    Kept as data, not code, because companies log different activity types and disagree
    on what "selling" is: ops decide whether an email counts as customer-facing time.
    A type that is neither customer-facing nor internal is left out of the selling-time
    share altogether (it is neither selling nor overhead). `meeting` marks the types that
    count as a *meeting set* in the prospect-meeting ratio.
    """

    activity_type: str  # lower-case, as in activities.activity_type
    customer_facing: bool = False
    internal: bool = False
    prospecting: bool = False
    meeting: bool = False


# Domain brief: customer-facing = calls, meetings, demos, emails to prospects; internal =
# admin, internal meetings, training; prospecting activity = call, email, meeting.
DEFAULT_ACTIVITY_CATEGORIES: tuple[ActivityCategory, ...] = (
    ActivityCategory("call", customer_facing=True, prospecting=True),
    ActivityCategory("email", customer_facing=True, prospecting=True),
    ActivityCategory("meeting", customer_facing=True, prospecting=True, meeting=True),
    ActivityCategory("demo", customer_facing=True),
    ActivityCategory("admin", internal=True),
    ActivityCategory("training", internal=True),
    ActivityCategory("internal meeting", internal=True),
)

ACTIVITY_CATEGORIES_KEY = "activity_categories"


def activity_categories_to_json(categories: tuple[ActivityCategory, ...] | list) -> str:
    return json.dumps([asdict(c) for c in categories], ensure_ascii=False)


def activity_categories_from_json(text: str) -> tuple[ActivityCategory, ...]:
    return tuple(
        ActivityCategory(
            activity_type=str(d["activity_type"]).strip().lower(),
            customer_facing=bool(d.get("customer_facing", False)),
            internal=bool(d.get("internal", False)),
            prospecting=bool(d.get("prospecting", False)),
            meeting=bool(d.get("meeting", False)),
        )
        for d in json.loads(text)
    )


def validate_activity_categories(categories: tuple[ActivityCategory, ...] | list) -> list[str]:
    """Problems that would make the efficiency KPIs wrong; empty means usable."""
    problems: list[str] = []
    seen: set[str] = set()
    for c in categories:
        key = c.activity_type.strip().lower()
        if not key:
            problems.append("an activity category has no activity type")
        if key in seen:
            problems.append(f"activity type {c.activity_type!r} is listed twice")
        seen.add(key)
        if c.customer_facing and c.internal:
            problems.append(
                f"activity type {c.activity_type!r} cannot be customer-facing and internal"
            )
        if c.meeting and not c.prospecting:
            problems.append(
                f"activity type {c.activity_type!r}: a meeting type must be prospecting"
            )
    return problems


def load_activity_categories(con: duckdb.DuckDBPyConnection) -> tuple[ActivityCategory, ...]:
    row = con.execute(
        "SELECT value FROM settings WHERE key = ?", [ACTIVITY_CATEGORIES_KEY]
    ).fetchone()
    return activity_categories_from_json(row[0]) if row else DEFAULT_ACTIVITY_CATEGORIES


def save_activity_categories(
    con: duckdb.DuckDBPyConnection,
    categories: tuple[ActivityCategory, ...] | list,
    access: Access | None = None,
) -> None:
    problems = validate_activity_categories(categories)
    if problems:
        raise ValueError("; ".join(problems))
    put_setting(con, ACTIVITY_CATEGORIES_KEY, activity_categories_to_json(categories), access)


# -- reporting currency --------------------------------------------------------------------

REPORTING_CURRENCY_KEY = "reporting_currency"
DEFAULT_REPORTING_CURRENCY = "USD"


def _check_currency(code: str) -> str:
    text = str(code).strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", text):
        raise ValueError(f"reporting currency must be a 3-letter ISO code, not {code!r}")
    return text


def is_currency_code(code: object) -> bool:
    """Whether `code` is a 3-letter ISO currency code (what the reporting currency takes)."""
    try:
        _check_currency(str(code))
    except ValueError:
        return False
    return True


@memoised
def load_reporting_currency(con: duckdb.DuckDBPyConnection) -> str:
    """The currency every amount is converted into (fx_rates are quoted against it).

    A missing or unreadable value means the default rather than an error, so a fresh
    database still shows figures.
    """
    row = con.execute(
        "SELECT value FROM settings WHERE key = ?", [REPORTING_CURRENCY_KEY]
    ).fetchone()
    if not row:
        return DEFAULT_REPORTING_CURRENCY
    try:
        return _check_currency(json.loads(row[0]))
    except (TypeError, ValueError):
        return DEFAULT_REPORTING_CURRENCY


def save_reporting_currency(
    con: duckdb.DuckDBPyConnection, code: str, access: Access | None = None
) -> None:
    put_setting(con, REPORTING_CURRENCY_KEY, json.dumps(_check_currency(code)), access)


# -- upload limits -------------------------------------------------------------------------

UPLOAD_LIMITS_KEY = "upload_limits"


@dataclass(frozen=True)
class UploadLimits:
    """How big one upload may be; the importer refuses larger files before loading them.

    CSV/TSV is streamed by DuckDB (memory does not grow with the file), so its limit guards
    disk and import time; .xlsx is unzipped and parsed cell by cell in Python, much slower
    per byte, so it has its own, smaller limit. Rows are counted as read, before anything
    is written to the database.
    """

    max_file_mb: int = 3072
    max_xlsx_mb: int = 100
    max_rows: int = 20_000_000
    # An .xlsx is a zip: a few hundred KB can unpack to gigabytes or to millions of shared
    # strings that openpyxl holds in memory before the first row (an "xlsx bomb"). These
    # three are checked from the zip's directory and the shared-strings part before reading.
    max_xlsx_uncompressed_mb: int = 2048
    max_xlsx_ratio: int = 100  # unpacked / packed size, checked once over 32 MB unpacked
    max_xlsx_shared_strings: int = 2_000_000


DEFAULT_UPLOAD_LIMITS = UploadLimits()


def validate_upload_limits(limits: UploadLimits) -> list[str]:
    problems: list[str] = []
    for name in asdict(DEFAULT_UPLOAD_LIMITS):
        value = getattr(limits, name)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            problems.append(f"{name} must be a whole number above 0, not {value!r}")
    return problems


def upload_limits_from_json(text: str) -> UploadLimits:
    """Unknown keys are ignored and missing ones take the default, so old rows keep working."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("upload limits must be a JSON object")
    known = {k: data[k] for k in asdict(DEFAULT_UPLOAD_LIMITS) if k in data}
    limits = UploadLimits(**known)
    problems = validate_upload_limits(limits)
    if problems:
        raise ValueError("; ".join(problems))
    return limits


def load_upload_limits(con: duckdb.DuckDBPyConnection) -> UploadLimits:
    """The configured limits; a missing or unreadable value means the defaults."""
    row = con.execute("SELECT value FROM settings WHERE key = ?", [UPLOAD_LIMITS_KEY]).fetchone()
    if not row:
        return DEFAULT_UPLOAD_LIMITS
    try:
        return upload_limits_from_json(row[0])
    except (TypeError, ValueError):
        return DEFAULT_UPLOAD_LIMITS


def save_upload_limits(
    con: duckdb.DuckDBPyConnection, limits: UploadLimits, access: Access | None = None
) -> None:
    problems = validate_upload_limits(limits)
    if problems:
        raise ValueError("; ".join(problems))
    put_setting(con, UPLOAD_LIMITS_KEY, json.dumps(asdict(limits)), access)


# --- the demo database --------------------------------------------------------------------

# Written by `python -m analytics demo` into the database it builds, and nowhere else: the
# sidebar says "Demo data" when it is set, and the demo builder refuses any database
# without it, so demo deals never mix with a team's own uploads.
DEMO_DATABASE_KEY = "demo_database"


def is_demo_database(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the demo builder made this database (see DEMO_DATABASE_KEY)."""
    row = con.execute("SELECT value FROM settings WHERE key = ?", [DEMO_DATABASE_KEY]).fetchone()
    return bool(row) and json.loads(str(row[0])) is True


def mark_demo_database(con: duckdb.DuckDBPyConnection) -> None:
    put_setting(con, DEMO_DATABASE_KEY, "true")

"""Lead-scoring rules as data: points per lead event type, a hand-off threshold, decay.

Why data and not code: marketing and ops retune the rules (a webinar is suddenly worth
more, persona fit less) far more often than anyone deploys, and every figure that uses a
score (the hand-off list, the calibration bands, the `leads` report) must read the same
rules. So they live in the `settings` table under the key `lead_scoring` as one JSON
document, edited on the Settings page, validated before every save, in the same pattern
as the stage list in `analytics.settings` (kept in its own module so the two can change
independently).

Defaults follow the domain brief (MQL -> SQL): pricing page visit +10, email open +1,
email click +3, inaccurate company details -5, fits the buyer persona +5, and a lead with
15 points or more is sales-qualified. Decay is off by default: with a half-life of H days,
an event D calendar days old counts ``points x 0.5 ** (D / H)``. Rules describing the
lead rather than its behaviour (persona fit, bad company data) neither decay nor count
twice when the CRM logs them twice (`decays=False`, `once=True`).

Event types are matched on ``lower(trim(event_type))``; event types without a rule score
0 and are listed by `unknown_event_types`, so ops see what the data holds that the rules
ignore.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import duckdb
import pandas as pd

from analytics.access import Access
from analytics.scope import Scope, owner_filter_sql
from analytics.settings import put_setting

log = logging.getLogger("analytics")

LEAD_SCORING_KEY = "lead_scoring"
DEFAULT_THRESHOLD = 15.0
# Points must stay readable as a score: a rule worth more than this is a typo.
MAX_ABS_POINTS = 1000.0
# Half-lives are days; a century is certainly a typo for "no decay".
MAX_HALF_LIFE_DAYS = 36500.0

_EVENT_TYPE_RE = re.compile(r"^\S(.*\S)?$")


def norm_event_type(text: str) -> str:
    """How an event type is compared: trimmed and lower-case, as the SQL side does it."""
    return str(text).strip().lower()


@dataclass(frozen=True)
class ScoringRule:
    """Points for one lead event type.

    `decays`: whether the half-life (when set) shrinks this event's points with age.
    `once`: count the event at most once per lead (the most recent occurrence), for
    events that describe the lead rather than something it did again.
    """

    event_type: str
    points: float
    description: str = ""
    decays: bool = True
    once: bool = False


@dataclass(frozen=True)
class LeadScoring:
    """The whole scoring configuration: rules, hand-off threshold, optional decay.

    `half_life_days` None means no decay: an event counts fully however old it is.
    """

    rules: tuple[ScoringRule, ...]
    threshold: float = DEFAULT_THRESHOLD
    half_life_days: float | None = None

    def points_for(self, event_type: str) -> float:
        """The rule's points for an event type; 0 for a type without a rule."""
        key = norm_event_type(event_type)
        for rule in self.rules:
            if norm_event_type(rule.event_type) == key:
                return float(rule.points)
        return 0.0

    def event_types(self) -> list[str]:
        return [norm_event_type(r.event_type) for r in self.rules]

    def sql_params(self) -> dict[str, Any]:
        """The rules as parallel lists plus threshold and half-life, for bound SQL.

        Binding (rather than formatting into SQL) keeps event types from users' files out
        of the statement text, and lets one prepared query serve any rule set.
        """
        return {
            "rule_types": [norm_event_type(r.event_type) for r in self.rules],
            "rule_points": [float(r.points) for r in self.rules],
            "rule_decays": [bool(r.decays) for r in self.rules],
            "rule_once": [bool(r.once) for r in self.rules],
            "threshold": float(self.threshold),
            "half_life_days": None if self.half_life_days is None else float(self.half_life_days),
        }


DEFAULT_RULES: tuple[ScoringRule, ...] = (
    ScoringRule("pricing_page_visit", 10, "visited the pricing page"),
    ScoringRule("email_open", 1, "opened an email"),
    ScoringRule("email_click", 3, "clicked a link in an email"),
    ScoringRule(
        "inaccurate_company_details", -5, "company details are wrong", decays=False, once=True
    ),
    ScoringRule("fits_buyer_persona", 5, "fits the buyer persona", decays=False, once=True),
)
DEFAULT_LEAD_SCORING = LeadScoring(rules=DEFAULT_RULES)


# --- JSON ------------------------------------------------------------------------------


def lead_scoring_to_json(scoring: LeadScoring) -> str:
    return json.dumps(
        {
            "rules": [asdict(r) for r in scoring.rules],
            "threshold": scoring.threshold,
            "half_life_days": scoring.half_life_days,
        },
        ensure_ascii=False,
    )


def _number(value: Any, what: str) -> float:
    """A finite float, or ValueError naming the field (bools are not numbers here)."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{what} must be a number, not {value!r}")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number, not {value!r}") from None
    if not math.isfinite(out):
        raise ValueError(f"{what} must be a finite number, not {value!r}")
    return out


def lead_scoring_from_json(text: str | bytes) -> LeadScoring:
    """Parse a stored document; ValueError (with the field) when it is not one."""
    try:
        data = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"lead scoring is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise ValueError("lead scoring must be an object with a list of rules")
    rules: list[ScoringRule] = []
    for i, item in enumerate(data["rules"], start=1):
        if not isinstance(item, dict) or "event_type" not in item:
            raise ValueError(f"rule {i} has no event_type")
        rules.append(
            ScoringRule(
                event_type=str(item["event_type"]),
                points=_number(item.get("points"), f"rule {i} points"),
                description=str(item.get("description") or ""),
                decays=bool(item.get("decays", True)),
                once=bool(item.get("once", False)),
            )
        )
    half_life = data.get("half_life_days")
    return LeadScoring(
        rules=tuple(rules),
        threshold=_number(data.get("threshold", DEFAULT_THRESHOLD), "threshold"),
        half_life_days=None if half_life is None else _number(half_life, "half-life"),
    )


# --- validation, load, save ----------------------------------------------------------------


def validate_lead_scoring(scoring: LeadScoring) -> list[str]:
    """Problems that would make scores wrong or unreadable; empty means usable.

    A rule set with no positive rule can never reach a positive threshold; duplicate
    event types would make a score depend on rule order; both are refused.
    """
    problems: list[str] = []
    rules = scoring.rules
    if not rules:
        problems.append("there are no scoring rules")
    seen: set[str] = set()
    for i, rule in enumerate(scoring.rules, start=1):
        key = norm_event_type(rule.event_type)
        name = rule.event_type.strip() or f"rule {i}"
        if not key:
            problems.append(f"rule {i} has no event type")
        elif not _EVENT_TYPE_RE.match(key):
            problems.append(f"rule {i}: event type {rule.event_type!r} is not readable text")
        if key and key in seen:
            problems.append(f"event type {key!r} has more than one rule")
        seen.add(key)
        try:
            points = _number(rule.points, f"{name}: points")
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if abs(points) > MAX_ABS_POINTS:
            problems.append(f"{name}: {points:g} points is outside ±{MAX_ABS_POINTS:g}")
    try:
        threshold = _number(scoring.threshold, "threshold")
        if abs(threshold) > MAX_ABS_POINTS:
            problems.append(f"threshold {threshold:g} is outside ±{MAX_ABS_POINTS:g}")
        elif threshold > 0 and scoring.rules and not any(_positive(r.points) for r in rules):
            problems.append("no rule adds points, so no lead can reach the threshold")
    except ValueError as exc:
        problems.append(str(exc))
    if scoring.half_life_days is not None:
        try:
            half_life = _number(scoring.half_life_days, "half-life")
            if not 0 < half_life <= MAX_HALF_LIFE_DAYS:
                problems.append(
                    f"half-life must be more than 0 and at most {MAX_HALF_LIFE_DAYS:g} days, "
                    f"not {half_life:g} (leave decay off for none)"
                )
        except ValueError as exc:
            problems.append(str(exc))
    return problems


def _positive(value: Any) -> bool:
    try:
        return _number(value, "points") > 0
    except ValueError:
        return False


def load_lead_scoring(con: duckdb.DuckDBPyConnection) -> LeadScoring:
    """The saved rules, or the defaults when none are saved.

    A stored document that no longer reads or validates (edited by hand in the database)
    also means the defaults, logged, rather than an error on every page: `save` never
    writes such a document.
    """
    row = con.execute("SELECT value FROM settings WHERE key = ?", [LEAD_SCORING_KEY]).fetchone()
    if not row:
        return DEFAULT_LEAD_SCORING
    try:
        scoring = lead_scoring_from_json(row[0])
    except ValueError as exc:
        log.warning("lead_scoring setting unreadable (%s); using the defaults", exc)
        return DEFAULT_LEAD_SCORING
    problems = validate_lead_scoring(scoring)
    if problems:
        log.warning("lead_scoring setting invalid (%s); using the defaults", "; ".join(problems))
        return DEFAULT_LEAD_SCORING
    return scoring


def save_lead_scoring(
    con: duckdb.DuckDBPyConnection, scoring: LeadScoring, access: Access | None = None
) -> None:
    """Validate and store; ValueError listing every problem, and nothing written, if invalid."""
    problems = validate_lead_scoring(scoring)
    if problems:
        raise ValueError("; ".join(problems))
    clean = LeadScoring(
        rules=tuple(
            ScoringRule(
                event_type=norm_event_type(r.event_type),
                points=float(r.points),
                description=r.description.strip(),
                decays=bool(r.decays),
                once=bool(r.once),
            )
            for r in scoring.rules
        ),
        threshold=float(scoring.threshold),
        half_life_days=None if scoring.half_life_days is None else float(scoring.half_life_days),
    )
    put_setting(con, LEAD_SCORING_KEY, lead_scoring_to_json(clean), access)


# --- what the data holds that the rules ignore -------------------------------------------


def unknown_event_types(
    con: duckdb.DuckDBPyConnection,
    scoring: LeadScoring | None = None,
    scope: Scope | None = None,
) -> pd.DataFrame:
    """Event types in `lead_events` that no rule scores (they count 0), most frequent first.

    Columns: event_type (as compared: trimmed, lower-case), events, leads. `scope`: only
    the events of the leads its team, region and rep filters keep (the viewer's own, on
    the Leads page: a rep saw the event types and counts of other reps' leads); None:
    every event, as Settings and the command line read them.
    """
    rules = scoring if scoring is not None else load_lead_scoring(con)
    return con.execute(
        f"""
        SELECT lower(trim(e.event_type)) AS event_type,
               count(*)                  AS events,
               count(DISTINCT e.lead_id) AS leads
        FROM lead_events AS e
        WHERE NOT list_contains($rule_types, lower(trim(e.event_type)))
          AND ($every_lead OR e.lead_id IN (
                SELECT l.lead_id
                FROM leads AS l
                LEFT JOIN reps AS r ON r.rep = l.owner
                WHERE {owner_filter_sql("l.owner")}))
        GROUP BY 1
        ORDER BY events DESC, event_type
        """,
        {
            "rule_types": rules.event_types(),
            "every_lead": scope is None,
            "team": None if scope is None else scope.team,
            "region": None if scope is None else scope.region,
            "rep": None if scope is None else scope.rep,
        },
    ).df()


RULE_COLUMNS: tuple[str, ...] = ("event_type", "points", "description", "decays", "once")


def scoring_to_rows(scoring: LeadScoring) -> list[dict[str, Any]]:
    """The scoring rules as the Settings page's editor shows them (see `scoring_from_rows`)."""
    return [
        {
            "event_type": r.event_type,
            "points": float(r.points),
            "description": r.description,
            "decays": bool(r.decays),
            "once": bool(r.once),
        }
        for r in scoring.rules
    ]


def scoring_from_rows(
    rows: Iterable[dict[str, Any]], threshold: Any, half_life_days: Any
) -> tuple[LeadScoring | None, list[str]]:
    """Build a LeadScoring from editor rows (the Settings page), or say what is wrong.

    Rows whose event type and points are both empty are the editor's blank new row and
    are skipped; any other gap is a problem, so nothing half-typed is ever saved.
    """
    problems: list[str] = []
    rules: list[ScoringRule] = []
    for i, row in enumerate(rows, start=1):
        event_type = _text(row.get("event_type"))
        points = row.get("points")
        if not event_type and _blank(points):
            continue
        if not event_type:
            problems.append(f"rule {i} has points but no event type")
            continue
        if _blank(points):
            problems.append(f"{event_type}: points must be a number (the cell is empty)")
            continue
        try:
            value = _number(points, f"{event_type}: points")
        except ValueError as exc:
            problems.append(str(exc))
            continue
        rules.append(
            ScoringRule(
                event_type=event_type,
                points=value,
                description=_text(row.get("description")),
                decays=_flag(row.get("decays"), default=True),
                once=_flag(row.get("once"), default=False),
            )
        )
    try:
        limit = _number(threshold, "threshold")
    except ValueError as exc:
        problems.append(str(exc))
        limit = DEFAULT_THRESHOLD
    half_life: float | None = None
    if not _blank(half_life_days):
        try:
            half_life = _number(half_life_days, "half-life")
        except ValueError as exc:
            problems.append(str(exc))
    scoring = LeadScoring(rules=tuple(rules), threshold=limit, half_life_days=half_life)
    problems += validate_lead_scoring(scoring)
    return (None, problems) if problems else (scoring, [])


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        if pd.isna(value):
            return True
    except (TypeError, ValueError):
        pass
    return isinstance(value, str) and not value.strip()


def _text(value: Any) -> str:
    return "" if _blank(value) else str(value).strip()


def _flag(value: Any, *, default: bool) -> bool:
    return default if _blank(value) else bool(value)

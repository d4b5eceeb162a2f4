"""Settings as data: the ordered stage list with win probabilities and CRM aliases.

Stored in the `settings` table as JSON so ops can edit them from the Settings page and
every figure (forecast, funnel) reads the same list. Defaults follow the domain brief.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field

import duckdb


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


# Order matters: it is the funnel order. Aliases map the default stage names of
# Salesforce, HubSpot, Pipedrive, Zoho, Odoo, the Maven data set and a few UI languages.
DEFAULT_STAGES: tuple[Stage, ...] = (
    Stage(
        "Discovery",
        10,
        aliases=(
            "Discovery call",
            "Prospecting",
            "Prospect",
            "New",
            "Lead In",
            "Lead",
            "Appointment Scheduled",
            "appointmentscheduled",
            "Новая",
            "Новый",
            "Поиск",
            "신규",
            "발굴",
            "初步接洽",
            "新建",
        ),
    ),
    Stage(
        "Qualified",
        20,
        aliases=(
            "Qualification",
            "Qualify",
            "Qualifying",
            "Needs Analysis",
            "Contact Made",
            "Qualified To Buy",
            "qualifiedtobuy",
            "Engaging",
            "Квалификация",
            "Квалифицирован",
            "자격 확인",
            "需求确认",
            "资格审查",
        ),
    ),
    Stage(
        "Demo",
        40,
        aliases=(
            "Product demo",
            "Presentation",
            "Value Proposition",
            "Id. Decision Makers",
            "Identify Decision Makers",
            "Demo Scheduled",
            "Presentation Scheduled",
            "presentationscheduled",
            "Презентация",
            "Демо",
            "데모",
            "演示",
        ),
    ),
    Stage(
        "Trial",
        60,
        aliases=(
            "Product trial",
            "Proof",
            "Perception Analysis",
            "Proposal/Price Quote",
            "Proposal Made",
            "Proposition",
            "Decision Maker Bought-In",
            "decisionmakerboughtin",
            "Предложение",
            "제안",
            "方案报价",
        ),
    ),
    Stage(
        "Final Decision",
        80,
        aliases=(
            "Negotiation/Review",
            "Negotiation",
            "Negotiations Started",
            "Contract Sent",
            "contractsent",
            "Closing",
            "Commit & Signing",
            "Переговоры",
            "협상",
            "谈判",
        ),
    ),
    Stage(
        "Closed Won",
        100,
        is_closed=True,
        is_won=True,
        aliases=("Won", "closedwon", "Closed - Won", "Успешно", "Выиграна", "성사", "赢单"),
    ),
    Stage(
        "Closed Lost",
        0,
        is_closed=True,
        is_won=False,
        aliases=(
            "Lost",
            "closedlost",
            "Closed - Lost",
            "Closed-Lost to Competition",
            "Проиграна",
            "Закрыта и не реализована",
            "실패",
            "输单",
        ),
    ),
)

STAGES_KEY = "stages"


def stages_to_json(stages: tuple[Stage, ...] | list[Stage]) -> str:
    return json.dumps([asdict(s) for s in stages], ensure_ascii=False)


def stages_from_json(text: str) -> tuple[Stage, ...]:
    return tuple(
        Stage(
            name=d["name"],
            probability=float(d["probability"]),
            is_closed=bool(d.get("is_closed", False)),
            is_won=bool(d.get("is_won", False)),
            aliases=tuple(d.get("aliases", ())),
        )
        for d in json.loads(text)
    )


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


def seed_defaults(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
        [STAGES_KEY, stages_to_json(DEFAULT_STAGES)],
    )


def load_stages(con: duckdb.DuckDBPyConnection) -> tuple[Stage, ...]:
    row = con.execute("SELECT value FROM settings WHERE key = ?", [STAGES_KEY]).fetchone()
    return stages_from_json(row[0]) if row else DEFAULT_STAGES


def save_stages(con: duckdb.DuckDBPyConnection, stages: tuple[Stage, ...] | list[Stage]) -> None:
    problems = validate_stages(stages)
    if problems:
        raise ValueError("; ".join(problems))
    con.execute(
        "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, current_timestamp) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        [STAGES_KEY, stages_to_json(stages)],
    )


def stage_lookup(stages: tuple[Stage, ...] | list[Stage]) -> dict[str, Stage]:
    """Normalised label (name or alias) -> stage."""
    out: dict[str, Stage] = {}
    for s in stages:
        for label in (s.name, *s.aliases):
            out.setdefault(norm_key(label), s)
    return out

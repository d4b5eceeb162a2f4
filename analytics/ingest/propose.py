"""Propose a column mapping from what the columns hold, for headers no synonym matches.

Why: an export from a CRM (or a UI language) we have no labels for still has recognisable
contents: a column of dates, a column of amounts, a column with a few repeated values (a
stage, or an owner when they look like people's names), a column of unique codes (the
id). The Data page shows these proposals for the user to confirm before import; nothing
is mapped without that confirmation. Pure functions over a sample of rows: no database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from statistics import mean

from analytics.ingest.kinds import KINDS
from analytics.ingest.learn import name_says
from analytics.ingest.stage_order import lexicon_step
from analytics.ingest.values import DELETED_WORDS, LOST_WORDS, OPEN_WORDS, WON_WORDS
from analytics.settings import norm_key

SHARE = 0.8  # of the non-blank sample values that must fit a type
_DATE = re.compile(
    r"^\s*(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}/\d{1,2}/\d{1,2})"
    r"([ T]\d{1,2}:\d{2}(:\d{2})?)?\s*$"
)
_NUMBER = re.compile(r"^\s*[-+]?[^\d\s-]{0,3}\s*\d[\d\s.,'\u00a0]*\s*[^\d\s]{0,3}\s*$")
_PERCENT = re.compile(r"^\s*\d{1,3}([.,]\d+)?\s*%\s*$")
_PERSON = re.compile(r"^[^\W\d_][^\W\d_'.-]*\.?(?:[ '-][^\W\d_][^\W\d_'.-]*\.?){1,3}$")


@dataclass(frozen=True)
class Proposal:
    """One proposed header for one field, with the evidence shown to the user."""

    field: str
    header: str
    reason: str


def _date_key(text: str) -> tuple[int, ...]:
    """A rough sort key (year, then the rest) good enough to tell earlier from later."""
    parts = [int(p) for p in re.findall(r"\d+", text)[:3]]
    if len(parts) < 3:
        return (0,)
    year = parts[0] if parts[0] > 31 else parts[2]
    return (year if year > 100 else 2000 + year, *sorted(parts[:3]))


def profile(values: list[str | None]) -> dict[str, float | int | str]:
    """What one column's sample holds: shares of dates, numbers, percents and names,
    the number of distinct values and whether each value is unique."""
    filled = [v.strip() for v in values if v is not None and v.strip() not in ("", "-")]
    n = len(filled)
    if not n:
        return {"filled": 0}
    distinct = len(set(filled))
    return {
        "filled": n,
        "distinct": distinct,
        "dates": sum(bool(_DATE.match(v)) for v in filled) / n,
        "numbers": sum(bool(_NUMBER.match(v)) and not _DATE.match(v) for v in filled) / n,
        "percents": sum(bool(_PERCENT.match(v)) for v in filled) / n,
        "people": sum(bool(_PERSON.match(v)) for v in filled) / n,
        "unique": int(distinct == n),
        # codes: one length and no spaces (D-1001, 0061x00000AbCdE), as ids are written
        "codes": int(len({len(v) for v in filled}) == 1 and not any(" " in v for v in filled)),
        "date_mean": mean(_date_key(v)[0] for v in filled) if filled else 0,
        "first": filled[0],
    }


def _few_repeated(p: dict) -> bool:
    """A handful of values each used again and again: a category (stage, owner)."""
    return p["filled"] >= 4 and p["distinct"] <= max(2, p["filled"] // 3) and p["distinct"] <= 30


def _repeated(p: dict) -> bool:
    """Values used again on other rows (at most half of them distinct): a category whose
    names may still say what it is, as a funnel of 8 stages over 20 sampled deals does."""
    return p["filled"] >= 4 and p["distinct"] <= max(2, p["filled"] // 2) and p["distinct"] <= 30


def _mostly_different(p: dict) -> bool:
    """A name or an account: most rows carry a value of their own (not a category)."""
    return p["filled"] >= 2 and p["distinct"] >= 0.8 * p["filled"]


# What the status field reads (analytics.ingest.values.outcome_sql): a column of only these
# words is each deal's own outcome, not its stage, however many of them are stage aliases
# too ("Won" and "Lost" are).
OUTCOME_WORDS = frozenset(
    w.casefold() for w in (*WON_WORDS, *LOST_WORDS, *OPEN_WORDS, *DELETED_WORDS)
)
CLOSED_OUTCOMES = frozenset(w.casefold() for w in (*WON_WORDS, *LOST_WORDS))


def _outcomes(values: set[str]) -> bool:
    """Whether a column's distinct values are won/lost/open words the status field reads,
    with at least one won or lost among them."""
    folded = {v.strip().casefold() for v in values}
    return bool(folded) and folded <= OUTCOME_WORDS and bool(folded & CLOSED_OUTCOMES)


def _stage_like(value: str, known_stages: set[str]) -> bool:
    """A known stage or alias, a name saying won or lost (any language the import knows),
    or a usual funnel step's word ('Angebot', 'Negotiation/Review')."""
    return (
        norm_key(value) in known_stages
        or name_says(value) is not None
        or lexicon_step(value) is not None
    )


def propose_mapping(
    kind: str,
    headers: list[str],
    rows: list[list[str | None]],
    mapped: dict[str, str],
    stage_names: tuple[str, ...] = (),
) -> list[Proposal]:
    """Proposals for the fields of `kind` that `mapped` (field -> header) leaves empty,
    from the headers nothing mapped. `rows` is a sample (say the first 200 rows);
    `stage_names` are known stage names and aliases, a stronger sign than repetition.
    """
    fields = {f.name: f for f in KINDS[kind].fields}
    taken = set(mapped.values())
    free = [h for h in headers if h not in taken]
    known_stages = {norm_key(s) for s in stage_names}
    profiles = {
        h: profile([row[i] if i < len(row) else None for row in rows])
        for i, h in enumerate(headers)
        if h in free
    }
    profiles = {h: p for h, p in profiles.items() if p["filled"]}
    out: list[Proposal] = []

    def give(field: str, header: str, reason: str) -> None:
        if field in fields and field not in mapped and header in profiles:
            out.append(Proposal(field, header, reason))
            mapped_now[field] = header
            del profiles[header]

    mapped_now: dict[str, str] = {}
    want = lambda f: f in fields and f not in mapped and f not in mapped_now  # noqa: E731

    # dates: the earlier column is the creation, the later the close
    dates = sorted(
        (h for h, p in profiles.items() if p["dates"] >= SHARE),
        key=lambda h: profiles[h]["date_mean"],
    )
    date_fields = [f for f in ("created_date", "close_date") if want(f)]
    if kind != "opportunities":
        date_fields = [f.name for f in fields.values() if f.type in ("date", "timestamp")]
        date_fields = [f for f in date_fields if want(f)]
    if len(dates) == 1 and "close_date" in date_fields:
        date_fields = ["close_date"]
    for field, header in zip(date_fields, dates, strict=False):
        p = profiles[header]
        give(field, header, f"{p['dates']:.0%} of its values are dates (e.g. {p['first']!r})")
    for header, p in list(profiles.items()):
        if p["percents"] >= SHARE and want("probability"):
            give("probability", header, f"{p['percents']:.0%} of its values are percentages")

    def distinct_values(header: str) -> set[str]:
        i = headers.index(header)
        return {v.strip() for row in rows if i < len(row) and (v := row[i]) and v.strip()}

    # a few won/lost/open words: each deal's outcome (a status), never its stage
    status = fields.get("status")
    if status is not None and status.type == "outcome":
        for header, p in sorted(profiles.items(), key=lambda hp: hp[1]["distinct"]):
            values = distinct_values(header)
            if want("status") and p["distinct"] <= len(OUTCOME_WORDS) and _outcomes(values):
                shown = ", ".join(sorted(values))
                give("status", header, f"its values are won/lost/open words ({shown})")
    # the stage: the repeated column whose values best read as stages (known names and
    # aliases, won/lost words, usual funnel steps), at least half of them
    scored = []
    for header, p in profiles.items():
        if not _repeated(p) or p["numbers"] >= SHARE or p["dates"] >= SHARE:
            continue
        values = distinct_values(header)
        hits = sum(_stage_like(v, known_stages) for v in values)
        if values and hits * 2 >= len(values):
            scored.append((hits / len(values), hits, -len(values), header))
    if scored and want("stage"):
        _, hits, _, header = max(scored)
        give(
            "stage",
            header,
            f"{hits} of its {profiles[header]['distinct']} values are known stages or stage words",
        )
    # a few repeated values: people's names mean owner, anything else a stage
    for header, p in sorted(profiles.items(), key=lambda hp: hp[1]["distinct"]):
        if not _few_repeated(p) or p["numbers"] >= SHARE:
            continue
        if p["people"] >= SHARE and want("owner"):
            give("owner", header, f"{p['distinct']} people's names, each on many rows")
        elif want("stage"):
            give("stage", header, f"{p['distinct']} values repeated over {p['filled']} rows")
    id_field = KINDS[kind].key[0]
    for header, p in list(profiles.items()):
        if p["unique"] and p["filled"] >= 2 and want(id_field) and p["codes"]:
            give(id_field, header, "every value is different, all written alike (an id)")
    for header, p in sorted(profiles.items(), key=lambda hp: -hp[1]["numbers"]):
        if p["numbers"] >= SHARE and want("amount"):
            give("amount", header, f"{p['numbers']:.0%} of its values are numbers")
    for field in ("opportunity_name", "account"):
        for header, p in list(profiles.items()):
            if want(field) and p["numbers"] < SHARE and p["dates"] < SHARE and _mostly_different(p):
                give(field, header, "text, mostly different on each row")
                break
    return out


def propose_for_preview(preview: object, stage_names: tuple[str, ...] = ()) -> list[Proposal]:
    """Proposals for a Data page preview (its headers, sample rows and detected columns)."""
    sample = preview.sample  # type: ignore[attr-defined]
    rows = [[None if v is None else str(v) for v in row] for row in sample.values.tolist()]
    return propose_mapping(
        preview.kind,  # type: ignore[attr-defined]
        list(preview.headers),  # type: ignore[attr-defined]
        rows,
        dict(preview.columns),  # type: ignore[attr-defined]
        stage_names,
    )

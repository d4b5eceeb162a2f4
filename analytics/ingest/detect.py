"""Headers -> kind, source format and column mapping.

Formats are data (formats/*.toml): each names its kind, the headers that identify it
(`signature`, all required; `absent`, none allowed) and its header for each canonical
field. Generic synonyms (analytics/ingest/kinds.py) fill in the rest, so a hand-made
sheet or a CRM in another UI language maps too. Headers match ignoring case, spaces,
underscores and punctuation.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

from analytics.ingest.kinds import KIND_LIST, KINDS, Kind
from analytics.settings import norm_key

FORMATS_DIR = Path(__file__).with_name("formats")


@dataclass(frozen=True)
class SourceFormat:
    name: str
    label: str
    kind: str
    signature: tuple[str, ...]
    absent: tuple[str, ...]
    columns: dict[str, tuple[str, ...]]
    core: tuple[str, ...] | None = None  # fields a file must carry to be named this format


@cache
def load_formats() -> tuple[SourceFormat, ...]:
    out = []
    for path in sorted(FORMATS_DIR.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        kind = KINDS[data["kind"]]
        columns = {k: tuple(v) for k, v in data.get("columns", {}).items()}
        unknown = set(columns) - {f.name for f in kind.fields}
        if unknown:
            raise ValueError(f"{path.name}: fields not in kind {kind.name}: {sorted(unknown)}")
        out.append(
            SourceFormat(
                name=data["name"],
                label=data["label"],
                kind=kind.name,
                signature=tuple(data.get("signature", ())),
                absent=tuple(data.get("absent", ())),
                columns=columns,
                core=tuple(data["core"]) if "core" in data else None,
            )
        )
    return tuple(out)


@dataclass
class Mapping:
    """A user's column mapping for a header set their CRM writes (saved for next month)."""

    kind: str
    columns: dict[str, str]  # canonical field -> header in the file ("" = not in this file)
    date_order: str | None = None  # 'dmy' | 'mdy' when dates like 03/05/2024 are ambiguous

    @classmethod
    def load(cls, path: Path | str) -> Mapping:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("kind") not in KINDS:
            raise ValueError(f"mapping {path}: unknown kind {data.get('kind')!r}")
        return cls(data["kind"], dict(data.get("columns", {})), data.get("date_order"))

    def save(self, path: Path | str) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(asdict(self), ensure_ascii=False, indent=2), "utf-8")


@dataclass
class Detection:
    kind: Kind
    source_format: str
    format_label: str
    columns: dict[str, str]  # canonical field -> header
    missing_required: list[str]
    unmapped: list[str] = field(default_factory=list)
    conflicting_format: SourceFormat | None = None  # the headers look like another kind
    # more headers for the same field, used where the first is blank (Odoo: Closed Date,
    # then Expected Closing for deals still open)
    fallbacks: dict[str, list[str]] = field(default_factory=dict)


def _matches(fmt: SourceFormat, keys: set[str]) -> bool:
    return all(norm_key(h) in keys for h in fmt.signature) and not any(
        norm_key(h) in keys for h in fmt.absent
    )


def _fallbacks(
    headers: list[str], fmt: SourceFormat | None, columns: dict[str, str]
) -> dict[str, list[str]]:
    if fmt is None:
        return {}
    used = set(columns.values())
    out: dict[str, list[str]] = {}
    for name, aliases in fmt.columns.items():
        if name not in columns:
            continue
        extra = [
            h
            for alias in aliases
            for h in headers
            if norm_key(h) == norm_key(alias) and h != columns[name] and h not in used
        ]
        if extra:
            out[name] = list(dict.fromkeys(extra))
            used.update(extra)
    return out


def _template_kind(headers: list[str]) -> Kind | None:
    """The project's own template: (nearly) every header is a canonical field name."""
    names = {h.strip().lower() for h in headers}
    best, best_hits = None, 0
    for kind in KIND_LIST:
        fields = {f.name for f in kind.fields}
        hits = len(names & fields)
        exact = {n: n for n in names & fields}
        if hits >= 0.8 * len(names) and not missing_required(kind, exact) and hits > best_hits:
            best, best_hits = kind, hits
    return best


# A unit after a header: "Value (EUR)", "Сумма, руб.", "금액(원)", "Amount [USD]".
_UNIT = re.compile(r"^(?P<base>.*?\S)\s*(?:\((?P<p>[^()]{1,12})\)|\[(?P<b>[^\[\]]{1,12})\]"
                   r"|,\s*(?P<c>[^,]{1,12}))\s*$")  # fmt: skip


# A unit that scales the numbers ("Сумма, тыс. руб.", "Value ($000s)", "Amount (k)"): the
# header is not stripped of it, so no generic synonym takes it and a person maps it.
_SCALED = re.compile(r"тыс|млн|млрд|000|thousand|million|^k$|\bk\b|^mm?$|천|만|억|千|万|百万")


def header_unit(header: str) -> tuple[str, str] | None:
    """(the header without its unit, the unit) for "Value (EUR)"; None without a unit, or
    with a unit that scales the values (thousands, millions)."""
    match = _UNIT.match(header.strip())
    if match is None:
        return None
    unit = (match.group("p") or match.group("b") or match.group("c") or "").strip()
    if _SCALED.search(unit.casefold()):
        return None
    return match.group("base"), unit


def _resolve(kind: Kind, headers: list[str], fmt: SourceFormat | None) -> dict[str, str]:
    by_key: dict[str, list[str]] = {}
    for h in headers:
        by_key.setdefault(norm_key(h), []).append(h)
    # the same headers without a unit ("Value (EUR)" -> "Value"), for the generic synonyms
    # only, and after every exact match: a CRM's own label with a unit still wins whole
    by_base: dict[str, list[str]] = {}
    for h in headers:
        split = header_unit(h)
        if split is not None:
            by_base.setdefault(norm_key(split[0]), []).append(h)
    used: set[str] = set()
    columns: dict[str, str] = {}

    def take(field_name: str, aliases: tuple[str, ...], lookup: dict[str, list[str]]) -> None:
        if field_name in columns:
            return
        for alias in aliases:
            for header in lookup.get(norm_key(alias), []):
                if header not in used:
                    columns[field_name] = header
                    used.add(header)
                    return

    if fmt is not None:  # the format's own headers first, so synonyms cannot steal them
        for f in kind.fields:
            take(f.name, fmt.columns.get(f.name, ()), by_key)
    for f in kind.fields:  # exact canonical names next, then generic synonyms
        take(f.name, (f.name,), by_key)
    for f in kind.fields:
        take(f.name, f.synonyms, by_key)
    for f in kind.fields:
        take(f.name, (f.name, *f.synonyms), by_base)
    return columns


# The columns a CRM's deal export always carries: a file naming the CRM must have each
# one the format maps (the record's id or name counts once). A format may set its own
# `core` list (report builders let users leave the owner out).
CORE_FIELDS: dict[str, tuple[str, ...]] = {"opportunities": ("owner", "stage", "amount")}
IDENTITY = ("opportunity_id", "opportunity_name")


def _lacking_core(fmt: SourceFormat, headers: list[str]) -> list[str]:
    """The format's core headers this file does not have (first spelling of each)."""
    keys = {norm_key(h) for h in headers}

    def present(field_name: str) -> bool:
        return any(norm_key(a) in keys for a in fmt.columns.get(field_name, ()))

    lacking = [
        fmt.columns[f][0]
        for f in (fmt.core if fmt.core is not None else CORE_FIELDS.get(fmt.kind, ()))
        if fmt.columns.get(f) and not present(f)
    ]
    ids = [f for f in IDENTITY if fmt.columns.get(f)]
    if fmt.kind == "opportunities" and ids and not any(present(f) for f in ids):
        lacking.insert(0, fmt.columns[ids[0]][0])
    return lacking


def missing_required(kind: Kind, columns: dict[str, str]) -> list[str]:
    missing = [name for name in kind.required if name not in columns]
    if kind.name == "opportunities" and not ({"opportunity_id", "opportunity_name"} & set(columns)):
        missing.insert(0, "opportunity_id (or opportunity_name)")
    return missing


def detect(
    headers: list[str], kind: str | None = None, mapping: Mapping | None = None
) -> Detection:
    keys = {norm_key(h) for h in headers}
    formats = sorted(
        (f for f in load_formats() if _matches(f, keys)), key=lambda f: -len(f.signature)
    )
    if mapping is not None:
        kind = mapping.kind
    template = _template_kind(headers)
    if template is not None and (kind is None or kind == template.name):
        formats = []  # canonical names are the template, whatever a CRM also calls them
    if kind is not None:
        chosen = KINDS[kind]
        fmt = next((f for f in formats if f.kind == chosen.name), None)
        other = next((f for f in formats if f.kind != chosen.name), None)
        conflicting = other if fmt is None else None
    else:
        fmt = formats[0] if formats else None
        conflicting = None
        chosen = KINDS[fmt.kind] if fmt is not None else (template or _best_kind(headers))
    columns = _resolve(chosen, headers, fmt)
    if mapping is not None:
        for name, header in mapping.columns.items():
            if not header:
                columns.pop(name, None)
            elif header in headers:
                columns[name] = header
        # a header the user moved to another field is no longer auto-mapped twice
        owners: dict[str, str] = {}
        for name in [n for n in mapping.columns if mapping.columns[n]] + list(columns):
            header = columns.get(name)
            if header is None:
                continue
            if header in owners and owners[header] != name:
                columns.pop(name, None)
            else:
                owners[header] = name
    lacking = _lacking_core(fmt, headers) if fmt is not None else []
    if fmt is not None and lacking and mapping is None:
        # Naming a CRM says "this is that CRM's export, whole": a file with only part of
        # its core columns (a re-upload without the owner, say) is generic, and says so.
        name = "generic"
        label = (
            f"Generic export (partly like a {fmt.label}; lacks "
            f"{', '.join(repr(h) for h in lacking)})"
        )
    elif fmt is not None:
        name, label = fmt.name, fmt.label
    elif mapping is not None:
        name, label = "custom", "Custom column mapping"
    elif columns and all(h.strip().lower() == f for f, h in columns.items()):
        name, label = "template", "Project template (canonical column names)"
    else:
        name, label = "generic", "Generic export (matched by column names)"
    used = set(columns.values())
    return Detection(
        kind=chosen,
        source_format=name,
        format_label=label,
        columns=columns,
        missing_required=missing_required(chosen, columns),
        unmapped=[h for h in headers if h not in used],
        conflicting_format=conflicting,
        fallbacks=_fallbacks(headers, fmt, columns) if mapping is None else {},
    )


def _best_kind(headers: list[str]) -> Kind:
    """The kind whose required fields are all present and which explains most headers."""

    def score(kind: Kind) -> tuple[int, int, int]:
        cols = _resolve(kind, headers, None)
        # one lucky synonym ("Name") is not evidence: a kind must explain two columns
        complete = 0 if missing_required(kind, cols) or len(cols) < 2 else 1
        exact = sum(1 for f, h in cols.items() if norm_key(f) == norm_key(h))
        # a deal's lead id links it to a lead: by itself it says "leads", not "deals"
        weight = len(cols) - (kind.name == "opportunities" and "lead_id" in cols)
        return (complete, weight, exact)

    return max(KIND_LIST, key=lambda k: (score(k), -KIND_LIST.index(k)))


# Lists a CRM export folder holds beside the deals that the dashboard does not read: the
# pages use the account and product named on each deal. (list, its key column, the
# columns that give it away), matched on normalised header names.
_REFERENCE_LISTS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "an accounts list (one row per company)",
        ("account", "account name", "company", "company name", "accountname"),
        ("sector", "industry", "employees", "number of employees", "revenue",
         "annual revenue", "office location", "year established", "subsidiary of",
         "billing city", "billing country", "website"),
    ),
    (
        "a products list (one row per product)",
        ("product", "product name", "productname"),
        ("series", "sales price", "list price", "price", "unit price", "product family", "sku"),
    ),
)  # fmt: skip


def reference_list(headers: list[str]) -> tuple[str, list[str]] | None:
    """(what the file is, the headers that show it) for an accounts or products list, else
    None.

    Why: a user uploading a whole export folder (Maven's accounts.csv and products.csv
    beside sales_pipeline.csv) was told the file "cannot load as opportunities: missing
    opportunity_id, stage", which reads as a broken deals export. It is a list the
    dashboard does not need, and the refusal says so.
    """
    keys = {norm_key(h): h for h in headers}
    for what, key_names, telling in _REFERENCE_LISTS:
        shown = [keys[norm_key(t)] for t in telling if norm_key(t) in keys]
        # its key column and one telling column, or (Salesforce's Account: Id, Name, ...)
        # three telling columns
        if (shown and any(norm_key(k) in keys for k in key_names)) or len(shown) >= 3:
            return what, shown
    return None

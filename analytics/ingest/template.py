"""The project's own import template: one CSV per kind whose headers are the canonical
field names, so any export can be pasted into it when no CRM format is recognised.

Why a generated file and not one kept in the repository: the headers then always match
the fields the importer knows (analytics.ingest.kinds), required ones first.
"""

from __future__ import annotations

import pandas as pd

from analytics.exports import to_csv_bytes
from analytics.ingest.kinds import KINDS

# One example row for the kind a first-time user needs most: deals.
EXAMPLE_DEAL = {
    "opportunity_id": "D-1001",
    "opportunity_name": "Acme renewal",
    "account": "Acme Ltd",
    "owner": "Ann Lee",
    "stage": "Closed Won",
    "amount": "12000",
    "currency": "USD",
    "created_date": "2026-01-15",
    "close_date": "2026-03-31",
}


def template_fields(kind: str = "opportunities") -> list[str]:
    """The canonical headers of `kind`, required fields first."""
    fields = KINDS[kind].fields
    return [f.name for f in fields if f.required] + [f.name for f in fields if not f.required]


def template_frame(kind: str = "opportunities") -> pd.DataFrame:
    """The template of `kind` as a table: the headers (and, for deals, one example row)."""
    names = template_fields(kind)
    rows = [[EXAMPLE_DEAL.get(n, "") for n in names]] if kind == "opportunities" else []
    return pd.DataFrame(rows, columns=names)


def template_csv(kind: str = "opportunities") -> bytes:
    """The template as CSV, through the same writer as every download (formula-safe)."""
    return to_csv_bytes(template_frame(kind))

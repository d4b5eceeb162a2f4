"""Write the demo as the files ops would upload: Salesforce exports and the house template.

Why these formats: the demo goes through the same importer as real uploads, so it
should look like real uploads. Opportunity snapshots are Salesforce *report* exports
(field labels, US dates, ``12,500.00`` amounts, ``60%`` probabilities, the report
footer); stage history is a Salesforce API OpportunityHistory export; everything else
uses the project's template (canonical column names, ISO dates). Every value is turned
into text here, explicitly, so the same seed gives the same bytes on every machine.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from analytics.demo.deals import FORECAST_CATEGORY, STAGE_NAMES, STAGE_PROB, DealSet

OPPORTUNITY_HEADER = (
    "Opportunity ID",
    "Opportunity Name",
    "Account Name",
    "Opportunity Owner",
    "Stage",
    "Amount",
    "Opportunity Currency",
    "Probability (%)",
    "Forecast Category",
    "Created Date",
    "Close Date",
    "Lead Source",
    "Type",
    "Product",
)
HISTORY_HEADER = (
    "Id",
    "OpportunityId",
    "CreatedDate",
    "StageName",
    "Amount",
    "CloseDate",
    "Probability",
)
TEMPLATE_COLUMNS: dict[str, tuple[str, ...]] = {
    "reps": ("rep", "manager", "team", "region", "role", "level", "hire_date", "active"),
    "quotas": ("owner", "period_start", "period_end", "amount"),
    "leads": (
        "lead_id",
        "created_at",
        "owner",
        "source",
        "status",
        "company",
        "first_response_at",
        "converted_at",
        "opportunity_id",
    ),
    "lead_events": ("lead_id", "event_type", "occurred_at"),
    "activities": (
        "activity_id",
        "owner",
        "activity_type",
        "started_at",
        "duration_minutes",
        "opportunity_id",
        "lead_id",
        "account",
        "subject",
    ),
    "forecast_submissions": (
        "owner",
        "period_start",
        "period_end",
        "category",
        "amount",
        "submitted_at",
    ),
    "fx_rates": ("currency", "rate_date", "rate"),
}
# What a Salesforce report appends after the rows; the importer must skip it.
REPORT_FOOTER = (
    "\n"
    '"Grand Totals ({rows} records)"\n'
    "\n"
    '"Confidential Information - Do Not Distribute"\n'
    '"Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved."\n'
)
OWN_FILE_GLOBS = ("opportunities_*.csv", "opportunity_history.csv", "*.csv.tmp") + tuple(
    f"{k}.csv" for k in TEMPLATE_COLUMNS
)


@dataclass(frozen=True)
class DemoFile:
    """One written file, the kind to import it as, and its as-of date."""

    kind: str
    path: Path
    as_of: date
    rows: int


def clean_out_dir(out_dir: Path) -> None:
    """Remove files an earlier demo run wrote (only ours), so no stale snapshot lingers."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for pattern in OWN_FILE_GLOBS:
        for p in sorted(out_dir.glob(pattern)):
            p.unlink()


def _write_rows(path: Path, header: tuple[str, ...], columns: list, footer: str = "") -> int:
    """CSV with minimal quoting and LF line ends; columns are equal-length lists of text."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(zip(*columns, strict=True))
        fh.write(footer)
    tmp.replace(path)
    return len(columns[0]) if columns else 0


def _text(values) -> list[str]:
    """Text cells; missing values become empty cells."""
    return ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in values]


def _iso_stamp(values: np.ndarray) -> list[str]:
    s = pd.Series(pd.to_datetime(values)).dt.strftime("%Y-%m-%d %H:%M:%S")
    return s.fillna("").tolist()


def _iso_day(values) -> list[str]:
    s = pd.Series(pd.to_datetime(pd.Series(values))).dt.strftime("%Y-%m-%d")
    return s.fillna("").tolist()


def _money(values: np.ndarray, grouping: bool) -> list[str]:
    fmt = "{:,.2f}" if grouping else "{:.2f}"
    return ["" if np.isnan(v) else fmt.format(v) for v in np.asarray(values, dtype=float)]


class OpportunityLines:
    """Every state a deal was ever in, formatted once as a report line.

    Why: 53 weekly exports of ~5,000 rows each would mean formatting ~250,000 rows, but a
    deal in a given state always prints the same line, so each state row is formatted
    once and a weekly export is only a selection of ready lines (fast, and identical).
    """

    def __init__(self, ds: DealSet) -> None:
        self.ds = ds
        d = ds.deals.set_index("deal").loc[ds.s_deal]
        stage = ds.s_stage
        us = "%m/%d/%Y"
        cols = [
            d["opportunity_id"].tolist(),
            d["opportunity_name"].tolist(),
            d["account"].tolist(),
            d["owner"].tolist(),
            [STAGE_NAMES[s] for s in stage],
            _money(ds.s_amount, grouping=True),
            d["currency"].tolist(),
            [f"{STAGE_PROB[s]:.0f}%" for s in stage],
            [FORECAST_CATEGORY[s] for s in stage],
            pd.Series(pd.to_datetime(d["created_day"].to_numpy())).dt.strftime(us).tolist(),
            pd.Series(pd.to_datetime(ds.s_close)).dt.strftime(us).tolist(),
            d["lead_source"].tolist(),
            d["deal_type"].tolist(),
            d["product"].tolist(),
        ]
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(zip(*cols, strict=True))
        # Split on LF only: no field holds a line break, and other Unicode breaks must stay.
        self.lines = np.array([ln + "\n" for ln in buf.getvalue().split("\n")[:-1]], dtype=object)
        # Report rows sorted by opportunity id (ids follow creation order).
        self.sort_key = d["opportunity_id"].to_numpy()

    def write(self, path: Path, as_of: date, bound: float) -> DemoFile:
        """The report as it would have been exported on `as_of`."""
        rows = self.ds.state_rows_at(bound)
        rows = rows[np.argsort(self.sort_key[rows], kind="stable")]
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh, lineterminator="\n").writerow(OPPORTUNITY_HEADER)
            fh.write("".join(self.lines[rows]))
            fh.write(REPORT_FOOTER.format(rows=len(rows)))
        tmp.replace(path)
        return DemoFile("opportunities", path, as_of, len(rows))


def write_stage_history(
    path: Path, hist: pd.DataFrame, stamps: np.ndarray, as_of: date
) -> DemoFile:
    """OpportunityHistory as the Salesforce API exports it: ISO UTC datetimes, plain numbers."""
    created = pd.Series(pd.to_datetime(stamps)).dt.strftime("%Y-%m-%dT%H:%M:%S.000Z").tolist()
    stage = hist["stage"].to_numpy()
    amount = hist["amount"].to_numpy(dtype=float)
    cols = [
        [f"008Dm{i:010d}HAA" for i in range(1, len(hist) + 1)],
        hist["opportunity_id"].tolist(),
        created,
        [STAGE_NAMES[s] for s in stage],
        ["" if np.isnan(a) else f"{a:.0f}" for a in amount],
        _iso_day(hist["close"].to_numpy()),
        [f"{STAGE_PROB[s]:.0f}" for s in stage],
    ]
    _write_rows(path, HISTORY_HEADER, cols)
    return DemoFile("stage_history", path, as_of, len(hist))


def write_template(path: Path, kind: str, frame: pd.DataFrame, as_of: date) -> DemoFile:
    """A file in the house template: canonical column names, ISO dates, plain numbers."""
    cols = []
    for name in TEMPLATE_COLUMNS[kind]:
        v = frame[name]
        if name in ("hire_date", "period_start", "period_end", "rate_date"):
            cols.append(_iso_day(v.to_numpy()))
        elif name == "rate":
            cols.append([f"{r:.6f}" for r in v.to_numpy(dtype=float)])
        elif name.endswith("_at"):
            cols.append(_iso_stamp(v.to_numpy()))
        elif name == "amount":
            cols.append(_money(v.to_numpy(), grouping=False))
        elif name == "duration_minutes":
            cols.append([f"{m:.0f}" for m in v.to_numpy(dtype=float)])
        elif name == "active":
            cols.append(["true" if a else "false" for a in v])
        else:
            cols.append(_text(v.tolist()))
    n = _write_rows(path, TEMPLATE_COLUMNS[kind], cols)
    return DemoFile(kind, path, as_of, n)

"""Reading a statement: the sentence that explains its total, the change between two runs,
what-if projections, and the files payroll and reps download.

Why a sentence: a rep asking "why is my payout 1,200?" should not have to read a table;
the sentence names the bookings, the quota, the attainment, how the bands paid, and every
other component, from the statement's own lines, so it is right for a frozen statement
as much as for a fresh one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

import pandas as pd

from analytics.commissions.cents import CENT, NO_MONEY, fmt_money, money, pct
from analytics.commissions.credits import EXTRA_BOOKINGS_ID, CreditedDeal
from analytics.commissions.engine import Ledger
from analytics.commissions.lines import Line, Statement
from analytics.commissions.plans import ONE, ZERO
from analytics.commissions.tiers import BELOW_THRESHOLD, schedule_bands
from analytics.exports import to_csv_bytes, to_excel_bytes
from analytics.scope import Period

LINE_COLUMNS: tuple[str, ...] = (
    "rep", "period", "kind", "description", "opportunity_id", "deal_amount", "share",
    "credited", "band", "rate", "multiplier", "amount", "home_period",
)  # fmt: skip


def _signed(value: Decimal) -> str:
    return f"−{fmt_money(-value)}" if value < 0 else fmt_money(value)


def _band_parts(lines: Sequence[Line]) -> list[tuple[str, Decimal, Decimal, Decimal]]:
    """(band, credited, effective rate, amount) per band, in the order bands first appear."""
    order: list[tuple[str, Decimal]] = []
    totals: dict[tuple[str, Decimal], list[Decimal]] = {}
    for line in lines:
        if line.kind != "commission":
            continue
        rate = (line.rate or ZERO) * (line.multiplier or ONE)
        key = (line.band or "", rate)
        if key not in totals:
            order.append(key)
            totals[key] = [ZERO, ZERO]
        totals[key][0] += line.credited or ZERO
        totals[key][1] += line.amount
    return [(band, totals[(band, rate)][0], rate, totals[(band, rate)][1]) for band, rate in order]


def explain(st: Statement, quote: Callable[[str], str] = str) -> str:
    """One sentence explaining the statement's total from its lines.

    `quote` is applied to every name from the data (rep, role, level): the page passes
    analytics.markup.md, because the sentence is shown as markdown and a rep's name must
    read as typed (issue 17.5); the CLI and the files keep the plain `str`.
    """
    if st.no_plan:
        head = f"{quote(st.rep)} has no plan for {st.period}, so no payout is computed"
    else:
        head = f"{quote(st.rep)} is paid {_signed(st.total)} for {st.period}"
    if st.locked:
        head += " (locked)"
    commission_lines = [x for x in st.lines if x.kind == "commission"]
    if st.plan_name is None and not commission_lines:
        role = f"role {quote(st.role or '—')} / level {quote(st.level or '—')}"
        parts = [f"no commission rule covers {role}"]
        if st.credited_bookings:
            parts[0] += f" ({fmt_money(st.credited_bookings)} credited bookings not commissioned)"
    else:
        bookings = f"{fmt_money(st.credited_bookings)} credited bookings"
        if st.quota:
            bookings += f" ({pct(st.attainment or ZERO)} of the {fmt_money(st.quota)} quota"
        else:
            bookings += " (no quota"
        bands = _band_parts(st.lines)
        below = [b for b in bands if b[0].startswith("below")]
        if not commission_lines:
            detail = ""
        elif below and below[0][3] == 0:
            detail = f", {below[0][0]}: nothing is paid"
        elif below:
            detail = f", {below[0][0]}: {pct(below[0][2])} instead"
        elif len(bands) == 1:
            detail = f"; {pct(bands[0][2])} on all of it"
        else:
            detail = "; " + " + ".join(
                f"{fmt_money(credited)} at {pct(rate)}" for _, credited, rate, _ in bands
            )
        cap = [x for x in st.lines if x.kind == "cap"]
        if cap:
            detail += (
                f"; capped at {fmt_money(st.commission)} from {fmt_money(st.sum_of('commission'))}"
            )
        if commission_lines or st.credited_bookings:
            parts = [f"commission {_signed(st.commission)} on {bookings}{detail})"]
        else:
            parts = [f"no credited bookings (quota {fmt_money(st.quota)})"]
    for label, value in (
        ("base salary", st.base),
        ("SPIFFs", st.spiffs),
        ("clawbacks", st.clawbacks),
        ("corrections of locked months", st.prior_adjustments),
        ("draw", st.draws),
    ):
        if value:
            parts.append(f"{label} {_signed(value)}")
    if len(parts) == 1:
        return f"{head}: {parts[0]}."
    return f"{head}: {', '.join(parts[:-1])} and {parts[-1]}."


# -- diff -----------------------------------------------------------------------------------


def _keyed(st: Statement | None) -> dict[tuple[str, str, str], tuple[Decimal, str]]:
    out: dict[tuple[str, str, str], tuple[Decimal, str]] = {}
    for line in st.lines if st is not None else ():
        key = (line.kind, line.home_period, line.key)
        amount, text = out.get(key, (ZERO, line.description))
        out[key] = (amount + line.amount, text)
    return out


DIFF_COLUMNS: tuple[str, ...] = ("kind", "home_period", "key", "description", "before", "after",
                                 "change", "status")  # fmt: skip


def diff_statements(
    before: Statement | None, after: Statement | None, *, changed_only: bool = True
) -> pd.DataFrame:
    """Line-by-line difference of two statements of the same rep and month.

    Lines are matched by (kind, home period, key): a deal's part in a band, the base,
    a SPIFF on a deal ... status is added / removed / changed / same; the description is
    the newer run's. `changed_only` drops unchanged lines.
    """
    a, b = _keyed(before), _keyed(after)
    rows = []
    for key in list(a) + [k for k in b if k not in a]:
        amount_a = a[key][0] if key in a else None
        amount_b = b[key][0] if key in b else None
        change = (amount_b or NO_MONEY) - (amount_a or NO_MONEY)
        if key not in a:
            status = "added"
        elif key not in b:
            status = "removed"
        else:
            status = "changed" if change else "same"
        if changed_only and status == "same":
            continue
        if changed_only and change == 0 and amount_a == amount_b:
            continue
        rows.append(
            {
                "kind": key[0],
                "home_period": key[1],
                "key": key[2],
                "description": (b.get(key) or a.get(key))[1],  # type: ignore[index]
                "before": amount_a,
                "after": amount_b,
                "change": change,
                "status": status,
            }
        )
    return pd.DataFrame(rows, columns=list(DIFF_COLUMNS))


def explain_change(before: Statement | None, after: Statement | None) -> str:
    """One sentence: how the total moved and which lines moved it."""
    total_a = before.total if before else NO_MONEY
    total_b = after.total if after else NO_MONEY
    diff = diff_statements(before, after)
    if diff.empty:
        return f"Nothing changed: the payout is {fmt_money(total_b)} in both runs."
    counts = diff["status"].value_counts().to_dict()
    words = [f"{n} line{'s' if n != 1 else ''} {s}" for s, n in counts.items()]
    change = total_b - total_a
    sentence = (
        f"The payout went from {fmt_money(total_a)} to {fmt_money(total_b)} "
        f"({'+' if change >= 0 else '−'}{fmt_money(abs(change))}): {', '.join(words)}"
    )
    credited_a = before.credited_bookings if before else NO_MONEY
    credited_b = after.credited_bookings if after else NO_MONEY
    if credited_a != credited_b:
        sentence += f"; credited bookings {fmt_money(credited_a)} -> {fmt_money(credited_b)}"
    quota_a = before.quota if before else None
    quota_b = after.quota if after else None
    if quota_a != quota_b:
        sentence += f"; quota {fmt_money(quota_a)} -> {fmt_money(quota_b)}"
    return sentence + "."


# -- what-if ---------------------------------------------------------------------------------

OPEN_DEALS_SQL = """
WITH mine AS (
    SELECT o.opportunity_id, o.opportunity_name, o.stage, o.amount, o.close_date, o.product,
           nullif(upper(trim(o.currency)), '') AS currency_key,
           coalesce(
               (SELECT s.share FROM credit_splits s
                WHERE s.opportunity_id = o.opportunity_id AND s.rep = $rep),
               CASE WHEN o.owner = $rep AND NOT EXISTS (
                   SELECT 1 FROM credit_splits s WHERE s.opportunity_id = o.opportunity_id)
                    THEN 1 END
           ) AS share
    FROM opportunities AS o
    WHERE NOT o.is_closed
)
SELECT m.opportunity_id, m.opportunity_name, m.stage, m.amount, m.currency_key AS currency,
       m.close_date, m.product, CAST(m.share AS DECIMAL(18, 12)) AS share,
       CASE WHEN m.currency_key IS NULL OR m.currency_key = $reporting_currency
            THEN CAST(1 AS DECIMAL(18, 8)) ELSE fx.rate END AS rate
FROM (SELECT *, CAST($day AS DATE) AS rate_day FROM mine WHERE share IS NOT NULL) AS m
ASOF LEFT JOIN fx_rates AS fx ON fx.currency = m.currency_key AND m.rate_day >= fx.rate_date
ORDER BY m.close_date NULLS LAST, m.opportunity_id
"""


def open_deals(ledger: Ledger, rep: str, month: Period) -> pd.DataFrame:
    """The rep's open deals (owned, or split to them): what a what-if may close.

    Columns: opportunity_id, opportunity_name, stage, amount, currency, close_date,
    product, share, rate (to the reporting currency on the month's last day; NULL when
    no rate is known). A deal without an amount (blank or 0) or without a rate cannot be
    projected: `projectable` keeps the others, `unprojectable` names these with why.
    """
    ledger.check_visible(rep)
    return ledger.con.execute(
        OPEN_DEALS_SQL,
        {"rep": rep, "reporting_currency": ledger.currency, "day": month.end},
    ).df()


def unprojectable(deals: pd.DataFrame, month: Period) -> list[str]:
    """Open deals a what-if cannot close, each with why (what `what_if` skips).

    Why: a deal in a currency without an exchange rate was offered in the what-if list
    and, once chosen, silently left out of the projection: the payout did not move. A
    deal without an amount was left out of the list without a word.
    """
    if deals.empty:
        return []
    out = []
    for r in deals.itertuples(index=False):
        name = f"{r.opportunity_id} {r.opportunity_name or ''}".rstrip()
        if not _priced(r.amount):
            out.append(f"{name}: no amount, so nothing to commission")
        elif r.rate is None or pd.isna(r.rate):
            out.append(
                f"{name}: {float(r.amount):,.2f} {r.currency} has no exchange rate on or "
                f"before {month.end.isoformat()}"
            )
    return out


def _priced(amount: object) -> bool:
    """Whether an open deal's amount is a positive number (blank and 0 are no amount)."""
    return amount is not None and not pd.isna(amount) and float(amount) > 0  # type: ignore[arg-type]


def projectable(deals: pd.DataFrame) -> pd.DataFrame:
    """The open deals a what-if can close: an amount, and a known rate to the reporting
    currency."""
    if deals.empty:
        return deals
    return deals[deals["rate"].notna() & deals["amount"].map(_priced).astype(bool)]


@dataclass(frozen=True)
class WhatIf:
    """The current statement next to the projection, and the bands side by side."""

    current: Statement
    projected: Statement
    added: tuple[CreditedDeal, ...]
    bands: pd.DataFrame

    @property
    def change(self) -> Decimal:
        return self.projected.total - self.current.total


def what_if(
    ledger: Ledger,
    rep: str,
    month: Period,
    close_ids: Sequence[str] = (),
    extra_bookings: Decimal = ZERO,
) -> WhatIf:
    """Project the month's payout if the chosen open deals closed now (on the month's last
    day, after every deal already won) and `extra_bookings` more were credited.

    Only the month's own base, commission and SPIFF lines are recomputed; clawbacks and
    corrections stay, and the draw is recomputed on the new variable pay.
    """
    current = ledger.statement(rep, month) or ledger.header(rep, month, ())
    chosen = set(close_ids)
    added: list[CreditedDeal] = []
    if chosen:
        for r in open_deals(ledger, rep, month).itertuples(index=False):
            if r.opportunity_id not in chosen or r.rate is None or pd.isna(r.rate):
                continue
            if not _priced(r.amount):  # no amount: nothing to commission (`unprojectable`)
                continue
            amount = money(Decimal(str(r.amount)) * Decimal(str(r.rate)))
            share = Decimal(str(r.share))
            added.append(
                CreditedDeal(
                    opportunity_id=r.opportunity_id,
                    rep=rep,
                    close_date=month.end,
                    deal_amount=amount,
                    share=share,
                    credited=money(amount * share),
                    name=r.opportunity_name,
                    product=r.product,
                    what_if=True,
                )
            )
    if extra_bookings and extra_bookings > 0:
        added.append(
            CreditedDeal(
                opportunity_id=EXTRA_BOOKINGS_ID,
                rep=rep,
                close_date=month.end,
                deal_amount=money(extra_bookings),
                share=ONE,
                credited=money(extra_bookings),
                what_if=True,
            )
        )
    deals = ledger.credited(rep, month) + added
    own_kinds = ("base", "commission", "cap", "spiff", "note")
    kept = [
        x
        for x in current.lines
        if not (x.kind in own_kinds and x.home_period == month.label) and x.kind != "draw"
    ]
    lines = ledger.rep_earned_lines(rep, month, deals) + kept
    variable = sum((x.amount for x in lines if x.kind != "base"), NO_MONEY)
    if rep in ledger.draws:
        lines += ledger.draw_lines(rep, month, variable)
    projected = replace(
        current,
        lines=tuple(lines),
        credited_bookings=current.credited_bookings + sum((d.credited for d in added), NO_MONEY),
        locked=False,
        run_id=None,
    )
    return WhatIf(
        current, projected, tuple(added), band_table(ledger, rep, month, current, projected)
    )


def band_table(
    ledger: Ledger, rep: str, month: Period, current: Statement, projected: Statement
) -> pd.DataFrame:
    """Tier by tier: each band of the rep's plan with its money range and rate, and what
    the current and projected statements credit and pay in it. A below-threshold row
    appears when either statement is below the threshold."""
    info = ledger.info(rep)
    rule = ledger.plan(month).plan.rule_for(info.role, info.level)
    columns = ["band", "from", "to", "rate", "credited_now", "commission_now",
               "credited_projected", "commission_projected"]  # fmt: skip
    if rule is None:
        return pd.DataFrame(columns=columns)
    quota = current.quota or rule.quota

    def per_band(st: Statement) -> dict[str, tuple[Decimal, Decimal]]:
        out: dict[str, tuple[Decimal, Decimal]] = {}
        for line in st.lines:
            if line.kind != "commission" or line.home_period != month.label:
                continue
            band = line.key.rsplit(":", 1)[-1]
            credited, amount = out.get(band, (NO_MONEY, NO_MONEY))
            out[band] = (credited + (line.credited or ZERO), amount + line.amount)
        return out

    now, then = per_band(current), per_band(projected)
    rows = []
    if BELOW_THRESHOLD in now or BELOW_THRESHOLD in then:
        rows.append(
            {"band": f"below the {pct(rule.threshold)} threshold", "from": NO_MONEY,
             "to": money(rule.threshold * quota), "rate": rule.threshold_rate,
             "credited_now": now.get(BELOW_THRESHOLD, (NO_MONEY,))[0],
             "commission_now": now.get(BELOW_THRESHOLD, (NO_MONEY, NO_MONEY))[1],
             "credited_projected": then.get(BELOW_THRESHOLD, (NO_MONEY,))[0],
             "commission_projected": then.get(BELOW_THRESHOLD, (NO_MONEY, NO_MONEY))[1]}
        )  # fmt: skip
    for band in schedule_bands(rule, quota, projected.credited_bookings):
        rows.append(
            {
                "band": band.label,
                "from": money(band.start),
                "to": None if band.end is None else money(band.end),
                "rate": band.rate,
                "credited_now": now.get(band.key, (NO_MONEY,))[0],
                "commission_now": now.get(band.key, (NO_MONEY, NO_MONEY))[1],
                "credited_projected": then.get(band.key, (NO_MONEY,))[0],
                "commission_projected": then.get(band.key, (NO_MONEY, NO_MONEY))[1],
            }
        )
    return pd.DataFrame(rows, columns=columns)


# -- exports ---------------------------------------------------------------------------------


def _as_money(value: Decimal | None) -> Decimal | None:
    """Cents when that is exact (2000.000 -> 2000.00, 0 -> 0.00), else every digit kept."""
    if value is None:
        return None
    cents = value.quantize(CENT)
    return cents if cents == value else value


def _as_factor(value: Decimal | None) -> Decimal | None:
    """A share, rate or multiplier without trailing zeros (0.500000000000 -> 0.5)."""
    if value is None:
        return None
    text = f"{value.normalize():f}"
    return Decimal(text)


def statement_frame(st: Statement) -> pd.DataFrame:
    """The statement as rows (one per line) plus a closing total row whose description is
    the explaining sentence: the file a rep downloads.

    Values are exact but written alike whether the month is open or locked (a frozen line
    read back from the database carried 1.000000000000 and 0.05000000 where the open one
    said 1 and 0.05; a band's part said 2000.000 next to 12000.00)."""
    rows = [
        {
            "rep": st.rep,
            "period": st.period,
            "kind": x.kind,
            "description": x.description,
            "opportunity_id": x.opportunity_id,
            "deal_amount": _as_money(x.deal_amount),
            "share": _as_factor(x.share),
            "credited": _as_money(x.credited),
            "band": x.band,
            "rate": _as_factor(x.rate),
            "multiplier": _as_factor(x.multiplier),
            "amount": _as_money(x.amount),
            "home_period": x.home_period,
        }
        for x in st.lines
    ]
    rows.append(
        {"rep": st.rep, "period": st.period, "kind": "total", "description": explain(st),
         "credited": st.credited_bookings, "amount": st.total, "home_period": st.period}
    )  # fmt: skip
    return pd.DataFrame(rows, columns=list(LINE_COLUMNS))


def export_bytes(df: pd.DataFrame, fmt: str, sheet_name: str = "commissions") -> bytes:
    """CSV or Excel bytes with formula-looking text escaped (analytics.exports)."""
    if fmt == "csv":
        return to_csv_bytes(df)
    if fmt in ("xlsx", "excel"):
        return to_excel_bytes(df, sheet_name=sheet_name)
    raise ValueError(f"unknown export format {fmt!r}: use csv or xlsx")


def statement_file_name(st: Statement, fmt: str) -> str:
    safe = "".join(ch if ch.isalnum() else "_" for ch in st.rep).strip("_") or "rep"
    return f"commission_{st.period}_{safe}.{'xlsx' if fmt != 'csv' else 'csv'}"


def payroll_file_name(label: str, fmt: str) -> str:
    return f"commission_payroll_{label}.{'xlsx' if fmt != 'csv' else 'csv'}"

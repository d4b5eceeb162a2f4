"""Leads, lead events and activities, generated in bulk with numpy.

Why these shapes: the efficiency pages need selling versus non-selling time (calls,
emails, meetings and demos against admin, training and internal meetings), touches per
deal (the domain's "80% of deals need five follow-ups"), deals that went quiet, and lead
response times from minutes to days; the lead-scoring page needs the scored events
(pricing page +10, email open +1, click +3, inaccurate details -5, buyer persona +5).
Volumes reach ~100k activities, so everything here works on whole arrays.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from analytics.demo.clock import Clock
from analytics.demo.deals import INBOUND_SOURCES, SEASON, DealSet
from analytics.demo.people import Rep

ACTIVITY_TYPES = ("call", "email", "meeting", "demo", "admin", "training", "internal meeting")
# Median minutes by type (log-normal around it).
MEDIAN_MINUTES = {
    "call": 12,
    "email": 5,
    "meeting": 40,
    "demo": 60,
    "admin": 55,
    "training": 90,
    "internal meeting": 45,
}
TRAINING_TOPICS = (
    "Negotiation",
    "Product update",
    "Discovery calls",
    "CRM hygiene",
    "Objection handling",
    "Security review",
)
INTERNAL_TOPICS = (
    "Team meeting",
    "Pipeline review",
    "1:1 with manager",
    "Forecast call",
    "Deal review",
)
NON_SELLING_TOPICS = {
    "admin": ("CRM updates", "Expenses", "Quote paperwork"),
    "training": TRAINING_TOPICS,
    "internal meeting": INTERNAL_TOPICS,
}
LEAD_STATUSES_OLD = ("Unqualified", "Nurturing", "Working")
LEAD_STATUS_OLD_P = np.array([0.45, 0.4, 0.15])
LEAD_SOURCES = ("Web", "Webinar", "Paid Search", "Trade Show", "Outbound")
LEAD_SOURCE_P = np.array([0.36, 0.16, 0.18, 0.08, 0.22])
UNCONVERTED_PER_CONVERTED = 3.2
NEVER_ANSWERED_SHARE = 0.05
# Lead event types and how many of each a converted / an unconverted lead shows (Poisson mean).
EVENT_RATES: dict[str, tuple[float, float]] = {
    "pricing_page_visit": (1.6, 0.3),
    "email_open": (3.5, 1.6),
    "email_click": (1.5, 0.4),
    "content_download": (0.8, 0.3),
}
EVENT_FLAGS: dict[str, tuple[float, float]] = {  # at most once: probability
    "fits_buyer_persona": (0.75, 0.25),
    "inaccurate_company_details": (0.04, 0.15),
}


def _minutes(rng: np.random.Generator, types: np.ndarray) -> np.ndarray:
    med = np.array([MEDIAN_MINUTES[t] for t in ACTIVITY_TYPES], dtype=float)
    code = pd.Categorical(types, categories=ACTIVITY_TYPES).codes
    mins = np.exp(rng.normal(np.log(med[code]), 0.45))
    # Emails and calls are logged to the minute; meetings in quarter hours.
    quarter = np.isin(types, ["meeting", "demo", "training", "internal meeting", "admin"])
    return np.where(
        quarter, np.maximum(15, np.round(mins / 15) * 15), np.maximum(1, np.round(mins))
    )


def build_leads(
    rng: np.random.Generator,
    reps: list[Rep],
    deals: DealSet,
    accounts: dict[str, list[str]],
    clock: Clock,
    window_start: date,
    anchor: date,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Leads (converted ones linked to the inbound deals they became) and their events."""
    anchor_end = np.datetime64(anchor, "D").astype("datetime64[s]") + np.timedelta64(86399, "s")
    sdrs_by_team: dict[str, list[Rep]] = {}
    for r in reps:
        if r.role == "SDR":
            sdrs_by_team.setdefault(r.team or "", []).append(r)
    by_name = {r.name: r for r in reps}
    d = deals.deals
    start_x = float(clock.index(window_start))
    conv = d[
        d["lead_source"].isin(INBOUND_SOURCES)
        & (d["created_x"] >= start_x + 15)
        & (d["created_x"] < clock.bound(anchor))
    ]
    n_conv = len(conv)
    conv_owner_team = conv["owner"].map(lambda o: by_name[o].team).to_numpy()
    sdr_pick = rng.random(n_conv)
    conv_sdr = [
        sdrs_by_team[t][int(u * len(sdrs_by_team[t]))]
        for t, u in zip(conv_owner_team, sdr_pick, strict=True)
    ]
    converted_at = clock.stamp(conv["created_x"].to_numpy())
    conv_created = clock.stamp(conv["created_x"].to_numpy() - rng.uniform(0.5, 15.0, n_conv))
    conv_created = _any_hour(rng, conv_created)
    conv_created = np.minimum(conv_created, converted_at - np.timedelta64(3600, "s"))

    # Unconverted leads: spread over the window with the same seasonality as selling.
    n_other = int(n_conv * UNCONVERTED_PER_CONVERTED)
    days = np.arange(np.datetime64(window_start, "D"), np.datetime64(anchor, "D") + 1)
    w = np.array([SEASON[int(str(x)[5:7])] for x in days.astype(str)])
    w = w * np.where(np.is_busday(days), 1.0, 0.35)
    other_days = np.sort(rng.choice(days, size=n_other, p=w / w.sum()))
    other_created = other_days.astype("datetime64[s]") + _arrival_seconds(rng, n_other)
    all_sdrs = [r for r in reps if r.role == "SDR"]
    other_sdr = [all_sdrs[i] for i in rng.integers(0, len(all_sdrs), n_other)]
    other_source = rng.choice(LEAD_SOURCES, size=n_other, p=LEAD_SOURCE_P)
    other_company = [
        accounts[s.region][int(i)]
        for s, i in zip(other_sdr, rng.integers(0, 360, n_other), strict=True)
    ]
    age_days = (anchor_end - other_created).astype("timedelta64[D]").astype(int)
    status = np.where(
        age_days < 14,
        np.where(rng.random(n_other) < 0.5, "Open", "Working"),
        rng.choice(LEAD_STATUSES_OLD, size=n_other, p=LEAD_STATUS_OLD_P),
    )

    leads = pd.DataFrame(
        {
            "created_at": np.r_[conv_created, other_created],
            "owner": [s.name for s in conv_sdr] + [s.name for s in other_sdr],
            "source": np.r_[conv["lead_source"].to_numpy(), other_source],
            "status": np.r_[np.full(n_conv, "Converted"), status],
            "company": np.r_[conv["account"].to_numpy(), np.array(other_company, dtype=object)],
            "converted_at": np.r_[converted_at, np.full(n_other, np.datetime64("NaT"), "M8[s]")],
            "deal": np.r_[conv["deal"].to_numpy(), np.full(n_other, -1)],
        }
    )
    # Response time: minutes for fast SDRs, a day or more for slow ones; some never answer.
    speed = np.array([by_name[o].response_hours for o in leads["owner"]]) * 3600.0
    delay = np.clip(np.exp(rng.normal(np.log(speed), 1.1)), 60, 6 * 86400).astype(np.int64)
    first = _office_hours(rng, leads["created_at"].to_numpy() + delay.astype("timedelta64[s]"))
    conv_mask = leads["status"].to_numpy() == "Converted"
    conv_t = leads["converted_at"].to_numpy()
    gap = (conv_t - leads["created_at"].to_numpy()).astype("timedelta64[s]").astype(np.int64)
    early = leads["created_at"].to_numpy() + (gap * rng.uniform(0.05, 0.5, len(leads))).astype(
        "timedelta64[s]"
    )
    first = np.where(conv_mask & (first >= conv_t), early, first)
    never = (~conv_mask) & (
        (rng.random(len(leads)) < NEVER_ANSWERED_SHARE) | (leads["status"].to_numpy() == "Open")
    )
    first = np.where(never | (first > anchor_end), np.datetime64("NaT"), first)
    leads["first_response_at"] = first.astype("datetime64[s]")
    leads = leads.sort_values(["created_at", "owner"], kind="stable").reset_index(drop=True)
    leads.insert(0, "lead_id", [f"00QDm{i:010d}LAA" for i in range(1, len(leads) + 1)])

    events = _lead_events(rng, leads, anchor_end)
    return leads, events


def _office_hours(rng: np.random.Generator, stamps: np.ndarray) -> np.ndarray:
    """People answer in office hours: move evening, night and weekend times to the next
    working morning (which is how a Friday-evening lead waits until Monday)."""
    stamps = stamps.astype("datetime64[s]")
    day = stamps.astype("datetime64[D]")
    hour = (stamps - day.astype("datetime64[s]")).astype(np.int64) // 3600
    workday = np.is_busday(day)
    late = workday & (hour >= 19)
    moved = ~workday | late | (hour < 8)
    nxt = np.busday_offset(day, late.astype(np.int64), roll="forward")
    morning = nxt.astype("datetime64[s]") + (8 * 3600 + rng.integers(0, 5400, len(stamps))).astype(
        "timedelta64[s]"
    )
    return np.where(moved, morning, stamps)


def _any_hour(rng: np.random.Generator, stamps: np.ndarray) -> np.ndarray:
    """Leads arrive at any hour, mostly in the working day: keep the day, redraw the time."""
    day = stamps.astype("datetime64[D]").astype("datetime64[s]")
    return day + _arrival_seconds(rng, len(stamps))


def _arrival_seconds(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds after midnight, peaking early afternoon, between 06:00 and 23:00."""
    secs = np.clip(rng.normal(13 * 3600, 3.5 * 3600, n), 6 * 3600, 23 * 3600 - 1)
    return secs.astype(np.int64).astype("timedelta64[s]")


def _lead_events(
    rng: np.random.Generator, leads: pd.DataFrame, anchor_end: np.datetime64
) -> pd.DataFrame:
    """Scored behaviour per lead: converted leads show more buying signals before converting."""
    n = len(leads)
    created = leads["created_at"].to_numpy()
    conv = leads["status"].to_numpy() == "Converted"
    # Events happen from a week before the lead was created until it converted (or 30 days).
    end = np.where(
        conv, leads["converted_at"].to_numpy(), created + np.timedelta64(30 * 86400, "s")
    )
    end = np.minimum(end, anchor_end)
    begin = created - np.timedelta64(7 * 86400, "s")
    span = (end - begin).astype(np.int64)
    parts = []

    def emit(idx: np.ndarray, kind: str, at: np.ndarray | None = None) -> None:
        if at is None:
            at = begin[idx] + (rng.random(len(idx)) * span[idx]).astype("timedelta64[s]")
        parts.append(pd.DataFrame({"row": idx, "event_type": kind, "occurred_at": at}))

    src = leads["source"].to_numpy()
    form = np.flatnonzero(np.isin(src, ["Web", "Paid Search", "Trade Show"]))
    emit(form, "form_submit", created[form])
    web = np.flatnonzero(src == "Webinar")
    emit(web, "webinar_attended", created[web])
    for kind, (rate_conv, rate_other) in EVENT_RATES.items():
        counts = rng.poisson(np.where(conv, rate_conv, rate_other))
        emit(np.repeat(np.arange(n), counts), kind)
    for kind, (p_conv, p_other) in EVENT_FLAGS.items():
        emit(np.flatnonzero(rng.random(n) < np.where(conv, p_conv, p_other)), kind)
    ev = pd.concat(parts, ignore_index=True)
    ev["occurred_at"] = ev["occurred_at"].astype("datetime64[s]")
    ev["lead_id"] = leads["lead_id"].to_numpy()[ev["row"].to_numpy()]
    ev = ev.drop_duplicates(["lead_id", "event_type", "occurred_at"])
    ev = ev.sort_values(["occurred_at", "lead_id", "event_type"], kind="stable")
    return ev[["lead_id", "event_type", "occurred_at"]].reset_index(drop=True)


def build_activities(
    rng: np.random.Generator,
    reps: list[Rep],
    deals: DealSet,
    leads: pd.DataFrame,
    accounts: dict[str, list[str]],
    clock: Clock,
    window_start: date,
    anchor: date,
) -> pd.DataFrame:
    """Deal touches, lead follow-ups, prospecting, and the non-selling rest of the week."""
    anchor_bound = clock.bound(anchor)
    start_x = float(clock.index(window_start))
    parts = [
        _deal_touches(rng, deals, clock, start_x, anchor_bound),
        _lead_touches(rng, leads, anchor),
        _daily(rng, reps, accounts, clock, start_x, anchor_bound),
    ]
    acts = pd.concat(parts, ignore_index=True)
    acts["duration_minutes"] = _minutes(rng, acts["activity_type"].to_numpy())
    acts = acts.sort_values(["started_at", "owner", "activity_type"], kind="stable")
    acts = acts.reset_index(drop=True)
    prefix = np.where(acts["activity_type"].isin(["call", "email", "admin"]), "00TDm", "00UDm")
    acts.insert(0, "activity_id", [f"{p}{i:010d}AAA" for i, p in enumerate(prefix, start=1)])
    return acts[
        [
            "activity_id",
            "owner",
            "activity_type",
            "started_at",
            "duration_minutes",
            "opportunity_id",
            "lead_id",
            "account",
            "subject",
        ]
    ]


def _deal_touches(
    rng: np.random.Generator, deals: DealSet, clock: Clock, start_x: float, anchor_bound: float
) -> pd.DataFrame:
    """Calls, emails and meetings over each deal's active life, plus the product demo."""
    d = deals.deals
    d = d[d["created_x"] < anchor_bound]
    begin = np.maximum(d["created_x"].to_numpy(), start_x)
    end = np.minimum(d["last_activity_x"].to_numpy(), anchor_bound - 1e-6)
    ok = end > begin
    d, begin, end = d[ok], begin[ok], end[ok]
    weeks = (end - begin) / 5.0
    rate = np.where(d["won"].to_numpy(), 1.2, 0.8)
    n = np.minimum(2 + rng.poisson(rate * weeks), 40)
    row = np.repeat(np.arange(len(d)), n)
    x = begin[row] + rng.random(len(row)) * (end - begin)[row]
    kind = rng.choice(["call", "email", "meeting"], size=len(row), p=[0.38, 0.42, 0.2])
    # The product demo itself, right after the deal enters the Demo stage.
    demo_x = d["demo_x"].to_numpy()
    has_demo = np.flatnonzero(~np.isnan(demo_x) & (demo_x >= begin) & (demo_x < end))
    second = has_demo[rng.random(len(has_demo)) < 0.25]
    demo_rows = np.r_[has_demo, second]
    demo_at = demo_x[demo_rows] + rng.uniform(0.05, 3.0, len(demo_rows))
    demo_at = np.minimum(demo_at, end[demo_rows])
    row = np.r_[row, demo_rows]
    x = np.r_[x, demo_at]
    kind = np.r_[kind, np.full(len(demo_rows), "demo")]
    account = d["account"].to_numpy()[row]
    product = d["product"].to_numpy()[row]
    subject = np.select(
        [kind == "call", kind == "email", kind == "meeting"],
        [
            "Call with " + account,
            "Follow-up email: " + product,
            "Meeting with " + account,
        ],
        default="Demo: " + product + " for " + account,
    )
    return pd.DataFrame(
        {
            "owner": d["owner"].to_numpy()[row],
            "activity_type": kind,
            "started_at": clock.stamp(x),
            "opportunity_id": d["opportunity_id"].to_numpy()[row],
            "lead_id": None,
            "account": account,
            "subject": subject,
        }
    )


def _lead_touches(rng: np.random.Generator, leads: pd.DataFrame, anchor: date) -> pd.DataFrame:
    """The SDR's first response (the response-time clock stops here) and a few follow-ups."""
    anchor_end = np.datetime64(anchor, "D").astype("datetime64[s]") + np.timedelta64(86399, "s")
    answered = leads[leads["first_response_at"].notna()]
    first = answered["first_response_at"].to_numpy()
    n_more = rng.poisson(1.4, len(answered))
    row = np.repeat(np.arange(len(answered)), n_more)
    later = first[row] + rng.integers(3600, 12 * 86400, len(row)).astype("timedelta64[s]")
    later = _office_hours(rng, later)
    limit = answered["converted_at"].to_numpy()[row]
    keep = (later <= anchor_end) & (np.isnat(limit) | (later < limit))
    row, later = row[keep], later[keep]
    all_rows = np.r_[np.arange(len(answered)), row]
    at = np.r_[first, later]
    kind = rng.choice(["call", "email"], size=len(all_rows), p=[0.45, 0.55])
    company = answered["company"].to_numpy()[all_rows]
    return pd.DataFrame(
        {
            "owner": answered["owner"].to_numpy()[all_rows],
            "activity_type": kind,
            "started_at": at.astype("datetime64[s]"),
            "opportunity_id": None,
            "lead_id": answered["lead_id"].to_numpy()[all_rows],
            "account": company,
            "subject": np.where(kind == "call", "Lead call: ", "Lead email: ") + company,
        }
    )


def _daily(
    rng: np.random.Generator,
    reps: list[Rep],
    accounts: dict[str, list[str]],
    clock: Clock,
    start_x: float,
    anchor_bound: float,
) -> pd.DataFrame:
    """Per working day: prospecting (AEs, SDRs) and admin, training and internal meetings."""
    parts = []
    for rep in reps:
        lo = max(start_x, float(clock.index(rep.hire_date)))
        hi = anchor_bound if rep.left_on is None else min(anchor_bound, clock.bound(rep.left_on))
        days = np.arange(int(np.ceil(lo)), int(hi))
        if len(days) == 0:
            continue
        junior = rep.level == "junior"
        rates: dict[str, float] = {
            "admin": 0.75,
            "internal meeting": 1.2 if rep.role == "manager" else 0.5,
            "training": 0.1 if junior else 0.06,
        }
        if rep.role == "AE":
            rates |= {"call": 0.5 * rep.effort, "email": 0.5 * rep.effort, "meeting": 0.1}
        elif rep.role == "SDR":
            rates |= {"call": 1.0, "email": 0.8, "meeting": 0.25}
        elif rep.role == "CSM":
            rates |= {"call": 0.5, "email": 0.9, "meeting": 0.3}
        pool = accounts[rep.region]
        for kind, rate in rates.items():
            counts = rng.poisson(rate, len(days))
            x = np.repeat(days, counts) + rng.random(int(counts.sum()))
            m = len(x)
            if kind in ("call", "email", "meeting"):
                account = np.array(pool, dtype=object)[rng.integers(0, len(pool), m)]
                subject = {
                    "call": "Prospecting call: ",
                    "email": "Prospecting email: ",
                    "meeting": "Intro meeting: ",
                }[kind] + account
            else:
                account = np.full(m, None, dtype=object)
                topics = NON_SELLING_TOPICS[kind]
                subject = np.array(topics, dtype=object)[rng.integers(0, len(topics), m)]
                if kind == "training":
                    subject = "Training: " + subject
            parts.append(
                pd.DataFrame(
                    {
                        "owner": rep.name,
                        "activity_type": kind,
                        "started_at": clock.stamp(x),
                        "opportunity_id": None,
                        "lead_id": None,
                        "account": account,
                        "subject": subject,
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)

"""The funnel order of learned open stages when the file gives them no probability.

Why: a first upload's unknown open stages get a probability by position (10-90%), so
their order is the funnel the dashboard draws. Ordering by deal count alone (more deals,
earlier) ran a real German export backwards ("Verhandlung" before "Qualifizierung"):
deals pile up wherever a team is slow, not only at the top. The signals, strongest first:

1. history: the stage's median place in the CRM's recorded stage history;
2. number: a number the name starts with ("1. Qualify", "2 - Demo", "03 Proposal",
   "Stage 3", "Phase 2: Demo", "Étape 4");
3. lexicon: the usual funnel step its name names, in English, German, French, Spanish,
   Portuguese, Italian, Dutch, Russian, Chinese and Korean
   (analytics/ingest/stage_lexicon.py: "Qualifizierung" before "Angebot" before
   "Verhandlung");
4. age: the median age of its open deals, in days from their created date to the
   latest created date in the file (deals sit longer in later stages, so older is later);
5. count: its number of deals (more deals, earlier), the last resort.

The rule where signals mix, kept simple so that a user can predict it:
- a signal counts only when it tells at least two of the new stages apart (one numbered
  stage among unnumbered ones says nothing about order);
- each signal ranks the stages it places from 0 (first) to 1 (last): the k-th of n
  distinct values sits at k/(n-1);
- each stage takes the rank of the strongest signal that places it, and the stages are
  sorted by that rank; on a tie the stage placed by the stronger signal goes first, then
  the weaker signals' ranks decide, then the name.
So when every stage is numbered the numbers are the order; when some are numbered and the
rest match the lexicon, each keeps its own signal's rank and the two interleave by rank.

Except for the weak signals: a stage placed by age or count is not put among the
lexicon-placed stages by comparing its age rank with their lexicon rank (two scales that
say nothing of each other: an export placed "Erstgespräch" between "Angebot" and
"Verhandlung" that way). It goes before the first lexicon-placed stage whose value of the
same signal is larger (older open deals, or fewer deals, than its own), so the lexicon's
order stays whole and the weak signal compares like with like. Stages of the same lexicon
step share a slot (`Placed.step`), so that learn gives them one probability.
The reason each stage got its place is said in its "why" (the import result and the Data
page show it).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from analytics.ingest.stage_lexicon import STEPS

SIGNALS = ("history", "number", "lexicon", "age", "count")

# A number the name starts with, maybe after a word for "stage" (1-2 digits: "2024 plan"
# is a year, not a step), followed by a separator, a space or the end of the name.
_STAGE_WORDS = (
    r"stage|step|phase|etappe|stufe|schritt|étape|etape|etapa|fase|stadium|stap"
    r"|этап|стадия|шаг|阶段|단계"
)
_NUMBER = re.compile(
    rf"^\s*(?:(?:{_STAGE_WORDS})\s*[#№]?\s*)?(\d{{1,2}})(?!\d)(?=\s|[.):\-–—_/|,]|$)",
    re.IGNORECASE,
)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\u1100-\u11ff]")


@dataclass(frozen=True)
class Evidence:
    """What the file says about one new open stage."""

    label: str
    count: int
    history: float | None = None  # median place in the stage history, 0 first .. 1 last
    age_days: float | None = None  # median age of its open deals
    age_reference: date | None = None  # the day the ages are counted to


@dataclass(frozen=True)
class Placed:
    label: str
    signal: str  # one of SIGNALS
    why: str  # how its place was chosen, for the import result
    step: int | None = None  # the lexicon step index when the lexicon placed it


def fold(text: str) -> str:
    """Case and accents folded, words separated by single spaces ("Angebot/Preis-
    angebot" -> "angebot preis angebot"); Hangul stays composed."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.findall(r"\w+", unicodedata.normalize("NFC", plain)))


def stage_number(label: str) -> int | None:
    """The number a stage name starts with ("1. Qualify", "Stage 3", "03 Proposal")."""
    m = _NUMBER.match(label)
    return int(m[1]) if m else None


@lru_cache(maxsize=1)
def _terms() -> tuple[tuple[re.Pattern[str] | str, int, int, str, str], ...]:
    """(pattern or CJK substring, length, step index, step name, term as written),
    longest first. A term of fewer than five letters matches a whole word only ("neu" is
    not the start of the Finnish "Neuvottelu", "new" not of "Newsletter"); a longer one
    the start of a word ("angebot" in "Angebotserstellung")."""
    out = []
    for i, (step, terms) in enumerate(STEPS):
        for term in terms:
            folded = fold(term)
            if not folded:
                continue
            if _CJK.search(folded):
                squeezed = folded.replace(" ", "")
                out.append((squeezed, len(squeezed), i, step, term))
                continue
            end = r"(?!\w)" if len(folded) < 5 else ""
            pattern = re.compile(r"(?<!\w)" + re.escape(folded) + end)
            out.append((pattern, len(folded), i, step, term))
    # longest term first; on equal length the later step (a "Demo + Proposal" stage has
    # reached the proposal)
    return tuple(sorted(out, key=lambda t: (-t[1], -t[2])))


def lexicon_step(label: str) -> tuple[int, str, str] | None:
    """(step index, step name, the term that matched) of a stage name, or None."""
    text = fold(label)
    squeezed = text.replace(" ", "")
    for pattern, _, index, step, term in _terms():
        if isinstance(pattern, str):
            if pattern in squeezed:
                return index, step, term
        elif pattern.search(text):
            return index, step, term
    return None


def _ranks(values: dict[str, float]) -> dict[str, float]:
    """Each label's rank among the distinct values, 0 (smallest) .. 1 (largest); empty
    when fewer than two distinct values (the signal tells nothing apart)."""
    distinct = sorted(set(values.values()))
    if len(distinct) < 2:
        return {}
    at = {v: i / (len(distinct) - 1) for i, v in enumerate(distinct)}
    return {label: at[v] for label, v in values.items()}


def order(stages: list[Evidence]) -> list[Placed]:
    """The new open stages in funnel order, each with the signal that placed it."""
    numbers = {s.label: n for s in stages if (n := stage_number(s.label)) is not None}
    words = {s.label: w for s in stages if (w := lexicon_step(s.label)) is not None}
    values: dict[str, dict[str, float]] = {
        "history": {s.label: s.history for s in stages if s.history is not None},
        "number": {label: float(n) for label, n in numbers.items()},
        "lexicon": {label: float(w[0]) for label, w in words.items()},
        "age": {s.label: s.age_days for s in stages if s.age_days is not None},
        "count": {s.label: -float(s.count) for s in stages},
    }
    ranks = {name: _ranks(values[name]) for name in SIGNALS}
    by_label = {s.label: s for s in stages}

    def key(label: str) -> tuple:
        strongest = next((i for i, n in enumerate(SIGNALS) if label in ranks[n]), len(SIGNALS))
        first = ranks[SIGNALS[strongest]][label] if strongest < len(SIGNALS) else 0.5
        rest = tuple(ranks[n].get(label, 2.0) for n in SIGNALS[strongest + 1 :])
        return (first, strongest, rest, label)

    sequence = _keep_lexicon_whole(sorted(by_label, key=key), ranks, values)
    out = []
    for label in sequence:
        signal = next((n for n in SIGNALS if label in ranks[n]), "count")
        s = by_label[label]
        if signal == "history":
            why = "its place in the CRM's stage history"
        elif signal == "number":
            why = f"the number {numbers[label]} its name starts with"
        elif signal == "lexicon":
            _, step, term = words[label]
            why = f"its name reads as the usual funnel step {step!r} (the word {term!r})"
        elif signal == "age":
            why = (
                f"its open deals' median age, {s.age_days:,.0f} days before the latest "
                f"created date in the file ({s.age_reference:%Y-%m-%d}): stages with older "
                "open deals are placed later"
            )
        else:
            why = "no probability column: stages with more deals are placed earlier"
        step = words[label][0] if signal == "lexicon" else None
        out.append(Placed(label, signal, why, step))
    return out


def _signal_of(label: str, ranks: dict[str, dict[str, float]]) -> str:
    return next((n for n in SIGNALS if label in ranks[n]), "count")


def _keep_lexicon_whole(
    sequence: list[str],
    ranks: dict[str, dict[str, float]],
    values: dict[str, dict[str, float]],
) -> list[str]:
    """The sorted labels with each age- or count-placed stage moved to just before the
    first lexicon-placed stage with a larger value of its own signal (after the weak
    stages already placed, so their own order holds). Left as sorted when some
    lexicon-placed stage lacks that signal's value (nothing to compare with)."""
    weak = [label for label in sequence if _signal_of(label, ranks) in ("age", "count")]
    lexicon = [label for label in sequence if _signal_of(label, ranks) == "lexicon"]
    if not weak or not lexicon:
        return sequence
    signals = {_signal_of(label, ranks) for label in weak}
    if any(label not in values[sig] for sig in signals for label in lexicon):
        return sequence
    out = [label for label in sequence if label not in weak]
    floor = 0  # a weak stage goes after the weak stages placed before it
    for label in weak:
        sig = _signal_of(label, ranks)
        mine = values[sig][label]
        at = next(
            (i for i in range(floor, len(out)) if out[i] in lexicon and values[sig][out[i]] > mine),
            len(out),
        )
        out.insert(at, label)
        floor = at + 1
    return out

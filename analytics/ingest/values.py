"""Text cells -> typed values, as SQL over whole columns (no Python loop per row).

Each builder returns a SQL expression over an already-trimmed text expression `v`
(blank and `-` already NULL). A NULL result for a non-NULL input means "could not
parse", which the loader reports per row. Column-wide conventions (decimal comma,
day-first dates, 0-1 probabilities) are decided once per column from all its values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from analytics.db import quote_ident

MAX_TEXT_CHARS = 32_768

# Currency markers allowed around a number, and the ISO code each symbol stands for.
CURRENCY_SYMBOLS = {
    "$": "USD",
    "€": "EUR",
    "£": "GBP",
    "₽": "RUB",
    "руб": "RUB",
    "р.": "RUB",
    "₩": "KRW",
    "￦": "KRW",
    "원": "KRW",
    "¥": "CNY",
    "￥": "CNY",
    "元": "CNY",
}
_NOISE = r"([A-Z]{3}|руб\.?|р\.|원|[$€£₽₩￦¥￥元\s\x{00a0}\x{202f}'])"
_NUMBER = r"\(?[-−]?[0-9][0-9,.]*\)?[-−]?"

TRUE_WORDS = ("true", "t", "yes", "y", "1", "да", "истина", "예", "是", "真", "x", "✓")
FALSE_WORDS = ("false", "f", "no", "n", "0", "нет", "ложь", "아니오", "否", "假")
WON_WORDS = ("won", "win", "closed won", "closedwon", "выиграна", "успешно", "성사", "赢单")
LOST_WORDS = ("lost", "closed lost", "closedlost", "проиграна", "실패", "输单")
# Pipedrive exports deals removed in the CRM with status "deleted": skipped, never loaded.
DELETED_WORDS = ("deleted", "удалена", "삭제됨", "已删除")
# Words a CRM writes in a date column for "no date yet": amoCRM's deals export says
# "не закрыта" in "Дата закрытия" for a deal still open (amoCRM help, "Экспорт сделок").
NO_DATE_WORDS = ("не закрыта", "не закрыт")
OPEN_WORDS = ("open", "in progress", "in_progress", "active", "открыта", "진행중", "进行中")

# Day-month-year family: 1-2 digit day/month, 2 or 4 digit year, / . or - separators.
XX_PATTERN = r"^\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}"
_TIMES = (
    "",
    " %H:%M",
    " %H:%M:%S",
    " %I:%M %p",
    " %I:%M:%S %p",
    " %p %I:%M",
    " %p %I:%M:%S",
    "T%H:%M:%S",
)
# Korean and Chinese exports write the half of the day before the time: 오후 8:55, 下午 8:55
_AM_PM = (("오전", "AM"), ("오후", "PM"), ("上午", "AM"), ("下午", "PM"))
OTHER_DATE_FORMATS = tuple(
    base + t
    for base in ("%Y. %m. %d.", "%Y. %m. %d", "%Y.%m.%d", "%Y/%m/%d", "%Y年%m月%d日")
    for t in _TIMES
) + ("%Y-%m", "%Y/%m", "%Y年%m月")  # a month alone (quota files): its first day
# English month names, as Zoho, Excel and many report builders write them when the user's
# date format says so: "Dec 20, 2026", "December 20, 2026", "20 Dec 2026", "20-Dec-2026".
# Unambiguous, so they need no day/month order.
MONTH_NAME_FORMATS = tuple(
    base + t
    for base in (
        "%b %d, %Y", "%B %d, %Y", "%b %d %Y", "%B %d %Y",
        "%d %b %Y", "%d %B %Y", "%d-%b-%y", "%d-%b-%Y",
    )
    for t in ("", " %H:%M", " %H:%M:%S", " %I:%M %p", ", %I:%M %p")
)  # fmt: skip
OTHER_DATE_FORMATS += MONTH_NAME_FORMATS


def sql_str(text: str) -> str:
    """A SQL string literal for a constant chosen by this code (never user data)."""
    return "'" + text.replace("'", "''") + "'"


def sql_list(items: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join(sql_str(i) for i in items) + "]"


def blank_to_null(col: str) -> str:
    """The cell's text without surrounding spaces; blank and '-' as NULL.

    `trim` copies every string it reads, and this runs on every mapped cell of the file
    (0.5 s of 12 million cells at 1M rows, issue 15.1); a cell that neither starts nor
    ends with a space is its own trimmed text, so only those pay for the trim. DuckDB's
    `trim` removes spaces only, so the guard and the trim agree on every input.
    """
    return (
        f"CASE WHEN starts_with({col}, ' ') OR ends_with({col}, ' ') "
        f"THEN nullif(nullif(trim({col}), ''), '-') ELSE nullif(nullif({col}, ''), '-') END"
    )


def no_date_to_null(text: str) -> str:
    """A date column's text with the CRMs' words for "no date yet" as NULL."""
    return f"CASE WHEN lower({text}) IN {tuple(NO_DATE_WORDS)!r} THEN NULL ELSE {text} END"


# ---------------------------------------------------------------- amounts
def _plain_or_stripped(col: str) -> str:
    """The number's own characters: most cells are already plain, which a translate() shows
    far more cheaply than the currency-stripping regular expression."""
    return (
        f"CASE WHEN translate({col}, '0123456789.,-', '') = '' THEN {col} "
        f"ELSE regexp_replace({col}, {sql_str(_NOISE)}, '', 'g') END"
    )


def decimal_mark_exprs(col: str, number: bool = False, weight: str | None = None) -> list[str]:
    """Aggregates that decide a column's decimal mark (see decimal_mark_answer).

    Amounts: positions from the end of the number (1-based; 0 = absent): a separator with
    one or two digits after it is a decimal mark; dots with exactly three digits after the
    last and no comma (1.234, 12.500, 1.234.567) group thousands, unless the number starts
    with a 0 group (0.925 is a decimal, never nine hundred and twenty-five).

    Plain numbers (`number`: exchange rates, durations) keep three or more decimals
    (1.085, 0,925), so there the last separator is the decimal mark, whatever follows it.

    `weight` names a column holding how many rows each value stands for (the votes are
    then asked of a column's distinct values).
    """
    s = _plain_or_stripped(col)
    comma = f"strpos(reverse({s}), ',')"
    dot = f"strpos(reverse({s}), '.')"

    def votes(condition: str) -> str:
        if weight is None:
            return f"count(*) FILTER (WHERE {condition})"
        return f"coalesce(sum({weight}) FILTER (WHERE {condition}), 0)"

    if number:
        return [
            votes(f"{comma} > 0 AND ({dot} = 0 OR {dot} > {comma})"),
            votes(f"{dot} > 0 AND ({comma} = 0 OR {comma} > {dot})"),
        ]
    zero_group = f"regexp_matches({s}, '^[-−(]?0[.,]')"
    return [
        votes(
            f"({comma} IN (2, 3) AND ({dot} = 0 OR {dot} > {comma})) "
            f"OR ({comma} = 0 AND {dot} = 4 AND NOT {zero_group})"
        ),
        votes(
            f"({dot} IN (2, 3) AND ({comma} = 0 OR {comma} > {dot})) "
            f"OR ({dot} = 4 AND {comma} = 0 AND {zero_group})"
        ),
    ]


def decimal_mark_answer(comma_votes: int, dot_votes: int) -> str:
    """',' when the column writes decimals with a comma (1.234,56 / 1 234,56), else '.'.

    Decided from all values: a 1-2 digit tail after the last separator marks the decimal;
    dots that only ever group three digits (1.234.567, 12.500) are thousands separators.
    """
    return "," if comma_votes > dot_votes else "."


def mark_contradicts_sql(col: str, mark: str, number: bool = False) -> str:
    """True for a value whose own separators say the other decimal mark than its column's.

    A value contradicts a '.' column when it ends in a comma with one or two digits after
    it (1.200,00 / 12,5), writes a dot before a comma, or repeats the dot (1.200.000); the
    mirror rules hold for a ',' column. Parsed with the column's mark, such a value would
    load a thousand times too small or large, so it is refused instead.

    One regular expression over the number's own characters (currency markers, spaces,
    brackets and minus signs removed), not a dozen position functions: this check reads
    every amount of the file, and was most of the row-problems time (issue 15.1).
    """
    plain = f"translate({col}, '0123456789.,-', '') = ''"
    s = (
        f"translate(CASE WHEN {plain} THEN {col} "
        f"ELSE regexp_replace({col}, {sql_str(_NOISE)}, '', 'g') END, '()-−', '')"
    )  # (1,200.00) and 1,200.00-
    own, other = (r"\.", ",") if mark == "." else (",", r"\.")
    # a plain number's last separator is its decimal mark (0,925 / 1.085): the other mark
    # last, or its own twice; an amount: the other mark with 1-2 digits last, or its own
    # mark before the other or twice
    pattern = f"{other}[^.,]*$|{own}.*{own}" if number else f"{other}[^.,]{{1,2}}$|{own}.*[.,]"
    return f"regexp_matches({s}, {sql_str('(?s)' + pattern)})"


MARK_EXAMPLE = {",": "1.234,56", ".": "1,234.56"}


def decimal_mark(con: duckdb.DuckDBPyConnection, table: str, col: str) -> str:
    row = con.execute(f"SELECT {', '.join(decimal_mark_exprs(col))} FROM {quote_ident(table)}")
    return decimal_mark_answer(*row.fetchone())


def amount_sql(v: str, mark: str, sql_type: str = "DECIMAL(18, 2)") -> str:
    stripped = f"regexp_replace({v}, {sql_str(_NOISE)}, '', 'g')"
    if mark == ",":
        number = f"replace(replace({stripped}, '.', ''), ',', '.')"
    else:
        number = f"replace({stripped}, ',', '')"
    unsigned = f"regexp_replace({number}, '[()\\-−]', '', 'g')"
    negative = f"(regexp_matches({stripped}, '^\\(.*\\)$') OR regexp_matches({stripped}, '[-−]'))"
    full = (
        f"CASE WHEN regexp_full_match({stripped}, {sql_str(_NUMBER)}) "
        f"THEN TRY_CAST({unsigned} AS {sql_type}) "
        f"* (CASE WHEN {negative} THEN -1 ELSE 1 END) END"
    )
    # Fast path first: most cells are plain numbers (1234.5, "12,500.00"); a cast is ~5x
    # cheaper than the four regular expressions above, which only the rest need.
    plain = f"replace(replace({v}, '.', ''), ',', '.')" if mark == "," else f"replace({v}, ',', '')"
    fast = f"TRY_CAST(TRY_CAST({plain} AS DECIMAL(38, 10)) AS {sql_type})"
    return f"coalesce({fast}, {full})"


# Currency columns that name the currency rather than code it: Zoho and report builders
# write "US Dollar", Bitrix24's deal export the currency's full name ("Российский рубль").
# Stored as the ISO 4217 code, so the fx rates (keyed by code) price the deal.
CURRENCY_NAMES = {
    **{s: c for s, c in CURRENCY_SYMBOLS.items() if len(s) == 1},
    "us dollar": "USD", "us dollars": "USD", "u.s. dollar": "USD",
    "united states dollar": "USD", "dollar": "USD", "dollars": "USD",
    "euro": "EUR", "euros": "EUR",
    "pound sterling": "GBP", "british pound": "GBP", "british pound sterling": "GBP",
    "japanese yen": "JPY", "swiss franc": "CHF", "canadian dollar": "CAD",
    "australian dollar": "AUD", "indian rupee": "INR", "chinese yuan": "CNY",
    "chinese yuan renminbi": "CNY", "yuan renminbi": "CNY", "renminbi": "CNY",
    "south korean won": "KRW", "korean won": "KRW",
    "russian ruble": "RUB", "russian rouble": "RUB",
    "российский рубль": "RUB", "рубль": "RUB", "руб": "RUB", "рубли": "RUB", "руб.": "RUB",
    "доллар сша": "USD", "евро": "EUR", "фунт стерлингов": "GBP",
    "китайский юань": "CNY", "юань": "CNY", "белорусский рубль": "BYN",
    "гривна": "UAH", "украинская гривна": "UAH", "тенге": "KZT", "казахстанский тенге": "KZT",
    "미국 달러": "USD", "원": "KRW", "대한민국 원": "KRW", "人民币": "CNY", "美元": "USD",
}  # fmt: skip


def unit_currency(split: tuple[str, str] | None) -> str | None:
    """The currency a header's unit names ("EUR", "руб.", "₩", "US Dollar"), or None."""
    if split is None:
        return None
    unit = split[1]
    if re.fullmatch(r"[A-Z]{3}", unit):
        return unit
    return CURRENCY_NAMES.get(unit.lower()) or CURRENCY_NAMES.get(unit.lower().rstrip("."))


def currency_sql(v: str) -> str:
    """A currency cell as its ISO code where it names the currency; anything else as is."""
    cases = " ".join(f"WHEN {sql_str(n)} THEN {sql_str(c)}" for n, c in CURRENCY_NAMES.items())
    return f"CASE lower({v}) {cases} ELSE {v} END"


def currency_from_amount_sql(v: str) -> str:
    cases = " ".join(
        f"WHEN contains({v}, {sql_str(sym)}) THEN {sql_str(code)}"
        for sym, code in CURRENCY_SYMBOLS.items()
    )
    marked = f"coalesce(nullif(regexp_extract({v}, '([A-Z]{{3}})', 1), ''), CASE {cases} END)"
    return f"CASE WHEN translate({v}, '0123456789.,-', '') = '' THEN NULL ELSE {marked} END"


def number_sql(v: str, mark: str) -> str:
    """Durations, exchange rates: plain numbers that must keep every decimal."""
    return amount_sql(v, mark, "DOUBLE")


# ---------------------------------------------------------------- percentages
def percent_exprs(col: str) -> list[str]:
    return [
        f"bool_or(contains({col}, '%'))",
        f"max(TRY_CAST(replace(replace({col}, '%', ''), ',', '.') AS DOUBLE))",
    ]


def percent_answer(has_pct: bool | None, top: float | None) -> bool:
    """A probability column written as 0-1 (HubSpot) rather than 0-100 (Salesforce, Odoo)."""
    return not has_pct and top is not None and top <= 1.0


def percent_is_fraction(con: duckdb.DuckDBPyConnection, table: str, col: str) -> bool:
    row = con.execute(f"SELECT {', '.join(percent_exprs(col))} FROM {quote_ident(table)}")
    return percent_answer(*row.fetchone())


def percent_sql(v: str, fraction: bool) -> str:
    value = f"TRY_CAST(replace(replace(replace({v}, '%', ''), ' ', ''), ',', '.') AS DOUBLE)"
    scaled = f"({value} * 100)" if fraction else value
    return f"CASE WHEN {scaled} BETWEEN 0 AND 100 THEN {scaled} END"


# ---------------------------------------------------------------- booleans / outcomes
def bool_sql(v: str) -> str:
    low = f"lower({v})"
    return (
        f"CASE WHEN {low} IN {tuple(TRUE_WORDS)!r} THEN TRUE "
        f"WHEN {low} IN {tuple(FALSE_WORDS)!r} THEN FALSE END"
    )


def outcome_sql(v: str) -> str:
    low = f"lower({v})"
    return (
        f"CASE WHEN {low} IN {tuple(WON_WORDS)!r} THEN 'won' "
        f"WHEN {low} IN {tuple(LOST_WORDS)!r} THEN 'lost' "
        f"WHEN {low} IN {tuple(OPEN_WORDS)!r} THEN 'open' "
        f"WHEN {low} IN {tuple(DELETED_WORDS)!r} THEN 'deleted' END"
    )


# ---------------------------------------------------------------- dates
@dataclass(frozen=True)
class DateProfile:
    """What a date column's values say about day/month order."""

    has_xx: bool  # values like 03/05/2024
    order: str | None  # 'dmy' | 'mdy' when the values decide it
    conflict: bool  # some values need day-first and others month-first


def _xx_parts(col: str) -> tuple[str, str, str]:
    xx = f"regexp_matches({col}, {sql_str(XX_PATTERN)})"
    first = f"TRY_CAST(regexp_extract({col}, '^(\\d{{1,2}})[/.\\-]', 1) AS INT)"
    second = f"TRY_CAST(regexp_extract({col}, '^\\d{{1,2}}[/.\\-](\\d{{1,2}})', 1) AS INT)"
    return xx, first, second


def xx_style_sql(col: str) -> str:
    """'dmy' for a value only a day-first reading allows (31/01/2024), 'mdy' for one only a
    month-first reading allows (01/31/2024), NULL otherwise (ambiguous, or not a date)."""
    xx, first, second = _xx_parts(col)
    return (
        f"CASE WHEN {xx} AND {first} BETWEEN 13 AND 31 AND {second} BETWEEN 1 AND 12 THEN 'dmy' "
        f"WHEN {xx} AND {second} BETWEEN 13 AND 31 AND {first} BETWEEN 1 AND 12 THEN 'mdy' END"
    )


def date_profile_exprs(col: str) -> list[str]:
    xx, first, second = _xx_parts(col)
    style = xx_style_sql(col)
    return [
        f"count(*) FILTER (WHERE {xx} AND {first} BETWEEN 1 AND 12 AND {second} BETWEEN 1 AND 12)",
        f"count(*) FILTER (WHERE {style} = 'dmy')",
        f"count(*) FILTER (WHERE {style} = 'mdy')",
    ]


def date_profile_answer(ambiguous: int, dmy: int, mdy: int) -> DateProfile:
    """Only values a single reading allows decide the order; a value no reading allows
    (31/31/2017) decides nothing and is reported as not a date, row by row."""
    if dmy and mdy:
        return DateProfile(True, None, True)
    if dmy:
        return DateProfile(True, "dmy", False)
    if mdy:
        return DateProfile(True, "mdy", False)
    if ambiguous:
        return DateProfile(True, None, False)
    # no value needs an order (none, or only impossible ones, each reported as not a date)
    return DateProfile(False, None, False)


def date_profile(con: duckdb.DuckDBPyConnection, table: str, col: str) -> DateProfile:
    row = con.execute(f"SELECT {', '.join(date_profile_exprs(col))} FROM {quote_ident(table)}")
    return date_profile_answer(*row.fetchone())


def _xx_formats(order: str, year: str) -> list[str]:
    base = "%d/%m/" if order == "dmy" else "%m/%d/"
    return [base + year + t for t in _TIMES]


def timestamp_sql(v: str, order: str | None) -> str:
    """Parse ISO, day/month-order dates (order decided per column), Korean and Chinese forms."""
    latin = v
    for word, marker in _AM_PM:
        latin = f"replace({latin}, {sql_str(word)}, {sql_str(marker)})"
    other = (
        f"coalesce(TRY_CAST({v} AS TIMESTAMP), "
        f"try_strptime({latin}, {sql_list(OTHER_DATE_FORMATS)}))"
    )
    if order is None:
        parsed = other
    else:
        xx = "'^(\\d{1,2})[/.\\-](\\d{1,2})[/.\\-](\\d{2,4})'"
        norm = f"regexp_replace({v}, {xx}, '\\1/\\2/\\3')"
        four = sql_list(_xx_formats(order, "%Y"))
        two = sql_list(_xx_formats(order, "%y"))
        # fast path: the column's own 10-character form (02/03/2024) parses with one format
        first = sql_str(_xx_formats(order, "%Y")[0])
        fast = f"try_strptime(CASE WHEN length({v}) = 10 THEN {v} END, {first})"
        parsed = (
            f"coalesce({fast}, "
            f"CASE WHEN regexp_matches({v}, '^\\d{{1,2}}[/.\\-]\\d{{1,2}}[/.\\-]\\d{{4}}') "
            f"THEN try_strptime({norm}, {four}) "
            f"WHEN regexp_matches({v}, '^\\d{{1,2}}[/.\\-]\\d{{1,2}}[/.\\-]\\d{{2}}\\b') "
            f"THEN try_strptime({norm}, {two}) ELSE {other} END)"
        )
    return parsed


def plausible_sql(parsed: str) -> str:
    """Guards against a 2-digit year read as year 24 AD and similar slips."""
    return f"year({parsed}) BETWEEN 1900 AND 2100"


def date_sql(v: str, order: str | None) -> str:
    return f"CAST({timestamp_sql(v, order)} AS DATE)"

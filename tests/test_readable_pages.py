"""Nothing unreadable (issue 13.7): no None / nan / NaN / NaT / inf on any page, in AppTest.

Every page is opened on two databases: the demo (every kind of data) and a sparse one
holding one deals export only (tests/readable.py). The checks cover every text element
(headers, captions, metric labels and values, help, alerts, widget options) and every
st.dataframe: a missing cell must have a placeholder (Streamlit draws "None" otherwise),
no text cell may hold one of the words, no number cell an infinity. The browser walk in
tests/e2e/test_browser_readable.py looks at the same pages as a person does.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from apptest import open_page
from readable import (
    PAGES,
    SPARSE_REPS,
    UNPRICED_REP,
    apptest_problems,
    build_sparse_db,
    frame_problems,
    unreadable_words,
)

from analytics.markup import plain

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory, copy_demo: Callable[[Path], Path]) -> Path:
    return copy_demo(tmp_path_factory.mktemp("readable_demo"))


@pytest.fixture(scope="module")
def sparse_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("readable_sparse")
    return build_sparse_db(base / "sales.duckdb", base / "work")


@pytest.fixture
def on_db(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    def point(path: Path) -> None:
        monkeypatch.setenv("SALES_DB", str(path))

    yield point


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nan · 2024 · quadrant: improving laggard", ["nan"]),
        ("saved_at None", ["None"]),
        ("Win rate NaN%", ["NaN"]),
        ("closed NaT", ["NaT"]),
        ("coverage inf x", ["inf"]),
        ("coverage ∞", ["∞"]),
        ("Nonetheless the infinite nanny is fine", []),
        ("— · 2024 · quadrant: rising star", []),
        ("file sales.nan.csv", []),  # inside a word or a file name: not a stray value
    ],
)
def test_unreadable_words(text: str, expected: list[str]) -> None:
    assert unreadable_words(text) == expected


@pytest.mark.parametrize(
    ("frame", "placeholder", "bad"),
    [
        (pd.DataFrame({"a": [1.0, None]}), None, True),  # drawn as "None"
        (pd.DataFrame({"a": [1.0, None]}), "—", False),
        (pd.DataFrame({"a": [1.0, float("inf")]}), "—", True),
        (pd.DataFrame({"a": ["x", "nan"]}), "—", True),  # a NaN made into text upstream
        (pd.DataFrame({"None": [1]}), "—", True),
        (pd.DataFrame({"a": ["Nonetheless"]}), None, False),
    ],
)
def test_frame_problems(frame: pd.DataFrame, placeholder: str | None, bad: bool) -> None:
    assert bool(frame_problems(frame, placeholder)) is bad


def test_every_table_on_every_page_has_a_placeholder() -> None:
    """st.dataframe / st.data_editor draw a missing cell as "None" unless told otherwise."""
    missing = []
    for path in sorted((ROOT / "pages").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("dataframe", "data_editor")
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "st"
                and not any(k.arg == "placeholder" for k in node.keywords)
            ):
                missing.append(f"{path.name}:{node.lineno}")
    assert not missing, missing


VIEWS: list[tuple[str, dict[str, str]]] = [
    *((page, {}) for page in PAGES),
    ("overview", {"kind": "Quarter"}),
    ("reps", {"kind": "Year"}),
]


@pytest.mark.parametrize(("page", "query"), VIEWS, ids=[f"{p}{q or ''}" for p, q in VIEWS])
@pytest.mark.parametrize("which", ["demo", "sparse"])
def test_page_has_nothing_unreadable(
    which: str, page: str, query: dict[str, str], request: pytest.FixtureRequest, on_db
) -> None:
    on_db(request.getfixturevalue(f"{which}_db"))
    at = open_page(f"pages/{page}.py", query)
    assert not at.exception, [e.value for e in at.exception]
    assert apptest_problems(at) == []


@pytest.mark.parametrize("rep", [*SPARSE_REPS, UNPRICED_REP])
def test_drilldown_of_a_rep_without_team_reads(rep: str, sparse_db: Path, on_db) -> None:
    """The header once read "nan · 2024 · quadrant: ...": no roster means no team."""
    on_db(sparse_db)
    at = open_page("pages/reps.py", {"focus": rep})
    assert not at.exception, [e.value for e in at.exception]
    assert any(h.value.startswith("Drill-down") for h in at.header)
    assert apptest_problems(at) == []


def test_a_reps_unknown_amounts_read_no_data_with_the_reason(sparse_db: Path, on_db) -> None:
    """February 2025: UNPRICED_REP won one deal and held two open deals, none with an
    amount. Their row says which figures are no data and why; their drill-down cards read
    "no data", not 0 (issue 13.2, per row)."""
    on_db(sparse_db)
    at = open_page("pages/reps.py", {"kind": "Month", "period": "2025-02"})
    assert not at.exception, [e.value for e in at.exception]
    board = next(df.value for df in at.dataframe if "no_data" in df.value.columns)
    row = board[board["rep"] == UNPRICED_REP].iloc[0]
    assert "bookings" in row["no_data"]
    assert "the won deal carries no amount in this export" in row["no_data"]
    # open on 28 February: the open deal and the win of 4 March
    assert "open pipeline" in row["no_data"] and "2 open deals have no amount" in row["no_data"]
    assert "pipeline in period" not in row["no_data"]  # not a column of the board
    assert pd.isna(row["bookings"]) and pd.isna(row["open_pipeline"])
    # and in words under the board, where a narrow column cannot cut it short
    captions = [plain(c.value) for c in at.caption]
    assert any(c.startswith(f"No data for {UNPRICED_REP}: bookings") for c in captions), captions
    others = board[board["rep"] != UNPRICED_REP]
    assert others["bookings"].notna().all()  # the others keep their real figures (0 too)
    at = open_page("pages/reps.py", {"kind": "Month", "period": "2025-02", "focus": UNPRICED_REP})
    cards = {m.label: m for m in at.metric}
    for label in ("Rep bookings", "Rep open pipeline"):
        assert cards[label].value == "no data", label
        assert "no amount" in (cards[label].help or ""), label


def _no_change(delta: str) -> bool:
    digits = [ch for ch in delta if ch.isdigit()]
    return bool(digits) and set(digits) == {"0"}


@pytest.mark.parametrize("which", ["demo", "sparse"])
def test_an_unchanged_card_has_no_arrow_and_no_colour(
    which: str, request: pytest.FixtureRequest, on_db
) -> None:
    """ "↑ +0" in red reads as a rise; no change is drawn grey and without an arrow."""
    from streamlit.proto.Metric_pb2 import Metric as MetricProto

    on_db(request.getfixturevalue(f"{which}_db"))
    at = open_page("pages/overview.py")
    unchanged = [m for m in at.metric if m.delta and _no_change(m.delta)]
    changed = [m for m in at.metric if m.delta and not _no_change(m.delta)]
    if which == "sparse":
        assert unchanged, [(m.label, m.delta) for m in at.metric]  # Won deals: +0
    for m in unchanged:
        assert not m.delta.startswith(("+", "-")), (m.label, m.delta)
        assert m.proto.direction == MetricProto.MetricDirection.NONE, m.label
        assert m.proto.color == MetricProto.MetricColor.GRAY, m.label
    assert all(m.proto.direction != MetricProto.MetricDirection.NONE for m in changed)

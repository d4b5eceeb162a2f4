"""Money on every page rounds half up, as the waterfall and the tables do (issue 13.7).

Why: a card read "Pipeline on 2026-11-01 42,234 EUR" above a chart labelled "starting
pipeline 42,235" for the same 42,234.50: Python's format rounds half to even.
"""

from __future__ import annotations

import pytest

from pages import _ui


@pytest.mark.parametrize(
    ("value", "shown", "signed"),
    [
        (42234.5, "42,235", "+42,235"),
        (42232.5, "42,233", "+42,233"),  # half to even would give 42,232
        (-16299.5, "-16,300", "-16,300"),
        (0.49, "0", "+0"),
        (None, _ui.DASH, None),
        (float("nan"), _ui.DASH, None),
    ],
)
def test_money_rounds_half_up(value: float | None, shown: str, signed: str | None) -> None:
    assert _ui.money(value) == shown
    assert _ui.signed_money(value) == signed

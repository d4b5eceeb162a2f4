"""Waiting in the real browser for what Streamlit itself says, never for a fixed time.

Shared by the browser walks in tests/e2e (markup, readability), so both wait the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page


def settled(page: Page, timeout_ms: float) -> None:
    """The script run is over and everything it sent is drawn.

    Call it once the page shows what only the new run draws (its heading), or on a fresh
    page load: Streamlit's app element reads script state "initial" until a run starts,
    "running" during it and "notRunning" only when the server says it finished (no rerun
    follows on these pages). Elements whose code loads lazily show a skeleton until it
    has: none may be left. `timeout_ms` is an upper bound, never measured.
    """
    from playwright.sync_api import expect

    page.wait_for_selector(
        '[data-testid="stApp"][data-test-script-state="notRunning"]', state="attached",
        timeout=timeout_ms,
    )  # fmt: skip
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=timeout_ms)
    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=timeout_ms)

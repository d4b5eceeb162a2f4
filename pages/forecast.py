"""Forecast: what lands this period, and how far to trust it (placeholder, issue 5)."""

from __future__ import annotations

import streamlit as st

from pages import _ui


def render() -> None:
    st.title("Forecast")
    st.info("The forecast page is being built (issue 5).")


_ui.run_page(render)

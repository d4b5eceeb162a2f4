"""Settings: stage list, lead-scoring rules, fiscal year (in progress)."""

from __future__ import annotations

import streamlit as st

from pages import _ui


def render() -> None:
    st.title("Settings")
    st.info("The Settings page is being built.")


_ui.run_page(render)

"""Leads: hand-off list, scoring calibration, response time and conversion (in progress)."""

from __future__ import annotations

import streamlit as st

from pages import _ui


def render() -> None:
    st.title("Leads")
    st.info("The Leads page is being built.")


_ui.run_page(render)

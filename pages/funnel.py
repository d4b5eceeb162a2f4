"""Funnel: where deals drop out of the sales process (in progress)."""

from __future__ import annotations

import streamlit as st

from pages import _ui


def render() -> None:
    st.title("Funnel")
    st.info("The Funnel page is being built.")


_ui.run_page(render)

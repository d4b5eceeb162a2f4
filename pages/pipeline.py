"""Pipeline health: stalled and slipped deals, snapshot waterfall, follow-up gaps (in progress)."""

from __future__ import annotations

import streamlit as st

from pages import _ui


def render() -> None:
    st.title("Pipeline")
    st.info("The Pipeline page is being built.")


_ui.run_page(render)

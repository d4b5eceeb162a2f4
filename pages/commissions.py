"""Commissions: payouts, statements, what-if and approval (in progress)."""

from __future__ import annotations

import streamlit as st

from pages import _ui


def render() -> None:
    st.title("Commissions")
    st.info("The Commissions page is being built.")


_ui.run_page(render)
